use with_server::with_server;

struct Suite;

impl Suite {
    #[with_server(cmd = "python3 -m http.server {port}")]
    fn serves(&self) {}
}

fn main() {}
