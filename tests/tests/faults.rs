//! Faults: however a test ends, no process of its servers is left, and bad input at run time
//! gives a message that names the cause, in time.
//!
//! The ways a test ends are run as ignored helper tests in a process of their own (the binary
//! re-runs itself); each prints the pids of its server, the server's child and the server's
//! `setsid` daemon, and the outer test checks `/proc` for them afterwards.

mod common;

use std::time::Duration;

use common::{
    assert_all_gone, fixture, fixture_cmd, number_after, run_this_test, scratch_dir, start_err,
    wait_for_output,
};
use with_server::{Ready, Server, with_server};

/// Within this long of its cause, a failure must be reported.
const PROMPT: Duration = Duration::from_secs(3);

/// Prints `pids SERVER CHILD DAEMON` for the outer test to check.
fn report_pids(server: &Server) {
    let output = wait_for_output(server, "daemon pid ", Duration::from_secs(5));
    let output = if output.contains("child pid ") {
        output
    } else {
        wait_for_output(server, "child pid ", Duration::from_secs(5))
    };
    println!(
        "pids {} {} {}",
        server.pid(),
        number_after::<u32>(&output, "child pid "),
        number_after::<u32>(&output, "daemon pid ")
    );
}

/// Runs helper test `name`, checks how it ended, and that its server's processes are gone.
fn ends_with_nothing_left(name: &str, should_pass: bool) {
    let run = run_this_test(name, &[], Duration::from_secs(30));
    assert_eq!(
        run.status.success(),
        should_pass,
        "{name} ended unexpectedly:\n{}",
        run.all_output()
    );
    let line = run
        .stdout
        .lines()
        .find_map(|line| line.strip_prefix("pids "))
        .unwrap_or_else(|| panic!("{name} printed no pids:\n{}", run.all_output()));
    let pids: Vec<u32> = line.split(' ').map(|pid| pid.parse().unwrap()).collect();
    assert_all_gone(
        &[
            (pids[0], "the server"),
            (pids[1], "the server's child"),
            (pids[2], "the server's setsid daemon"),
        ],
        Duration::from_secs(5),
    );
}

mod ends {
    use super::*;

    #[with_server(cmd = "{bin:fixture} --port {port} --spawn-child --spawn-daemon")]
    #[test]
    #[ignore = "a helper: run by `a_passing_test_leaves_nothing`"]
    fn passes(server: &Server) {
        report_pids(server);
    }

    #[with_server(cmd = "{bin:fixture} --port {port} --spawn-child --spawn-daemon")]
    #[test]
    #[ignore = "a helper: run by `a_failing_test_leaves_nothing`"]
    fn fails(server: &Server) -> Result<(), String> {
        report_pids(server);
        Err("this test fails on purpose".into())
    }

    #[with_server(cmd = "{bin:fixture} --port {port} --spawn-child --spawn-daemon")]
    #[test]
    #[ignore = "a helper: run by `a_panicking_test_leaves_nothing`"]
    fn panics(server: &Server) {
        report_pids(server);
        panic!("this test panics on purpose");
    }

    #[with_server(cmd = "{bin:fixture} --port {port} --spawn-child --spawn-daemon")]
    #[tokio::test]
    #[ignore = "a helper: run by `a_panicking_async_test_leaves_nothing`"]
    async fn panics_async(server: &Server) {
        report_pids(server);
        panic!("this test panics on purpose");
    }

    #[with_server(cmd = "{bin:fixture} --port {port} --spawn-child --spawn-daemon")]
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "a helper: run by `a_panicking_multi_thread_test_leaves_nothing`"]
    async fn panics_multi_thread(server: &Server) {
        report_pids(server);
        // Panic from a task on a worker thread, as well as the test's own thread.
        let task = tokio::spawn(async { panic!("a task panics on purpose") });
        assert!(task.await.is_err());
        panic!("this test panics on purpose");
    }
}

#[test]
fn a_passing_test_leaves_nothing() {
    ends_with_nothing_left("ends::passes", true);
}

#[test]
fn a_failing_test_leaves_nothing() {
    ends_with_nothing_left("ends::fails", false);
}

#[test]
fn a_panicking_test_leaves_nothing() {
    ends_with_nothing_left("ends::panics", false);
}

#[test]
fn a_panicking_async_test_leaves_nothing() {
    ends_with_nothing_left("ends::panics_async", false);
}

