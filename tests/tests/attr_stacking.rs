//! Several `#[with_server]` on one test: each binds the next parameter, they start from the
//! top, each ready before the next starts, a named one's address is handed to those below,
//! and they stop from the bottom, also when one of them fails to start.

mod common;

use std::time::Duration;

use common::{
    assert_gone, number_after, read_pid_file, run_this_test, scratch_dir, wait_for_output,
};
use with_server::{Server, with_server};

const WAIT: Duration = Duration::from_secs(10);

#[with_server(cmd = "{bin:fixture} --port {port} --say first")]
#[with_server(cmd = "{bin:fixture} --port {port} --say second")]
#[with_server(cmd = "{bin:fixture} --port {port} --say third")]
#[test]
fn each_attribute_binds_the_next_parameter(first: &Server, second: &Server, third: &Server) {
    wait_for_output(first, "first", WAIT);
    wait_for_output(second, "second", WAIT);
    wait_for_output(third, "third", WAIT);
    assert_ne!(first.port(), second.port());
    assert_ne!(second.port(), third.port());
}

#[with_server(cmd = "{bin:fixture} --port {port}")]
#[with_server(cmd = "{bin:fixture} --port {port} --say unbound")]
#[test]
fn servers_below_the_parameters_still_start(first: u16) {
    assert_ne!(first, 0);
}

#[with_server(cmd = "{bin:fixture} --port {port}")]
#[with_server(cmd = "{bin:fixture} --port {port}")]
#[tokio::test]
async fn servers_without_parameters_still_start() {}

#[with_server(name = "api", cmd = "{bin:fixture} --port {port} --http")]
#[with_server(
    cmd = "{bin:fixture} --port {port} --echo-env API_URL --echo-env API_HOST --say 'api port {api.port}'",
    env(API_URL = "{api.url}", API_HOST = "{api.host}")
)]
#[test]
fn a_named_server_s_address_is_handed_to_those_below(api: &Server, frontend: &Server) {
    let output = wait_for_output(frontend, "API_HOST=", WAIT);
    assert!(
        output.contains(&format!("API_URL={}", api.base_url())),
        "{output}"
    );
    assert!(output.contains("API_HOST=127.0.0.1"), "{output}");
    assert_eq!(
        number_after::<u16>(&output, "api port "),
        api.port(),
        "{output}"
    );
}

// The second server exits at once unless it can connect to the first when it starts.
#[with_server(name = "db", cmd = "{bin:fixture} --slow-start 300 --port {port}")]
#[with_server(
    cmd = "python3 -c 'import socket, sys; socket.create_connection((sys.argv[1], int(sys.argv[2]))); print(\"db is up\", flush=True); socket.create_server((\"127.0.0.1\", int(sys.argv[3]))).accept()' {db.host} {db.port} {port}",
    ready = log("db is up")
)]
#[test]
fn each_server_is_ready_before_the_next_starts(_db: u16, app: &Server) {
    assert!(app.output().contains("db is up"));
}

const CASE: &str = "WITH_SERVER_ATTR_STACKING";

/// Run by `a_failed_start_stops_the_servers_above_it` in a process of its own.
#[with_server(cmd = "sh -c 'exec {bin:fixture} --port {port} --pid-file \"$PID_FILE\"'")]
#[with_server(
    cmd = "sh -c 'if [ -n \"$WITH_SERVER_ATTR_STACKING\" ]; then exit 3; fi; exec {bin:fixture} --port {port}'"
)]
#[test]
#[ignore = "a helper: run by a_failed_start_stops_the_servers_above_it"]
fn second_server_fails_to_start() {}

#[test]
fn a_failed_start_stops_the_servers_above_it() {
    let dir = scratch_dir("attr-stacking");
    let pid_file = dir.join("first.pid");
    let run = run_this_test(
        "second_server_fails_to_start",
        &[(CASE, "1"), ("PID_FILE", pid_file.to_str().unwrap())],
        WAIT * 3,
    );
    let all = run.all_output();
    assert!(!run.status.success(), "{all}");
    assert!(all.contains("exited before it was ready"), "{all}");
    assert!(all.contains("exit status: 3"), "{all}");
    assert_gone(read_pid_file(&pid_file, WAIT), "the first server", WAIT);
}

/// Run by `servers_stop_from_the_bottom` in a process of its own: each server writes its
/// name to `STOP_LOG` when it is asked to stop.
#[with_server(
    cmd = "sh -c \"trap 'echo top >> \\\"$STOP_LOG\\\"; exit 0' TERM; echo up; while :; do sleep 0.05; done\"",
    ready = log("up")
)]
#[with_server(
    cmd = "sh -c \"trap 'echo middle >> \\\"$STOP_LOG\\\"; exit 0' TERM; echo up; while :; do sleep 0.05; done\"",
    ready = log("up")
)]
#[with_server(
    cmd = "sh -c \"trap 'echo bottom >> \\\"$STOP_LOG\\\"; exit 0' TERM; echo up; while :; do sleep 0.05; done\"",
    ready = log("up")
)]
#[test]
#[ignore = "a helper: run by servers_stop_from_the_bottom"]
fn three_servers_recording_their_stop() {}

#[test]
fn servers_stop_from_the_bottom() {
    let dir = scratch_dir("attr-stacking");
    let stop_log = dir.join("stops");
    let run = run_this_test(
        "three_servers_recording_their_stop",
        &[("STOP_LOG", stop_log.to_str().unwrap())],
        WAIT * 3,
    );
    assert!(run.status.success(), "{}", run.all_output());
    let stops = std::fs::read_to_string(&stop_log).unwrap();
    assert_eq!(stops, "bottom\nmiddle\ntop\n");
}
