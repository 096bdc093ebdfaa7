//! Helpers shared by the runtime's integration tests: the fixture server, process checks,
//! polling with a deadline, a bare HTTP GET, and re-running one test of this binary.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use with_server::{Error, Server, ServerBuilder};

/// Path of the fixture server built from `src/bin/fixture.rs`.
pub(crate) fn fixture() -> &'static str {
    env!("CARGO_BIN_EXE_fixture")
}

/// A command line that runs the fixture with `args` (the path is quoted, as it may hold spaces).
pub(crate) fn fixture_cmd(args: &str) -> String {
    format!("'{}' {args}", fixture())
}

/// Starts the server or fails the test with the error's message.
pub(crate) fn start(builder: ServerBuilder) -> Server {
    builder
        .start_blocking()
        .unwrap_or_else(|e| panic!("the server did not start: {e}"))
}

/// Starts a server that must not start; returns the error and how long the attempt took.
pub(crate) fn start_err(builder: ServerBuilder) -> (Error, Duration) {
    let began = Instant::now();
    match builder.start_blocking() {
        Ok(server) => panic!(
            "the server started (pid {}, {}) although it should not have; output:\n{}",
            server.pid(),
            server.base_url(),
            server.output()
        ),
        Err(e) => (e, began.elapsed()),
    }
}

/// Fails the test unless a start that timed out after `timeout` gave up neither early nor
/// more than a second late.
pub(crate) fn assert_gave_up_on_time(took: Duration, timeout: Duration, message: &str) {
    assert!(took >= timeout, "gave up after {took:?}: {message}");
    assert!(
        took < timeout + Duration::from_secs(1),
        "gave up only after {took:?}: {message}"
    );
}

/// The state letter of a process (`R`, `S`, `Z`, ...), or `None` once it is gone.
pub(crate) fn process_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name in parentheses may itself hold spaces and parentheses.
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().next()?.chars().next()
}

/// A process is alive while it exists and is not a zombie waiting to be reaped.
pub(crate) fn is_alive(pid: u32) -> bool {
    matches!(process_state(pid), Some(state) if state != 'Z' && state != 'X')
}

