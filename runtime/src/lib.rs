//! A real server for each integration test, in one line.
//!
//! `#[with_server]` on a test starts a fresh process for that test, waits until it is ready
//! (by polling or watching its output, never a fixed sleep), hands the test its base URL, and
//! stops the process and everything it spawned afterwards: when the test passes, fails or
//! panics, and when the test binary itself is killed.
//!
//! ```no_run
//! use with_server::with_server;
//!
//! #[with_server(cmd = "python3 -m http.server {port} --bind 127.0.0.1", ready = http("/"))]
//! #[tokio::test]
//! async fn lists_files(url: &str) {
//!     let body = reqwest::get(url).await.unwrap().text().await.unwrap();
//!     assert!(body.contains("Directory listing"));
//! }
//! ```
//!
//! The attribute expands to the builder API, which can also be called directly, from sync or
//! async code:
//!
//! ```
//! use std::time::Duration;
//! use with_server::{Ready, Server};
//!
//! # fn main() -> Result<(), with_server::Error> {
//! let server = Server::builder("python3 -m http.server {port} --bind 127.0.0.1")
//!     .ready(Ready::http("/"))
//!     .timeout(Duration::from_secs(10))
//!     .start_blocking()?;
//! assert_eq!(server.base_url(), format!("http://127.0.0.1:{}", server.port()));
//! server.stop_blocking()?; // or just drop it
//! # Ok(()) }
//! ```
//!
//! # How it works
//!
//! - The command line is split into words like a POSIX shell splits them, then placeholders
//!   (`{port}`, `{host}`, `{url}`, `{tmp}`, ...) are filled in each word. `PORT` is exported.
//! - Port 0 (the default) picks a free port, leased through a lock file so no other server of
//!   this or another process picks it too; a fixed port is held by one server at a time.
//! - The server leads a process group of its own; stopping sends SIGTERM to the group, waits
//!   up to the grace period, SIGKILLs the group and reaps. Descendants that left the group
//!   with `setsid()` are found by an environment marker and stopped too.
//! - A watchdog process (one `sh` per process that starts servers) stops every server if that
//!   process dies, even by SIGKILL.
//! - Output (stdout and stderr) is drained continuously into a bounded buffer and printed
//!   from the test's thread when the test fails.
//!
//! The person running the tests can set `WITH_SERVER_LOGS=always` to print every server's
//! output, and `WITH_SERVER_KEEP=1` to leave servers running after their test.
//!
//! # Platforms
//!
//! Linux is the reference. macOS works (process groups; the environment-marker sweep needs
//! `/proc` and is skipped there). Windows is not supported yet: the crate does not compile
//! there, with a message saying so.
#![warn(missing_docs)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

#[cfg(not(unix))]
compile_error!(
    "with-server supports Unix (Linux, macOS) only for now: it relies on process groups; \
     Windows support through Job Objects is planned"
);

mod builder;
mod cmdline;
mod error;
mod inject;
mod output;
mod owner;
mod pool;
mod port;
mod process;
#[cfg(target_os = "linux")]
mod reactor;
mod ready;
mod report;
mod server;
mod spawn;
mod watchdog;

pub use builder::ServerBuilder;
pub use error::Error;
pub use inject::FromServer;
pub use ready::Ready;
pub use report::Logs;
pub use server::Server;
/// The URL type injected by `#[with_server]` (the same type as `reqwest::Url`).
pub use url::Url;
pub use with_server_macros::with_server;

/// What `#[with_server]` expands to; not a public API.
#[doc(hidden)]
pub mod __private {
    #![allow(clippy::panic, missing_docs)]

    use crate::Server;

    pub use tokio;

    /// The started server, or a failed test whose message is the error's, reported at the
    /// test's `#[with_server]` attribute.
    #[track_caller]
    pub fn started(result: Result<Server, crate::Error>) -> Server {
        match result {
            Ok(server) => server,
            Err(err) => panic!("{err}"),
        }
    }

    /// Runs an `async fn` test that has no test attribute of its own.
    pub fn block_on<F: core::future::Future>(future: F) -> F::Output {
        match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(runtime) => runtime.block_on(future),
            Err(err) => panic!("with-server: cannot build a tokio runtime for the test: {err}"),
        }
    }

    /// The `{tmp}` folder of a test, shared by its servers; removed when dropped, after them.
    #[derive(Debug)]
    pub struct TestDir(tempfile::TempDir);

    impl TestDir {
        // No `Default`: creating a folder on disk is not a default value.
        #[allow(clippy::new_without_default)]
        pub fn new() -> TestDir {
            match tempfile::Builder::new().prefix("with-server-").tempdir() {
                Ok(dir) => TestDir(dir),
                Err(err) => panic!("with-server: cannot create the test's {{tmp}} folder: {err}"),
            }
        }

        pub fn path(&self) -> String {
            self.0.path().to_string_lossy().into_owned()
        }
    }

    impl Outcome for std::process::ExitCode {
        fn is_failure(&self) -> bool {
            *self != std::process::ExitCode::SUCCESS
        }
    }

    /// Whether a test's return value means it failed.
    pub trait Outcome {
        fn is_failure(&self) -> bool;
    }

    impl Outcome for () {
        fn is_failure(&self) -> bool {
            false
        }
    }

    impl<T, E> Outcome for Result<T, E> {
        fn is_failure(&self) -> bool {
            self.is_err()
        }
    }

    /// After the test body: a failed outcome makes the servers print their output when they
    /// stop (a panic is seen by their `Drop`).
    pub fn finish<O: Outcome>(servers: &[&Server], outcome: &O) {
        if outcome.is_failure() {
            for server in servers {
                server.mark_failed();
            }
        }
    }
}
