//! A running server: its address, its output, and the stop that always happens.

use std::io;
use std::net::SocketAddr;
use std::process::ExitStatus;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::output::Output;

/// How long `stop().await` waits for the exit on the async thread before it hands the wait
/// to a blocking thread.
const STOP_INLINE: Duration = Duration::from_millis(2);

use crate::port::PortLease;
use crate::spawn::Leader;
use crate::{Error, Logs, ServerBuilder, Url, pool, process, report, watchdog};

/// A server started for a test; stopped, with everything it spawned, when dropped.
///
/// ```no_run
/// # async fn demo() -> Result<(), with_server::Error> {
/// use with_server::{Ready, Server};
///
/// let server = Server::builder("python3 -m http.server {port} --bind 127.0.0.1")
///     .ready(Ready::http("/"))
///     .start()
///     .await?;
/// assert!(server.base_url().starts_with("http://127.0.0.1:"));
/// let status = server.stop().await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Server {
    pub(crate) command: String,
    pub(crate) name: Option<String>,
    pub(crate) host: String,
    pub(crate) addr: SocketAddr,
    pub(crate) base_url: String,
    pub(crate) url: Url,
    pub(crate) child: Option<Leader>,
    pub(crate) output: Output,
    pub(crate) grace: Duration,
    pub(crate) logs: Logs,
    pub(crate) marker: String,
    pub(crate) keep: bool,
    pub(crate) failed: AtomicBool,
    pub(crate) pid: u32,
    // Released only after the process and its descendants are gone.
    pub(crate) lease: Option<PortLease>,
    pub(crate) tmp: Option<TempDir>,
}

impl Server {
    /// A builder for a server run by `cmdline`.
    ///
    /// The line is split into words as a POSIX shell splits them (quotes and backslashes), then
    /// the placeholders `{port}`, `{host}`, `{url}`, `{tmp}` and those added with
    /// [`ServerBuilder::placeholder`] are filled in each word, so a value with spaces never
    /// splits a word. `{{` and `}}` stand for literal braces. No shell runs unless the line
    /// names one (`sh -c '...'`).
    pub fn builder(cmdline: impl Into<String>) -> ServerBuilder {
        ServerBuilder::new(cmdline.into())
    }

