//! The watchdog: a small `sh` process, started once per process that starts servers, that stops
//! every server when that process dies in any way, SIGKILL included.
//!
//! A parent-death signal is not enough on Linux: it fires when the *thread* that spawned the
//! child exits (tokio's blocking threads come and go), and a grandchild never inherits it. So
//! the watchdog holds the read end of a pipe that only this process writes to, and waits for
//! it to close. The process groups to stop are appended to a guard file as they start (`+`)
//! and once they are stopped and swept (`-`); appending costs this process one write and wakes
//! nobody. When the pipe closes, the watchdog SIGKILLs the groups still listed and every
//! process that carries this process's marker in its environment (descendants that left their
//! group with `setsid()`). It is in a process group of its own and ignores SIGINT, SIGTERM and
//! SIGHUP, so the Ctrl-C that kills the test run does not kill it first.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{ChildStdin, Command, Stdio};
use std::sync::OnceLock;

use crate::port::state_dir;
use crate::process::MARKER;

// $1: the marker prefix of this process's servers; $2: the guard file. The marker sweep at the
// end always runs: one `grep` over `/proc` costs milliseconds, off every test's path, and it
// also finds a server spawned just before this process died, before it was in the guard file.
const SCRIPT: &str = r#"
trap '' INT TERM HUP QUIT
read -r _
groups=$(awk '$1 == "+" { live[$2] = 1 } $1 == "-" { delete live[$2] } END { for (g in live) print g }' "$2" 2>/dev/null)
rm -f "$2"
for g in $groups; do kill -KILL -- "-$g" 2>/dev/null; done
grep -lz "^$1" /proc/[0-9]*/environ 2>/dev/null | while IFS=/ read -r _ _ pid _; do
  kill -KILL "$pid" 2>/dev/null
done
"#;

struct Watchdog {
    guard_file: File,
    // Never written: its closing, when this process dies, is the signal.
    _pipe: ChildStdin,
}

fn watchdog() -> Option<&'static Watchdog> {
    static WATCHDOG: OnceLock<Option<Watchdog>> = OnceLock::new();
    WATCHDOG.get_or_init(start).as_ref()
}

fn start() -> Option<Watchdog> {
    let path: PathBuf = state_dir()
        .ok()?
        .join(format!("guard-{}", std::process::id()));
    // A file left by a watchdog that died, for a process that had this pid before, would name
    // process groups that are somebody else's by now.
    let _ = std::fs::remove_file(&path);
    let guard_file = OpenOptions::new()
        .create_new(true)
        .append(true)
        .open(&path)
        .ok()?;
    let prefix = format!("{MARKER}={}-", std::process::id());
    let mut child = Command::new("/bin/sh")
        .arg("-c")
        .arg(SCRIPT)
        .arg("with-server-watchdog")
        .arg(&prefix)
        .arg(&path)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .ok()?;
    Some(Watchdog {
        guard_file,
        _pipe: child.stdin.take()?,
    })
}

/// Starts the watchdog if it is not running yet; call before spawning a server, so that a
/// server never exists unguarded.
pub(crate) fn ensure() -> bool {
    watchdog().is_some()
}

/// Guards the process group `pgid`.
pub(crate) fn guard(pgid: u32) {
    append(&format!("+ {pgid}\n"));
}

/// Stops guarding `pgid`: it was stopped and swept for escaped descendants.
pub(crate) fn release(pgid: u32) {
    append(&format!("- {pgid}\n"));
}

fn append(line: &str) {
    if let Some(watchdog) = watchdog() {
        // One `write` in append mode: lines from several threads never interleave. A failed
        // write cannot be helped here; the server is still stopped normally.
        let _ = (&watchdog.guard_file).write_all(line.as_bytes());
    }
}
