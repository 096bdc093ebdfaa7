//! `ready = ..`: the test body runs only once the server is ready, as each probe defines it.

mod common;

use std::net::TcpStream;
use std::time::Duration;

use common::{http_get, number_after, wait_for_output};
use with_server::{Server, with_server};

const WAIT: Duration = Duration::from_secs(10);

#[with_server(cmd = "{bin:fixture} --slow-start 300 --port {port}")]
#[test]
fn tcp_is_the_default(port: u16) {
    TcpStream::connect(("127.0.0.1", port)).unwrap();
}

#[with_server(cmd = "{bin:fixture} --slow-start 300 --port {port}", ready = tcp)]
#[test]
fn tcp_waits_for_a_connection(port: u16) {
    TcpStream::connect(("127.0.0.1", port)).unwrap();
}

#[with_server(
    cmd = "{bin:fixture} --port {port} --http --status-after 3:503",
    ready = http("/")
)]
#[test]
fn http_waits_for_a_success(server: &Server) {
    let (status, body) = http_get(server.addr(), "/");
    assert_eq!(status, 200, "{body}");
}

// `/health` always answers `--status`, while `/` answers 503 for longer than any wait.
#[with_server(
    cmd = "{bin:fixture} --port {port} --http --status-after 1000000:503",
    ready = http("/health")
)]
#[test]
fn http_probes_the_given_path(server: &Server) {
    let (status, _) = http_get(server.addr(), "/");
    assert_eq!(status, 503);
    // The fixture prints a request's line after answering it; output is read concurrently.
    let output = wait_for_output(server, "request GET / -> 503", WAIT);
    assert!(output.contains("request GET /health -> 200"), "{output}");
    assert!(!output.contains("request GET / -> 200"), "{output}");
}

// 418 is no success: only the exact status makes this server ready.
#[with_server(
    cmd = "{bin:fixture} --port {port} --http --status 418",
    ready = http("/", status = 418),
    timeout = "10s"
)]
#[test]
fn http_with_status_waits_for_exactly_that_status(server: &Server) {
    // Only the probe has sent a request yet.
    wait_for_output(server, "request GET / -> 418", WAIT);
}

#[with_server(
    cmd = "{bin:fixture} --port {port} --slow-start 200 --announce",
    ready = log("^listening on 127\\.0\\.0\\.1:\\d+$")
)]
#[test]
fn log_waits_for_a_matching_line(server: &Server) {
    let output = server.output();
    assert!(output.contains("listening on"), "{output}");
}

// Searched within the line, not matched against all of it; stderr counts as well.
#[with_server(cmd = "{bin:fixture} --port {port} --announce-stderr", ready = log("on 127"))]
#[test]
fn log_searches_stderr_lines_too(server: &Server) {
    let output = server.output();
    assert!(output.contains("listening on 127.0.0.1"), "{output}");
}

// No `--port`: the fixture binds `PORT`, which is 0, so the kernel picks; the port comes
// from the line it prints.
#[with_server(
    cmd = "{bin:fixture} --announce",
    ready = log("listening on [\\d.]+:(?P<port>\\d+)")
)]
#[test]
fn log_with_a_port_group_reads_the_port(server: &Server) {
    let announced: u16 = number_after(&server.output(), "listening on 127.0.0.1:");
    assert_eq!(server.port(), announced);
    TcpStream::connect(server.addr()).unwrap();
}
