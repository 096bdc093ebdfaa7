//! `Ready::log(regex)`: ready once a line of stdout or stderr matches; a named group `port`
//! with port 0 lets the server pick its own port and report it.

mod common;

use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{fixture_cmd, number_after, start, start_err, wait_for_output};
use with_server::{Ready, Server};

#[test]
fn a_matching_stdout_line_makes_it_ready() {
    let began = Instant::now();
    let server = start(
        Server::builder(fixture_cmd("--slow-start 300 --port {port} --announce"))
            .ready(Ready::log(r"^listening on \S+$")),
    );
    assert!(began.elapsed() >= Duration::from_millis(300));
    assert!(
        server.output().contains("listening on "),
        "{}",
        server.output()
    );
    TcpStream::connect(server.addr()).unwrap();
}

#[test]
fn a_matching_stderr_line_makes_it_ready() {
    let server = start(
        Server::builder(fixture_cmd(
            "--slow-start 200 --port {port} --announce-stderr",
        ))
        .ready(Ready::log("listening on")),
    );
    TcpStream::connect(server.addr()).unwrap();
}

#[test]
fn the_regex_searches_within_the_line() {
    let server = start(
        Server::builder(fixture_cmd("--slow-start 200 --port {port} --announce"))
            .ready(Ready::log(r"on 127\.0")),
    );
    TcpStream::connect(server.addr()).unwrap();
}

#[test]
fn earlier_lines_do_not_make_it_ready() {
    // Lines that do not match come first; readiness must wait for the one that does.
    let server = start(
        Server::builder(fixture_cmd(
            "--print-lines 50 --slow-start 300 --port {port} --say-stderr warming-up --announce",
        ))
        .ready(Ready::log("^listening on")),
    );
    TcpStream::connect(server.addr())
        .unwrap_or_else(|e| panic!("declared ready before it listened: {e}"));
}

#[test]
fn port_group_reads_the_port_the_server_picked() {
    let server = start(
        Server::builder(fixture_cmd(
            "--say port-arg={port} --echo-env PORT --port {port} --announce",
        ))
        .ready(Ready::log(r"listening on 127\.0\.0\.1:(?P<port>\d+)")),
    );
    let output = wait_for_output(&server, "listening on", Duration::from_secs(5));
    assert!(
        output.contains("port-arg=0\n"),
        "{{port}} should have been 0:\n{output}"
    );
    assert!(
        output.contains("PORT=0\n"),
        "PORT should have been 0:\n{output}"
    );
    let announced: u16 = number_after(&output, "listening on 127.0.0.1:");
    assert_ne!(announced, 0);
    assert_eq!(server.port(), announced);
    assert_eq!(server.base_url(), format!("http://127.0.0.1:{announced}"));
    TcpStream::connect(server.addr()).unwrap();
}

#[test]
fn several_self_picking_servers_get_their_own_ports() {
    let ready = || Ready::log(r"listening on 127\.0\.0\.1:(?P<port>\d+)");
    let first = start(Server::builder(fixture_cmd("--announce")).ready(ready()));
    let second = start(Server::builder(fixture_cmd("--announce")).ready(ready()));
    assert_ne!(first.port(), second.port());
}

#[test]
fn no_matching_line_times_out_showing_the_output() {
    let (error, took) = start_err(
        Server::builder(fixture_cmd("--port {port} --say something-else --announce"))
            .ready(Ready::log("never printed"))
            .timeout(Duration::from_secs(1)),
    );
    let message = error.to_string();
    common::assert_gave_up_on_time(took, Duration::from_secs(1), &message);
    assert!(
        message.contains("never printed"),
        "the message does not name the regex: {message}"
    );
    assert!(
        message.contains("something-else"),
        "the message does not show the last output lines: {message}"
    );
}
