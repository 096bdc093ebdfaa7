//! `Ready::tcp()`, the default: the server counts as ready once a TCP connect succeeds (or, on
//! Linux, once the kernel shows its listening socket, so that one would).

mod common;

use std::io::Read;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{
    fixture_cmd, is_alive, number_after, read_pid_file, scratch_dir, start, wait_for_output,
};
use with_server::{Ready, Server};

#[test]
fn start_returns_only_once_the_port_accepts_connections() {
    let began = Instant::now();
    let server = start(Server::builder(fixture_cmd("--slow-start 400")));
    assert!(
        began.elapsed() >= Duration::from_millis(400),
        "start returned after {:?}, before the server could have bound its port",
        began.elapsed()
    );
    TcpStream::connect(server.addr())
        .unwrap_or_else(|e| panic!("the ready server at {} refused: {e}", server.addr()));
}

#[test]
fn explicit_tcp_probe_behaves_like_the_default() {
    let server = start(Server::builder(fixture_cmd("--slow-start 200")).ready(Ready::tcp()));
    TcpStream::connect(server.addr()).unwrap();
}

#[test]
fn address_accessors_agree_with_each_other() {
    let server = start(Server::builder(fixture_cmd("--announce")));
    let port = server.port();
    assert_ne!(port, 0);
    assert_eq!(server.host(), "127.0.0.1");
    assert_eq!(server.base_url(), format!("http://127.0.0.1:{port}"));
    assert_eq!(
        server.url("/a/b?c=d"),
        format!("http://127.0.0.1:{port}/a/b?c=d")
    );
    assert_eq!(server.addr(), ([127, 0, 0, 1], port).into());
    let output = wait_for_output(&server, "listening on", Duration::from_secs(5));
    assert!(
        output.contains(&format!("listening on 127.0.0.1:{port}\n")),
        "the server bound another port than {port}:\n{output}"
    );
}

#[test]
fn pid_is_the_server_process() {
    let scratch = scratch_dir("pid");
    let pid_file = scratch.join("pid");
    let server = start(Server::builder(fixture_cmd(&format!(
        "--pid-file '{}'",
        pid_file.display()
    ))));
    assert_eq!(
        server.pid(),
        read_pid_file(&pid_file, Duration::from_secs(5))
    );
    assert!(is_alive(server.pid()));
}

#[test]
fn readiness_is_seen_soon_after_the_port_is_bound() {
    let server = start(Server::builder(fixture_cmd("--slow-start 100 --stamp")));
    // The stamp is taken just after bind, so on a busy machine it may even come later.
    let latency = since_stamp(&server, "bound-at-ns ");
    // The contract says about a millisecond; this bound only catches a coarse sleep loop.
    assert!(
        latency < Duration::from_millis(100),
        "start returned {latency:?} after the port was bound"
    );
}

/// Where the kernel shows the server's own listening socket on the port, a connection would
/// only confirm it: none is made, so the server's log shows no connection nobody asked for.
#[cfg(target_os = "linux")]
#[test]
fn a_listener_the_kernel_shows_is_ready_without_a_probe_connection() {
    // While the kernel shows nothing listening, a probe still goes out now and then, for a
    // listener it cannot show; one sent just as the server calls `listen` reaches it. On a loaded
    // machine that race is won now and then, so only a fifth of the starts must go without
    // one; without the shortcut, none would.
    let mut answers = vec![];
    for _ in 0..20 {
        let server = start(Server::builder(fixture_cmd("--log-connections")));
        let mut answer = String::new();
        TcpStream::connect(server.addr())
            .and_then(|mut stream| stream.read_to_string(&mut answer))
            .unwrap();
        answers.push(answer);
    }
    let first = answers.iter().filter(|a| *a == "connection 1\n").count();
    assert!(
        first >= 4,
        "the test's own connection should be the server's first more often: {answers:?}"
    );
}

/// A listener that the kernel's lookup does not show, but that a connection reaches: one bound
/// to the loopback device (as one in another network namespace behind a forwarded port would
/// be). The probes sent while the kernel shows nothing find it, 16 ms after it listens at most,
/// however long the server took to get there.
#[cfg(target_os = "linux")]
#[test]
fn a_listener_the_kernel_does_not_show_is_found_by_a_probe() {
    const SERVER: &str = "import os, socket, time
time.sleep(0.6)
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, b'lo')
s.bind(('127.0.0.1', int(os.environ['PORT'])))
s.listen()
print('listening-at-ns', time.monotonic_ns(), flush=True)
while True:
    s.accept()[0].close()
    print('accepted', flush=True)";
    if !may_bind_to_a_device() {
        eprintln!("skipped: this kernel lets only privileged processes bind a socket to a device");
        return;
    }
    let server =
        start(Server::builder(format!("python3 -c \"{SERVER}\"")).timeout(Duration::from_secs(10)));
    let latency = since_stamp(&server, "listening-at-ns ");
    // The probe that found it is a connection the server accepted.
    wait_for_output(&server, "accepted", Duration::from_secs(5));
    // Had the gap between such probes kept doubling, the one after 0.6 s would have come
    // about 1 s into the wait.
    assert!(
        latency < Duration::from_millis(150),
        "start returned {latency:?} after the server listened"
    );
}

/// How long before now the server printed `stamp` and its `CLOCK_MONOTONIC` nanoseconds:
/// called right after `start` returned, how long after that moment it returned.
fn since_stamp(server: &Server, stamp: &str) -> Duration {
    let now = with_server_tests::monotonic_ns();
    let output = wait_for_output(server, stamp, Duration::from_secs(5));
    let stamped: u128 = number_after(&output, stamp);
    Duration::from_nanos(now.saturating_sub(stamped) as u64)
}

/// Whether this process may bind a socket to a device (Linux 5.7 and later let anybody).
#[cfg(target_os = "linux")]
fn may_bind_to_a_device() -> bool {
    use std::os::fd::AsRawFd;

    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let device = b"lo\0";
    // SAFETY: SO_BINDTODEVICE takes a NUL-terminated name of the given length.
    let set = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_BINDTODEVICE,
            device.as_ptr().cast(),
            device.len() as libc::socklen_t,
        )
    };
    set == 0
}
