//! Each key of `#[with_server(..)]` but `ready` and `logs` (they have files of their own),
//! seen on a real process: the command line, port, timeout, grace, env, cwd, host and name.

mod common;

use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use common::{assert_gone, http_get, number_after, run_this_test, wait_for_output};
use with_server::{Server, with_server};

const WAIT: Duration = Duration::from_secs(10);

#[with_server(
    cmd = "{bin:fixture} --port {port} --say 'two  words' --say \"{{not a placeholder}}\" --say {port}"
)]
#[test]
fn cmd_is_split_into_words_like_a_shell_does(server: &Server) {
    let output = wait_for_output(server, "{not a placeholder}", WAIT);
    let lines: Vec<&str> = output.lines().collect();
    assert!(lines.contains(&"two  words"), "{output}");
    assert!(lines.contains(&"{not a placeholder}"), "{output}");
    assert!(
        lines.contains(&server.port().to_string().as_str()),
        "{output}"
    );
}

#[with_server(
    cmd = "sh -c 'echo shell says {port}; exec python3 -m http.server {port} --bind {host}'",
    ready = http("/")
)]
#[test]
fn cmd_runs_a_shell_when_it_names_one(server: &Server) {
    let output = wait_for_output(server, "shell says", WAIT);
    let port: u16 = number_after(&output, "shell says ");
    assert_eq!(port, server.port());
    let (status, body) = http_get(server.addr(), "/");
    assert_eq!(status, 200, "{body}");
}

#[with_server(cmd = "{bin:fixture} --port {port}", port = 29163)]
#[test]
fn port_fixes_the_port(server: &Server) {
    assert_eq!(server.port(), 29163);
    assert_eq!(server.base_url(), "http://127.0.0.1:29163");
    TcpStream::connect(("127.0.0.1", 29163)).unwrap();
}

#[with_server(cmd = "{bin:fixture} --port {port}", port = 0)]
#[test]
fn port_zero_picks_a_free_port(port: u16) {
    assert_ne!(port, 0);
    TcpStream::connect(("127.0.0.1", port)).unwrap();
}

#[with_server(cmd = "{bin:fixture} --never-listen", timeout = "300ms")]
#[test]
#[should_panic(expected = "was not ready after 300ms")]
fn timeout_bounds_the_wait_for_readiness() {}

#[with_server(
    cmd = "{bin:fixture} --port {port} --echo-env GREETING --echo-env COPY_OF_PORT --echo-env BRACES",
    env(GREETING = "hello world", COPY_OF_PORT = "{port}", BRACES = "{{x}}")
)]
#[test]
fn env_sets_variables_with_placeholders_filled(server: &Server) {
    let output = wait_for_output(server, "BRACES=", WAIT);
    let port = server.port();
    for line in [
        "GREETING=hello world".to_owned(),
        format!("COPY_OF_PORT={port}"),
        "BRACES={x}".to_owned(),
    ] {
        assert!(
            output.lines().any(|l| l == line),
            "no {line:?} in:\n{output}"
        );
    }
}

#[with_server(
    cmd = "{bin:fixture} --port {port} --echo-env PORT",
    env(PORT = "chosen by the test")
)]
#[test]
fn env_overrides_port(server: &Server) {
    wait_for_output(server, "PORT=chosen by the test", WAIT);
}

/// The directory a fixture started with `--pwd` runs in.
fn pwd(server: &Server) -> String {
    let output = wait_for_output(server, "pwd ", WAIT);
    output
        .lines()
        .find_map(|line| line.strip_prefix("pwd "))
        .unwrap_or_default()
        .to_owned()
}

fn same_dir(a: impl AsRef<Path>, b: impl AsRef<Path>) -> bool {
    a.as_ref().canonicalize().unwrap() == b.as_ref().canonicalize().unwrap()
}

#[with_server(cmd = "{bin:fixture} --port {port} --pwd")]
#[test]
fn cwd_defaults_to_the_manifest_dir_of_the_test_crate(server: &Server) {
    let dir = pwd(server);
    assert!(same_dir(&dir, env!("CARGO_MANIFEST_DIR")), "{dir}");
}