#[test]
fn a_panicking_multi_thread_test_leaves_nothing() {
    ends_with_nothing_left("ends::panics_multi_thread", false);
}

/// The pid after `child ` in an error's output lines.
fn child_in(message: &str) -> u32 {
    number_after(&message.replace("  | ", ""), "child ")
}

#[test]
fn a_server_that_exits_early_leaves_no_child() {
    let (error, took) = start_err(Server::builder(
        "sh -c 'sleep 1000 & echo child $!; exit 3'",
    ));
    let message = error.to_string();
    assert!(message.contains("exit status: 3"), "{message}");
    assert!(took < PROMPT, "reported after {took:?}");
    assert_all_gone(
        &[(child_in(&message), "the early-exiting server's child")],
        PROMPT,
    );
}

#[test]
fn a_server_that_times_out_leaves_no_child() {
    let timeout = Duration::from_millis(300);
    let (error, took) = start_err(
        Server::builder("sh -c 'sleep 1000 & echo child $!; exec sleep 1001'").timeout(timeout),
    );
    let message = error.to_string();
    assert!(message.contains("not ready after 300ms"), "{message}");
    assert!(
        took < timeout + Duration::from_secs(1),
        "reported after {took:?}"
    );
    assert_all_gone(
        &[(child_in(&message), "the timed-out server's child")],
        PROMPT,
    );
}

#[test]
fn readiness_answered_by_a_process_outside_the_server_tree_is_refused() {
    // The listener is started by a subshell that exits at once, so it is reparented away from
    // the server: it answers on the server's port, but it is not the server's. A foreign
    // listener may be there for a moment only, so it counts as "not yet" until the timeout.
    let cmd = format!(
        "sh -c '(exec env -i {} --port \"$PORT\" --say escaped &); echo started; exec sleep 1000'",
        fixture()
    );
    let timeout = Duration::from_millis(500);
    let (error, took) = start_err(Server::builder(cmd).timeout(timeout));
    let message = error.to_string();
    assert!(
        matches!(error, with_server::Error::NotOurs { .. }),
        "{message}"
    );
    assert!(
        message.contains("a socket held by another process"),
        "{message}"
    );
    assert!(
        took < timeout + Duration::from_secs(1),
        "reported after {took:?}"
    );
}

#[test]
fn a_program_that_is_not_executable_is_named() {
    let dir = scratch_dir("not-executable");
    let script = dir.join("server.sh");
    std::fs::write(&script, "#!/bin/sh\nexec sleep 100\n").unwrap();
    let (error, took) = start_err(Server::builder(format!("'{}'", script.display())));
    let message = error.to_string();
    assert!(message.contains("is not executable"), "{message}");
    assert!(message.contains("server.sh"), "{message}");
    assert!(took < PROMPT, "reported after {took:?}");
}

#[test]
fn a_server_that_exits_zero_before_ready_is_an_error() {
    let (error, took) = start_err(Server::builder("sh -c 'echo bye; exit 0'"));
    let message = error.to_string();
    assert!(
        message.contains("exited before it was ready (exit status: 0)"),
        "{message}"
    );
    assert!(message.contains("| bye"), "{message}");
    assert!(took < PROMPT, "reported after {took:?}");
}

#[test]
fn a_log_regex_that_never_matches_times_out_with_the_output() {
    let timeout = Duration::from_millis(500);
    let (error, took) = start_err(
        Server::builder(fixture_cmd("--port {port} --say 'server started'"))
            .ready(Ready::log("^ready$"))
            .timeout(timeout),
    );
    let message = error.to_string();
    assert!(
        message.contains("an output line to match /^ready$/"),
        "{message}"
    );
    assert!(message.contains("| server started"), "{message}");
    assert!(
        took < timeout + Duration::from_secs(1),
        "reported after {took:?}"
    );
}

#[test]
fn an_http_probe_that_gets_500s_times_out_naming_the_status() {
    let timeout = Duration::from_millis(500);
    let (error, took) = start_err(
        Server::builder(fixture_cmd("--port {port} --http --status 500"))
            .ready(Ready::http("/"))
            .timeout(timeout),
    );
    let message = error.to_string();
    assert!(message.contains("last saw HTTP status 500"), "{message}");
    assert!(
        took < timeout + Duration::from_secs(1),
        "reported after {took:?}"
    );
}

