use with_server::with_server;

#[with_server(cmd = "python3 -m http.server {port}")]
#[tokio::test]
#[with_server(cmd = "python3 -m http.server {port}")]
async fn serves(_first: &str, _second: &str) {}

fn main() {}
