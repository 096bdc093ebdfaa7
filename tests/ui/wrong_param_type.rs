// Outside `cargo test`, as here, `#[test]` functions are left out of the build before they are
// type-checked. `#[tokio::main]` keeps the function, so it stands in for the test attribute.
use tokio::main as test;
use with_server::with_server;

#[with_server(cmd = "python3 -m http.server {port}")]
#[test(flavor = "current_thread")]
async fn serves(_port: i32) {}

fn main() {}