    /// The base URL, `http://HOST:PORT`, without a trailing slash.
    ///
    /// ```no_run
    /// # fn demo(server: &with_server::Server) {
    /// assert_eq!(server.base_url(), format!("http://127.0.0.1:{}", server.port()));
    /// # }
    /// ```
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The base URL joined with `path` (a `/` is added between them when `path` lacks it).
    ///
    /// ```no_run
    /// # fn demo(server: &with_server::Server) {
    /// let health = server.url("/health"); // "http://127.0.0.1:PORT/health"
    /// # }
    /// ```
    pub fn url(&self, path: &str) -> String {
        if path.starts_with('/') || path.is_empty() {
            format!("{}{path}", self.base_url)
        } else {
            format!("{}/{path}", self.base_url)
        }
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The host the server is reached at, as configured (`127.0.0.1` by default).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The socket address the probes used.
    ///
    /// ```no_run
    /// # fn demo(server: &with_server::Server) -> std::io::Result<()> {
    /// let stream = std::net::TcpStream::connect(server.addr())?;
    /// # Ok(()) }
    /// ```
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The process id of the server (the leader of its process group).
    ///
    /// ```no_run
    /// # fn demo(server: &with_server::Server) {
    /// assert!(std::path::Path::new(&format!("/proc/{}", server.pid())).exists());
    /// # }
    /// ```
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The name given with [`ServerBuilder::name`], if any.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The command line that runs, placeholders filled.
    pub fn command(&self) -> &str {
        &self.command
    }

    /// What the server wrote to stdout and stderr so far, in the order it arrived (the last
    /// MiB of it; earlier bytes are counted, not kept). On Linux that is everything it had
    /// written when this is called: a line logged before an answer is there once the answer is.
    ///
    /// ```no_run
    /// # fn demo(server: &with_server::Server) {
    /// assert!(server.output().contains("Serving HTTP"));
    /// # }
    /// ```
    pub fn output(&self) -> String {
        self.output.text()
    }

    /// Stops the server gracefully (see [`Server::stop_blocking`]) without blocking the async
    /// runtime, and returns how its process exited.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if waiting for the process failed.
    ///
    /// ```no_run
    /// # async fn demo(server: with_server::Server) -> Result<(), with_server::Error> {
    /// let status = server.stop().await?;
    /// println!("the server ended with {status}");
    /// # Ok(()) }
    /// ```
    pub async fn stop(self) -> Result<ExitStatus, Error> {
        let Some(until) = self.request_stop() else {
            return self.finish(Instant::now());
        };
        // Most servers exit within a millisecond of SIGTERM: waiting that long here spares the
        // common case a trip to a blocking thread and back.
        let exited = self.child.as_ref().is_some_and(|child| {
            process::wait_exit(child, until.min(process::deadline(STOP_INLINE)))
        });
        match tokio::runtime::Handle::try_current() {
            Ok(handle) if !exited => {
                match handle.spawn_blocking(move || self.finish(until)).await {
                    Ok(result) => result,
                    Err(join) => std::panic::resume_unwind(join.into_panic()),
                }
            }
            _ => self.finish(until),
        }
    }

    /// Stops the server: SIGTERM to its process group, up to the grace period for it to exit,
    /// SIGKILL to whatever is left, then reaps it. Dropping a `Server` does the same.
    ///
    /// ```no_run
    /// # fn demo(server: with_server::Server) -> Result<(), with_server::Error> {
    /// let status = server.stop_blocking()?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if waiting for the process failed.
    pub fn stop_blocking(self) -> Result<ExitStatus, Error> {
        let until = self.request_stop().unwrap_or_else(Instant::now);
        self.finish(until)
    }

    fn finish(mut self, until: Instant) -> Result<ExitStatus, Error> {
        let status = self.finish_stop(until);
        self.report();
        status.map_err(|source| Error::Io {
            command: self.command.clone(),
            action: "stopping the server",
            source,
        })
    }

    /// Marks the test as failed, so that `Logs::OnFailure` prints the output at the stop.
    pub(crate) fn mark_failed(&self) {
        self.failed.store(true, Ordering::Relaxed);
    }

    /// Stops the process group, reaps the leader and removes `{tmp}`.
    pub(crate) fn shutdown(&mut self) -> io::Result<ExitStatus> {
        let until = self.request_stop().unwrap_or_else(Instant::now);
        self.finish_stop(until)
    }

    /// SIGTERM to the group; when to SIGKILL it. `None` when already stopped.
    fn request_stop(&self) -> Option<Instant> {
        let child = self.child.as_ref()?;
        Some(process::request_stop(child, self.grace))
    }

    /// Waits until `until`, SIGKILLs the group, reaps the leader and removes `{tmp}`.
    /// Descendants that left the group are swept on a background thread, which holds the port
    /// until done, so the next server on that port cannot meet them.
    fn finish_stop(&mut self, until: Instant) -> io::Result<ExitStatus> {
        let Some(mut child) = self.child.take() else {
            return Err(io::Error::other("the server was already stopped"));
        };
        // The grace period is the group's, not only the leader's: a shell wrapper exits at
        // once, while the server below it is still cleaning up. Every member shares the output
        // pipe, which closes when the last one has exited. (A kept server writes to a file,
        // which never closes.)
        let exited = process::wait_exit(&child, until);
        if exited && !self.keep {
            self.output.wait_closed(until);
        }
        let status = process::kill_and_reap(&mut child);
        // Removed here, not in the background: a test binary may exit right after the test,
        // and nothing would remove the folder then.
        drop(self.tmp.take());
        let (marker, leader, lease) = (self.marker.clone(), self.pid, self.lease.take());
        let sweep = process::Sweep::after(leader);
        let small = sweep.is_small();
        let finish = move || {
            sweep.run(&marker, leader);
            // Should this process exit before this point, the watchdog sweeps instead.
            watchdog::release(leader);
            drop(lease);
        };
        if small {
            finish();
        } else {
            pool::run_or_inline(finish);
        }
        status
    }

    fn report(&self) {
        let failed = self.failed.load(Ordering::Relaxed) || std::thread::panicking();
        if self.logs.prints(failed) {
            report::print(&self.title(), &self.output.text());
        }
    }

    fn title(&self) -> String {
        let name = self
            .name
            .as_ref()
            .map(|n| format!("{n}: "))
            .unwrap_or_default();
        format!(
            "{name}`{}` (pid {}, {})",
            self.command,
            self.pid(),
            self.base_url
        )
    }

    /// Leaves the process running and unguarded, for `WITH_SERVER_KEEP`.
    fn keep_running(&mut self) {
        let tmp = self
            .tmp
            .take()
            .map(|tmp| format!(", its {{tmp}} stays at {}", tmp.keep().display()))
            .unwrap_or_default();
        eprintln!(
            "with-server: WITH_SERVER_KEEP is set, so {} keeps running{tmp}; stop it with `kill -TERM -{}`",
            self.title(),
            self.pid()
        );
        // Forgotten, not dropped: the process stays running and unreaped.
        self.child = None;
        process::untrack(self.pid);
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.child.is_none() {
            return;
        }
        if self.keep {
            self.keep_running();
            return;
        }
        // Errors cannot leave a destructor; the group was signalled either way.
        let _ = self.shutdown();
        self.report();
    }
}
