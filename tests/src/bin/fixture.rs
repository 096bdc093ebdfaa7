//! A small, scriptable server for the integration tests of with-server.
//!
//! Every flag is optional and flags combine. Startup runs in the order below, so a test can
//! put output before or after the moment the port is bound.
//!
//! ```text
//! --pid-file PATH          write this process's pid to PATH
//! --ignore-sigterm         ignore SIGTERM (only SIGKILL stops it)
//! --sigterm-exit CODE      exit with CODE on SIGTERM
//! --echo-env NAME          print `NAME=value`, or `NAME unset`; repeatable
//! --pwd                    print `pwd <current dir>`
//! --say TEXT               print TEXT to stdout; repeatable
//! --say-stderr TEXT        print TEXT to stderr; repeatable
//! --spawn-daemon           fork a grandchild that calls setsid() (leaving the process group
//!                          and the session), points its stdio at /dev/null and sleeps
//!                          forever; print `daemon pid <PID>`
//! --spawn-child            start a copy of this program with `--never-listen` that shares
//!                          the process group and the output pipes; print `child pid <PID>`
//! --print-lines N          print `line 1` .. `line N` to stdout
//! --print-stderr-lines N   print `err line 1` .. `err line N` to stderr
//! --print-bytes N          write N bytes of 100-byte lines to stdout, then print
//!                          `printed N bytes`; as this comes before the port is bound, a
//!                          reader that stops draining the pipe keeps the server from ever
//!                          becoming ready
//! --exit-early CODE        print `exiting with CODE` to stderr and exit with CODE
//! --never-listen           print `not listening` and stay alive without binding
//! --slow-start MS          sleep MS milliseconds before binding
//! --host H --port N        the address to bind: H defaults to 127.0.0.1, N to the
//!                          environment variable PORT, else 0 (the kernel picks); a bind
//!                          error is printed to stderr and ends the process with status 1
//! --stamp                  print `bound-at-ns <N>`, N being CLOCK_MONOTONIC in ns
//! --announce               print `listening on HOST:PORT` (the bound address)
//! --announce-stderr        the same line on stderr
//! --exit-after-bind CODE   exit with CODE right after binding
//! --http                   answer HTTP instead of accepting and closing plain TCP
//!                          connections; each request gets a small HTTP/1.1 answer with
//!                          `Connection: close` and prints `request METHOD PATH -> STATUS`
//! --log-connections        without `--http`: for each accepted connection, print
//!                          `connection N` and send the same line to the client
//! --status N               the status to answer (default 200)
//! --status-after N:M       answer M to the first N requests, then as above; `/health` is
//!                          not counted and always gets `--status`
//! --answer-after MS        wait MS milliseconds after reading a request before answering
//! ```
//!
//! Every line is flushed as soon as it is written, since stdout is a pipe, not a terminal.
//! A malformed command line prints the usage to stderr and exits with status 2.

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{self, Command, Stdio};
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::thread;
use std::time::Duration;

const USAGE: &str = "\
usage: fixture [--port N] [--host H] [--announce] [--announce-stderr] [--stamp]
               [--http] [--log-connections] [--status N] [--status-after N:M] [--answer-after MS]
               [--slow-start MS] [--exit-early CODE] [--never-listen] [--exit-after-bind CODE]
               [--ignore-sigterm] [--sigterm-exit CODE] [--spawn-child] [--spawn-daemon]
               [--print-bytes N] [--print-lines N] [--print-stderr-lines N]
               [--echo-env NAME]... [--pwd] [--say TEXT]... [--say-stderr TEXT]...
               [--pid-file PATH]";

#[derive(Debug, Default)]
struct Options {
    port: Option<u16>,
    host: Option<String>,
    announce: bool,
    announce_stderr: bool,
    stamp: bool,
    http: bool,
    log_connections: bool,
    status: Option<u16>,
    status_after: Option<(u64, u16)>,
    answer_after_ms: Option<u64>,
    slow_start_ms: Option<u64>,
    exit_early: Option<i32>,
    never_listen: bool,
    exit_after_bind: Option<i32>,
    ignore_sigterm: bool,
    sigterm_exit: Option<i32>,
    spawn_child: bool,
    spawn_daemon: bool,
    print_bytes: Option<u64>,
    print_lines: Option<u64>,
    print_stderr_lines: Option<u64>,
    echo_env: Vec<String>,
    pwd: bool,
    say: Vec<String>,
    say_stderr: Vec<String>,
    pid_file: Option<String>,
}

