//! Output capture: the server's stdout and stderr share one pipe, drained continuously into a
//! bounded buffer, so a chatty server never blocks and never fills memory. On Linux one thread
//! drains every server's pipe (see `reactor`); elsewhere, and for the log file of a kept
//! server, a pool thread drains each. Lines are matched for `Ready::log` as they arrive, and
//! whoever waits for readiness is woken.

use std::io::{self, Read};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use regex::Regex;

use crate::pool;

/// How much output is kept: the last this many bytes.
const KEPT_BYTES: usize = 1 << 20;
/// A line longer than this is matched by its first part only.
const LONGEST_LINE: usize = 64 << 10;
/// How many lines an error shows.
pub(crate) const TAIL_LINES: usize = 20;

/// A handle on what a server printed; clones share the buffer.
#[derive(Debug, Clone)]
pub(crate) struct Output {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    state: Mutex<State>,
    changed: Condvar,
    /// The pipe's token with the reactor, when the reactor drains it (0: it does not).
    token: std::sync::atomic::AtomicU64,
}

#[derive(Debug, Default)]
struct State {
    kept: Vec<u8>,
    dropped: u64,
    line: Vec<u8>,
    watch: Option<Regex>,
    matched: Option<Match>,
    closed: bool,
    generation: u64,
}

/// A line that matched the readiness regex.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Match {
    /// The port read from the named group `port`, when there is one.
    pub(crate) port: Option<u16>,
}

/// Where a server's output comes from.
pub(crate) enum Source {
    /// The pipe its stdout and stderr share.
    Pipe(io::PipeReader),
    /// The log file of a kept server, read as it grows.
    Log(Follow),
}

impl Output {
    /// Starts draining `source`; `watch` is the readiness regex, if any.
    pub(crate) fn capture(source: Source, watch: Option<Regex>) -> io::Result<Output> {
        let output = Output {
            shared: Arc::new(Shared {
                state: Mutex::new(State {
                    watch,
                    ..State::default()
                }),
                changed: Condvar::new(),
                token: std::sync::atomic::AtomicU64::new(0),
            }),
        };
        let drain = output.clone();
        match source {
            Source::Pipe(pipe) => {
                #[cfg(target_os = "linux")]
                let pipe = match crate::reactor::drain(pipe, &output) {
                    Ok(token) => {
                        output
                            .shared
                            .token
                            .store(token, std::sync::atomic::Ordering::Relaxed);
                        return Ok(output);
                    }
                    Err(pipe) => pipe,
                };
                pool::run(move || drain.drain(pipe))?;
            }
            Source::Log(file) => pool::run(move || drain.drain(file))?,
        }
        Ok(output)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A poisoned lock only means a panic elsewhere; the bytes are still good.
        self.shared
            .state
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    /// Drains a blocking reader on this thread until it ends.
    fn drain(&self, mut pipe: impl Read) {
        let mut chunk = vec![0; 64 << 10];
        loop {
            match pipe.read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => self.feed(&chunk[..n]),
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            }
        }
        self.close();
    }

    /// Takes bytes the server wrote.
    pub(crate) fn feed(&self, bytes: &[u8]) {
        self.lock().push(bytes);
        self.shared.changed.notify_all();
    }

    /// Marks the end of the output: every writer has closed the pipe.
    pub(crate) fn close(&self) {
        let mut state = self.lock();
        state.finish_line();
        state.closed = true;
        state.generation += 1;
        drop(state);
        self.shared.changed.notify_all();
    }

    /// Everything kept so far, as text: on Linux, everything the server had written to the
    /// pipe when this was called.
    pub(crate) fn text(&self) -> String {
        self.catch_up();
        let state = self.lock();
        let mut text = String::new();
        if state.dropped > 0 {
            text.push_str(&format!(
                "[with-server: {} earlier bytes of output were not kept]\n",
                state.dropped
            ));
        }
        text.push_str(&String::from_utf8_lossy(&state.kept));
        text
    }

