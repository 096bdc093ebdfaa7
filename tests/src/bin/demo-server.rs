//! The small HTTP server of the examples: the kind of binary a project tests itself.
//!
//! ```text
//! demo-server [--port N]     N defaults to the environment variable PORT, else 0 (the kernel
//!                            picks); prints `listening on http://127.0.0.1:PORT` once bound
//!
//! GET /hello                 200, `hello from demo-server`
//! GET /health                204
//! anything else              404
//! ```
//!
//! Each request is printed as `GET /hello -> 200`. Every line is flushed at once, since stdout
//! is a pipe, not a terminal.

use std::io::{self, BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::process;
use std::thread;

fn main() {
    let port = match port_from(std::env::args().skip(1), std::env::var("PORT").ok()) {
        Ok(port) => port,
        Err(message) => {
            eprintln!("demo-server: {message}\nusage: demo-server [--port N]");
            process::exit(2);
        }
    };
    let listener = match TcpListener::bind(("127.0.0.1", port)) {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("demo-server: cannot listen on 127.0.0.1:{port}: {e}");
            process::exit(1);
        }
    };
    let port = listener.local_addr().map_or(port, |addr| addr.port());
    println!("listening on http://127.0.0.1:{port}");
    let _ = io::stdout().flush();
    for stream in listener.incoming().flatten() {
        thread::spawn(move || {
            let _ = answer(stream);
        });
    }
}

fn port_from(
    mut args: impl Iterator<Item = String>,
    env_port: Option<String>,
) -> Result<u16, String> {
    let mut port = env_port;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--port" => port = Some(args.next().ok_or("--port needs a value")?),
            _ => return Err(format!("unknown argument {arg:?}")),
        }
    }
    match port {
        None => Ok(0),
        Some(text) => text
            .parse()
            .map_err(|_| format!("the port must be 0..=65535, not {text:?}")),
    }
}

fn answer(stream: TcpStream) -> io::Result<()> {
    let mut reader = BufReader::new(&stream);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    // The headers are read and dropped so that the client never sees a reset.
    let mut header = String::new();
    while reader.read_line(&mut header)? > 2 {
        header.clear();
    }
    let mut words = request_line.split_whitespace();
    let (method, path) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    let (status, body) = match (method, path) {
        ("GET", "/hello") => ("200 OK", "hello from demo-server"),
        ("GET", "/health") => ("204 No Content", ""),
        _ => ("404 Not Found", "not found"),
    };
    println!("{method} {path} -> {}", &status[..3]);
    let _ = io::stdout().flush();
    let mut stream = &stream;
    write!(
        stream,
        "HTTP/1.1 {status}\r\ncontent-type: text/plain\r\ncontent-length: {}\r\n\
         connection: close\r\n\r\n{body}",
        body.len()
    )?;
    stream.flush()
}
