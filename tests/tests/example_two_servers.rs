//! Example: two servers for one test, an app and the backend it talks to.
//!
//! The backend (`demo-server`) is declared first, with `name = "backend"`; it is ready before
//! the app (`examples/frontend.py`) starts, and the app gets its address through
//! `env(BACKEND_URL = "{backend.url}")`. They stop in reverse order: the app, then the backend.

use with_server::{Server, with_server};

#[with_server(
    name = "backend",
    cmd = "{bin:demo-server} --port {port}",
    ready = http("/health", status = 204)
)]
#[with_server(
    cmd = "python3 examples/frontend.py",
    env(BACKEND_URL = "{backend.url}"),
    ready = http("/health")
)]
#[tokio::test]
async fn the_app_answers_with_what_the_backend_said(backend: &Server, app: &str) {
    let from_backend = get(&backend.url("/hello")).await;
    assert_eq!(from_backend, "hello from demo-server");

    let through_app = get(&format!("{app}/hello")).await;
    assert_eq!(through_app, format!("frontend got: 200 {from_backend}"));

    let missing = get(&format!("{app}/nothing-here")).await;
    assert_eq!(missing, "frontend got: 404 not found");
}

async fn get(url: &str) -> String {
    let response = reqwest::get(url).await.unwrap();
    assert_eq!(response.status(), 200, "GET {url}");
    response.text().await.unwrap()
}
