//! Starting a server: the plan (parsed once), then up to three launches (a picked port that
//! another process grabbed before the server bound it is replaced by a new one).

use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::cmdline::{self, CommandLine, Template, Values};
use crate::output::{Follow, Output, Source};
use crate::port::{self, FixedPortError, PortLease};
use crate::ready::{self, Probe, Seen};
use crate::spawn::{self, Launch};
use crate::{Error, Logs, Ready, Server, Url, owner, process, report, watchdog};

/// How many times a server on a picked port is started: once, and again up to three times
/// when it loses its port to another process between the pick and its own bind.
const LAUNCHES: u32 = 4;
/// How long a server waits for a fixed port that another server holds, at least.
const FIXED_PORT_WAIT: Duration = Duration::from_secs(600);
/// Readiness is polled every `FASTEST_POLL` during the first `FAST_PHASE` (where small servers
/// get ready), then slows down to `SLOWEST_POLL`; output from the server wakes the poll at once
/// (servers tend to print as they start listening). A poll first asks the kernel whether
/// anything listens on the port yet, which costs a third of a refused connect, and probes only
/// then (a `tcp` probe not even then, when the listener is the server's). Polling more often
/// was measured to be slower: the wake-ups take CPU time from the server that is starting.
const FASTEST_POLL: Duration = Duration::from_micros(200);
const FAST_PHASE: Duration = Duration::from_millis(20);
const SLOWEST_POLL: Duration = Duration::from_millis(1);
/// How long a wait goes without a probe while the kernel shows nothing listening on the port, at
/// first: a listener in another network namespace, or behind a forwarded port, is not shown.
/// After that the gap grows with the wait (see `probe_due`): each such probe races the server's
/// own `listen`, and one that wins is a connection the server sees although the kernel would
/// have shown its listener a moment later. The gap stops growing at `UNSEEN_PROBE_MAX`.
const UNSEEN_PROBE: Duration = Duration::from_millis(1);
const UNSEEN_PROBE_MAX: Duration = Duration::from_millis(16);
/// How long `start().await` waits for readiness on the async thread before it hands the wait
/// to a blocking thread.
const START_INLINE: Duration = Duration::from_millis(2);
/// What a probe saw when a process other than the server answered.
const FOREIGN: &str = "a listener held by another process";
/// What a timeout reports when the kernel showed nothing listening and no probe went out.
const NOTHING_LISTENING: &str = "nothing listening on the port";

/// Configures and starts a [`Server`]; made by [`Server::builder`].
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until `start` or `start_blocking`"]
pub struct ServerBuilder {
    cmdline: String,
    port: u16,
    ready: Ready,
    timeout: Duration,
    env: Vec<(String, String)>,
    cwd: Option<PathBuf>,
    host: String,
    grace: Duration,
    logs: Logs,
    name: Option<String>,
    placeholders: HashMap<String, String>,
}

impl ServerBuilder {
    pub(crate) fn new(cmdline: String) -> ServerBuilder {
        ServerBuilder {
            cmdline,
            port: 0,
            ready: Ready::tcp(),
            timeout: Duration::from_secs(30),
            env: Vec::new(),
            cwd: None,
            host: "127.0.0.1".to_string(),
            grace: Duration::from_secs(5),
            logs: Logs::OnFailure,
            name: None,
            placeholders: HashMap::new(),
        }
    }

    /// The port the server listens on; `0` (the default) picks a free one for each start.
    ///
    /// Servers that name the same fixed port run one at a time, also across processes; a
    /// fixed port that something else already listens on is an error before anything starts.
    ///
    /// ```no_run
    /// # fn demo() -> Result<(), with_server::Error> {
    /// let server = with_server::Server::builder("python3 -m http.server {port} --bind 127.0.0.1")
    ///     .port(18080)
    ///     .start_blocking()?;
    /// assert_eq!(server.port(), 18080);
    /// # Ok(()) }
    /// ```
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// When the server counts as ready; [`Ready::tcp`] by default.
    ///
    /// ```no_run
    /// # fn demo() -> Result<(), with_server::Error> {
    /// use with_server::{Ready, Server};
    ///
    /// let server = Server::builder("python3 app.py --port {port}")
    ///     .ready(Ready::http("/health").status(204))
    ///     .start_blocking()?;
    /// # Ok(()) }
    /// ```
    pub fn ready(mut self, ready: Ready) -> Self {
        self.ready = ready;
        self
    }

