use with_server::with_server;

#[with_server(cmd = "python3 -m http.server {port}", ready = log("Serving HTTP (on"))]
#[test]
fn serves(_url: &str) {}

fn main() {}
