use with_server::with_server;

#[with_server(ready = http("/"))]
#[test]
fn serves(_url: &str) {}

fn main() {}
