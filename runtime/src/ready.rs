//! Readiness: what tells that a server is ready, and the probes that ask.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::time::Duration;

use regex::Regex;

use crate::port::connect;

/// When a server counts as ready.
///
/// ```
/// use with_server::Ready;
///
/// let tcp = Ready::tcp();                                   // a TCP connect succeeds (the default)
/// let http = Ready::http("/health");                        // GET /health answers 2xx
/// let no_content = Ready::http("/health").status(204);      // ... answers exactly 204
/// let log = Ready::log(r"listening on .*:(?P<port>\d+)");  // a line of output matches
/// ```
#[derive(Debug, Clone)]
pub struct Ready {
    pub(crate) probe: Probe,
}

#[derive(Debug, Clone)]
pub(crate) enum Probe {
    Tcp,
    Http { path: String, status: Option<u16> },
    Log(Result<Regex, String>),
}

impl Ready {
    /// Ready when a TCP connection to the server's address succeeds.
    ///
    /// On Linux, when the kernel shows that the server (or one of its descendants) listens on
    /// that address, a connection would succeed, and none is made: the server sees no
    /// connection from the probe. Otherwise (other platforms, a listener the kernel does not
    /// show or cannot trace to the server) the probe connects.
    pub fn tcp() -> Ready {
        Ready { probe: Probe::Tcp }
    }

    /// Ready when `GET <base url><path>` answers with a 2xx status (see [`Ready::status`] for
    /// an exact one). A refused or reset connection means "not yet", never a failure.
    pub fn http(path: impl Into<String>) -> Ready {
        let mut path = path.into();
        if !path.starts_with('/') {
            path.insert(0, '/');
        }
        Ready {
            probe: Probe::Http { path, status: None },
        }
    }

    /// Requires exactly this HTTP status instead of any 2xx; only meaningful after
    /// [`Ready::http`], ignored on other probes.
    #[must_use]
    pub fn status(self, status: u16) -> Ready {
        match self.probe {
            Probe::Http { path, .. } => Ready {
                probe: Probe::Http {
                    path,
                    status: Some(status),
                },
            },
            probe => Ready { probe },
        }
    }

    /// Ready when a line of the server's stdout or stderr matches `regex` (a search within
    /// the line). With a named group `port` and port 0, the server is asked to pick its own
    /// port (`{port}` and `PORT` are `0`) and the port is read from that group.
    ///
    /// An invalid regex is reported by `start` as [`Error::Config`](crate::Error::Config).
    pub fn log(regex: &str) -> Ready {
        Ready {
            probe: Probe::Log(Regex::new(regex).map_err(|err| err.to_string())),
        }
    }

    /// Whether the server reports its own port through a `port` group.
    pub(crate) fn reads_port(&self) -> bool {
        matches!(&self.probe, Probe::Log(Ok(regex)) if regex.capture_names().flatten().any(|name| name == "port"))
    }
}

impl Default for Ready {
    fn default() -> Ready {
        Ready::tcp()
    }
}

impl fmt::Display for Ready {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.probe {
            Probe::Tcp => write!(f, "a TCP connection"),
            Probe::Http { path, status: None } => write!(f, "GET {path} to answer 2xx"),
            Probe::Http {
                path,
                status: Some(status),
            } => write!(f, "GET {path} to answer {status}"),
            Probe::Log(Ok(regex)) => write!(f, "an output line to match /{regex}/"),
            Probe::Log(Err(_)) => write!(f, "an output line to match an invalid regex"),
        }
    }
}

/// What one probe saw.
#[derive(Debug)]
pub(crate) enum Seen {
    Ready,
    NotYet(String),
}

/// Connects once; "refused" and friends mean not yet.
pub(crate) fn tcp(addr: SocketAddr, limit: Duration) -> Seen {
    match connect(addr, limit) {
        Ok(_) => Seen::Ready,
        Err(err) => Seen::NotYet(describe(&err)),
    }
}

/// One `GET`, reading no further than the status line: a probe needs nothing else, and this
/// runs on the waiting thread with no runtime, at the cost of a connect and two syscalls.
pub(crate) fn http(
    addr: SocketAddr,
    authority: &str,
    path: &str,
    want: Option<u16>,
    limit: Duration,
) -> Seen {
    match http_status(addr, authority, path, limit) {
        Ok(status) => {
            let ok = match want {
                Some(want) => status == want,
                None => (200..300).contains(&status),
            };
            if ok {
                Seen::Ready
            } else {
                Seen::NotYet(format!("HTTP status {status}"))
            }
        }
        Err(err) => Seen::NotYet(describe(&err)),
    }
}

/// `authority` is what goes in the `Host` header: `host:port`, an IPv6 host in brackets.
fn http_status(addr: SocketAddr, authority: &str, path: &str, limit: Duration) -> io::Result<u16> {
    let mut stream = connect(addr, limit)?;
    stream.set_read_timeout(Some(limit))?;
    stream.set_write_timeout(Some(limit))?;
    stream.set_nodelay(true)?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {authority}\r\nUser-Agent: with-server\r\nAccept: */*\r\nConnection: close\r\n\r\n"
    )?;
    let mut head = Vec::with_capacity(256);
    let mut chunk = [0; 256];
    while !head.contains(&b'\n') && head.len() < 4096 {
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the connection closed before an HTTP status line",
            ));
        }
        head.extend_from_slice(&chunk[..n]);
    }
    let line = String::from_utf8_lossy(&head);
    let status = line
        .strip_prefix("HTTP/")
        .and_then(|rest| rest.split_whitespace().nth(1))
        .and_then(|code| code.parse().ok());
    status.ok_or_else(|| {
        let first = line.lines().next().unwrap_or_default();
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("an answer that is not HTTP: {first:?}"),
        )
    })
}

fn describe(err: &io::Error) -> String {
    match err.kind() {
        io::ErrorKind::ConnectionRefused => "connection refused".to_string(),
        io::ErrorKind::ConnectionReset => "connection reset".to_string(),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => "no answer in time".to_string(),
        _ => err.to_string(),
    }
}
