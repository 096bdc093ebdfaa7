//! The server's process: started as the leader of a process group of its own, so that stopping
//! it reaches everything it spawned; stopped with SIGTERM to the group, SIGKILL after the grace
//! period, and always reaped.

use std::io;
use std::process::ExitStatus;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use crate::spawn::Leader;

/// The environment variable every server and its descendants carry, so that a descendant that
/// left the process group (a `setsid()` daemon) can still be found and stopped.
pub(crate) const MARKER: &str = "WITH_SERVER_ID";

/// The marker of the `n`th server of this process: `<pid>-<n>`.
pub(crate) fn marker(n: u64) -> String {
    format!("{}-{n}", std::process::id())
}

/// The leaders of this process's servers, from their spawn to their reaping: a sweep meets
/// them most often (another test's server, started since), and tells them apart without a
/// system call.
static LEADERS: Mutex<Vec<u32>> = Mutex::new(Vec::new());

/// Notes a server's leader, just spawned.
pub(crate) fn track(pid: u32) {
    leaders().push(pid);
}

/// Forgets a leader: reaped, or left running for `WITH_SERVER_KEEP`.
pub(crate) fn untrack(pid: u32) {
    leaders().retain(|&p| p != pid);
}

fn leaders() -> MutexGuard<'static, Vec<u32>> {
    LEADERS.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Whether the process has exited, without reaping it: while it is a zombie its pid (and so its
/// process group id) cannot be reused, so signalling the group stays safe.
pub(crate) fn has_exited(child: &Leader) -> bool {
    let pid: libc::id_t = child.id();
    // SAFETY: a zeroed siginfo_t is a valid value; waitid only writes into it.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    // SAFETY: plain syscall on our own child; WNOWAIT leaves it unreaped.
    let rc = unsafe {
        libc::waitid(
            libc::P_PID,
            pid,
            &mut info,
            libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
        )
    };
    // SAFETY: si_pid is set when waitid reported a child; zero means "still running".
    rc != 0 || unsafe { info.si_pid() } != 0
}

/// Sends `signal` to the whole process group led by `child`.
pub(crate) fn signal_group(child: &Leader, signal: libc::c_int) {
    let Ok(pgid) = libc::pid_t::try_from(child.id()) else {
        return;
    };
    // SAFETY: kill with a negative pid signals that group; ESRCH (no such group) is fine.
    unsafe {
        libc::kill(-pgid, signal);
    }
}

/// Asks the group to stop: SIGTERM, also when the leader has exited already (what it started
/// may still run; the unreaped leader keeps the group id from being reused). Returns when to
/// SIGKILL it.
pub(crate) fn request_stop(child: &Leader, grace: Duration) -> Instant {
    signal_group(child, libc::SIGTERM);
    deadline(grace)
}

/// SIGKILLs whatever is left of the group (workers that outlived their leader, or a leader
/// that ignored SIGTERM), then reaps the leader and returns its status.
pub(crate) fn kill_and_reap(child: &mut Leader) -> io::Result<ExitStatus> {
    signal_group(child, libc::SIGKILL);
    // Before the reaping, which frees the pid for reuse (and should the wait fail, it is still
    // forgotten). Until reaped, a sweep tells it apart by its parent.
    untrack(child.id());
    child.wait()
}

/// `after` from now; a duration too large for the clock means "practically never".
pub(crate) fn deadline(after: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(after)
        .or_else(|| now.checked_add(Duration::from_secs(100 * 365 * 24 * 3600)))
        .unwrap_or(now)
}

/// Waits for the leader's exit until `until`, without reaping it. On Linux a pidfd wakes the
/// wait the moment the process exits; elsewhere, or on kernels without pidfd, it polls, starting
/// fast: a well-behaved server exits within a fraction of a millisecond of SIGTERM.
pub(crate) fn wait_exit(child: &Leader, until: Instant) -> bool {
    #[cfg(target_os = "linux")]
    if let Some(exited) = wait_pidfd(child, until) {
        return exited;
    }
    let mut pause = Duration::from_micros(20);
    loop {
        if has_exited(child) {
            return true;
        }
        let now = Instant::now();
        if now >= until {
            return false;
        }
        std::thread::sleep(pause.min(until - now));
        pause = (pause * 2).min(Duration::from_millis(2));
    }
}

/// `None` when no pidfd can be had (kernel older than 5.3, seccomp).
#[cfg(target_os = "linux")]
fn wait_pidfd(child: &Leader, until: Instant) -> Option<bool> {
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

    let pid = libc::pid_t::try_from(child.id()).ok()?;
    // SAFETY: pidfd_open(pid, 0) on our own, not yet reaped, child.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    let fd = libc::c_int::try_from(fd).ok().filter(|&fd| fd >= 0)?;
    // SAFETY: a fresh descriptor that nothing else owns.
    let pidfd = unsafe { OwnedFd::from_raw_fd(fd) };
    loop {
        if has_exited(child) {
            return Some(true);
        }
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Some(false);
        }
        let mut poll = libc::pollfd {
            fd: pidfd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // Round up, so a wait never ends just before the deadline and spins.
        let ms = libc::c_int::try_from(left.as_micros().div_ceil(1000)).unwrap_or(libc::c_int::MAX);
        // SAFETY: one valid pollfd; a readable pidfd means the process exited.
        unsafe { libc::poll(&mut poll, 1, ms) };
    }
}

/// The processes a sweep after a server must look at: only processes started after its leader
/// can be its descendants, and when few pids were handed out since, exactly those are looked
/// at, which is far cheaper than listing `/proc`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Sweep {
    /// These pids (empty when no process started after the leader).
    Pids(std::ops::RangeInclusive<u32>),
    /// Every process: the pid counter wrapped, or many processes started since.
    All,
}