fn main() {
    let options = match parse(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("fixture: {message}\n{USAGE}");
            process::exit(2);
        }
    };
    run(&options);
}

fn parse(mut args: impl Iterator<Item = String>) -> Result<Options, String> {
    let mut o = Options::default();
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--port" => o.port = Some(number(&flag, &value()?)?),
            "--host" => o.host = Some(value()?),
            "--announce" => o.announce = true,
            "--announce-stderr" => o.announce_stderr = true,
            "--stamp" => o.stamp = true,
            "--http" => o.http = true,
            "--log-connections" => o.log_connections = true,
            "--status" => o.status = Some(number(&flag, &value()?)?),
            "--answer-after" => o.answer_after_ms = Some(number(&flag, &value()?)?),
            "--status-after" => {
                let v = value()?;
                let (n, m) = v
                    .split_once(':')
                    .ok_or_else(|| format!("{flag} wants N:M, not {v:?}"))?;
                o.status_after = Some((number(&flag, n)?, number(&flag, m)?));
            }
            "--slow-start" => o.slow_start_ms = Some(number(&flag, &value()?)?),
            "--exit-early" => o.exit_early = Some(number(&flag, &value()?)?),
            "--never-listen" => o.never_listen = true,
            "--exit-after-bind" => o.exit_after_bind = Some(number(&flag, &value()?)?),
            "--ignore-sigterm" => o.ignore_sigterm = true,
            "--sigterm-exit" => o.sigterm_exit = Some(number(&flag, &value()?)?),
            "--spawn-child" => o.spawn_child = true,
            "--spawn-daemon" => o.spawn_daemon = true,
            "--print-bytes" => o.print_bytes = Some(number(&flag, &value()?)?),
            "--print-lines" => o.print_lines = Some(number(&flag, &value()?)?),
            "--print-stderr-lines" => o.print_stderr_lines = Some(number(&flag, &value()?)?),
            "--echo-env" => o.echo_env.push(value()?),
            "--pwd" => o.pwd = true,
            "--say" => o.say.push(value()?),
            "--say-stderr" => o.say_stderr.push(value()?),
            "--pid-file" => o.pid_file = Some(value()?),
            _ => return Err(format!("unknown argument {flag:?}")),
        }
    }
    Ok(o)
}

fn number<T: std::str::FromStr>(flag: &str, text: &str) -> Result<T, String> {
    text.parse()
        .map_err(|_| format!("{flag} wants a number, not {text:?}"))
}