    /// How long to wait for readiness before stopping the server with [`Error::Timeout`];
    /// 30 s by default.
    ///
    /// ```no_run
    /// # fn demo() -> Result<(), with_server::Error> {
    /// use std::time::Duration;
    ///
    /// match with_server::Server::builder("sleep 100").timeout(Duration::from_millis(200)).start_blocking() {
    ///     Err(with_server::Error::Timeout { last_seen, .. }) => assert_eq!(&*last_seen, "connection refused"),
    ///     other => panic!("{other:?}"),
    /// }
    /// # Ok(()) }
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets an environment variable of the server; placeholders in `value` are filled.
    /// `PORT` is set to the port unless set here. The server gets this process's environment
    /// too, as it is when the server starts; changing that with `std::env::set_var` while
    /// another thread starts a server is not supported (see the safety section of `set_var`).
    ///
    /// ```no_run
    /// # fn demo() -> Result<(), with_server::Error> {
    /// let server = with_server::Server::builder("python3 app.py")
    ///     .env("DATABASE", "{tmp}/app.sqlite") // a fresh folder for this server
    ///     .env("PORT", "{port}")               // the default, spelled out
    ///     .start_blocking()?;
    /// # Ok(()) }
    /// ```
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// The server's working directory (placeholders are filled); this process's by default.
    ///
    /// ```no_run
    /// # fn demo() -> Result<(), with_server::Error> {
    /// let site = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/site");
    /// let server = with_server::Server::builder("python3 -m http.server {port} --bind 127.0.0.1")
    ///     .current_dir(site)
    ///     .start_blocking()?;
    /// # Ok(()) }
    /// ```
    pub fn current_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cwd = Some(dir.into());
        self
    }

    /// The address the server is reached at; `127.0.0.1` by default. A name is resolved once
    /// and probes go to the address it resolved to.
    ///
    /// ```no_run
    /// # fn demo() -> Result<(), with_server::Error> {
    /// let server = with_server::Server::builder("python3 -m http.server {port} --bind ::1")
    ///     .host("::1")
    ///     .start_blocking()?;
    /// assert!(server.base_url().starts_with("http://[::1]:"));
    /// # Ok(()) }
    /// ```
    pub fn host(mut self, host: impl Into<String>) -> Self {
        self.host = host.into();
        self
    }

    /// Time between SIGTERM and SIGKILL when stopping; 5 s by default.
    ///
    /// ```no_run
    /// # fn demo() -> Result<(), with_server::Error> {
    /// use std::time::Duration;
    ///
    /// // A server that ignores SIGTERM is SIGKILLed 200 ms after it.
    /// let server = with_server::Server::builder("my-stubborn-server --port {port}")
    ///     .grace(Duration::from_millis(200))
    ///     .start_blocking()?;
    /// # Ok(()) }
    /// ```
    pub fn grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// When the server's output is printed; [`Logs::OnFailure`] by default.
    ///
    /// ```no_run
    /// # fn demo() -> Result<(), with_server::Error> {
    /// use with_server::{Logs, Server};
    ///
    /// let server = Server::builder("python3 -m http.server {port} --bind 127.0.0.1")
    ///     .logs(Logs::Always)
    ///     .start_blocking()?;
    /// # Ok(()) }
    /// ```
    pub fn logs(mut self, logs: Logs) -> Self {
        self.logs = logs;
        self
    }

    /// A name for the server, shown in messages (the attribute's `name` key).
    ///
    /// ```no_run
    /// # fn demo() -> Result<(), with_server::Error> {
    /// let api = with_server::Server::builder("python3 api.py --port {port}").name("api").start_blocking()?;
    /// assert_eq!(api.name(), Some("api"));
    /// # Ok(()) }
    /// ```
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Adds the placeholder `{name}`, filled with `value` in the command line, environment
    /// values and working directory.
    ///
    /// ```no_run
    /// # fn demo(api: &with_server::Server) {
    /// let frontend = with_server::Server::builder("{frontend} --api {api}")
    ///     .placeholder("frontend", "target/debug/frontend")
    ///     .placeholder("api", api.base_url());
    /// # }
    /// ```
    pub fn placeholder(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.placeholders.insert(name.into(), value.into());
        self
    }

    /// Starts the server and waits until it is ready, without blocking the async runtime for
    /// long: the spawn and the first 2 ms of the wait run on the calling thread (small servers
    /// are ready by then, and a trip to another thread would cost more than the rest of the
    /// start); a longer wait, a fixed port that another test holds, or a host name to resolve
    /// runs on tokio's blocking pool.
    ///
    /// # Errors
    ///
    /// See [`ServerBuilder::start_blocking`].
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), with_server::Error> {
    /// let server = with_server::Server::builder("python3 -m http.server {port} --bind 127.0.0.1")
    ///     .start()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub async fn start(self) -> Result<Server, Error> {
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            return self.start_blocking();
        };
        // A fixed port may have to wait for another test, and a host name for a DNS answer:
        // all of that runs on the blocking pool.
        if self.port != 0 || resolve_literal(&self.host).is_none() {
            return match handle.spawn_blocking(move || self.start_blocking()).await {
                Ok(result) => result,
                Err(join) => std::panic::resume_unwind(join.into_panic()),
            };
        }
        // Most small servers are ready within a couple of milliseconds of the spawn: waiting
        // that long here spares them a trip to a blocking thread and back, which costs more
        // than the rest of the start. A slower server is waited for on the blocking pool.
        let plan = Plan::new(self)?;
        match plan.drive(Start::Launch(1), Some(START_INLINE)) {
            Ok(server) => Ok(server),
            Err(Drive::Failed(err)) => Err(err),
            Err(Drive::Paused(start)) => {
                match handle.spawn_blocking(move || plan.finish(start)).await {
                    Ok(result) => result,
                    Err(join) => std::panic::resume_unwind(join.into_panic()),
                }
            }
        }
    }

    /// Starts the server and blocks until it is ready.
    ///
    /// # Errors
    ///
    /// - [`Error::Config`]: empty command, unbalanced quote, unknown placeholder, invalid log
    ///   regex, a host that does not resolve;
    /// - [`Error::Cwd`], [`Error::Spawn`]: the directory or the program is missing;
    /// - [`Error::PortInUse`]: a fixed port already has a listener this crate did not start;
    /// - [`Error::ExitedEarly`]: the server exited before it was ready;
    /// - [`Error::Timeout`]: it was not ready in time (it has been stopped);
    /// - [`Error::Io`]: an operating-system call failed.
    ///
    /// ```no_run
    /// # fn demo() -> Result<(), with_server::Error> {
    /// let server = with_server::Server::builder("python3 -m http.server {port} --bind 127.0.0.1")
    ///     .start_blocking()?;
    /// # Ok(()) }
    /// ```
    pub fn start_blocking(self) -> Result<Server, Error> {
        let plan = Plan::new(self)?;
        plan.finish(Start::Launch(1))
    }
}