#[test]
fn a_server_that_never_listens_times_out_saying_refused() {
    let timeout = Duration::from_millis(500);
    let (error, took) = start_err(Server::builder(fixture_cmd("--never-listen")).timeout(timeout));
    let message = error.to_string();
    assert!(message.contains("last saw connection refused"), "{message}");
    assert!(message.contains("| not listening"), "{message}");
    assert!(
        took < timeout + Duration::from_secs(1),
        "reported after {took:?}"
    );
}

#[test]
fn a_port_held_by_someone_else_is_refused_before_the_start() {
    let foreign = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = foreign.local_addr().unwrap().port();
    let (error, took) = start_err(Server::builder(fixture_cmd("--port {port}")).port(port));
    let message = error.to_string();
    assert!(
        message.contains(&format!("port {port} is already in use")),
        "{message}"
    );
    assert!(took < PROMPT, "reported after {took:?}");
}

#[test]
fn a_grandchild_that_dropped_the_marker_goes_with_the_group() {
    // `env -i` scrubs the environment, marker included: only the process group reaches it.
    let server = common::start(
        Server::builder("sh -c 'env -i sleep 1000 & echo child $!; exec sleep 1001'")
            .ready(Ready::log("^child ")),
    );
    let child = number_after::<u32>(&server.output(), "child ");
    drop(server);
    assert_all_gone(&[(child, "the scrubbed grandchild")], PROMPT);
}

/// CPU time this thread has used so far. The thread, not the process: other tests of this
/// binary run on threads of their own, and the readiness wait runs on the caller's thread.
fn cpu_time() -> Duration {
    // SAFETY: getrusage fills the zeroed struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: RUSAGE_THREAD with a valid pointer.
    unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut usage) };
    let time = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
    };
    time(usage.ru_utime) + time(usage.ru_stime)
}

#[test]
fn a_server_that_never_accepts_times_out_on_time() {
    // Its backlog fills with probes, after which the kernel drops new connection attempts;
    // a probe without a limit would wait minutes for an answer. (Like the blockers below, it
    // binds with SO_REUSEADDR, as servers do: a picked port may still hold TIME_WAIT
    // connections of an earlier test's server, and a plain bind would fail on them.)
    let server = "import os, socket, time\n\
                  s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('127.0.0.1', int(os.environ['PORT']))); s.listen(1)\n\
                  time.sleep(1000)";
    let timeout = Duration::from_secs(2);
    let (error, took) = start_err(
        Server::builder("python3 -c {script}")
            .placeholder("script", server)
            .ready(Ready::http("/"))
            .timeout(timeout),
    );
    assert!(error.to_string().contains("not ready after 2s"), "{error}");
    assert!(
        took < timeout + Duration::from_secs(1),
        "reported after {took:?}"
    );
}

#[test]
fn waiting_for_a_server_that_closed_its_output_does_not_spin() {
    let before = cpu_time();
    let server = common::start(Server::builder(format!(
        "sh -c 'exec >/dev/null 2>&1; sleep 1; exec {} --port \"$PORT\"'",
        fixture()
    )));
    let used = cpu_time() - before;
    drop(server);
    assert!(
        used < Duration::from_millis(500),
        "a 1 s wait used {used:?} of CPU"
    );
}

#[test]
fn two_servers_of_one_test_on_one_fixed_port_is_an_error_not_a_hang() {
    let port = 18_463;
    let first = common::start(Server::builder(fixture_cmd("--port {port}")).port(port));
    let (error, took) = start_err(Server::builder(fixture_cmd("--port {port}")).port(port));
    assert!(
        error
            .to_string()
            .contains("already used by another server of this test"),
        "{error}"
    );
    assert!(took < PROMPT, "reported after {took:?}");
    drop(first);
}

