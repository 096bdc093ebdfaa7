use with_server::with_server;

#[with_server(cmd = "python3 -m http.server {port}")]
#[with_server(port = 18080)]
fn second_server_has_no_command() {}

fn main() {}