enum Failure {
    /// The server exited while another process held its picked port.
    LostPort(Error),
    Fatal(Error),
}

/// Where a start stands.
enum Start {
    /// The `n`th launch is next.
    Launch(u32),
    /// The `n`th launch is running; it is ready, or has failed, by `deadline`.
    Waiting {
        server: Box<Server>,
        attempt: u32,
        deadline: Instant,
    },
    /// The `n`th launch failed; the server is still to be stopped.
    Failed {
        server: Box<Server>,
        failure: Waited,
        attempt: u32,
    },
}

/// Why a drive returned without a server.
enum Drive {
    Failed(Error),
    /// The time to pause came first; the start goes on from here.
    Paused(Start),
}

/// Everything that does not change from one launch to the next, checked before any launch.
struct Plan {
    builder: ServerBuilder,
    line: CommandLine,
    env: Vec<(String, Template)>,
    cwd: Option<Template>,
    ip: IpAddr,
    uses_tmp: bool,
    keep: bool,
}

impl Plan {
    fn new(builder: ServerBuilder) -> Result<Plan, Error> {
        let config = |problem: String| Error::Config {
            command: builder.cmdline.clone(),
            problem,
        };
        let line = CommandLine::parse(&builder.cmdline).map_err(config)?;
        let env = builder
            .env
            .iter()
            .map(|(key, value)| Ok((key.clone(), Template::parse(value)?)))
            .collect::<Result<Vec<_>, String>>()
            .map_err(config)?;
        let cwd = builder
            .cwd
            .as_ref()
            .map(|dir| Template::parse(&dir.to_string_lossy()))
            .transpose()
            .map_err(config)?;
        if let Probe::Log(Err(err)) = &builder.ready.probe {
            return Err(config(format!("the ready log regex is invalid: {err}")));
        }
        let ip = resolve(&builder.host).map_err(config)?;
        let uses_tmp = line
            .placeholders()
            .chain(env.iter().flat_map(|(_, value)| value.placeholders()))
            .chain(cwd.iter().flat_map(Template::placeholders))
            .any(|name| name == "tmp")
            // `{tmp}` given as a placeholder (one folder for all servers of a test) wins.
            && !builder.placeholders.contains_key("tmp");
        Ok(Plan {
            line,
            env,
            cwd,
            ip,
            uses_tmp,
            keep: report::keep(),
            builder,
        })
    }

