//! One thread, started once, that drains the output pipes of every server of this process.
//!
//! Handing it a new pipe costs one `epoll_ctl` and wakes nobody; waking a thread per server
//! instead costs tens of microseconds on a virtual machine, a sizeable part of starting a small
//! server. The thread sleeps in `epoll_wait` and wakes only when a server writes or exits.

use std::collections::HashMap;
use std::io::{self, PipeReader, Read};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock};

use crate::output::Output;

/// How many ready pipes one `epoll_wait` reports at most.
const EVENTS: usize = 32;
/// How much one read takes from a pipe; a pipe with more left is read again on the next turn,
/// after the others, so a chatty server does not hold up the rest.
const CHUNK: usize = 64 << 10;

struct Reactor {
    epoll: OwnedFd,
    pipes: Mutex<HashMap<u64, (PipeReader, Output)>>,
    next: AtomicU64,
}

fn reactor() -> Option<&'static Reactor> {
    static REACTOR: OnceLock<Option<Reactor>> = OnceLock::new();
    REACTOR.get_or_init(start).as_ref()
}

fn start() -> Option<Reactor> {
    // SAFETY: plain epoll_create1(2); the descriptor is owned right below.
    let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
    if fd < 0 {
        return None;
    }
    // SAFETY: `fd` is a fresh descriptor that nothing else owns.
    let epoll = unsafe { OwnedFd::from_raw_fd(fd) };
    let raw = epoll.as_raw_fd();
    std::thread::Builder::new()
        .name("with-server-output".into())
        // The descriptor outlives the thread: it belongs to a static that is never dropped.
        .spawn(move || run(raw))
        .ok()?;
    Some(Reactor {
        epoll,
        pipes: Mutex::new(HashMap::new()),
        next: AtomicU64::new(1),
    })
}

impl Reactor {
    fn pipes(&self) -> MutexGuard<'_, HashMap<u64, (PipeReader, Output)>> {
        self.pipes
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }
}

/// Drains `pipe` into `output` on the reactor's thread until the pipe closes, and returns the
/// token that [`catch_up`] takes. Gives the pipe back, blocking as it came, when the reactor
/// cannot take it (no epoll, no thread).
pub(crate) fn drain(pipe: PipeReader, output: &Output) -> Result<u64, PipeReader> {
    let Some(reactor) = reactor() else {
        return Err(pipe);
    };
    let fd = pipe.as_raw_fd();
    if set_nonblocking(fd, true).is_err() {
        return Err(pipe);
    }
    let token = reactor.next.fetch_add(1, Ordering::Relaxed);
    // In the table before epoll can report it, so every event finds its pipe.
    reactor.pipes().insert(token, (pipe, output.clone()));
    let mut event = libc::epoll_event {
        events: libc::EPOLLIN as u32,
        u64: token,
    };
    // SAFETY: a valid epoll descriptor, an open pipe, and an event that outlives the call.
    let added = unsafe {
        libc::epoll_ctl(
            reactor.epoll.as_raw_fd(),
            libc::EPOLL_CTL_ADD,
            fd,
            &mut event,
        )
    };
    if added == 0 {
        return Ok(token);
    }
    match reactor.pipes().remove(&token) {
        Some((pipe, _)) => {
            let _ = set_nonblocking(fd, false);
            Err(pipe)
        }
        // Unreachable: only an event for the token removes it.
        None => Ok(token),
    }
}

/// Reads, on this thread, everything the pipe of `token` holds right now, so that what a
/// server wrote before this call is in its output, whether or not the reactor's thread has
/// run since; and closes the output when the pipe has ended.
pub(crate) fn catch_up(token: u64) {
    let Some(reactor) = reactor() else {
        return;
    };
    let mut pipes = reactor.pipes();
    let Some((pipe, _)) = pipes.get(&token) else {
        return;
    };
    // Only what is there now: a server that keeps writing must not keep this call reading.
    let mut waiting: libc::c_int = 0;
    // SAFETY: FIONREAD on an open pipe writes the number of bytes it holds into `waiting`.
    if unsafe { libc::ioctl(pipe.as_raw_fd(), libc::FIONREAD, &mut waiting) } != 0 {
        return;
    }
    let mut left = usize::try_from(waiting).unwrap_or(0);
    let mut chunk = vec![0u8; left.min(CHUNK)];
    while left > 0 {
        let want = left.min(chunk.len());
        match pump(reactor, &mut pipes, token, &mut chunk[..want]) {
            Pumped::Read(read) => left = left.saturating_sub(read),
            Pumped::Empty => return,
        }
    }
    // One more read, of a little at most, sees the end of the pipe when every writer has
    // closed it: a stop that saw the server exit need not wait for the reactor's thread to
    // wake and see it.
    pump(reactor, &mut pipes, token, &mut [0u8; END]);
}

/// What the read after the catch-up takes at most.
const END: usize = 512;

enum Pumped {
    /// This many bytes were read; there may be more.
    Read(usize),
    /// Nothing to read now, or the pipe is gone.
    Empty,
}

/// Reads one chunk of `token`'s pipe into its output; at the end of the pipe, closes both.
/// The table stays locked throughout, so chunks reach the output in the order they were read,
/// whichever thread reads them.
fn pump(
    reactor: &Reactor,
    pipes: &mut MutexGuard<'_, HashMap<u64, (PipeReader, Output)>>,
    token: u64,
    chunk: &mut [u8],
) -> Pumped {
    let Some((pipe, output)) = pipes.get(&token) else {
        return Pumped::Empty;
    };
    match (&*pipe).read(chunk) {
        Ok(0) => {}
        Ok(read) => {
            output.feed(&chunk[..read]);
            return Pumped::Read(read);
        }
        Err(err)
            if matches!(
                err.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
            ) =>
        {
            return Pumped::Empty;
        }
        Err(_) => {}
    }
    // End of file: every writer has closed its end.
    if let Some((pipe, output)) = pipes.remove(&token) {
        // SAFETY: removing a descriptor this epoll instance watches; it is closed only after,
        // so a new pipe that reuses the number is never mistaken for it.
        unsafe {
            libc::epoll_ctl(
                reactor.epoll.as_raw_fd(),
                libc::EPOLL_CTL_DEL,
                pipe.as_raw_fd(),
                std::ptr::null_mut(),
            );
        }
        drop(pipe);
        output.close();
    }
    Pumped::Empty
}

fn run(epoll: RawFd) {
    // Waits for `start`, which spawned this thread, to have put the reactor in its static.
    let Some(reactor) = reactor() else {
        return;
    };
    let mut events = [libc::epoll_event { events: 0, u64: 0 }; EVENTS];
    let mut chunk = vec![0u8; CHUNK];
    loop {
        // SAFETY: `events` has room for EVENTS entries; -1 waits for as long as it takes.
        let ready =
            unsafe { libc::epoll_wait(epoll, events.as_mut_ptr(), EVENTS as libc::c_int, -1) };
        let Ok(ready) = usize::try_from(ready) else {
            if io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return;
        };
        for event in &events[..ready] {
            // One chunk per turn: a pipe with more left is reported again, after the others.
            pump(reactor, &mut reactor.pipes(), event.u64, &mut chunk);
        }
    }
}

fn set_nonblocking(fd: RawFd, on: bool) -> io::Result<()> {
    // SAFETY: F_GETFL and F_SETFL on a descriptor the caller owns.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        if flags < 0 {
            return Err(io::Error::last_os_error());
        }
        let flags = if on {
            flags | libc::O_NONBLOCK
        } else {
            flags & !libc::O_NONBLOCK
        };
        if libc::fcntl(fd, libc::F_SETFL, flags) < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}
