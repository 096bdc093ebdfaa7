use with_server::with_server;

#[with_server(cmd = "python3 -m http.server {port}")]
#[should_panic]
fn fails_on_purpose(url: &str) {
    panic!("{url}");
}

fn main() {}
