use with_server::with_server;

#[with_server(cmd = "python3 -m http.server {port}", timeout = "10 seconds")]
#[test]
fn serves(_url: &str) {}

fn main() {}
