//! The kinds of test `#[with_server]` goes on: `#[tokio::test]` of either flavor, `#[test]`,
//! no test attribute at all (sync and async), and the attributes a test keeps: `#[ignore]`,
//! `#[should_panic]`, `#[cfg]`, docs, lint attributes, and a `Result` return type.
// Whatever the expansion adds must not warn either.
#![deny(warnings)]

mod common;

use std::net::SocketAddr;
use std::process::Command;

use common::http_get;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use with_server::with_server;

/// A GET through tokio, so that the async tests do their I/O on the test's runtime.
async fn get(addr: SocketAddr, path: &str) -> String {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    response
}

#[with_server(cmd = "python3 -m http.server {port} --bind 127.0.0.1", ready = http("/"))]
#[tokio::test]
async fn tokio_test(url: &str) {
    let body = reqwest::get(url).await.unwrap().text().await.unwrap();
    assert!(body.contains("Directory listing"), "{body}");
}

#[with_server(cmd = "{bin:fixture} --port {port} --http", ready = http("/"))]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokio_test_multi_thread(addr: SocketAddr) {
    let response = get(addr, "/multi").await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
}

#[with_server(cmd = "{bin:fixture} --port {port} --http")]
#[tokio::test(flavor = "current_thread")]
async fn tokio_test_with_arguments(addr: SocketAddr) {
    let response = get(addr, "/current").await;
    assert!(
        response.contains("fixture answered 200 for /current"),
        "{response}"
    );
}

#[with_server(cmd = "{bin:fixture} --port {port} --http")]
#[test]
fn plain_test(addr: SocketAddr) {
    let (status, body) = http_get(addr, "/plain");
    assert_eq!(status, 200, "{body}");
}

#[with_server(cmd = "{bin:fixture} --port {port} --http")]
fn sync_test_without_test_attribute(addr: SocketAddr) {
    let (status, body) = http_get(addr, "/sync");
    assert_eq!(status, 200, "{body}");
}

#[with_server(cmd = "{bin:fixture} --port {port} --http")]
async fn async_test_without_test_attribute(addr: SocketAddr) {
    // The macro runs the body on a runtime with every driver enabled: tokio's I/O works.
    let response = get(addr, "/async").await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    tokio::time::sleep(std::time::Duration::from_millis(1)).await;
}

#[with_server(cmd = "{bin:fixture} --port {port}")]
fn test_without_parameters() {}

#[with_server(cmd = "{bin:fixture} --port {port}")]
#[test]
#[ignore = "checks that #[ignore] is kept"]
fn ignored_test(_port: u16) {}

#[with_server(cmd = "{bin:fixture} --port {port}")]
#[test]
#[should_panic(expected = "the test body panicked on port")]
fn should_panic_test(port: u16) {
    panic!("the test body panicked on port {port}");
}

#[with_server(cmd = "{bin:fixture} --port {port}")]
#[should_panic(expected = "an async test without test attribute panicked")]
async fn should_panic_async_test_without_test_attribute(_port: u16) {
    panic!("an async test without test attribute panicked");
}

#[with_server(cmd = "{bin:fixture} --port {port}")]
#[cfg(any())]
#[test]
fn test_removed_by_cfg(_port: u16) {
    compile_error!("a test under a false #[cfg] was compiled");
}

#[with_server(cmd = "{bin:fixture} --port {port}")]
#[cfg(unix)]
#[test]
fn test_kept_by_cfg(port: u16) {
    assert_ne!(port, 0);
}

#[with_server(cmd = "{bin:fixture} --port {port}")]
#[test]
fn test_returning_ok(port: u16) -> Result<(), String> {
    if port == 0 {
        return Err("no port".to_owned());
    }
    Ok(())
}

#[with_server(cmd = "{bin:fixture} --port {port} --http")]
#[tokio::test]
async fn async_test_using_the_question_mark(addr: SocketAddr) -> Result<(), std::io::Error> {
    let stream = tokio::net::TcpStream::connect(addr).await?;
    assert_eq!(stream.peer_addr()?, addr);
    Ok(())
}

/// A doc comment, and lint attributes that reach the test's own body: under
/// `#![deny(warnings)]` the unused variable below compiles only if they do.
#[with_server(cmd = "{bin:fixture} --port {port}")]
#[allow(unused_variables)]
#[test]
fn lint_attributes_apply_to_the_body(port: u16) {
    let unused = port;
}

#[with_server(cmd = "{bin:fixture} --port {port}")]
#[expect(unused_variables)]
#[test]
fn expect_attribute_applies_to_the_body(port: u16) {
    let unused = port;
}

/// What libtest lists as tests of this binary: the functions without a test attribute are
/// there, each once.
#[test]
fn tests_without_test_attribute_are_registered_once() {
    let list = |extra: &[&str]| {
        let output = Command::new(std::env::current_exe().unwrap())
            .args(["--list", "--format=terse"])
            .args(extra)
            .output()
            .unwrap();
        assert!(output.status.success(), "{output:?}");
        String::from_utf8(output.stdout).unwrap()
    };
    let tests = list(&[]);
    for name in [
        "sync_test_without_test_attribute",
        "async_test_without_test_attribute",
        "test_without_parameters",
        "should_panic_async_test_without_test_attribute",
        "test_kept_by_cfg",
    ] {
        let entry = format!("{name}: test");
        let count = tests.lines().filter(|line| *line == entry).count();
        assert_eq!(count, 1, "{name} in:\n{tests}");
    }
    assert!(!tests.contains("test_removed_by_cfg"), "{tests}");
    let ignored = list(&["--ignored"]);
    assert_eq!(ignored.trim(), "ignored_test: test", "{ignored}");
}

/// Any `Termination` libtest accepts: `ExitCode` too.
#[with_server(cmd = "{bin:fixture} --port {port}")]
#[test]
fn returns_an_exit_code(port: u16) -> std::process::ExitCode {
    assert!(port > 0);
    std::process::ExitCode::SUCCESS
}

/// Lifetimes in the signature are the inner function's; the wrapper needs none.
#[with_server(cmd = "{bin:fixture} --port {port}")]
#[test]
#[allow(clippy::needless_lifetimes)] // the named lifetime is what this test is about
fn names_a_lifetime<'a>(url: &'a str) {
    assert!(url.starts_with("http://127.0.0.1:"));
}
