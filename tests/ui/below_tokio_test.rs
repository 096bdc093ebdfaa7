use with_server::with_server;

#[tokio::test]
#[with_server(cmd = "python3 -m http.server {port}")]
async fn serves() {}

fn main() {}
