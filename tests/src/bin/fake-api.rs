//! The "fake API" of the SPEC's two-server example: `fake-api PORT` answers every request with
//! a small JSON document, and logs each request.

use std::io::Write;
use std::net::TcpListener;

fn main() {
    let Some(port) = std::env::args()
        .nth(1)
        .and_then(|port| port.parse::<u16>().ok())
    else {
        eprintln!("usage: fake-api PORT");
        std::process::exit(2);
    };
    let listener = match TcpListener::bind(("127.0.0.1", port)) {
        Ok(listener) => listener,
        Err(err) => {
            eprintln!("fake-api: cannot listen on port {port}: {err}");
            std::process::exit(1);
        }
    };
    println!("fake-api listening on port {port}");
    for stream in listener.incoming().flatten() {
        let Ok(request) = with_server_tests::read_request_head(&stream) else {
            continue;
        };
        println!("fake-api: {request}");
        let body = r#"{"items":["apple","pear"]}"#;
        let _ = write!(
            &stream,
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
    }
}
