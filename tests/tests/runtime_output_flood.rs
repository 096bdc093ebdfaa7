//! A server that prints 100 MB neither blocks on a full pipe nor gets held whole in memory.
//! A file of its own, so that no other test's memory blurs the measure.

mod common;

use std::time::Duration;

use common::{fixture_cmd, start, wait_for_output};
use with_server::Server;

const FLOOD: u64 = 100_000_000;

#[test]
fn a_chatty_server_is_drained_and_its_output_bounded() {
    let before = memory_kib("VmRSS:");
    // The fixture prints everything before it binds, so it only becomes ready if the pipe
    // is drained all along.
    let server = start(
        Server::builder(fixture_cmd(&format!(
            "--print-bytes {FLOOD} --port {{port}}"
        )))
        .timeout(Duration::from_secs(120)),
    );
    let output = wait_for_output(
        &server,
        &format!("printed {FLOOD} bytes"),
        Duration::from_secs(30),
    );
    assert!(
        output.len() < 16 * 1024 * 1024,
        "output() holds {} bytes of a {FLOOD}-byte flood",
        output.len()
    );
    assert!(
        output.contains("chatter 000000999999 "),
        "the last lines before the marker were not kept"
    );
    // The peak, not the current size: memory held for a while and then freed counts too.
    let grown = memory_kib("VmHWM:").saturating_sub(before) * 1024;
    assert!(
        grown < 48 * 1024 * 1024,
        "the test process grew by {grown} bytes while the server printed {FLOOD}"
    );
}

fn memory_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| rest.trim().strip_suffix("kB"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap()
}
