//! A fixed port: refused when a foreign process already listens on it, and servers that share
//! it run one after the other.

mod common;

use std::net::TcpListener;
use std::path::Path;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use common::{fixture_cmd, number_after, scratch_dir, start, start_err, wait_for_output};
use with_server::{Ready, Server};

/// A port that is free right now: bound to port 0, then released.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn the_fixed_port_reaches_the_server() {
    let port = free_port();
    let server =
        start(Server::builder(fixture_cmd("--echo-env PORT --port {port} --announce")).port(port));
    assert_eq!(server.port(), port);
    assert_eq!(server.base_url(), format!("http://127.0.0.1:{port}"));
    let output = wait_for_output(&server, "listening on", Duration::from_secs(5));
    assert!(output.contains(&format!("PORT={port}\n")), "{output}");
    assert_eq!(
        number_after::<u16>(&output, "listening on 127.0.0.1:"),
        port
    );
}

#[test]
fn a_foreign_listener_on_the_port_is_an_error_before_anything_starts() {
    let foreign = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = foreign.local_addr().unwrap().port();
    let scratch = scratch_dir("port-in-use");
    let pid_file = scratch.join("pid");
    let (error, took) = start_err(
        Server::builder(fixture_cmd(&format!(
            "--pid-file '{}' --port {{port}}",
            pid_file.display()
        )))
        .port(port)
        .timeout(Duration::from_secs(10)),
    );
    let message = error.to_string();
    assert!(
        took < Duration::from_secs(3),
        "took {took:?} to notice: {message}"
    );
    assert!(
        message.contains(&port.to_string()),
        "the message does not name the port: {message}"
    );
    let lower = message.to_lowercase();
    assert!(
        lower.contains("in use") || lower.contains("already"),
        "the message does not say the port is taken: {message}"
    );
    assert!(
        !Path::new(&pid_file).exists(),
        "the server was started although its port was taken"
    );
    drop(foreign);
}

#[test]
fn a_foreign_listener_never_satisfies_readiness() {
    // Even a server that would answer HTTP must not be taken for ours.
    let foreign = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = foreign.local_addr().unwrap().port();
    let (error, _) = start_err(
        Server::builder(fixture_cmd("--never-listen"))
            .port(port)
            .ready(Ready::tcp())
            .timeout(Duration::from_secs(2)),
    );
    assert!(error.to_string().contains(&port.to_string()), "{error}");
    drop(foreign);
}

#[test]
fn servers_on_the_same_fixed_port_take_turns() {
    const SERVERS: usize = 3;
    let port = free_port();
    let barrier = Arc::new(Barrier::new(SERVERS));
    let intervals: Vec<(Instant, Instant)> = std::thread::scope(|scope| {
        let runs: Vec<_> = (0..SERVERS)
            .map(|_| {
                let barrier = Arc::clone(&barrier);
                scope.spawn(move || {
                    barrier.wait();
                    let server = start(
                        Server::builder(fixture_cmd("--port {port}"))
                            .port(port)
                            .timeout(Duration::from_secs(30)),
                    );
                    let began = Instant::now();
                    assert_eq!(server.port(), port);
                    // Hold the port long enough that overlapping turns could not go unseen.
                    std::thread::sleep(Duration::from_millis(300));
                    let ended = Instant::now();
                    drop(server);
                    (began, ended)
                })
            })
            .collect();
        runs.into_iter().map(|run| run.join().unwrap()).collect()
    });
    let mut sorted = intervals.clone();
    sorted.sort();
    for pair in sorted.windows(2) {
        assert!(
            pair[0].1 <= pair[1].0,
            "two servers held port {port} at the same time: {intervals:?}"
        );
    }
}

const HELPER_PORT: &str = "WITH_SERVER_TESTS_PORT";

/// Run by the test below, twice at once, each in a process of its own.
#[test]
#[ignore = "a helper: run by the other tests of this file"]
fn helper_holds_the_fixed_port_for_a_while() {
    let Some(port) = std::env::var(HELPER_PORT).ok().and_then(|p| p.parse().ok()) else {
        return;
    };
    let server = start(
        Server::builder(fixture_cmd("--port {port}"))
            .port(port)
            .timeout(Duration::from_secs(30)),
    );
    let began = with_server_tests::monotonic_ns();
    std::thread::sleep(Duration::from_millis(300));
    let ended = with_server_tests::monotonic_ns();
    drop(server);
    println!("helper-held {began} {ended}");
}

#[test]
fn processes_on_the_same_fixed_port_take_turns() {
    let port = free_port().to_string();
    let runs: Vec<common::Run> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..2)
            .map(|_| {
                scope.spawn(|| {
                    common::run_this_test(
                        "helper_holds_the_fixed_port_for_a_while",
                        &[(HELPER_PORT, &port)],
                        Duration::from_secs(60),
                    )
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut intervals: Vec<(u128, u128)> = runs
        .iter()
        .map(|run| {
            let all = run.all_output();
            assert!(run.status.success(), "{all}");
            let held = all
                .lines()
                .find_map(|line| {
                    line.split_once("helper-held ")
                        .map(|(_, rest)| rest.to_owned())
                })
                .unwrap_or_else(|| panic!("the helper did not report:\n{all}"));
            let (began, ended) = held.trim().split_once(' ').unwrap();
            (began.parse().unwrap(), ended.parse().unwrap())
        })
        .collect();
    intervals.sort();
    assert!(
        intervals[0].1 <= intervals[1].0,
        "two processes held port {port} at the same time: {intervals:?}"
    );
}