/// Polls `condition` until it holds or `timeout` passes; returns whether it held.
pub(crate) fn wait_until(timeout: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if condition() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Fails the test unless the process is gone within `timeout` (signals are delivered
/// asynchronously, so a process killed a moment ago may still be exiting). A survivor is
/// killed before the test fails, so that one failure does not leak into the next run.
pub(crate) fn assert_gone(pid: u32, what: &str, timeout: Duration) {
    if !wait_until(timeout, || !is_alive(pid)) {
        let state = process_state(pid);
        if let Ok(pid) = i32::try_from(pid) {
            // SAFETY: kill(2) with a positive pid signals just that process.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        panic!("{what} (pid {pid}) is still alive {timeout:?} later, state {state:?}");
    }
}

/// Like [`assert_gone`] for several processes: every one is checked, and every survivor
/// killed, before the test fails naming them all.
pub(crate) fn assert_all_gone(processes: &[(u32, &str)], timeout: Duration) {
    wait_until(timeout, || processes.iter().all(|&(pid, _)| !is_alive(pid)));
    let survivors: Vec<String> = processes
        .iter()
        .filter(|&&(pid, _)| is_alive(pid))
        .map(|&(pid, what)| {
            let state = process_state(pid);
            if let Ok(pid) = i32::try_from(pid) {
                // SAFETY: kill(2) with a positive pid signals just that process.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
            format!("{what} (pid {pid}, state {state:?})")
        })
        .collect();
    assert!(
        survivors.is_empty(),
        "still alive {timeout:?} later: {}",
        survivors.join(", ")
    );
}

/// Waits until the captured output of `server` contains `needle`, and returns that output.
pub(crate) fn wait_for_output(server: &Server, needle: &str, timeout: Duration) -> String {
    let mut output = String::new();
    if wait_until(timeout, || {
        output = server.output();
        output.contains(needle)
    }) {
        output
    } else {
        panic!("no {needle:?} in the server's output after {timeout:?}; output:\n{output}")
    }
}

/// The rest of the first line of `output` that starts with `prefix`.
pub(crate) fn value_after<'a>(output: &'a str, prefix: &str) -> &'a str {
    output
        .lines()
        .find_map(|line| line.strip_prefix(prefix))
        .unwrap_or_else(|| panic!("no line starting {prefix:?} in:\n{output}"))
}

/// The number that follows `prefix` on a line of `output` (`child pid 123` and so on).
pub(crate) fn number_after<T: std::str::FromStr>(output: &str, prefix: &str) -> T {
    output
        .lines()
        .find_map(|line| line.strip_prefix(prefix))
        .and_then(|rest| rest.trim().parse().ok())
        .unwrap_or_else(|| panic!("no line {prefix:?}<number> in output:\n{output}"))
}

/// A GET over a fresh connection; returns the status code and the body.
pub(crate) fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        .unwrap_or_else(|e| panic!("cannot connect to {addr}: {e}"));
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response from {addr}: {response:?}"));
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// A fresh, empty directory under cargo's scratch space, removed when dropped.
#[derive(Debug)]
pub(crate) struct ScratchDir(PathBuf);

impl std::ops::Deref for ScratchDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for ScratchDir {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub(crate) fn scratch_dir(name: &str) -> ScratchDir {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "{name}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    ScratchDir(dir)
}

/// Reads a pid that the fixture wrote with `--pid-file`, waiting for it to appear.
pub(crate) fn read_pid_file(path: &Path, timeout: Duration) -> u32 {
    let mut pid = None;
    wait_until(timeout, || {
        pid = std::fs::read_to_string(path)
            .ok()
            .and_then(|text| text.trim().parse().ok());
        pid.is_some()
    });
    pid.unwrap_or_else(|| panic!("no pid in {} after {timeout:?}", path.display()))
}

/// What a run of one test of this binary in a process of its own printed.
#[derive(Debug)]
pub(crate) struct Run {
    pub(crate) status: ExitStatus,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Run {
    pub(crate) fn all_output(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

/// Runs the ignored test `name` of this very binary in a child process, with `env` added and
/// libtest given `--show-output` (so what a passing test printed is shown too); kills it
/// after `timeout`.
pub(crate) fn run_this_test(name: &str, env: &[(&str, &str)], timeout: Duration) -> Run {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command.args([
        name,
        "--exact",
        "--ignored",
        "--test-threads=1",
        "--show-output",
    ]);
    command
        .env_remove("WITH_SERVER_LOGS")
        .env_remove("WITH_SERVER_KEEP")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().unwrap();
    let stdout = read_in_background(child.stdout.take().unwrap());
    let stderr = read_in_background(child.stderr.take().unwrap());
    let mut status = None;
    let finished = wait_until(timeout, || {
        status = child.try_wait().unwrap();
        status.is_some()
    });
    if !finished {
        let _ = child.kill();
        let _ = child.wait();
        panic!("the test {name} did not finish within {timeout:?}");
    }
    // A pipe still open after the test binary exited means some process it started kept it.
    let collect = |pipe: std::sync::mpsc::Receiver<String>, which: &str| {
        pipe.recv_timeout(Duration::from_secs(5))
            .unwrap_or_else(|_| {
                panic!("the {which} of test {name} is still held open after it exited")
            })
    };
    Run {
        status: status.unwrap(),
        stdout: collect(stdout, "stdout"),
        stderr: collect(stderr, "stderr"),
    }
}

fn read_in_background(mut pipe: impl Read + Send + 'static) -> std::sync::mpsc::Receiver<String> {
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        let _ = sender.send(String::from_utf8_lossy(&bytes).into_owned());
    });
    receiver
}
