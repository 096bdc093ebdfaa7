//! What a `#[with_server]` test prints: its servers' output under the test when the test
//! fails (by panic or by returning `Err`, sync or async), nothing when it passes, and what
//! `logs = ".."` asks for instead. Each case runs in a process of its own, so that what
//! libtest shows for it can be read.

mod common;

use std::time::Duration;

use common::run_this_test;
use with_server::with_server;

const CASE: &str = "WITH_SERVER_ATTR_OUTPUT";
const STDOUT_MARK: &str = "attr-server-says-on-stdout";
const STDERR_MARK: &str = "attr-server-says-on-stderr";
const FAILURE: &str = "the test body fails on purpose";

/// The outcome the running case asks for; a helper run without a case passes.
fn outcome() -> Result<(), String> {
    match std::env::var(CASE).as_deref() {
        Ok("panic") => panic!("{FAILURE}"),
        Ok("err") => Err(FAILURE.to_owned()),
        _ => Ok(()),
    }
}

#[with_server(
    cmd = "{bin:fixture} --port {port} --say attr-server-says-on-stdout --say-stderr attr-server-says-on-stderr"
)]
#[test]
#[ignore = "a helper: run by the other tests of this file"]
fn default_logs(_port: u16) -> Result<(), String> {
    outcome()
}

#[with_server(
    cmd = "{bin:fixture} --port {port} --say attr-server-says-on-stdout --say-stderr attr-server-says-on-stderr"
)]
#[tokio::test]
#[ignore = "a helper: run by the other tests of this file"]
async fn default_logs_async(_port: u16) -> Result<(), String> {
    tokio::task::yield_now().await;
    outcome()
}

#[with_server(
    cmd = "{bin:fixture} --port {port} --say attr-server-says-on-stdout --say-stderr attr-server-says-on-stderr",
    logs = "always"
)]
#[test]
#[ignore = "a helper: run by the other tests of this file"]
fn always_logs(_port: u16) -> Result<(), String> {
    outcome()
}

#[with_server(
    cmd = "{bin:fixture} --port {port} --say attr-server-says-on-stdout --say-stderr attr-server-says-on-stderr",
    logs = "never"
)]
#[test]
#[ignore = "a helper: run by the other tests of this file"]
fn never_logs(_port: u16) -> Result<(), String> {
    outcome()
}

#[with_server(
    cmd = "{bin:fixture} --port {port} --say attr-server-says-on-stdout --say-stderr attr-server-says-on-stderr",
    logs = "on_failure"
)]
#[test]
#[ignore = "a helper: run by the other tests of this file"]
fn on_failure_logs(_port: u16) -> Result<(), String> {
    outcome()
}

/// Runs `helper` with `case` (`pass`, `panic` or `err`); returns whether the servers' output
/// was printed, after checking that it is printed under the test, where libtest puts what
/// the test's thread printed.
fn printed(helper: &str, case: &str) -> bool {
    let run = run_this_test(helper, &[(CASE, case)], Duration::from_secs(60));
    let all = run.all_output();
    let failed = case != "pass";
    assert_eq!(!run.status.success(), failed, "{helper} {case}:\n{all}");
    if failed {
        assert!(
            all.contains(FAILURE),
            "{helper} {case} failed for another reason:\n{all}"
        );
    }
    let (out, err) = (all.contains(STDOUT_MARK), all.contains(STDERR_MARK));
    assert_eq!(
        out, err,
        "only one of stdout and stderr was printed, {helper} {case}:\n{all}"
    );
    if out {
        let section = format!("---- {helper} stdout ----");
        let under_test = run
            .stdout
            .split_once(&section)
            .is_some_and(|(_, after)| after.contains(STDOUT_MARK));
        assert!(
            under_test,
            "the output is not under the test, {helper} {case}:\n{all}"
        );
    }
    out
}

#[test]
fn a_panicking_test_shows_its_servers_output() {
    assert!(printed("default_logs", "panic"));
}

#[test]
fn a_test_returning_err_shows_its_servers_output() {
    assert!(printed("default_logs", "err"));
}

#[test]
fn an_async_test_returning_err_shows_its_servers_output() {
    assert!(printed("default_logs_async", "err"));
}

#[test]
fn an_async_panicking_test_shows_its_servers_output() {
    assert!(printed("default_logs_async", "panic"));
}

#[test]
fn a_passing_test_shows_nothing() {
    assert!(!printed("default_logs", "pass"));
    assert!(!printed("on_failure_logs", "pass"));
}

#[test]
fn logs_on_failure_shows_the_output_of_a_failing_test() {
    assert!(printed("on_failure_logs", "err"));
}

#[test]
fn logs_always_shows_the_output_of_a_passing_test() {
    assert!(printed("always_logs", "pass"));
}

#[test]
fn logs_never_hides_the_output_of_a_failing_test() {
    assert!(!printed("never_logs", "panic"));
    assert!(!printed("never_logs", "err"));
}

/// Run by `a_server_that_exits_before_it_is_ready_fails_the_test`: the server exits before it
/// is ready when a case is set.
#[with_server(
    cmd = "sh -c 'if [ -n \"$WITH_SERVER_ATTR_OUTPUT\" ]; then exec {bin:fixture} --say attr-early-exit-mark --exit-early 7; fi; exec {bin:fixture} --port {port}'"
)]
#[test]
#[ignore = "a helper: run by a_server_that_exits_before_it_is_ready_fails_the_test"]
fn exits_before_ready() {}

#[test]
fn a_server_that_exits_before_it_is_ready_fails_the_test() {
    let run = run_this_test(
        "exits_before_ready",
        &[(CASE, "exit")],
        Duration::from_secs(60),
    );
    let all = run.all_output();
    assert!(!run.status.success(), "{all}");
    for expected in [
        "exited before it was ready",
        "exit status: 7",
        "attr-early-exit-mark",
    ] {
        assert!(all.contains(expected), "no {expected:?} in:\n{all}");
    }
}
