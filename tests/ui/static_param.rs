use with_server::with_server;

#[with_server(cmd = "python3 -m http.server {port}")]
fn keeps_the_url(url: &'static str) {
    let _ = url;
}

fn main() {}