    fn config(&self, problem: String) -> Error {
        Error::Config {
            command: self.builder.cmdline.clone(),
            problem,
        }
    }

    /// Whether the server picks its own port and reports it in a log line.
    fn port_from_log(&self) -> bool {
        self.builder.port == 0 && self.builder.ready.reads_port()
    }

    /// Drives the start to its end on this thread.
    fn finish(&self, mut start: Start) -> Result<Server, Error> {
        loop {
            match self.drive(start, None) {
                Ok(server) => return Ok(server),
                Err(Drive::Failed(err)) => return Err(err),
                // Without a pause time a drive does not pause; were it to, it goes on here.
                Err(Drive::Paused(next)) => start = next,
            }
        }
    }

    /// Runs the start from `start` until the server is ready or the start has failed; with
    /// `pause_after`, returns once readiness has been waited for that long, with the start
    /// still running, to be driven on elsewhere.
    fn drive(&self, start: Start, pause_after: Option<Duration>) -> Result<Server, Drive> {
        let (mut server, mut attempt, mut deadline) = match start {
            Start::Launch(attempt) => (None, attempt, None),
            Start::Waiting {
                server,
                attempt,
                deadline,
            } => (Some(server), attempt, Some(deadline)),
            Start::Failed {
                server,
                failure,
                attempt,
            } => return self.retry_or_fail(*server, failure, attempt),
        };
        loop {
            let mut running = match server.take() {
                Some(running) => running,
                None => Box::new(self.launch().map_err(Drive::Failed)?),
            };
            let ready_by = *deadline.get_or_insert_with(|| process::deadline(self.builder.timeout));
            let pause_at = pause_after.map(process::deadline);
            let failure = match self.wait_ready(&mut running, ready_by, pause_at) {
                Ok(Wait::Ready) => return Ok(*running),
                Ok(Wait::Paused) => {
                    return Err(Drive::Paused(Start::Waiting {
                        server: running,
                        attempt,
                        deadline: ready_by,
                    }));
                }
                Err(failure) => failure,
            };
            // Stopping a failed server can take its grace period, and a retry a whole start:
            // neither is for a drive that must pause soon.
            if pause_after.is_some() {
                return Err(Drive::Paused(Start::Failed {
                    server: running,
                    failure,
                    attempt,
                }));
            }
            match self.retry_or_fail(*running, failure, attempt) {
                Err(Drive::Paused(Start::Launch(next))) => {
                    attempt = next;
                    deadline = None;
                }
                other => return other,
            }
        }
    }

