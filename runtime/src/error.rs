//! The one error type, carrying what a user needs to fix the cause: the command, the address,
//! what was tried and the server's last output lines.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitStatus;
use std::time::Duration;

/// Everything that can go wrong while starting or stopping a server.
///
/// `Display` gives a message that stands on its own: the command, the address it was given,
/// what was tried, and (where the server ran) its last lines of output.
///
/// ```
/// use with_server::{Error, Server};
///
/// let error = Server::builder("sh -c 'echo cannot open config >&2; exit 3'")
///     .start_blocking()
///     .unwrap_err();
/// assert!(matches!(error, Error::ExitedEarly { .. }));
/// let message = error.to_string();
/// assert!(message.contains("exited before it was ready (exit status: 3)"));
/// assert!(message.contains("| cannot open config"));
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The configuration cannot work: an empty command, an unbalanced quote, an unknown
    /// placeholder, a bad regex, a host that does not resolve.
    Config {
        /// The command line as written.
        command: String,
        /// What is wrong, and what is allowed.
        problem: String,
    },
    /// The working directory does not exist or is not a directory.
    Cwd {
        /// The command line, placeholders filled.
        command: String,
        /// The directory that was asked for.
        cwd: PathBuf,
    },
    /// The program could not be started (not found, not executable, ...).
    Spawn {
        /// The command line, placeholders filled.
        command: String,
        /// The program: the first word of the command line.
        program: String,
        /// The working directory it was started in.
        cwd: PathBuf,
        /// What the operating system said.
        source: io::Error,
    },
    /// A fixed port already has a listener that this crate did not start, so readiness could
    /// be satisfied by somebody else's server.
    PortInUse {
        /// The command line, placeholders filled.
        command: String,
        /// The address that already answers.
        addr: SocketAddr,
    },
    /// A fixed port stayed held by another server started by with-server (another test, in
    /// this process or another) for the whole wait.
    PortHeld {
        /// The command line as written.
        command: String,
        /// The fixed port.
        port: u16,
        /// How long it was waited for.
        waited: Duration,
    },
    /// The server exited before it was ready.
    ExitedEarly {
        /// The command line, placeholders filled.
        command: String,
        /// The address it was given.
        addr: SocketAddr,
        /// How it exited.
        status: ExitStatus,
        /// What readiness was waiting for.
        probe: Box<str>,
        /// How many times it was started (more than one when a picked port was lost to
        /// another process and the server was started again on a new one).
        attempts: u32,
        /// The last lines of its output.
        output: Box<str>,
    },
    /// The server did not become ready within the timeout; it has been stopped.
    Timeout {
        /// The command line, placeholders filled.
        command: String,
        /// The address it was given.
        addr: SocketAddr,
        /// The readiness deadline.
        timeout: Duration,
        /// What readiness was waiting for.
        probe: Box<str>,
        /// What the last probe saw, or what the kernel showed on the port when no probe had
        /// gone out yet.
        last_seen: Box<str>,
        /// The last lines of its output.
        output: Box<str>,
    },
    /// Until the timeout, the readiness probe was answered only by a socket that belongs to no
    /// process of the server; the server has been stopped.
    NotOurs {
        /// The command line, placeholders filled.
        command: String,
        /// The address that answered.
        addr: SocketAddr,
        /// The readiness deadline.
        timeout: Duration,
        /// The last lines of the server's output.
        output: Box<str>,
    },
    /// An operating-system call failed while managing the server.
    Io {
        /// The command line, placeholders filled.
        command: String,
        /// What was being done.
        action: &'static str,
        /// What the operating system said.
        source: io::Error,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Config { command, problem } => {
                write!(f, "cannot start server `{command}`: {problem}")
            }
            Error::Cwd { command, cwd } => write!(
                f,
                "cannot start server `{command}`: working directory `{}` does not exist or is not a directory",
                cwd.display()
            ),
            Error::Spawn {
                command,
                program,
                cwd,
                source,
            } => {
                let hint = match source.kind() {
                    // The file is there, so what is missing is the interpreter its `#!` line
                    // names (or that line ends in a carriage return).
                    io::ErrorKind::NotFound if cwd.join(program).is_file() => format!(
                        ": `{program}` exists, but the interpreter its `#!` line names was not \
                         found (a line that ends in a Windows carriage return does that too)"
                    ),
                    io::ErrorKind::NotFound => {
                        format!(": `{program}` was not found (not on PATH, nor a path that exists)")
                    }
                    io::ErrorKind::PermissionDenied => {
                        format!(": `{program}` is not executable (permission denied)")
                    }
                    _ => format!(": {source}"),
                };
                write!(
                    f,
                    "cannot start server `{command}` in `{}`{hint}",
                    cwd.display()
                )
            }
            Error::PortInUse { command, addr } => write!(
                f,
                "cannot start server `{command}`: port {} is already in use — something that \
                 with-server did not start listens on {addr}, so readiness could be answered by \
                 it; stop that process or use port 0 to get a free port",
                addr.port()
            ),
            Error::PortHeld {
                command,
                port,
                waited,
            } => write!(
                f,
                "cannot start server `{command}`: port {port} stayed held by another server of \
                 with-server (another test) for {waited:?}; tests that name the same fixed port \
                 run one at a time, so one of them runs very long or hangs"
            ),
            Error::ExitedEarly {
                command,
                addr,
                status,
                probe,
                attempts,
                output,
            } => {
                write!(
                    f,
                    "server `{command}` exited before it was ready ({status}) while waiting for {probe} on {addr}"
                )?;
                if *attempts > 1 {
                    write!(
                        f,
                        "; started {attempts} times, losing its picked port to another process each time"
                    )?;
                }
                write_output(f, output)
            }
            Error::Timeout {
                command,
                addr,
                timeout,
                probe,
                last_seen,
                output,
            } => {
                write!(
                    f,
                    "server `{command}` was not ready after {timeout:?}: waited for {probe} on {addr}, \
                     last saw {last_seen}; the server was stopped"
                )?;
                write_output(f, output)
            }
            Error::NotOurs {
                command,
                addr,
                timeout,
                output,
            } => {
                write!(
                    f,
                    "server `{command}` was not ready after {timeout:?}: what answered on {addr} was \
                     a socket held by another process, not by the server nor any of its \
                     descendants (is the port used by something else, or does the server hand \
                     its socket to a process it does not start?); the server was stopped"
                )?;
                write_output(f, output)
            }
            Error::Io {
                command,
                action,
                source,
            } => write!(f, "server `{command}`: {action} failed: {source}"),
        }
    }
}

fn write_output(f: &mut fmt::Formatter<'_>, output: &str) -> fmt::Result {
    if output.trim().is_empty() {
        return write!(f, "\nthe server printed nothing");
    }
    write!(f, "\nlast lines of its output:")?;
    for line in output.lines() {
        write!(f, "\n  | {line}")?;
    }
    Ok(())
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Spawn { source, .. } | Error::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}
