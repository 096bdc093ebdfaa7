//! No process of a server outlives the test binary, even when the binary is killed with
//! SIGKILL (no destructor runs) or interrupted as by Ctrl-C.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::{fixture_cmd, is_alive, number_after, start, wait_for_output};
use with_server::Server;

const HOLD: &str = "WITH_SERVER_TESTS_HOLD";

/// Run by the tests below in a process of its own: starts a server, reports its pids, and
/// waits to be killed.
#[test]
#[ignore = "a helper: run by the other tests of this file"]
fn holds_a_server_until_killed() {
    if std::env::var_os(HOLD).is_none() {
        return;
    }
    let server = start(Server::builder(fixture_cmd(
        "--spawn-child --spawn-daemon --port {port}",
    )));
    let output = wait_for_output(&server, "daemon pid ", Duration::from_secs(5));
    let output = if output.contains("child pid ") {
        output
    } else {
        wait_for_output(&server, "child pid ", Duration::from_secs(5))
    };
    println!(
        "pids {} {} {}",
        server.pid(),
        number_after::<u32>(&output, "child pid "),
        number_after::<u32>(&output, "daemon pid ")
    );
    loop {
        std::thread::park();
    }
}

/// Starts the helper, returns its process and the pids of the server, its child and its daemon.
fn helper_with_server() -> (std::process::Child, [u32; 3]) {
    let mut helper = Command::new(std::env::current_exe().unwrap())
        .args([
            "holds_a_server_until_killed",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(HOLD, "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = helper.stdout.take().unwrap();
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            // libtest may print `test NAME ... ` on the same line first.
            if let Some((_, pids)) = line.split_once("pids ") {
                let _ = sender.send(pids.trim().to_owned());
            }
        }
    });
    let Ok(pids) = receiver.recv_timeout(Duration::from_secs(30)) else {
        let _ = helper.kill();
        let _ = helper.wait();
        panic!("the helper test never reported its server");
    };
    let pids: Vec<u32> = pids.split(' ').map(|pid| pid.parse().unwrap()).collect();
    let pids = [pids[0], pids[1], pids[2]];
    assert!(pids.iter().all(|&pid| is_alive(pid)), "{pids:?}");
    (helper, pids)
}

fn assert_all_gone([server, child, daemon]: [u32; 3], how: &str) {
    common::assert_all_gone(
        &[
            (server, &format!("the server of a test binary {how}")),
            (child, "the server's child"),
            (daemon, "the server's setsid daemon"),
        ],
        Duration::from_secs(5),
    );
}

#[test]
fn sigkill_of_the_test_binary_leaves_no_server_process() {
    let (mut helper, pids) = helper_with_server();
    helper.kill().unwrap();
    helper.wait().unwrap();
    assert_all_gone(pids, "killed with SIGKILL");
}

#[test]
fn interrupting_the_test_binary_leaves_no_server_process() {
    let (mut helper, pids) = helper_with_server();
    let helper_pid = i32::try_from(helper.id()).unwrap();
    // SAFETY: signals a child process of this test, which has not been reaped yet.
    assert_eq!(unsafe { libc::kill(helper_pid, libc::SIGINT) }, 0);
    helper.wait().unwrap();
    assert_all_gone(pids, "interrupted with SIGINT");
}

#[test]
fn terminating_the_test_binary_leaves_no_server_process() {
    let (mut helper, pids) = helper_with_server();
    let helper_pid = i32::try_from(helper.id()).unwrap();
    // SAFETY: signals a child process of this test, which has not been reaped yet.
    assert_eq!(unsafe { libc::kill(helper_pid, libc::SIGTERM) }, 0);
    helper.wait().unwrap();
    assert_all_gone(pids, "terminated with SIGTERM");
}
