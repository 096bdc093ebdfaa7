//! The watchdog: a small `sh` process, started once per process that starts servers, that stops
//! every server when that process dies in any way, SIGKILL included.
//!
//! A parent-death signal is not enough on Linux: it fires when the *thread* that spawned the
//! child exits (tokio's blocking threads come and go), and a grandchild never inherits it. So
//! the watchdog reads the process groups to guard from a pipe; when the pipe closes (its only
//! writer, this process, is gone) it SIGKILLs those groups and every process that carries this
//! process's marker in its environment (descendants that left their group with `setsid()`).
//! It is in a process group of its own and ignores SIGINT/SIGTERM/SIGHUP, so the Ctrl-C that
//! kills the test run does not kill it first.

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::process::{ChildStdin, Command, Stdio};
use std::sync::{Mutex, OnceLock};

use crate::process::MARKER;

// A group is released only after the runtime has swept for its escaped descendants, so when
// nothing is left to guard at the end, there is nothing to sweep for either.
const SCRIPT: &str = r#"
trap '' INT TERM HUP QUIT
groups=''
while read -r op pgid; do
  case $op in
    +) groups="$groups $pgid" ;;
    -) kept=''
       for g in $groups; do [ "$g" = "$pgid" ] || kept="$kept $g"; done
       groups=$kept ;;
  esac
done
[ -n "$groups" ] || exit 0
for g in $groups; do kill -KILL -- "-$g" 2>/dev/null; done
grep -lz "^$1" /proc/[0-9]*/environ 2>/dev/null | while IFS=/ read -r _ _ pid _; do
  kill -KILL "$pid" 2>/dev/null
done
"#;

fn pipe() -> Option<&'static Mutex<ChildStdin>> {
    static PIPE: OnceLock<Option<Mutex<ChildStdin>>> = OnceLock::new();
    PIPE.get_or_init(|| {
        let prefix = format!("{MARKER}={}-", std::process::id());
        Command::new("sh")
            .args(["-c", SCRIPT, "with-server-watchdog", &prefix])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .ok()
            .and_then(|mut child| child.stdin.take())
            .map(Mutex::new)
    })
    .as_ref()
}

/// Starts the watchdog if it is not running yet; call before spawning a server, so that a
/// server never exists unguarded.
pub(crate) fn ensure() -> bool {
    pipe().is_some()
}

/// Guards the process group `pgid`.
pub(crate) fn guard(pgid: u32) {
    send(&format!("+ {pgid}\n"));
}

/// Stops guarding `pgid`: it was stopped and swept for escaped descendants.
pub(crate) fn release(pgid: u32) {
    send(&format!("- {pgid}\n"));
}

fn send(line: &str) {
    if let Some(pipe) = pipe() {
        let mut pipe = pipe.lock().unwrap_or_else(|poison| poison.into_inner());
        // A watchdog that died cannot be helped here; the server is still stopped normally.
        let _ = pipe.write_all(line.as_bytes());
    }
}
