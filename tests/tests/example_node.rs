//! Example: a Node.js server (`examples/server.js`, no npm packages) that reads its port from
//! `PORT`, which every server gets. The test runs once `GET /health` answers 204.

use with_server::with_server;

#[with_server(
    cmd = "node examples/server.js",
    ready = http("/health", status = 204)
)]
#[tokio::test]
async fn answers_with_json(url: &str) {
    let response = reqwest::get(format!("{url}/greeting")).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "application/json",
        "{response:?}"
    );
    let body = response.text().await.unwrap();
    assert!(
        body.starts_with(r#"{"runtime":"node","version":"v"#),
        "{body}"
    );
    assert!(body.ends_with(r#","path":"/greeting"}"#), "{body}");
}
