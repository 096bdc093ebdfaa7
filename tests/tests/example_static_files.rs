//! Example: a directory of static files, served by `python3 -m http.server`.
//!
//! `cwd` points the server at `examples/site/` (relative to this crate's directory), and
//! `ready = http("/")` waits until the index page answers before the test runs.

use with_server::with_server;

#[with_server(
    cmd = "python3 -m http.server {port} --bind 127.0.0.1",
    cwd = "examples/site",
    ready = http("/")
)]
#[tokio::test]
async fn serves_the_files_of_its_directory(url: &str) {
    let file = reqwest::get(format!("{url}/hello.txt")).await.unwrap();
    assert_eq!(file.status(), 200);
    assert_eq!(file.text().await.unwrap(), "hello from a file on disk\n");

    let index = reqwest::get(url).await.unwrap().text().await.unwrap();
    assert!(
        index.contains("<title>with-server example site</title>"),
        "{index}"
    );

    let missing = reqwest::get(format!("{url}/missing.txt")).await.unwrap();
    assert_eq!(missing.status(), 404);
}
