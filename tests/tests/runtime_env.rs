//! What the server process is given: extra environment variables, `PORT`, the working
//! directory, and the host it is reached at; and the server's name.

mod common;

use std::net::TcpStream;
use std::path::PathBuf;
use std::time::Duration;

use common::{fixture_cmd, http_get, scratch_dir, start, start_err, value_after, wait_for_output};
use with_server::{Ready, Server};

const WAIT: Duration = Duration::from_secs(5);

#[test]
fn env_variables_reach_the_server() {
    let server = start(
        Server::builder(fixture_cmd(
            "--echo-env GREETING --echo-env EMPTY --echo-env PORT --port {port}",
        ))
        .env("GREETING", "hello big world")
        .env("EMPTY", ""),
    );
    let output = wait_for_output(&server, "PORT=", WAIT);
    assert_eq!(value_after(&output, "GREETING="), "hello big world");
    assert_eq!(value_after(&output, "EMPTY="), "");
    assert_eq!(value_after(&output, "PORT="), server.port().to_string());
}

#[test]
fn the_test_process_environment_is_inherited() {
    // PATH is there in any test run; a server without it could not find its own tools.
    let path = std::env::var("PATH").unwrap();
    let server = start(Server::builder(fixture_cmd(
        "--echo-env PATH --port {port}",
    )));
    let output = wait_for_output(&server, "PATH", WAIT);
    assert_eq!(value_after(&output, "PATH="), path);
}

#[test]
fn an_explicit_port_variable_wins() {
    let server = start(
        Server::builder(fixture_cmd("--echo-env PORT --port {port}"))
            .env("PORT", "set-by-the-test"),
    );
    let output = wait_for_output(&server, "PORT", WAIT);
    assert_eq!(value_after(&output, "PORT="), "set-by-the-test");
}

#[test]
fn a_variable_of_the_test_process_is_replaced_not_repeated() {
    // A server reads the first of two same-named variables: the test's value must be the only.
    assert!(
        std::env::var_os("CARGO_MANIFEST_DIR").is_some(),
        "cargo sets it"
    );
    let server = start(
        Server::builder(fixture_cmd("--echo-env CARGO_MANIFEST_DIR --port {port}"))
            .env("CARGO_MANIFEST_DIR", "/elsewhere"),
    );
    let output = wait_for_output(&server, "CARGO_MANIFEST_DIR=", WAIT);
    assert_eq!(value_after(&output, "CARGO_MANIFEST_DIR="), "/elsewhere");
}

#[test]
fn a_variable_set_twice_has_its_last_value() {
    let server = start(
        Server::builder(fixture_cmd("--echo-env TWICE --port {port}"))
            .env("TWICE", "first")
            .env("TWICE", "second"),
    );
    let output = wait_for_output(&server, "TWICE=", WAIT);
    assert_eq!(value_after(&output, "TWICE="), "second");
}

#[test]
fn a_program_is_looked_up_in_the_path_the_server_is_given() {
    let dir = scratch_dir("path");
    std::os::unix::fs::symlink(common::fixture(), dir.join("only-on-this-path")).unwrap();
    let path = format!("{}:{}", dir.display(), std::env::var("PATH").unwrap());
    let server = start(
        Server::builder("only-on-this-path --echo-env PATH --port {port}").env("PATH", &path),
    );
    let output = wait_for_output(&server, "PATH=", WAIT);
    assert_eq!(value_after(&output, "PATH="), path);
}

#[test]
fn the_server_gets_sigpipe_back_and_the_starting_threads_signal_mask() {
    // The test binary ignores SIGPIPE (the Rust runtime does); a server must not inherit that,
    // or a write to a closed socket would fail where it should end the process. The mask of
    // blocked signals is inherited, as `std::process::Command` hands it on.
    let sigusr2 = 1u64 << (libc::SIGUSR2 - 1);
    let sigpipe = 1u64 << (libc::SIGPIPE - 1);
    // `tail` reads its own status and then keeps running; a shell would clear the mask.
    let server = with_blocked(libc::SIGUSR2, || {
        start(Server::builder("tail -n +1 -f /proc/self/status").ready(Ready::log("^SigIgn:")))
    });
    let output = server.output();
    let mask = |name: &str| u64::from_str_radix(value_after(&output, name).trim(), 16).unwrap();
    assert_eq!(mask("SigBlk:"), sigusr2, "{output}");
    assert_eq!(
        mask("SigIgn:") & sigpipe,
        0,
        "SIGPIPE is ignored:\n{output}"
    );
}

/// Runs `f` with `signal` blocked on this thread.
fn with_blocked<T>(signal: libc::c_int, f: impl FnOnce() -> T) -> T {
    // SAFETY: a zeroed sigset_t is emptied before use; only this thread's mask changes.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, signal);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        let result = f();
        libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
        result
    }
}

#[test]
fn the_server_runs_in_the_given_directory() {
    let dir = scratch_dir("cwd");
    std::fs::write(dir.join("marker.txt"), "here").unwrap();
    let server =
        start(Server::builder(fixture_cmd("--pwd --port {port}")).current_dir(dir.to_path_buf()));
    let output = wait_for_output(&server, "pwd ", WAIT);
    let pwd = PathBuf::from(value_after(&output, "pwd "));
    assert_eq!(pwd.canonicalize().unwrap(), dir.canonicalize().unwrap());
}

#[test]
fn a_relative_program_path_is_found_from_the_directory() {
    let dir = scratch_dir("relative");
    let link = dir.join("server-here");
    std::os::unix::fs::symlink(common::fixture(), &link).unwrap();
    let server =
        start(Server::builder("./server-here --pwd --port {port}").current_dir(dir.to_path_buf()));
    let output = wait_for_output(&server, "pwd ", WAIT);
    assert_eq!(
        PathBuf::from(value_after(&output, "pwd "))
            .canonicalize()
            .unwrap(),
        dir.canonicalize().unwrap()
    );
}

#[test]
fn another_host_is_probed_and_reported() {
    // Only 127.0.0.2 listens, so a probe of 127.0.0.1 or `localhost` would never succeed.
    let server = start(
        Server::builder(fixture_cmd("--http --host {host} --port {port}"))
            .host("127.0.0.2")
            .ready(Ready::http("/"))
            .timeout(Duration::from_secs(10)),
    );
    assert_eq!(server.host(), "127.0.0.2");
    assert_eq!(server.addr(), ([127, 0, 0, 2], server.port()).into());
    assert_eq!(
        server.base_url(),
        format!("http://127.0.0.2:{}", server.port())
    );
    assert_eq!(http_get(server.addr(), "/").0, 200);
    assert!(TcpStream::connect(("127.0.0.1", server.port())).is_err());
}

#[test]
fn a_server_bound_elsewhere_is_not_ready_on_the_host() {
    // The server listens on 127.0.0.1 while the builder says 127.0.0.3: never ready.
    let (error, took) = start_err(
        Server::builder(fixture_cmd("--port {port}"))
            .host("127.0.0.3")
            .timeout(Duration::from_millis(800)),
    );
    assert!(took >= Duration::from_millis(800), "{took:?}: {error}");
    assert!(error.to_string().contains("127.0.0.3"), "{error}");
}

#[test]
fn name_is_reported() {
    let named = start(Server::builder(fixture_cmd("--port {port}")).name("api"));
    assert_eq!(named.name(), Some("api"));
    let unnamed = start(Server::builder(fixture_cmd("--port {port}")));
    assert_eq!(unnamed.name(), None);
}
