//! Example: the package's own server binary, `demo-server` (`src/bin/demo-server.rs`).
//!
//! `{bin:demo-server}` is the path cargo built it at. With `port = 0` and a `log` probe that has
//! a `port` group, the server is started with `--port 0`, binds a port the kernel picks, and
//! the test reads that port from its `listening on ...` line: no port is ever guessed.

use std::io::{Read, Write};
use std::net::TcpStream;

use with_server::{Server, with_server};

#[with_server(
    cmd = "{bin:demo-server} --port {port}",
    port = 0,
    ready = log(r"listening on http://127\.0\.0\.1:(?P<port>\d+)")
)]
#[test]
fn answers_hello_on_the_port_it_picked(server: &Server) {
    assert_ne!(server.port(), 0);
    assert!(
        server
            .output()
            .contains(&format!("listening on {}", server.base_url())),
        "{}",
        server.output()
    );

    let response = get(server, "/hello");
    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
    assert!(
        response.ends_with("\r\n\r\nhello from demo-server"),
        "{response}"
    );

    let response = get(server, "/nothing-here");
    assert!(response.starts_with("HTTP/1.1 404 "), "{response}");
}

/// A plain HTTP/1.1 GET over a `TcpStream`: a sync test needs no async runtime.
fn get(server: &Server, path: &str) -> String {
    let mut stream = TcpStream::connect(server.addr()).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nhost: {}\r\n\r\n",
        server.addr()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}