impl Sweep {
    /// What a sweep after `leader` must look at, as of now.
    #[cfg(target_os = "linux")]
    pub(crate) fn after(leader: u32) -> Sweep {
        const FEW: u32 = 256;
        let last = last_pid();
        match last {
            // The pid counter has not wrapped since the leader started.
            Some(last) if last >= leader && last - leader <= FEW => Sweep::Pids(leader + 1..=last),
            _ => Sweep::All,
        }
    }

    #[cfg(not(target_os = "linux"))]
    pub(crate) fn after(_leader: u32) -> Sweep {
        Sweep::Pids(1..=0)
    }

    /// Whether it is quicker done on the spot than handed to another thread (a wake-up of
    /// which costs as much as reading a few processes' environments): at most 4 pids.
    pub(crate) fn is_small(&self) -> bool {
        matches!(self, Sweep::Pids(pids) if pids.is_empty() || pids.end() - pids.start() < 4)
    }

    /// SIGKILLs every process in scope that carries `marker` in its environment: descendants
    /// of `leader` that called `setsid()` and so left the group.
    #[cfg(target_os = "linux")]
    pub(crate) fn run(self, marker: &str, leader: u32) {
        let needle = format!("{MARKER}={marker}");
        match self {
            Sweep::Pids(pids) => {
                for pid in pids {
                    kill_if_marked(pid, &needle);
                }
            }
            Sweep::All => {
                let Ok(entries) = std::fs::read_dir("/proc") else {
                    return;
                };
                for entry in entries.flatten() {
                    if let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse().ok())
                        && pid != leader
                    {
                        kill_if_marked(pid, &needle);
                    }
                }
            }
        }
    }

    #[cfg(not(target_os = "linux"))]
    pub(crate) fn run(self, _marker: &str, _leader: u32) {}
}

/// The last pid the kernel handed out in this pid namespace. The file stays open: one `pread`
/// costs a fifth of opening, reading and closing it.
#[cfg(target_os = "linux")]
fn last_pid() -> Option<u32> {
    use std::os::unix::fs::FileExt;
    use std::sync::OnceLock;

    static FILE: OnceLock<Option<std::fs::File>> = OnceLock::new();
    let file = FILE
        .get_or_init(|| std::fs::File::open("/proc/sys/kernel/ns_last_pid").ok())
        .as_ref()?;
    let mut text = [0u8; 16];
    let len = file.read_at(&mut text, 0).ok()?;
    std::str::from_utf8(&text[..len]).ok()?.trim().parse().ok()
}

/// The parent of `pid`, from `/proc/PID/stat`: `pid (comm) state ppid ...`, where `comm` may
/// hold spaces and parentheses of its own.
#[cfg(target_os = "linux")]
fn parent(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, after_comm) = stat.rsplit_once(')')?;
    after_comm.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(target_os = "linux")]
fn kill_if_marked(pid: u32, needle: &str) {
    if is_escaped(pid, needle)
        && let Ok(pid) = libc::pid_t::try_from(pid)
    {
        // SAFETY: signalling a process that carries this server's marker.
        unsafe {
            libc::kill(pid, libc::SIGKILL);
        }
    }
}