    /// Reads what the pipe holds on this thread, when the reactor drains it.
    fn catch_up(&self) {
        #[cfg(target_os = "linux")]
        match self.shared.token.load(std::sync::atomic::Ordering::Relaxed) {
            0 => {}
            token => crate::reactor::catch_up(token),
        }
    }

    /// The last `TAIL_LINES` lines, each cut to a readable length.
    pub(crate) fn tail(&self) -> String {
        let state = self.lock();
        let text = String::from_utf8_lossy(&state.kept);
        let lines: Vec<&str> = text.lines().collect();
        let start = lines.len().saturating_sub(TAIL_LINES);
        lines[start..]
            .iter()
            .map(|line| {
                if line.chars().count() > 300 {
                    let cut: String = line.chars().take(300).collect();
                    format!("{cut}…")
                } else {
                    (*line).to_string()
                }
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The line that matched the readiness regex, if one has.
    pub(crate) fn matched(&self) -> Option<Match> {
        self.lock().matched.clone()
    }

    /// A counter that moves whenever output arrives.
    pub(crate) fn generation(&self) -> u64 {
        self.lock().generation
    }

    /// Waits until output arrives after `seen` (a `generation`), or `until`. Once the pipe
    /// has closed nothing can arrive, so it waits until `until`.
    pub(crate) fn wait_past(&self, seen: u64, until: Instant) {
        self.wait_while(until, |state| state.generation == seen || state.closed);
    }

    /// Waits, until `until` at most, for the pipe to close: every process that shares it (the
    /// server's group, unless one redirected its output) has exited.
    pub(crate) fn wait_closed(&self, until: Instant) {
        self.catch_up();
        self.wait_while(until, |state| !state.closed);
    }

    /// Waits while `waiting` holds, until `until` at most.
    fn wait_while(&self, until: Instant, waiting: impl Fn(&State) -> bool) {
        let mut state = self.lock();
        while waiting(&state) {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            state = match self.shared.changed.wait_timeout(state, left) {
                Ok((state, _)) => state,
                Err(poison) => poison.into_inner().0,
            };
        }
    }
}

impl State {
    fn push(&mut self, bytes: &[u8]) {
        self.generation += 1;
        self.kept.extend_from_slice(bytes);
        if self.kept.len() > 2 * KEPT_BYTES {
            // Cut at a line boundary so what is kept starts with a whole line.
            let excess = self.kept.len() - KEPT_BYTES;
            let cut = self.kept[excess..]
                .iter()
                .position(|&b| b == b'\n')
                .map_or(excess, |at| excess + at + 1);
            self.kept.drain(..cut);
            self.dropped += cut as u64;
        }
        if self.watch.is_none() {
            return;
        }
        for &byte in bytes {
            if byte == b'\n' {
                self.finish_line();
                if self.watch.is_none() {
                    return;
                }
            } else if self.line.len() < LONGEST_LINE {
                self.line.push(byte);
            }
        }
    }

    fn finish_line(&mut self) {
        let line = std::mem::take(&mut self.line);
        let Some(watch) = &self.watch else {
            return;
        };
        let text = String::from_utf8_lossy(&line);
        let text = text.strip_suffix('\r').unwrap_or(&text);
        if let Some(captures) = watch.captures(text) {
            let port = captures
                .name("port")
                .and_then(|port| port.as_str().parse().ok());
            self.matched = Some(Match { port });
            // Once ready, lines are only kept, not matched.
            self.watch = None;
        } else {
            self.line = line;
            self.line.clear();
        }
    }
}

/// Reads a log file as it grows, for a server kept running after its test: its output goes to
/// a file rather than a pipe, since a pipe would break (SIGPIPE) when this process exits.
#[derive(Debug)]
pub(crate) struct Follow(pub(crate) std::fs::File);

impl Read for Follow {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.0.read(buf)? {
                0 => std::thread::sleep(Duration::from_millis(5)),
                n => return Ok(n),
            }
        }
    }
}