    /// Stops a server that failed to get ready: the start goes on with a new launch when it
    /// lost its port and launches are left, else it fails.
    fn retry_or_fail(
        &self,
        server: Server,
        failure: Waited,
        attempt: u32,
    ) -> Result<Server, Drive> {
        match self.after_failure(server, failure, attempt) {
            Failure::LostPort(_) if attempt < LAUNCHES => {
                Err(Drive::Paused(Start::Launch(attempt + 1)))
            }
            Failure::LostPort(err) | Failure::Fatal(err) => Err(Drive::Failed(err)),
        }
    }

    /// Spawns the server, once everything that can fail before the spawn has not.
    fn launch(&self) -> Result<Server, Error> {
        let b = &self.builder;
        let io_error = |action: &'static str| {
            move |source: io::Error| Error::Io {
                command: b.cmdline.clone(),
                action,
                source,
            }
        };
        let lease = if self.port_from_log() {
            None
        } else if b.port == 0 {
            Some(PortLease::pick(self.ip).map_err(io_error("picking a free port"))?)
        } else {
            let wait = b.timeout.max(FIXED_PORT_WAIT);
            let lease = PortLease::fixed(b.port, process::deadline(wait));
            Some(lease.map_err(|err| match err {
                FixedPortError::Io(source) => io_error("locking the port")(source),
                FixedPortError::HeldByThisThread => self.config(format!(
                    "port {} is already used by another server of this test; give each server its own port, or port 0",
                    b.port
                )),
                FixedPortError::StillHeld => Error::PortHeld {
                    command: b.cmdline.clone(),
                    port: b.port,
                    waited: wait,
                },
            })?)
        };
        let port = lease.as_ref().map_or(0, PortLease::port);
        let addr = SocketAddr::new(self.ip, port);
        let tmp = if self.uses_tmp {
            Some(
                tempfile::Builder::new()
                    .prefix("with-server-")
                    .tempdir()
                    .map_err(io_error("creating the {tmp} folder"))?,
            )
        } else {
            None
        };
        let base_url = base_url(&b.host, self.ip, port);
        let mut values = Values {
            custom: Some(&b.placeholders),
            ..Values::default()
        };
        values.builtin.insert("port", port.to_string());
        values.builtin.insert("host", b.host.clone());
        values.builtin.insert("url", base_url.clone());
        if let Some(tmp) = &tmp {
            values
                .builtin
                .insert("tmp", tmp.path().to_string_lossy().into_owned());
        }
        let words = self.line.render(&values).map_err(|p| self.config(p))?;
        let command = cmdline::display(&words);
        let cwd = match &self.cwd {
            Some(cwd) => PathBuf::from(cwd.render(&values).map_err(|p| self.config(p))?),
            None => std::env::current_dir().map_err(io_error("reading the current folder"))?,
        };
        if !cwd.is_dir() {
            return Err(Error::Cwd { command, cwd });
        }
        if b.port != 0 && port::answers(addr) {
            return Err(Error::PortInUse { command, addr });
        }

