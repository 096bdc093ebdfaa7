//! Load: 200 tests, each with a fresh server on a picked port, all in one binary, and three
//! tests on one fixed port. Run by `cargo test` (threads) and `cargo nextest run` (a process per
//! test); `scripts/stress.sh` runs it ten times in a row under both.
//!
//! A port collision cannot pass unseen: each test sends a request with its own name and then
//! finds that request in the output of *its* server.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use with_server::{Server, with_server};

/// Sends `GET /<test name>` and waits for the server to log it.
fn talks_to_its_own_server(server: &Server, test: &str) {
    let path = format!("/{}", test.replace("::", "/"));
    let mut stream = TcpStream::connect(server.addr()).expect("connect to the test's server");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .expect("send");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("read");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let logged = format!("request GET {path} -> 200");
    let deadline = Instant::now() + Duration::from_secs(5);
    while !server.output().contains(&logged) {
        assert!(
            Instant::now() < deadline,
            "the server on port {} did not log {logged:?}: another test's server answered?\n{}",
            server.port(),
            server.output()
        );
        std::thread::yield_now();
    }
}

macro_rules! one {
    ($name:ident) => {
        #[with_server(cmd = "{bin:fixture} --port {port} --http")]
        #[test]
        fn $name(server: &Server) {
            talks_to_its_own_server(server, concat!(module_path!(), "::", stringify!($name)));
        }
    };
}

macro_rules! ten {
    () => {
        one!(t0);
        one!(t1);
        one!(t2);
        one!(t3);
        one!(t4);
        one!(t5);
        one!(t6);
        one!(t7);
        one!(t8);
        one!(t9);
    };
}

macro_rules! modules {
    ($($module:ident)*) => {
        $(mod $module {
            use super::*;
            ten!();
        })*
    };
}

modules!(m00 m01 m02 m03 m04 m05 m06 m07 m08 m09 m10 m11 m12 m13 m14 m15 m16 m17 m18 m19);

/// Three tests on one fixed port: each holds a marker file, created exclusively, for as long as
/// its server runs. Were two of them ever up at once, creating the marker would fail.
mod fixed_port {
    use super::*;

    const PORT: u16 = 18_461;

    struct Inside(std::path::PathBuf);

    impl Inside {
        fn enter() -> Inside {
            let path =
                std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("fixed-port-18461.inside");
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
                .unwrap_or_else(|err| {
                    panic!("another test is on port {PORT} at the same time ({err})")
                });
            Inside(path)
        }
    }

    impl Drop for Inside {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    fn hold(port: u16) {
        assert_eq!(port, PORT);
        let _inside = Inside::enter();
        // Long enough that unserialized tests would overlap, whatever the scheduling.
        std::thread::sleep(Duration::from_millis(100));
    }

    #[with_server(cmd = "{bin:fixture} --port {port}", port = 18461)]
    #[test]
    fn first(port: u16) {
        hold(port);
    }

    #[with_server(cmd = "{bin:fixture} --port {port}", port = 18461)]
    #[test]
    fn second(port: u16) {
        hold(port);
    }

    #[with_server(cmd = "{bin:fixture} --port {port}", port = 18461)]
    #[test]
    fn third(port: u16) {
        hold(port);
    }
}
