//! `Ready::http(path)`: ready once a GET of the path answers 2xx, or exactly the given status.

mod common;

use std::time::Duration;

use common::{
    assert_gone, fixture_cmd, http_get, read_pid_file, scratch_dir, start, start_err,
    wait_for_output,
};
use with_server::{Ready, Server};

#[test]
fn waits_until_the_path_answers_success() {
    let server =
        start(Server::builder(fixture_cmd("--http --status-after 3:503")).ready(Ready::http("/")));
    let (status, body) = http_get(server.addr(), "/");
    assert_eq!(
        status, 200,
        "the server was declared ready too soon: {body}"
    );
    // The 503 lines come before any 200 line on the same pipe.
    let output = wait_for_output(&server, "request GET / -> 200", Duration::from_secs(5));
    assert_eq!(
        output.matches("request GET / -> 503").count(),
        3,
        "the probe should have retried through every 503:\n{output}"
    );
}

#[test]
fn probes_the_given_path() {
    let server = start(Server::builder(fixture_cmd("--http")).ready(Ready::http("/ready/check")));
    wait_for_output(
        &server,
        "request GET /ready/check -> 200",
        Duration::from_secs(5),
    );
}

#[test]
fn refused_connections_mean_not_yet() {
    let server = start(
        Server::builder(fixture_cmd("--http --slow-start 300"))
            .ready(Ready::http("/"))
            .timeout(Duration::from_secs(10)),
    );
    assert_eq!(http_get(server.addr(), "/").0, 200);
}

#[test]
fn exact_status_is_accepted() {
    let server = start(
        Server::builder(fixture_cmd("--http --status 204"))
            .ready(Ready::http("/health").status(204)),
    );
    assert_eq!(http_get(server.addr(), "/health").0, 204);
}

#[test]
fn exact_status_rejects_another_success() {
    let (error, took) = start_err(
        Server::builder(fixture_cmd("--http --status 200"))
            .ready(Ready::http("/health").status(204))
            .timeout(Duration::from_secs(1)),
    );
    let message = error.to_string();
    common::assert_gave_up_on_time(took, Duration::from_secs(1), &message);
    assert!(
        message.contains("200"),
        "the message does not say what the probe saw: {message}"
    );
    assert!(
        message.contains("204"),
        "the message does not say what was expected: {message}"
    );
}

#[test]
fn error_status_times_out_naming_it_and_stops_the_server() {
    let scratch = scratch_dir("http-500");
    let pid_file = scratch.join("pid");
    let (error, took) = start_err(
        Server::builder(fixture_cmd(&format!(
            "--http --status 500 --pid-file '{}'",
            pid_file.display()
        )))
        .ready(Ready::http("/"))
        .timeout(Duration::from_secs(1)),
    );
    let message = error.to_string();
    common::assert_gave_up_on_time(took, Duration::from_secs(1), &message);
    assert!(
        message.contains("500"),
        "the message does not say what the probe saw: {message}"
    );
    assert!(
        message.contains("request GET / -> 500"),
        "the message does not show the last output lines: {message}"
    );
    let pid = read_pid_file(&pid_file, Duration::from_secs(1));
    assert_gone(
        pid,
        "the server that never became ready",
        Duration::from_secs(2),
    );
}

#[test]
fn a_server_that_closes_without_answering_is_not_ready() {
    // The plain fixture accepts and closes at once, like a reset: never a success.
    let (error, took) = start_err(
        Server::builder(fixture_cmd(""))
            .ready(Ready::http("/"))
            .timeout(Duration::from_secs(1)),
    );
    assert!(
        took >= Duration::from_secs(1),
        "gave up after {took:?}: {error}"
    );
}
