//! Real servers, as users run them: Python's `http.server` and a small Flask app whose state
//! lives in memory, so each test sees it fresh.

mod common;

use std::time::Duration;

use common::{assert_gone, scratch_dir};
use with_server::{Ready, Server};

const FLASK_APP: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/flask_app.py");

#[tokio::test]
async fn python_http_server_lists_its_directory() {
    let dir = scratch_dir("http-server");
    std::fs::write(dir.join("served-file.txt"), "hello from disk").unwrap();
    let server = Server::builder("python3 -m http.server {port} --bind 127.0.0.1")
        .current_dir(dir.to_path_buf())
        .ready(Ready::http("/"))
        .timeout(Duration::from_secs(30))
        .start()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let listing = reqwest::get(server.base_url())
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(listing.contains("Directory listing"), "{listing}");
    assert!(listing.contains("served-file.txt"), "{listing}");
    let file = reqwest::get(server.url("/served-file.txt"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(file, "hello from disk");
    let pid = server.pid();
    server.stop().await.unwrap_or_else(|e| panic!("{e}"));
    assert_gone(pid, "python3 -m http.server", Duration::from_secs(2));
}

#[test]
fn python_http_server_from_a_plain_test() {
    let scratch = scratch_dir("http-server-sync");
    let server = Server::builder("python3 -m http.server {port} --bind {host}")
        .current_dir(scratch.to_path_buf())
        .ready(Ready::http("/"))
        .timeout(Duration::from_secs(30))
        .start_blocking()
        .unwrap_or_else(|e| panic!("{e}"));
    let (status, body) = common::http_get(server.addr(), "/");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("Directory listing"), "{body}");
}

async fn flask_app() -> Server {
    Server::builder(format!("python3 '{FLASK_APP}' --port {{port}}"))
        .ready(Ready::http("/health").status(204))
        .timeout(Duration::from_secs(30))
        .start()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

async fn items(server: &Server) -> String {
    let response = reqwest::get(server.url("/items")).await.unwrap();
    assert_eq!(response.status(), 200);
    response.text().await.unwrap().split_whitespace().collect()
}

async fn add_item(server: &Server, form: &'static str) {
    let response = reqwest::Client::new()
        .post(server.url("/items"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "{:?}", response.text().await);
}

// The two tests below each add an item to a list that starts empty; were the app shared
// or left over from the other test, one of them would find the other's item.

#[tokio::test]
async fn flask_app_starts_fresh_for_one_test() {
    let server = flask_app().await;
    assert_eq!(items(&server).await, "[]");
    add_item(&server, "name=apple").await;
    assert_eq!(items(&server).await, r#"["apple"]"#);
}

#[tokio::test]
async fn flask_app_starts_fresh_for_another_test() {
    let server = flask_app().await;
    assert_eq!(items(&server).await, "[]");
    add_item(&server, "name=pear").await;
    add_item(&server, "name=plum").await;
    assert_eq!(items(&server).await, r#"["pear","plum"]"#);
}

#[tokio::test]
async fn flask_app_reads_its_port_from_the_environment() {
    let server = Server::builder(format!("python3 '{FLASK_APP}'"))
        .ready(Ready::http("/health").status(204))
        .timeout(Duration::from_secs(30))
        .start()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(items(&server).await, "[]");
}
