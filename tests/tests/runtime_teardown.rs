//! Teardown: the whole process group gets SIGTERM, then SIGKILL after `grace`, and is reaped;
//! descendants that left the group with setsid() are stopped too.

mod common;

use std::os::unix::process::ExitStatusExt;
use std::time::{Duration, Instant};

use common::{
    assert_all_gone, assert_gone, fixture, fixture_cmd, is_alive, number_after, read_pid_file,
    scratch_dir, start, wait_for_output,
};
use with_server::Server;

const GONE_WITHIN: Duration = Duration::from_secs(2);

#[test]
fn drop_stops_the_server_and_the_children_in_its_group() {
    let server = start(Server::builder(fixture_cmd("--spawn-child --port {port}")));
    let output = wait_for_output(&server, "child pid ", Duration::from_secs(5));
    let (pid, child) = (server.pid(), number_after(&output, "child pid "));
    assert!(is_alive(pid) && is_alive(child), "{output}");
    drop(server);
    assert_all_gone(
        &[(pid, "the server"), (child, "the server's child")],
        GONE_WITHIN,
    );
}

#[test]
fn a_shell_wrapper_is_stopped_with_everything_below_it() {
    let scratch = scratch_dir("wrapper");
    let pid_file = scratch.join("pid");
    // `; :` keeps the shell from exec-ing, so it stays the parent as in `npm start`.
    let server = start(Server::builder(format!(
        r#"sh -c '"$0" --pid-file "$1" --spawn-child --port "$PORT"; :' '{}' '{}'"#,
        fixture(),
        pid_file.display()
    )));
    let shell = server.pid();
    let fixture_pid = read_pid_file(&pid_file, Duration::from_secs(5));
    let output = wait_for_output(&server, "child pid ", Duration::from_secs(5));
    let grandchild = number_after(&output, "child pid ");
    assert_ne!(
        shell, fixture_pid,
        "the shell exec'd the fixture; the test needs a wrapper"
    );
    assert!(is_alive(shell) && is_alive(fixture_pid) && is_alive(grandchild));
    drop(server);
    assert_all_gone(
        &[
            (shell, "the shell"),
            (fixture_pid, "the server below the shell"),
            (grandchild, "the server's child"),
        ],
        GONE_WITHIN,
    );
}

#[test]
fn a_daemon_that_left_the_group_is_stopped_too() {
    let server = start(Server::builder(fixture_cmd("--spawn-daemon --port {port}")));
    let output = wait_for_output(&server, "daemon pid ", Duration::from_secs(5));
    let daemon = number_after(&output, "daemon pid ");
    assert!(is_alive(daemon), "{output}");
    assert_ne!(
        session_of(daemon),
        session_of(server.pid()),
        "the daemon did not leave the server's session"
    );
    drop(server);
    assert_gone(daemon, "the setsid daemon", GONE_WITHIN);
}

#[test]
fn a_server_ignoring_sigterm_is_killed_after_the_grace_period() {
    let grace = Duration::from_secs(1);
    let server = start(
        Server::builder(fixture_cmd("--ignore-sigterm --spawn-child --port {port}")).grace(grace),
    );
    let output = wait_for_output(&server, "child pid ", Duration::from_secs(5));
    let (pid, child) = (server.pid(), number_after(&output, "child pid "));
    let began = Instant::now();
    drop(server);
    let took = began.elapsed();
    assert!(
        took >= grace - Duration::from_millis(20),
        "killed after {took:?}, before {grace:?}"
    );
    assert!(
        took < grace + Duration::from_secs(2),
        "killed only after {took:?}"
    );
    assert_all_gone(
        &[
            (pid, "the server"),
            (child, "the server's child, which ignored SIGTERM as well"),
        ],
        GONE_WITHIN,
    );
}

#[test]
fn a_server_that_obeys_sigterm_does_not_wait_for_the_grace_period() {
    let server = start(Server::builder(fixture_cmd("--port {port}")).grace(Duration::from_secs(5)));
    let pid = server.pid();
    let began = Instant::now();
    drop(server);
    let took = began.elapsed();
    assert!(took < Duration::from_secs(2), "stopping took {took:?}");
    assert_gone(pid, "the server", GONE_WITHIN);
}

#[test]
fn stop_returns_the_exit_status() {
    let server = start(Server::builder(fixture_cmd(
        "--sigterm-exit 7 --port {port}",
    )));
    let pid = server.pid();
    let status = server
        .stop_blocking()
        .unwrap_or_else(|e| panic!("stop failed: {e}"));
    assert_eq!(status.code(), Some(7), "{status}");
    assert_gone(pid, "the stopped server", GONE_WITHIN);
}

