//! The examples of the project's contract, as written there (the bodies filled in).

use with_server::{Server, with_server};

#[with_server(cmd = "python3 -m http.server {port} --bind 127.0.0.1", ready = http("/"))]
#[tokio::test]
async fn lists_files(url: &str) {
    let body = reqwest::get(url).await.unwrap().text().await.unwrap();
    assert!(body.contains("Directory listing"));
}

#[with_server(name = "api", cmd = "{bin:fake-api} {port}")]
#[with_server(cmd = "{bin:frontend} --port {port}", env(API_URL = "{api.url}"), ready = http("/health"))]
#[tokio::test]
async fn frontend_talks_to_api(api: &Server, frontend: &str) {
    let body = reqwest::get(format!("{frontend}/"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(body, r#"frontend sees: {"items":["apple","pear"]}"#);
    assert!(
        api.output().contains("fake-api: GET /items HTTP/1.1"),
        "{}",
        api.output()
    );
}

#[test]
fn the_runtime_sketch() -> Result<(), with_server::Error> {
    use std::time::Duration;
    use with_server::Ready;

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let server = Server::builder("python3 -m http.server {port}")
            .ready(Ready::http("/"))
            .timeout(Duration::from_secs(10))
            .env("KEY", "value")
            .start()
            .await?;
        assert!(server.base_url().starts_with("http://127.0.0.1:"));
        assert_eq!(server.url("/path"), format!("{}/path", server.base_url()));
        assert_eq!(server.addr().port(), server.port());
        assert!(server.pid() > 0);
        server.stop().await?;
        Ok(())
    })
}