#[test]
fn a_crash_after_answering_is_not_taken_for_a_lost_port() {
    // The probes' closed connections leave the port in TIME_WAIT; that is no other process.
    let server = "import http.server, os, sys\n\
                  class H(http.server.BaseHTTPRequestHandler):\n\
                  \x20   n = 0\n\
                  \x20   def do_GET(self):\n\
                  \x20       H.n += 1\n\
                  \x20       self.send_response(503); self.send_header('Connection', 'close'); self.end_headers()\n\
                  \x20       if H.n == 3: print('migration failed', flush=True); os._exit(1)\n\
                  http.server.HTTPServer(('127.0.0.1', int(os.environ['PORT'])), H).serve_forever()";
    let (error, took) = start_err(
        Server::builder("python3 -c {script}")
            .placeholder("script", server)
            .ready(Ready::http("/")),
    );
    let message = error.to_string();
    assert!(
        matches!(error, with_server::Error::ExitedEarly { attempts: 1, .. }),
        "{message}"
    );
    assert!(message.contains("migration failed"), "{message}");
    assert!(took < PROMPT, "reported after {took:?}");
}

#[test]
fn the_grace_period_is_the_groups_not_only_the_leaders() {
    // The leader, a shell, dies at SIGTERM at once; the shell below it cleans up for 0.3 s.
    let dir = scratch_dir("grace-group");
    let cleaned = dir.join("cleaned");
    let inner = format!(
        "trap \"sleep 0.3; touch {}; exit 0\" TERM; {} --port $PORT & wait",
        cleaned.display(),
        fixture()
    );
    let server = common::start(
        Server::builder("sh -c {outer}")
            .placeholder("outer", format!("sh -c '{inner}'; echo done"))
            .grace(Duration::from_secs(5)),
    );
    drop(server);
    assert!(
        cleaned.exists(),
        "the inner shell was killed before it cleaned up"
    );
}

#[test]
fn huge_durations_mean_never_not_a_panic() {
    let server = common::start(
        Server::builder(fixture_cmd("--port {port}"))
            .timeout(Duration::MAX)
            .grace(Duration::MAX),
    );
    let pid = server.pid();
    drop(server);
    assert_all_gone(&[(pid, "the server")], PROMPT);
}

#[test]
fn a_server_that_loses_its_picked_port_is_started_again_on_a_new_one() {
    // First launch only: a blocker takes $PORT before the server binds it. The blocker is in
    // the server's group, so the failed launch's teardown removes it; being the server's own,
    // it would satisfy a TCP probe, so readiness is the server's own line.
    let dir = scratch_dir("lost-port");
    let blocker = "import os, pathlib, socket, sys, time\n\
                   s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('127.0.0.1', int(os.environ['PORT']))); s.listen()\n\
                   pathlib.Path(sys.argv[1]).touch(); time.sleep(60)";
    let script = format!(
        "if [ ! -e first ]; then touch first; python3 -c \"$BLOCKER\" bound & \
         while [ ! -e bound ]; do sleep 0.01; done; fi; exec {} --port \"$PORT\" --announce",
        fixture()
    );
    let server = common::start(
        Server::builder("sh -c {script}")
            .placeholder("script", script)
            .env("BLOCKER", blocker)
            .current_dir(dir.to_path_buf())
            .ready(Ready::log("^listening on")),
    );
    assert!(
        dir.join("bound").exists(),
        "the first launch was not blocked"
    );
    assert!(
        server
            .output()
            .contains(&format!("listening on 127.0.0.1:{}", server.port())),
        "{}",
        server.output()
    );
}

#[test]
fn a_server_that_keeps_losing_its_port_gives_up_after_four_launches() {
    let blocker = "import os, socket, time\n\
                   s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('127.0.0.1', int(os.environ['PORT']))); s.listen()\n\
                   print('blocker bound', flush=True); time.sleep(60)";
    let script = format!(
        "python3 -c \"$BLOCKER\" > blocked.$$ & while ! grep -q bound blocked.$$ 2>/dev/null; do sleep 0.01; done; \
         exec {} --port \"$PORT\" --announce",
        fixture()
    );
    let dir = scratch_dir("keeps-losing");
    let (error, took) = start_err(
        Server::builder("sh -c {script}")
            .placeholder("script", script)
            .env("BLOCKER", blocker)
            .current_dir(dir.to_path_buf())
            .ready(Ready::log("^listening on")),
    );
    let message = error.to_string();
    assert!(
        matches!(error, with_server::Error::ExitedEarly { attempts: 4, .. }),
        "{message}"
    );
    assert!(message.contains("started 4 times"), "{message}");
    // Each launch fails as its server exits, not at the 30 s readiness timeout; four Python
    // start-ups on a loaded machine take seconds of their own.
    assert!(took < Duration::from_secs(15), "reported after {took:?}");
}