        let marker = next_marker(self.keep);
        let mut env = Vec::with_capacity(self.env.len() + 2);
        env.push((process::MARKER.to_string(), marker.clone()));
        if !b.env.iter().any(|(key, _)| key == "PORT") {
            env.push(("PORT".to_string(), port.to_string()));
        }
        for (key, value) in &self.env {
            env.push((
                key.clone(),
                value.render(&values).map_err(|p| self.config(p))?,
            ));
        }
        let (reader, writer): (Source, OwnedFd) = if self.keep {
            let log = port::state_dir()
                .map(|dir| dir.join(format!("{marker}.log")))
                .map_err(io_error("creating the log file"))?;
            let file = File::create(&log).map_err(io_error("creating the log file"))?;
            eprintln!(
                "with-server: WITH_SERVER_KEEP is set; the output of `{command}` goes to {}",
                log.display()
            );
            let reader = File::open(&log).map_err(io_error("reading the log file"))?;
            (Source::Log(Follow(reader)), file.into())
        } else {
            let (reader, writer) = io::pipe().map_err(io_error("creating the output pipe"))?;
            watchdog::ensure();
            (Source::Pipe(reader), writer.into())
        };
        // Everything that can fail is done before the spawn: after it, an early return would
        // leave a running server behind.
        let url = Url::parse(&base_url).map_err(|err| self.config(err.to_string()))?;
        let watch = match &b.ready.probe {
            Probe::Log(Ok(regex)) => Some(regex.clone()),
            _ => None,
        };
        let output =
            Output::capture(reader, watch).map_err(io_error("starting the output thread"))?;
        let child = spawn::spawn(&Launch {
            words: &words,
            cwd: &cwd,
            env: &env,
            output: writer.as_fd(),
        });
        // The pipe closes only when the server and everything it spawned have closed their
        // copies of its write end, so this one goes now.
        drop(writer);
        let child = child.map_err(|source| Error::Spawn {
            command: command.clone(),
            program: words[0].clone(),
            cwd: cwd.clone(),
            source,
        })?;
        let pid = child.id();
        process::track(pid);
        if !self.keep {
            watchdog::guard(pid);
        }
        let server = Server {
            url,
            command,
            name: b.name.clone(),
            host: b.host.clone(),
            addr,
            base_url,
            child: Some(child),
            output,
            grace: b.grace,
            logs: b.logs,
            marker,
            keep: self.keep,
            failed: AtomicBool::new(false),
            pid,
            lease,
            tmp,
        };
        Ok(server)
    }

    /// Polls until the server is ready, has failed, or `pause_at` (when given) has come.
    fn wait_ready(
        &self,
        server: &mut Server,
        deadline: Instant,
        pause_at: Option<Instant>,
    ) -> Result<Wait, Waited> {
        let b = &self.builder;
        let started = Instant::now();
        let mut pause = FASTEST_POLL;
        let mut last_seen = String::new();
        // The last probe, or the start of the wait, so that, while the kernel shows nothing
        // listening, the first probe also waits `UNSEEN_PROBE`.
        let mut last_probe = started;
        // A foreign listener is "not yet": the port may be held for a moment by somebody
        // else (tools that find a free port by listening on port 0, say), and the server
        // either gets it afterwards or exits, which is reported with its own words.
        let mut foreign = false;
        loop {
            let generation = server.output.generation();
            // What listens on the port, asked of the kernel (`None`: it cannot say). While
            // nothing does, a probe would only be refused, at several times the cost.
            let listener = match &b.ready.probe {
                Probe::Log(_) => None,
                _ => owner::listener(server.addr).ok(),
            };
            // A listening socket accepts connections: when the kernel shows the server's own,
            // a connect would only confirm it, and the server would see a connection nobody
            // uses.
            if let (Probe::Tcp, Some(Some(found))) = (&b.ready.probe, listener)
                && owner::tree_holds(server.pid(), found) == Some(true)
            {
                return Ok(Wait::Ready);
            }
            if probe_due(listener, started, last_probe, Instant::now()) {
                last_probe = Instant::now();
                // A probe that hangs (a server that accepts but answers late) must not outlast
                // the pause either.
                let limit = pause_at
                    .map_or(deadline, |at| at.min(deadline))
                    .saturating_duration_since(Instant::now())
                    .max(Duration::from_millis(1));
                let seen = match &b.ready.probe {
                    Probe::Tcp => ready::tcp(server.addr, limit),
                    Probe::Http { path, status } => {
                        let authority = server.base_url.trim_start_matches("http://");
                        ready::http(server.addr, authority, path, *status, limit)
                    }
                    Probe::Log(_) => match server.output.matched() {
                        Some(found) => self.take_port(server, found.port)?,
                        None => Seen::NotYet("no matching line".to_string()),
                    },
                };
                foreign = false;
                last_seen = match seen {
                    Seen::Ready if self.answered_by_server(server, listener.flatten()) => {
                        return Ok(Wait::Ready);
                    }
                    Seen::Ready => {
                        foreign = true;
                        FOREIGN.to_string()
                    }
                    Seen::NotYet(what) => what,
                };
            } else if last_seen.is_empty() {
                // No probe went out yet; what the kernel shows is what there is to tell.
                last_seen = NOTHING_LISTENING.to_string();
            }
            if let Some(child) = &server.child
                && process::has_exited(child)
            {
                return Err(Waited::Exited);
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(if foreign {
                    Waited::NotOurs
                } else {
                    Waited::TimedOut(last_seen)
                });
            }
            if pause_at.is_some_and(|at| now >= at) {
                return Ok(Wait::Paused);
            }
            let wake = (now + pause).min(deadline);
            server
                .output
                .wait_past(generation, pause_at.map_or(wake, |at| wake.min(at)));
            if now - started > FAST_PHASE {
                pause = (pause + pause / 4).min(SLOWEST_POLL);
            }
        }
    }

    /// Whether the listener a probe reached is the server's (or one of its descendants'),
    /// where that can be told; `seen` is the listener the kernel showed just before the probe.
    fn answered_by_server(&self, server: &Server, seen: Option<owner::Listener>) -> bool {
        if matches!(self.builder.ready.probe, Probe::Log(_)) {
            return true;
        }
        let owned = match seen {
            Some(listener) => owner::tree_holds(server.pid(), listener),
            None => owner::tree_listens(server.pid(), server.addr),
        };
        owned != Some(false)
    }

    /// With a port read from the log, the server's address is known only now.
    fn take_port(&self, server: &mut Server, found: Option<u16>) -> Result<Seen, Waited> {
        if !self.port_from_log() {
            return Ok(Seen::Ready);
        }
        let Some(port) = found.filter(|&port| port != 0) else {
            return Err(Waited::BadPort);
        };
        server.addr.set_port(port);
        server.base_url = base_url(&self.builder.host, self.ip, port);
        server.url = Url::parse(&server.base_url).map_err(|_| Waited::BadPort)?;
        Ok(Seen::Ready)
    }

    fn after_failure(&self, mut server: Server, failure: Waited, attempt: u32) -> Failure {
        let command = server.command.clone();
        let addr = server.addr;
        let probe: Box<str> = self.builder.ready.to_string().into();
        if let Waited::Exited = failure {
            // Let the pipe close so the server's last words are in the buffer.
            server
                .output
                .wait_closed(process::deadline(Duration::from_millis(200)));
        }
        // Held until the check below: released, the port could go to another test's server,
        // which would look like the process that took it.
        let _lease = server.lease.take();
        // Stopped here, not by `Drop`: the error carries the output, so it is not printed.
        let status = server.shutdown();
        let output: Box<str> = server.output.tail().into();
        match (failure, status) {
            (_, Err(source)) => Failure::Fatal(Error::Io {
                command,
                action: "stopping the server",
                source,
            }),
            (Waited::Exited, Ok(status)) => {
                let lost = self.builder.port == 0
                    && !self.port_from_log()
                    && (port::answers(addr) || says_address_in_use(&output));
                let err = Error::ExitedEarly {
                    command,
                    addr,
                    status,
                    probe,
                    attempts: attempt,
                    output,
                };
                if lost {
                    Failure::LostPort(err)
                } else {
                    Failure::Fatal(err)
                }
            }
            (Waited::TimedOut(last_seen), _) => Failure::Fatal(Error::Timeout {
                command,
                addr,
                timeout: self.builder.timeout,
                probe,
                last_seen: last_seen.into(),
                output,
            }),
            (Waited::NotOurs, _) => Failure::Fatal(Error::NotOurs {
                command,
                addr,
                timeout: self.builder.timeout,
                output,
            }),
            (Waited::BadPort, _) => Failure::Fatal(Error::Config {
                command,
                problem: format!(
                    "a line matched the ready regex, but its `port` group is not a port number (1-65535)\nlast lines of its output:\n{output}"
                ),
            }),
        }
    }
}