fn run(o: &Options) {
    if let Some(path) = &o.pid_file
        && let Err(e) = std::fs::write(path, process::id().to_string())
    {
        fail(&format!("cannot write pid file {path}: {e}"));
    }
    if o.ignore_sigterm {
        // SAFETY: setting a disposition to SIG_IGN runs no code in the handler context.
        unsafe { libc::signal(libc::SIGTERM, libc::SIG_IGN) };
    }
    if let Some(code) = o.sigterm_exit {
        SIGTERM_EXIT_CODE.store(code, Ordering::SeqCst);
        let handler: extern "C" fn(libc::c_int) = exit_on_sigterm;
        // SAFETY: the handler only calls _exit, which is async-signal-safe.
        unsafe { libc::signal(libc::SIGTERM, handler as libc::sighandler_t) };
    }

    for name in &o.echo_env {
        match std::env::var(name) {
            Ok(value) => say(&format!("{name}={value}")),
            Err(_) => say(&format!("{name} unset")),
        }
    }
    if o.pwd {
        match std::env::current_dir() {
            Ok(dir) => say(&format!("pwd {}", dir.display())),
            Err(e) => fail(&format!("cannot read the current dir: {e}")),
        }
    }
    for text in &o.say {
        say(text);
    }
    for text in &o.say_stderr {
        say_stderr(text);
    }

    // Forking is only sound while this process has a single thread, so it comes first.
    if o.spawn_daemon {
        spawn_daemon();
    }
    if o.spawn_child {
        spawn_child();
    }

    if let Some(n) = o.print_lines {
        for i in 1..=n {
            say(&format!("line {i}"));
        }
    }
    if let Some(n) = o.print_stderr_lines {
        for i in 1..=n {
            say_stderr(&format!("err line {i}"));
        }
    }
    if let Some(n) = o.print_bytes {
        print_bytes(n);
    }

    if let Some(code) = o.exit_early {
        say_stderr(&format!("exiting with {code}"));
        process::exit(code);
    }
    if o.never_listen {
        say("not listening");
        sleep_forever();
    }
    if let Some(ms) = o.slow_start_ms {
        thread::sleep(Duration::from_millis(ms));
    }

    let listener = bind(o);
    let addr = match listener.local_addr() {
        Ok(addr) => addr,
        Err(e) => fail(&format!("cannot read the bound address: {e}")),
    };
    if o.stamp {
        say(&format!(
            "bound-at-ns {}",
            with_server_tests::monotonic_ns()
        ));
    }
    if o.announce {
        say(&format!("listening on {addr}"));
    }
    if o.announce_stderr {
        say_stderr(&format!("listening on {addr}"));
    }
    if let Some(code) = o.exit_after_bind {
        process::exit(code);
    }

    if o.http {
        serve_http(
            &listener,
            o.status.unwrap_or(200),
            o.status_after,
            o.answer_after_ms,
        );
    } else {
        serve_tcp(&listener, o.log_connections);
    }
}

fn bind(o: &Options) -> TcpListener {
    let host = o.host.as_deref().unwrap_or("127.0.0.1");
    let port = match o.port {
        Some(port) => port,
        None => match std::env::var("PORT") {
            Ok(text) => match text.parse() {
                Ok(port) => port,
                Err(_) => fail(&format!("PORT is not a port number: {text:?}")),
            },
            Err(_) => 0,
        },
    };
    match TcpListener::bind((host, port)) {
        Ok(listener) => listener,
        Err(e) => fail(&format!("cannot bind {host}:{port}: {e}")),
    }
}

static SIGTERM_EXIT_CODE: AtomicI32 = AtomicI32::new(0);

extern "C" fn exit_on_sigterm(_: libc::c_int) {
    // SAFETY: _exit is async-signal-safe and never returns.
    unsafe { libc::_exit(SIGTERM_EXIT_CODE.load(Ordering::SeqCst)) }
}

fn spawn_daemon() {
    // The child reports through this pipe once it has left, so that `daemon pid` is only
    // printed for a process already outside the group and the session.
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors pipe(2) fills in.
    if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
        fail(&format!("pipe failed: {}", io::Error::last_os_error()));
    }
    let [read_end, write_end] = fds;
    // SAFETY: the process is still single-threaded here, so the child may run any code.
    let pid = unsafe { libc::fork() };
    match pid {
        -1 => fail(&format!("fork failed: {}", io::Error::last_os_error())),
        0 => {
            // SAFETY: plain system calls on descriptors this process owns.
            unsafe {
                libc::close(read_end);
                libc::setsid();
                let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
                if null >= 0 {
                    libc::dup2(null, 0);
                    libc::dup2(null, 1);
                    libc::dup2(null, 2);
                }
                libc::write(write_end, b"x".as_ptr().cast(), 1);
                libc::close(write_end);
            }
            sleep_forever();
        }
        pid => {
            let mut byte = 0u8;
            // SAFETY: reads one byte into `byte`; the descriptors are this process's own.
            unsafe {
                libc::close(write_end);
                libc::read(read_end, (&raw mut byte).cast(), 1);
                libc::close(read_end);
            }
            say(&format!("daemon pid {pid}"));
        }
    }
}