#[with_server(cmd = "{bin:fixture} --port {port} --pwd", cwd = "src/bin")]
#[test]
fn cwd_is_relative_to_the_manifest_dir(server: &Server) {
    let dir = pwd(server);
    let expected = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/bin");
    assert!(same_dir(&dir, expected), "{dir}");
}

#[with_server(cmd = "{bin:fixture} --port {port} --pwd", cwd = "/")]
#[test]
fn cwd_can_be_absolute(server: &Server) {
    assert_eq!(pwd(server), "/");
}

#[with_server(cmd = "{bin:fixture} --port {port} --pwd", cwd = "{tmp}")]
#[test]
fn cwd_can_be_the_test_s_own_directory(server: &Server) {
    let dir = pwd(server);
    assert!(Path::new(&dir).is_dir(), "{dir}");
    assert!(!same_dir(&dir, env!("CARGO_MANIFEST_DIR")), "{dir}");
    let entries = std::fs::read_dir(&dir).unwrap().count();
    assert_eq!(entries, 0, "{{tmp}} should be empty: {dir}");
}

// Linux routes all of 127.0.0.0/8 to the loopback interface; macOS only 127.0.0.1.
#[cfg(target_os = "linux")]
#[with_server(
    cmd = "{bin:fixture} --port {port} --host {host} --http",
    host = "127.0.0.2"
)]
#[test]
fn host_is_where_the_server_is_reached(server: &Server) {
    assert_eq!(server.host(), "127.0.0.2");
    assert_eq!(
        server.base_url(),
        format!("http://127.0.0.2:{}", server.port())
    );
    let (status, body) = http_get(SocketAddr::from(([127, 0, 0, 2], server.port())), "/");
    assert_eq!(status, 200, "{body}");
}

#[with_server(cmd = "{bin:fixture} --port {port}", name = "api")]
#[test]
fn name_names_the_server(server: &Server) {
    assert_eq!(server.name(), Some("api"));
}

const GRACE_CASE: &str = "WITH_SERVER_ATTR_GRACE";

/// Run by `grace_bounds_the_stop` in a process of its own: a server that ignores SIGTERM is
/// killed once its grace is over.
#[with_server(cmd = "{bin:fixture} --port {port} --ignore-sigterm", grace = "200ms")]
#[test]
#[ignore = "a helper: run by grace_bounds_the_stop"]
fn server_ignoring_sigterm(server: &Server) {
    if std::env::var_os(GRACE_CASE).is_some() {
        println!("server pid {}", server.pid());
    }
}

#[test]
fn grace_bounds_the_stop() {
    let began = Instant::now();
    let run = run_this_test("server_ignoring_sigterm", &[(GRACE_CASE, "1")], WAIT * 3);
    let took = began.elapsed();
    let all = run.all_output();
    assert!(run.status.success(), "{all}");
    // The default grace is 5s.
    assert!(
        took < Duration::from_secs(4),
        "stopping took {took:?}:\n{all}"
    );
    assert_gone(number_after(&all, "server pid "), "the server", WAIT);
}

/// `{tmp}` is one folder for the whole test: the second server sees what the first wrote.
#[with_server(
    cmd = "sh -c 'echo from-the-first > \"$1/note\"; exec \"$2\" --port \"$PORT\"' x {tmp} {bin:fixture}"
)]
#[with_server(cmd = "sh -c 'cat \"$1/note\"; exec \"$2\" --port \"$PORT\"' x {tmp} {bin:fixture}", ready = log("from-the-first"))]
#[test]
fn tmp_is_one_folder_for_the_whole_test(first: &Server, second: &Server) {
    assert!(
        second.output().contains("from-the-first"),
        "{}",
        second.output()
    );
    assert_ne!(first.port(), second.port());
}

/// A raw identifier names the variable without its `r#`.
#[with_server(cmd = "{bin:fixture} --port {port} --echo-env type", env(r#type = "raw"), ready = log("^type="))]
#[test]
fn a_raw_identifier_key_names_the_plain_variable(server: &Server) {
    assert!(server.output().contains("type=raw"), "{}", server.output());
}
