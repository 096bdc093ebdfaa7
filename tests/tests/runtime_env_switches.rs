//! Switches for the person running the tests: `WITH_SERVER_LOGS=always` prints every server's
//! output, `WITH_SERVER_KEEP=1` leaves servers running and says where they are.

mod common;

use std::net::TcpStream;
use std::time::Duration;

use common::{assert_gone, fixture_cmd, is_alive, run_this_test, start, wait_for_output};
use with_server::Server;

const CASE: &str = "WITH_SERVER_TESTS_CASE";
const MARK: &str = "server-says-hello";

/// Run by the tests below in a process of its own, with the switches they set.
#[test]
#[ignore = "a helper: run by the other tests of this file"]
fn passing_test_with_a_server() {
    if std::env::var_os(CASE).is_none() {
        return;
    }
    let server = start(Server::builder(fixture_cmd(&format!(
        "--say {MARK} --port {{port}}"
    ))));
    wait_for_output(&server, MARK, Duration::from_secs(5));
    println!("helper-saw pid={} url={}", server.pid(), server.base_url());
}

#[test]
fn logs_always_prints_the_output_of_a_passing_test() {
    let run = run_this_test(
        "passing_test_with_a_server",
        &[(CASE, "1"), ("WITH_SERVER_LOGS", "always")],
        Duration::from_secs(60),
    );
    let all = run.all_output();
    assert!(run.status.success(), "{all}");
    assert!(
        all.contains(MARK),
        "WITH_SERVER_LOGS=always printed nothing:\n{all}"
    );
}

#[test]
fn without_the_switch_a_passing_test_prints_nothing_of_the_server() {
    let run = run_this_test(
        "passing_test_with_a_server",
        &[(CASE, "1")],
        Duration::from_secs(60),
    );
    let all = run.all_output();
    assert!(run.status.success(), "{all}");
    assert!(
        !all.contains(MARK),
        "the server's output leaked into the test's:\n{all}"
    );
}

#[test]
fn keep_leaves_the_server_running_and_says_where() {
    let run = run_this_test(
        "passing_test_with_a_server",
        &[(CASE, "1"), ("WITH_SERVER_KEEP", "1")],
        Duration::from_secs(60),
    );
    let all = run.all_output();
    assert!(run.status.success(), "{all}");
    let seen = all
        .lines()
        .find_map(|line| {
            line.split_once("helper-saw ")
                .map(|(_, rest)| rest.to_owned())
        })
        .unwrap_or_else(|| panic!("the helper did not report its server:\n{all}"));
    let (pid, url) = seen.split_once(' ').unwrap();
    let pid: u32 = pid.strip_prefix("pid=").unwrap().parse().unwrap();
    let url = url.strip_prefix("url=").unwrap();
    let kept = is_alive(pid);
    let answers = TcpStream::connect(url.strip_prefix("http://").unwrap()).is_ok();
    // The kept server is this test's to clean up: its process group is its pid.
    if let Ok(group) = i32::try_from(pid) {
        // SAFETY: signals the process group of the server the helper left behind.
        unsafe { libc::kill(-group, libc::SIGKILL) };
    }
    assert!(
        kept,
        "the server (pid {pid}) was stopped although WITH_SERVER_KEEP=1:\n{all}"
    );
    assert!(answers, "the kept server at {url} does not answer");
    let told: String = all
        .lines()
        .filter(|line| !line.contains("helper-saw"))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        told.contains(url) && told.contains(&pid.to_string()),
        "nothing tells the kept server's URL and pid:\n{all}"
    );
    assert_gone(pid, "the kept server after cleanup", Duration::from_secs(2));
}
