use with_server::with_server;

#[with_server(cmd = "python3 -m http.server {port}", name = "web")]
#[with_server(cmd = "python3 -m http.server {port}", name = "web")]
#[test]
fn serves(_first: &str, _second: &str) {}

fn main() {}