/// Whether `pid` descends from the server marked by `needle` and left its group: it carries
/// `needle` in its environment and is none of this process's own (a thread, a server, another
/// child).
#[cfg(target_os = "linux")]
fn is_escaped(pid: u32, needle: &str) -> bool {
    // Most pids a sweep meets are this process's own: another test's server or thread,
    // started since. They are told apart before the environment is read, which would contend
    // with them for their memory map, right while they load or run.
    if leaders().contains(&pid) {
        return false;
    }
    let Ok(id) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // `/proc` answers for the ids of threads too; signal 0 to a thread of this process tells
    // one in a system call, where a lookup in `/proc` walks a path.
    // SAFETY: signal 0 sends nothing, it only checks that the thread exists.
    if unsafe { libc::syscall(libc::SYS_tgkill, libc::getpid(), id, 0) } == 0 {
        return false;
    }
    // Other children (the watchdog, a server spawned a moment ago) are told by their parent,
    // read from `stat`, which leaves the process alone. No `stat`: the process is gone, as most
    // are that a shell wrapper ran before it exec'd the server.
    match parent(pid) {
        None => return false,
        Some(parent) if parent == std::process::id() => return false,
        Some(_) => {}
    }
    std::fs::read(format!("/proc/{pid}/environ")).is_ok_and(|environ| {
        environ
            .split(|&b| b == 0)
            .any(|var| var == needle.as_bytes())
    })
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    #[test]
    fn the_parent_is_read_past_a_command_name_with_spaces_and_parentheses() {
        let dir = tempfile::tempdir().unwrap();
        let program = dir.path().join("a (b) c");
        std::os::unix::fs::symlink("/bin/sleep", &program).unwrap();
        let mut child = std::process::Command::new(&program)
            .arg("10")
            .spawn()
            .unwrap();
        let parent = super::parent(child.id());
        child.kill().unwrap();
        child.wait().unwrap();
        assert_eq!(parent, Some(std::process::id()));
    }

    /// Waits until `pid` runs `sleep`: while a process execs, its environment reads as empty.
    fn wait_for_sleep(pid: u32) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !std::fs::read(format!("/proc/{pid}/cmdline"))
            .unwrap()
            .starts_with(b"sleep")
        {
            assert!(std::time::Instant::now() < deadline, "sleep never started");
            std::thread::yield_now();
        }
    }

    /// A marker of this test process's own, as the sweep looks for it.
    fn test_marker() -> (String, String) {
        (
            super::MARKER.to_string(),
            format!("test-{}", std::process::id()),
        )
    }

    #[test]
    fn a_marked_process_whose_parent_has_exited_is_an_escapee() {
        use std::io::BufRead;
        use std::process::{Command, Stdio};

        let (key, value) = test_marker();
        // What a daemon that left the server's group looks like.
        let mut shell = Command::new("sh")
            .args(["-c", "sleep 30 & echo $!"])
            .env(&key, &value)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufReader::new(shell.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        shell.wait().unwrap();
        let escaped: u32 = line.trim().parse().unwrap();
        wait_for_sleep(escaped);
        let found = super::is_escaped(escaped, &format!("{key}={value}"));
        // SAFETY: signalling the sleep started above.
        unsafe { libc::kill(i32::try_from(escaped).unwrap(), libc::SIGKILL) };
        assert!(found, "the marked grandchild was not found");
    }

    #[test]
    fn a_marked_child_of_this_process_is_not_an_escapee() {
        // It is one of this process's servers.
        let (key, value) = test_marker();
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .env(&key, &value)
            .spawn()
            .unwrap();
        wait_for_sleep(child.id());
        let found = super::is_escaped(child.id(), &format!("{key}={value}"));
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(!found, "a child of this process was taken for an escapee");
    }

    #[test]
    fn a_thread_of_this_process_is_not_an_escapee() {
        // `/proc/<tid>/environ` of a thread is this process's own environment: a needle taken
        // from it matches.
        let environ = std::fs::read("/proc/self/environ").unwrap();
        let first = environ.split(|&b| b == 0).next().unwrap();
        let own = String::from_utf8_lossy(first).into_owned();
        let (tid_tx, tid_rx) = std::sync::mpsc::channel();
        let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            // SAFETY: gettid has no preconditions.
            tid_tx.send(unsafe { libc::gettid() }).unwrap();
            let _ = done_rx.recv();
        });
        let tid = u32::try_from(tid_rx.recv().unwrap()).unwrap();
        let found = super::is_escaped(tid, &own);
        drop(done_tx);
        thread.join().unwrap();
        assert!(!found, "a thread of this process was taken for an escapee");
    }

    #[test]
    fn a_leader_is_tracked_until_it_is_reaped() {
        use std::os::unix::process::CommandExt;

        let mut child = super::Leader::adopt(
            std::process::Command::new("sleep")
                .arg("30")
                .process_group(0)
                .spawn()
                .unwrap(),
        );
        super::track(child.id());
        assert!(super::leaders().contains(&child.id()));
        super::kill_and_reap(&mut child).unwrap();
        assert!(!super::leaders().contains(&child.id()));
    }
}
