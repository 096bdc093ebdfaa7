//! Example: a Flask app (`flask_app.py`) whose items live in memory, started fresh per test.
//!
//! Each test sees an empty list, adds one item and sees only that one, in whichever order the
//! two run. One passes the port as an argument (`--port {port}`); the other relies on the
//! `PORT` variable that every server gets. Both wait for `GET /health` to answer 204.

use with_server::with_server;

#[with_server(
    cmd = "python3 flask_app.py --port {port}",
    ready = http("/health", status = 204)
)]
#[tokio::test]
async fn a_fresh_app_for_one_test(url: &str) {
    assert_eq!(items(url).await, "[]");
    add_item(url, "apple").await;
    assert_eq!(items(url).await, r#"["apple"]"#);
}

#[with_server(cmd = "python3 flask_app.py", ready = http("/health", status = 204))]
#[tokio::test]
async fn a_fresh_app_for_another_test_with_the_port_from_the_environment(url: &str) {
    assert_eq!(items(url).await, "[]");
    add_item(url, "pear").await;
    assert_eq!(items(url).await, r#"["pear"]"#);
}

/// The JSON list of item names, without whitespace.
async fn items(url: &str) -> String {
    let response = reqwest::get(format!("{url}/items")).await.unwrap();
    assert_eq!(response.status(), 200);
    let body = response.text().await.unwrap();
    body.split_whitespace().collect()
}

async fn add_item(url: &str, name: &str) {
    let response = reqwest::Client::new()
        .post(format!("{url}/items"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("name={name}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "{:?}", response.text().await);
}
