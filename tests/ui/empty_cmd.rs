use with_server::with_server;

#[with_server(cmd = " ")]
#[test]
fn serves(_url: &str) {}

fn main() {}
