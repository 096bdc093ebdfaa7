//! `Server::output()`: what the server wrote to stdout and stderr so far, never mixed into
//! the test's own output.

mod common;

use std::time::Duration;

use common::{fixture_cmd, http_get, start, wait_for_output};
use with_server::{Ready, Server};

#[test]
fn output_holds_both_stdout_and_stderr() {
    let server = start(Server::builder(fixture_cmd(
        "--print-lines 3 --print-stderr-lines 2 --port {port}",
    )));
    let output = wait_for_output(&server, "err line 2", Duration::from_secs(5));
    let output = if output.contains("line 3\n") {
        output
    } else {
        wait_for_output(&server, "line 3\n", Duration::from_secs(5))
    };
    for line in ["line 1", "line 2", "line 3", "err line 1", "err line 2"] {
        assert!(
            output.lines().any(|l| l == line),
            "no {line:?} in:\n{output}"
        );
    }
}

#[test]
fn output_keeps_the_order_of_each_stream() {
    let server = start(Server::builder(fixture_cmd(
        "--print-lines 200 --port {port}",
    )));
    let output = wait_for_output(&server, "line 200\n", Duration::from_secs(5));
    let numbers: Vec<u32> = output
        .lines()
        .filter_map(|line| line.strip_prefix("line "))
        .map(|n| n.parse().unwrap())
        .collect();
    assert_eq!(numbers, (1..=200).collect::<Vec<_>>());
}

#[test]
fn output_grows_while_the_server_runs() {
    let server = start(Server::builder(fixture_cmd("--http")).ready(Ready::http("/first")));
    wait_for_output(&server, "request GET /first", Duration::from_secs(5));
    assert!(!server.output().contains("/second"));
    assert_eq!(http_get(server.addr(), "/second").0, 200);
    wait_for_output(
        &server,
        "request GET /second -> 200",
        Duration::from_secs(5),
    );
}

#[test]
fn the_outputs_of_servers_running_at_once_stay_apart() {
    // All output is drained by one thread of this process; each server's buffer must hold its
    // own lines only, however their writes interleave.
    let servers: Vec<Server> = std::thread::scope(|scope| {
        let starts: Vec<_> = (0..4)
            .map(|thread| {
                scope.spawn(move || {
                    (0..4)
                        .map(|n| {
                            let me = format!("server-{thread}-{n}");
                            start(Server::builder(fixture_cmd(&format!(
                                "--say {me} --print-lines 300 --port {{port}}"
                            ))))
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        starts
            .into_iter()
            .flat_map(|start| start.join().unwrap())
            .collect()
    });
    for server in &servers {
        let me = server
            .output()
            .lines()
            .next()
            .unwrap_or_default()
            .to_string();
        assert!(me.starts_with("server-"), "{me:?}");
        let output = wait_for_output(server, "line 300\n", Duration::from_secs(5));
        let theirs: Vec<&str> = output
            .lines()
            .filter(|line| line.starts_with("server-") && *line != me)
            .collect();
        assert!(theirs.is_empty(), "{me} holds {theirs:?}");
        assert_eq!(
            output.lines().filter(|l| l.starts_with("line ")).count(),
            300
        );
    }
}

#[test]
fn what_a_server_wrote_before_answering_is_in_its_output_once_the_answer_is_in() {
    // The fixture logs each request, then answers it: by the time the answer arrives, the log
    // line is in the pipe, and `output()` must hold it, whether or not the thread that drains
    // pipes has run since.
    let server = start(Server::builder(fixture_cmd("--http --port {port}")));
    for n in 0..200 {
        let path = format!("/request-{n}");
        assert_eq!(http_get(server.addr(), &path).0, 200);
        let output = server.output();
        assert!(
            output.contains(&format!("request GET {path} -> 200")),
            "request {n} is not in the output yet:\n{output}"
        );
    }
}

#[test]
fn output_returns_promptly_while_the_server_never_stops_writing() {
    // `yes` shares the server's output pipe and fills it as fast as it can be read: reading
    // what the pipe holds must end with what it held when `output()` was called.
    let server = start(Server::builder(format!(
        "sh -c 'yes & exec {} --port \"$PORT\"'",
        common::fixture()
    )));
    wait_for_output(&server, "y\n", Duration::from_secs(5));
    for _ in 0..5 {
        let began = std::time::Instant::now();
        server.output();
        assert!(
            began.elapsed() < Duration::from_secs(1),
            "output() took {:?}",
            began.elapsed()
        );
    }
}
