//! Fixture servers and tests of with-server; nothing here is published. This library holds what
//! the fixture binaries, the tests and the benchmark share.

use std::io::{self, BufRead, BufReader};
use std::net::TcpStream;

/// CLOCK_MONOTONIC in nanoseconds: one clock for every process of the machine, so a time a
/// server prints can be compared with one the test takes.
pub fn monotonic_ns() -> u128 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid timespec for the call to fill in.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) };
    now.tv_sec as u128 * 1_000_000_000 + now.tv_nsec as u128
}

/// Reads an HTTP request head from `stream`: returns its request line (`GET /path HTTP/1.1`)
/// and skips the headers.
pub fn read_request_head(stream: &TcpStream) -> io::Result<String> {
    let mut reader = BufReader::new(stream);
    let mut request = String::new();
    reader.read_line(&mut request)?;
    let mut header = String::new();
    while reader.read_line(&mut header)? > 2 {
        header.clear();
    }
    Ok(request.trim_end().to_string())
}