#[test]
fn stop_reports_the_signal_that_ended_the_server() {
    let server = start(Server::builder(fixture_cmd("--port {port}")));
    let status = server.stop_blocking().unwrap();
    assert_eq!(status.signal(), Some(libc::SIGTERM), "{status}");
}

#[test]
fn stop_reports_sigkill_for_a_server_ignoring_sigterm() {
    let server = start(
        Server::builder(fixture_cmd("--ignore-sigterm --port {port}"))
            .grace(Duration::from_millis(300)),
    );
    let status = server.stop_blocking().unwrap();
    assert_eq!(status.signal(), Some(libc::SIGKILL), "{status}");
}

#[tokio::test]
async fn stop_await_returns_the_exit_status() {
    let server = Server::builder(fixture_cmd("--sigterm-exit 9 --port {port}"))
        .start()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let pid = server.pid();
    let status = server.stop().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(status.code(), Some(9), "{status}");
    assert!(
        !is_alive(pid),
        "stop().await returned while the server was alive"
    );
}

#[test]
fn a_panicking_test_still_stops_its_server() {
    let (sender, receiver) = std::sync::mpsc::channel();
    let test = std::thread::spawn(move || {
        let server = start(Server::builder(fixture_cmd("--spawn-child --port {port}")));
        let output = wait_for_output(&server, "child pid ", Duration::from_secs(5));
        sender
            .send((server.pid(), number_after::<u32>(&output, "child pid ")))
            .unwrap();
        panic!("the test body fails while the server runs");
    });
    assert!(test.join().is_err());
    let (pid, child) = receiver.recv().unwrap();
    assert_all_gone(
        &[
            (pid, "the server of the panicking test"),
            (child, "the child of the panicking test's server"),
        ],
        GONE_WITHIN,
    );
}

#[tokio::test]
async fn a_panicking_async_test_still_stops_its_server() {
    let task = tokio::spawn(async {
        let server = Server::builder(fixture_cmd("--port {port}"))
            .start()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let pid = server.pid();
        if pid != 0 {
            panic!("server pid {pid}: the test body fails while the server runs");
        }
    });
    let message = match task.await {
        Err(e) if e.is_panic() => e.into_panic(),
        other => panic!("the task should have panicked: {other:?}"),
    };
    let text = message
        .downcast_ref::<String>()
        .cloned()
        .unwrap_or_default();
    let pid: u32 = text
        .strip_prefix("server pid ")
        .and_then(|rest| rest.split(':').next())
        .and_then(|pid| pid.parse().ok())
        .unwrap_or_else(|| panic!("unexpected panic message {text:?}"));
    assert_gone(pid, "the server of the panicking async test", GONE_WITHIN);
}

/// The session id: field 6 of /proc/PID/stat, counted after the command name.
fn session_of(pid: u32) -> u32 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after_name = &stat[stat.rfind(')').unwrap() + 1..];
    after_name
        .split_whitespace()
        .nth(3)
        .unwrap()
        .parse()
        .unwrap()
}

/// Run by the test below in a process of its own, which exits as soon as this returns.
#[test]
#[ignore = "a helper: run by the other tests of this file"]
fn helper_drops_a_daemonizing_server_and_ends() {
    if std::env::var_os("WITH_SERVER_TESTS_CASE").is_none() {
        return;
    }
    let server = start(Server::builder(fixture_cmd("--spawn-daemon --port {port}")));
    let output = wait_for_output(&server, "daemon pid ", Duration::from_secs(5));
    println!(
        "helper-daemon={}",
        number_after::<u32>(&output, "daemon pid ")
    );
}

#[test]
fn a_daemon_is_stopped_even_when_the_test_binary_exits_right_after() {
    let run = common::run_this_test(
        "helper_drops_a_daemonizing_server_and_ends",
        &[("WITH_SERVER_TESTS_CASE", "1")],
        Duration::from_secs(60),
    );
    let all = run.all_output();
    assert!(run.status.success(), "{all}");
    let daemon: u32 = all
        .lines()
        .find_map(|line| line.split_once("helper-daemon=").map(|(_, pid)| pid.trim()))
        .and_then(|pid| pid.parse().ok())
        .unwrap_or_else(|| panic!("the helper did not report its daemon:\n{all}"));
    assert_gone(
        daemon,
        "the daemon of a server dropped just before exit",
        GONE_WITHIN,
    );
}
