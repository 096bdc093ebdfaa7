// Outside `cargo test`, as here, `#[test]` functions are left out of the build before they are
// type-checked. `#[tokio::main]` keeps the function, so it stands in for the test attribute.
use tokio::main as test;
use with_server::with_server;

#[with_server(cmd = "{bin:no-such-binary} --port {port}")]
#[test(flavor = "current_thread")]
async fn serves() {}

fn main() {}