fn spawn_child() {
    let program = match std::env::current_exe() {
        Ok(program) => program,
        Err(e) => fail(&format!("cannot find this program: {e}")),
    };
    // The child keeps this process's stdout and stderr, as a shell's children do.
    match Command::new(program)
        .arg("--never-listen")
        .stdin(Stdio::null())
        .spawn()
    {
        // Never waited for: the child must outlive this process unless the group is killed.
        Ok(child) => say(&format!("child pid {}", child.id())),
        Err(e) => fail(&format!("cannot start a child: {e}")),
    }
}

fn print_bytes(total: u64) {
    const WIDTH: u64 = 100;
    let stdout = io::stdout();
    let mut out = io::BufWriter::with_capacity(64 * 1024, stdout.lock());
    let mut written = 0;
    let mut line_number = 0u64;
    while written < total {
        let len = WIDTH.min(total - written);
        let mut line = format!("chatter {line_number:012} ");
        line.truncate(len.saturating_sub(1) as usize);
        while (line.len() as u64) < len - 1 {
            line.push('x');
        }
        line.push('\n');
        if out.write_all(line.as_bytes()).is_err() {
            process::exit(1);
        }
        written += len;
        line_number += 1;
    }
    if out.flush().is_err() {
        process::exit(1);
    }
    drop(out);
    say(&format!("printed {total} bytes"));
}

fn serve_tcp(listener: &TcpListener, log: bool) -> ! {
    let mut accepted = 0u64;
    loop {
        // Accepting and dropping is all a TCP probe needs to see.
        if let Ok((mut stream, _)) = listener.accept()
            && log
        {
            accepted += 1;
            let line = format!("connection {accepted}");
            say(&line);
            let _ = writeln!(stream, "{line}");
        }
    }
}

fn serve_http(
    listener: &TcpListener,
    status: u16,
    status_after: Option<(u64, u16)>,
    answer_after_ms: Option<u64>,
) -> ! {
    static REQUESTS: AtomicU64 = AtomicU64::new(0);
    loop {
        let Ok((stream, _)) = listener.accept() else {
            continue;
        };
        thread::spawn(move || {
            let Some((method, path)) = read_request_head(&stream) else {
                return;
            };
            let code = if path == "/health" {
                status
            } else {
                let n = REQUESTS.fetch_add(1, Ordering::SeqCst);
                match status_after {
                    Some((first, early)) if n < first => early,
                    _ => status,
                }
            };
            if let Some(ms) = answer_after_ms {
                thread::sleep(Duration::from_millis(ms));
            }
            say(&format!("request {method} {path} -> {code}"));
            answer(stream, &method, &path, code);
        });
    }
}

fn read_request_head(mut stream: &TcpStream) -> Option<(String, String)> {
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
        let n = stream.read(&mut buf).ok()?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let head = String::from_utf8_lossy(&head);
    let mut words = head.lines().next()?.split_whitespace();
    let method = words.next()?.to_owned();
    let path = words.next()?.to_owned();
    Some((method, path))
}

fn answer(mut stream: TcpStream, method: &str, path: &str, code: u16) {
    let body = if code == 204 || code == 304 || method == "HEAD" {
        String::new()
    } else {
        format!("fixture answered {code} for {path}\n")
    };
    let response = format!(
        "HTTP/1.1 {code} {}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        reason(code),
        if code == 204 { 0 } else { body.len() },
    );
    let _ = stream.write_all(response.as_bytes());
    let _ = stream.flush();
}

fn reason(code: u16) -> &'static str {
    match code {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        400 => "Bad Request",
        404 => "Not Found",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

fn sleep_forever() -> ! {
    loop {
        thread::sleep(Duration::from_secs(3600));
    }
}

fn say(line: &str) {
    let mut out = io::stdout().lock();
    if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
        process::exit(1);
    }
}

fn say_stderr(line: &str) {
    let mut err = io::stderr().lock();
    let _ = writeln!(err, "{line}").and_then(|()| err.flush());
}

fn fail(message: &str) -> ! {
    say_stderr(&format!("fixture: {message}"));
    process::exit(1);
}
