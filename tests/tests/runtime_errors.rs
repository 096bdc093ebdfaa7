//! Start failures: each is an `Error` whose message names the command, the cause and what
//! was tried, and each comes quickly rather than at the readiness timeout.

mod common;

use std::time::Duration;

use common::{assert_gone, fixture_cmd, read_pid_file, scratch_dir, start_err};
use with_server::{Error, Ready, Server};

const QUICK: Duration = Duration::from_secs(3);
const LONG_TIMEOUT: Duration = Duration::from_secs(30);

#[test]
fn exiting_before_ready_fails_at_once_with_status_and_last_lines() {
    let (error, took) = start_err(
        Server::builder(fixture_cmd(
            "--print-lines 30 --say-stderr about-to-exit --exit-early 3",
        ))
        .timeout(LONG_TIMEOUT),
    );
    let message = error.to_string();
    assert!(
        took < QUICK,
        "noticed the exit only after {took:?}: {message}"
    );
    assert!(
        message.contains("fixture"),
        "the message does not name the command: {message}"
    );
    assert!(
        message.contains("exit status: 3")
            || message.contains("exit code 3")
            || message.contains("code: 3"),
        "the message does not give the exit status: {message}"
    );
    assert!(
        message.contains("exiting with 3"),
        "no last stderr line in: {message}"
    );
    assert!(
        message.contains("line 30"),
        "no last stdout line in: {message}"
    );
    assert!(
        message.contains("about-to-exit"),
        "no stderr line in: {message}"
    );
}

#[test]
fn exiting_before_a_log_match_fails_at_once() {
    let (error, took) = start_err(
        Server::builder(fixture_cmd("--exit-early 4"))
            .ready(Ready::log("never printed"))
            .timeout(LONG_TIMEOUT),
    );
    assert!(
        took < QUICK,
        "noticed the exit only after {took:?}: {error}"
    );
    assert!(error.to_string().contains("exiting with 4"), "{error}");
}

#[test]
fn exiting_before_http_ready_fails_at_once() {
    let (error, took) = start_err(
        Server::builder(fixture_cmd("--exit-early 5"))
            .ready(Ready::http("/"))
            .timeout(LONG_TIMEOUT),
    );
    assert!(
        took < QUICK,
        "noticed the exit only after {took:?}: {error}"
    );
    assert!(error.to_string().contains("exiting with 5"), "{error}");
}

#[test]
fn a_bad_flag_shows_the_servers_complaint() {
    let (error, took) =
        start_err(Server::builder(fixture_cmd("--no-such-flag")).timeout(LONG_TIMEOUT));
    assert!(took < QUICK, "{took:?}: {error}");
    let message = error.to_string();
    assert!(
        message.contains(r#"unknown argument "--no-such-flag""#),
        "{message}"
    );
}

#[test]
fn a_timeout_says_what_the_probe_saw_and_stops_the_server() {
    let scratch = scratch_dir("timeout");
    let pid_file = scratch.join("pid");
    let timeout = Duration::from_millis(800);
    let (error, took) = start_err(
        Server::builder(fixture_cmd(&format!(
            "--pid-file '{}' --say still-warming-up --never-listen",
            pid_file.display()
        )))
        .timeout(timeout),
    );
    let message = error.to_string();
    assert!(
        took >= timeout,
        "gave up after {took:?}, before the timeout: {message}"
    );
    assert!(
        took < timeout + QUICK,
        "gave up only after {took:?}: {message}"
    );
    let lower = message.to_lowercase();
    assert!(
        lower.contains("timed out") || lower.contains("timeout"),
        "{message}"
    );
    assert!(
        lower.contains("refused"),
        "the message does not say what the probe saw: {message}"
    );
    assert!(
        message.contains("not listening"),
        "no last output line in: {message}"
    );
    assert!(
        message.contains("fixture"),
        "the message does not name the command: {message}"
    );
    let pid = read_pid_file(&pid_file, Duration::from_secs(1));
    assert_gone(pid, "the server that timed out", Duration::from_secs(2));
}

#[test]
fn a_timeout_before_the_first_probe_still_says_what_was_seen() {
    // On Linux no probe goes out while the kernel shows nothing listening, for the first
    // millisecond of the wait.
    let (error, _) = start_err(
        Server::builder(fixture_cmd("--never-listen")).timeout(Duration::from_micros(300)),
    );
    let message = error.to_string();
    assert!(
        message.contains("last saw nothing listening on the port")
            || message.contains("last saw connection refused"),
        "the message does not say what was seen: {message}"
    );
}

#[test]
fn a_missing_program_is_a_clear_error() {
    let (error, took) = start_err(
        Server::builder("with-server-no-such-program --port {port}").timeout(LONG_TIMEOUT),
    );
    let message = error.to_string();
    assert!(took < QUICK, "{took:?}: {message}");
    assert!(message.contains("with-server-no-such-program"), "{message}");
    let lower = message.to_lowercase();
    assert!(
        lower.contains("not found") || lower.contains("no such file"),
        "the message does not say the program is missing: {message}"
    );
}

#[test]
fn a_missing_working_directory_is_a_clear_error() {
    let scratch = scratch_dir("cwd");
    let dir = scratch.join("does-not-exist");
    let (error, took) = start_err(
        Server::builder(fixture_cmd("--port {port}"))
            .current_dir(dir.to_path_buf())
            .timeout(LONG_TIMEOUT),
    );
    let message = error.to_string();
    assert!(took < QUICK, "{took:?}: {message}");
    assert!(
        message.contains(&dir.display().to_string()),
        "the message does not name the directory: {message}"
    );
}

#[test]
fn an_unbalanced_quote_is_a_clear_error() {
    let (error, took) = start_err(Server::builder(fixture_cmd("--say 'unclosed")));
    let message = error.to_string();
    assert!(took < QUICK, "{took:?}: {message}");
    assert!(message.to_lowercase().contains("quot"), "{message}");
}

#[test]
fn an_unknown_placeholder_is_a_clear_error() {
    let (error, took) = start_err(Server::builder(fixture_cmd("--say {no_such_thing}")));
    let message = error.to_string();
    assert!(took < QUICK, "{took:?}: {message}");
    assert!(
        message.contains("no_such_thing"),
        "the message does not name it: {message}"
    );
    assert!(
        message.contains("{port}"),
        "the message does not list the known ones: {message}"
    );
}

#[test]
fn an_empty_command_is_a_clear_error() {
    let (error, took) = start_err(Server::builder("   "));
    assert!(took < QUICK, "{took:?}: {error}");
    assert!(
        error.to_string().to_lowercase().contains("empty"),
        "{error}"
    );
}

#[test]
fn the_error_is_a_std_error_with_a_useful_debug() {
    let (error, _) = start_err(Server::builder(fixture_cmd("--exit-early 6")));
    let as_std: &dyn std::error::Error = &error;
    assert!(!as_std.to_string().is_empty());
    assert!(!format!("{error:?}").is_empty());
    fn is_send_sync<T: Send + Sync + 'static>(_: &T) {}
    is_send_sync::<Error>(&error);
}
