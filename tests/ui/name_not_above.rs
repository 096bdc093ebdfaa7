use with_server::{Server, with_server};

// A server can use the address of the servers above it, not of those below.
#[with_server(cmd = "sh -c 'echo {db.url}; exec python3 -m http.server {port}'")]
#[with_server(cmd = "python3 -m http.server {port}", name = "db")]
#[test]
fn serves(_api: &Server, _db: &Server) {}

fn main() {}
