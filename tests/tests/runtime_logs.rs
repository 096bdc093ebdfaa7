//! `Logs`: a server's output is printed with the test's output always, never, or only when
//! the test fails (the default); otherwise it stays out of the test's output.

mod common;

use std::time::Duration;

use common::{fixture_cmd, run_this_test, start, wait_for_output};
use with_server::{Logs, Server};

const CASE: &str = "WITH_SERVER_TESTS_CASE";
const STDOUT_MARK: &str = "server-says-on-stdout";
const STDERR_MARK: &str = "server-says-on-stderr";
const FAILURE: &str = "the test body fails on purpose";

/// Run by the tests below in a process of its own, as the case in `CASE` says.
#[test]
#[ignore = "a helper: run by the other tests of this file"]
fn server_then_outcome() {
    let Ok(case) = std::env::var(CASE) else {
        return;
    };
    let (logs, fails) = match case.as_str() {
        "always-pass" => (Some(Logs::Always), false),
        "always-fail" => (Some(Logs::Always), true),
        "never-fail" => (Some(Logs::Never), true),
        "on-failure-pass" => (Some(Logs::OnFailure), false),
        "on-failure-fail" => (Some(Logs::OnFailure), true),
        "default-pass" => (None, false),
        "default-fail" => (None, true),
        other => panic!("unknown case {other:?}"),
    };
    let mut builder = Server::builder(fixture_cmd(&format!(
        "--say {STDOUT_MARK} --say-stderr {STDERR_MARK} --port {{port}}"
    )));
    if let Some(logs) = logs {
        builder = builder.logs(logs);
    }
    let server = start(builder);
    wait_for_output(&server, STDOUT_MARK, Duration::from_secs(5));
    wait_for_output(&server, STDERR_MARK, Duration::from_secs(5));
    assert!(!fails, "{FAILURE}");
}

/// Runs one case; returns whether the server's output was printed.
fn printed(case: &str) -> bool {
    let run = run_this_test(
        "server_then_outcome",
        &[(CASE, case)],
        Duration::from_secs(60),
    );
    let all = run.all_output();
    let failed = case.ends_with("-fail");
    assert_eq!(
        !run.status.success(),
        failed,
        "case {case} ended with {}:\n{all}",
        run.status
    );
    if failed {
        assert!(
            all.contains(FAILURE),
            "case {case} failed for another reason:\n{all}"
        );
    }
    let (out, err) = (all.contains(STDOUT_MARK), all.contains(STDERR_MARK));
    assert_eq!(
        out, err,
        "only one of stdout and stderr was printed in case {case}:\n{all}"
    );
    out
}

#[test]
fn always_prints_for_a_passing_test() {
    assert!(printed("always-pass"));
}

#[test]
fn always_prints_for_a_failing_test() {
    assert!(printed("always-fail"));
}

#[test]
fn never_prints_not_even_for_a_failing_test() {
    assert!(!printed("never-fail"));
}

#[test]
fn on_failure_keeps_a_passing_tests_output_clean() {
    assert!(!printed("on-failure-pass"));
}

#[test]
fn on_failure_prints_for_a_failing_test() {
    assert!(printed("on-failure-fail"));
}

#[test]
fn the_default_is_on_failure() {
    assert!(!printed("default-pass"));
    assert!(printed("default-fail"));
}
