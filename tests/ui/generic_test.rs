use with_server::with_server;

#[with_server(cmd = "python3 -m http.server {port}")]
fn generic<T: Default>(port: u16) {
    let _ = (port, T::default());
}

fn main() {}
