use with_server::with_server;

#[with_server(cmd = "python3 -m http.server {prot}")]
#[test]
fn serves(_url: &str) {}

fn main() {}
