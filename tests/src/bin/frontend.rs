//! The "frontend" of the SPEC's two-server example: `frontend --port N` with `API_URL` in its
//! environment. `GET /health` answers 200; any other path fetches `API_URL/items` and answers
//! `frontend sees: <what the API said>`.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};

fn main() {
    let mut args = std::env::args().skip(1);
    let port = match (
        args.next().as_deref(),
        args.next().map(|p| p.parse::<u16>()),
    ) {
        (Some("--port"), Some(Ok(port))) => port,
        _ => {
            eprintln!("usage: frontend --port N   (with API_URL=http://HOST:PORT)");
            std::process::exit(2);
        }
    };
    let Some(api) = std::env::var("API_URL").ok().and_then(|url| {
        url.strip_prefix("http://")
            .map(|rest| rest.trim_end_matches('/').to_string())
    }) else {
        eprintln!("frontend: API_URL must be set to http://HOST:PORT");
        std::process::exit(2);
    };
    let listener = TcpListener::bind(("127.0.0.1", port)).unwrap_or_else(|err| {
        eprintln!("frontend: cannot listen on port {port}: {err}");
        std::process::exit(1);
    });
    println!("frontend on port {port}, API at {api}");
    for stream in listener.incoming().flatten() {
        let Ok(request) = with_server_tests::read_request_head(&stream) else {
            continue;
        };
        let path = request.split_whitespace().nth(1).unwrap_or("/");
        let body = if path == "/health" {
            "ok".to_string()
        } else {
            match fetch(&api, "/items") {
                Ok(answer) => format!("frontend sees: {answer}"),
                Err(err) => format!("frontend cannot reach the API: {err}"),
            }
        };
        let _ = write!(
            &stream,
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
    }
}

/// The body of `GET http://<api><path>`.
fn fetch(api: &str, path: &str) -> std::io::Result<String> {
    let mut stream = TcpStream::connect(api)?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {api}\r\nConnection: close\r\n\r\n"
    )?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    Ok(answer
        .split("\r\n\r\n")
        .nth(1)
        .unwrap_or_default()
        .to_string())
}
