use with_server::with_server;

#[with_server(cmd = "python3 -m http.server {port}")]
struct Fixture {
    _url: String,
}

fn main() {}
