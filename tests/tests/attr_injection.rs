//! What a `#[with_server]` parameter can be: `&Server`, `&str`, `String`, `u16`,
//! `SocketAddr` and `Url`, all describing the same started server.

mod common;

use std::net::{SocketAddr, TcpStream};

use common::http_get;
use with_server::{Server, Url, with_server};

fn assert_base_url(url: &str) {
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    assert!(!url.ends_with('/'), "{url}");
}

#[with_server(cmd = "{bin:fixture} --port {port} --http")]
#[test]
fn server(server: &Server) {
    assert_base_url(server.base_url());
    assert_eq!(
        server.addr(),
        SocketAddr::from(([127, 0, 0, 1], server.port()))
    );
    let (status, _) = http_get(server.addr(), "/");
    assert_eq!(status, 200);
}

#[with_server(cmd = "{bin:fixture} --port {port} --http")]
#[test]
fn str(url: &str) {
    assert_base_url(url);
    let addr: SocketAddr = url.trim_start_matches("http://").parse().unwrap();
    let (status, _) = http_get(addr, "/");
    assert_eq!(status, 200);
}

#[with_server(cmd = "{bin:fixture} --port {port}")]
#[test]
fn string(mut url: String) {
    assert_base_url(&url);
    let addr: SocketAddr = url.trim_start_matches("http://").parse().unwrap();
    TcpStream::connect(addr).unwrap();
    // The parameter is the test's own, `mut` included.
    url.push_str("/path");
    assert_eq!(url, format!("http://{addr}/path"));
}

#[with_server(cmd = "{bin:fixture} --port {port}")]
#[test]
fn port(port: u16) {
    assert_ne!(port, 0);
    TcpStream::connect(("127.0.0.1", port)).unwrap();
}

#[with_server(cmd = "{bin:fixture} --port {port}")]
#[test]
fn socket_addr(addr: std::net::SocketAddr) {
    assert!(addr.ip().is_loopback(), "{addr}");
    TcpStream::connect(addr).unwrap();
}

#[with_server(cmd = "{bin:fixture} --port {port} --http")]
#[test]
fn url(url: Url) {
    assert_eq!(url.scheme(), "http");
    assert_eq!(url.host_str(), Some("127.0.0.1"));
    let port = url.port().unwrap();
    let (status, body) = http_get(
        SocketAddr::from(([127, 0, 0, 1], port)),
        url.join("/joined").unwrap().path(),
    );
    assert_eq!(status, 200);
    assert!(body.contains("/joined"), "{body}");
}

/// Every type, each from a server of its own; all agree with the `&Server` of that server.
#[with_server(cmd = "{bin:fixture} --port {port}")]
#[with_server(cmd = "{bin:fixture} --port {port}")]
#[with_server(cmd = "{bin:fixture} --port {port}")]
#[with_server(cmd = "{bin:fixture} --port {port}")]
#[with_server(cmd = "{bin:fixture} --port {port}")]
#[with_server(cmd = "{bin:fixture} --port {port}")]
#[tokio::test]
async fn all_types_at_once(
    server: &Server,
    url: &str,
    owned: String,
    port: u16,
    addr: SocketAddr,
    parsed: with_server::Url,
) {
    let ports = [
        server.port(),
        url.rsplit(':').next().unwrap().parse().unwrap(),
        owned.rsplit(':').next().unwrap().parse().unwrap(),
        port,
        addr.port(),
        parsed.port().unwrap(),
    ];
    for (i, a) in ports.iter().enumerate() {
        for b in &ports[i + 1..] {
            assert_ne!(a, b, "two servers share a port: {ports:?}");
        }
        tokio::net::TcpStream::connect(("127.0.0.1", *a))
            .await
            .unwrap();
    }
}

#[with_server(cmd = "{bin:fixture} --port {port}")]
#[test]
fn patterns_bind_as_usual(_: u16) {}
