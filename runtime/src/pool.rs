//! Background threads that are reused: a new thread costs more than the rest of a start, so
//! threads that finished a job (sweeping after a stop, draining output where there is no epoll)
//! wait a while for the next one.

use std::collections::VecDeque;
use std::io;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Duration;

type Job = Box<dyn FnOnce() + Send>;

/// How long an idle thread waits for a job before it exits.
const IDLE: Duration = Duration::from_secs(10);

struct Pool {
    state: Mutex<State>,
    wake: Condvar,
}

/// Every waiting thread is either counted in `idle` or reserved by a job in `queue`.
struct State {
    queue: VecDeque<Job>,
    idle: usize,
}

static POOL: Pool = Pool {
    state: Mutex::new(State {
        queue: VecDeque::new(),
        idle: 0,
    }),
    wake: Condvar::new(),
};

fn lock() -> MutexGuard<'static, State> {
    POOL.state
        .lock()
        .unwrap_or_else(|poison| poison.into_inner())
}

/// Runs `job` on an idle thread, or on a new one when none is idle; on this thread when no
/// thread can be started.
pub(crate) fn run_or_inline(job: impl FnOnce() + Send + 'static) {
    let job = std::sync::Arc::new(Mutex::new(Some(job)));
    let theirs = job.clone();
    let started = run(move || {
        if let Some(job) = theirs.lock().ok().and_then(|mut job| job.take()) {
            job();
        }
    });
    if started.is_err()
        && let Some(job) = job.lock().ok().and_then(|mut job| job.take())
    {
        job();
    }
}

/// Runs `job` on an idle thread, or on a new one when none is idle.
pub(crate) fn run(job: impl FnOnce() + Send + 'static) -> io::Result<()> {
    let mut state = lock();
    if state.idle > 0 {
        state.idle -= 1;
        state.queue.push_back(Box::new(job));
        drop(state);
        POOL.wake.notify_one();
        return Ok(());
    }
    drop(state);
    std::thread::Builder::new()
        .name("with-server".into())
        .spawn(move || {
            job();
            work();
        })
        .map(drop)
}

fn work() {
    let mut state = lock();
    state.idle += 1;
    loop {
        if let Some(job) = state.queue.pop_front() {
            drop(state);
            job();
            state = lock();
            state.idle += 1;
            continue;
        }
        let (next, waited) = POOL
            .wake
            .wait_timeout(state, IDLE)
            .unwrap_or_else(|poison| poison.into_inner());
        state = next;
        if waited.timed_out() && state.queue.is_empty() {
            state.idle -= 1;
            return;
        }
    }
}