/// How a wait for readiness ended, when the server did not fail.
enum Wait {
    Ready,
    /// The time to hand the wait to another thread has come.
    Paused,
}

enum Waited {
    Exited,
    NotOurs,
    TimedOut(String),
    BadPort,
}

/// Whether a poll must probe the server: always, unless the kernel shows that nothing listens
/// on the port (`Some(None)`). Then still, for a listener the kernel does not show (another
/// network namespace, a forwarded port), `UNSEEN_PROBE` after the start of the wait, and after
/// that once the wait has doubled since the last probe, or `UNSEEN_PROBE_MAX` has passed: such
/// a listener, ready at `t`, is seen by about `2t` (16 ms later at most), and a server that the
/// kernel does show meets a handful of these probes while it starts, not one every millisecond.
fn probe_due(
    listener: Option<Option<owner::Listener>>,
    started: Instant,
    last_probe: Instant,
    now: Instant,
) -> bool {
    let gap = last_probe
        .duration_since(started)
        .clamp(UNSEEN_PROBE, UNSEEN_PROBE_MAX);
    listener != Some(None) || now.duration_since(last_probe) >= gap
}

/// Whether a server's last words say its port was taken; servers word it much alike ("Address
/// already in use", "EADDRINUSE", "address already in use").
fn says_address_in_use(output: &str) -> bool {
    let output = output.to_ascii_lowercase();
    output.contains("address already in use") || output.contains("eaddrinuse")
}

/// `host` as an address, when it is written as one (an IPv6 one may be in brackets).
fn resolve_literal(host: &str) -> Option<IpAddr> {
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .ok()
}

fn resolve(host: &str) -> Result<IpAddr, String> {
    if let Some(ip) = resolve_literal(host) {
        return Ok(ip);
    }
    (host, 0)
        .to_socket_addrs()
        .ok()
        .and_then(|mut addrs| addrs.next())
        .map(|addr| addr.ip())
        .ok_or_else(|| format!("the host `{host}` does not resolve to an address"))
}

fn base_url(host: &str, ip: IpAddr, port: u16) -> String {
    if host.parse::<IpAddr>().is_ok_and(|ip| ip.is_ipv6()) || (ip.is_ipv6() && host.contains(':')) {
        format!(
            "http://[{}]:{port}",
            host.trim_start_matches('[').trim_end_matches(']')
        )
    } else {
        format!("http://{host}:{port}")
    }
}

/// A marker unique to each server of this process; a kept server gets one the watchdog does
/// not sweep for.
fn next_marker(keep: bool) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let marker = process::marker(NEXT.fetch_add(1, Ordering::Relaxed));
    if keep {
        format!("kept-{marker}")
    } else {
        marker
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_poll_probes_unless_the_kernel_shows_nothing_listening() {
        let now = Instant::now();
        let ms = Duration::from_millis;
        let listening = owner::Listener { inode: 1, uid: 0 };
        let a_moment_ago = now.checked_sub(Duration::from_micros(300)).unwrap();
        let long_ago = now.checked_sub(UNSEEN_PROBE).unwrap();
        // Nothing listens, and the wait began a moment ago: this poll asks the kernel only.
        assert!(!probe_due(Some(None), a_moment_ago, a_moment_ago, now));
        // ... but a listener the kernel cannot show is probed `UNSEEN_PROBE` into the wait,
        assert!(probe_due(Some(None), long_ago, long_ago, now));
        // ... and then once the wait has doubled since the last probe.
        let began = now.checked_sub(ms(30)).unwrap();
        let probed_at_10 = began + ms(10);
        assert!(!probe_due(Some(None), began, probed_at_10, began + ms(19)));
        assert!(probe_due(Some(None), began, probed_at_10, began + ms(20)));
        // ... or `UNSEEN_PROBE_MAX` has passed.
        let began = now.checked_sub(ms(2000)).unwrap();
        let probed_at_1000 = began + ms(1000);
        assert!(!probe_due(
            Some(None),
            began,
            probed_at_1000,
            probed_at_1000 + ms(15)
        ));
        assert!(probe_due(
            Some(None),
            began,
            probed_at_1000,
            probed_at_1000 + UNSEEN_PROBE_MAX
        ));
        // A listener, or a kernel that cannot say: probe.
        assert!(probe_due(
            Some(Some(listening)),
            a_moment_ago,
            a_moment_ago,
            now
        ));
        assert!(probe_due(None, a_moment_ago, a_moment_ago, now));
    }
}
