//! Starts a real server (`python3 -m http.server`), waits until it answers HTTP, talks to it,
//! and stops it with everything it spawned.
//!
//! Run it with `cargo run -p with-server --example quickstart`.

use std::time::{Duration, Instant};

use with_server::{Ready, Server};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let started = Instant::now();
    let server = Server::builder("python3 -u -m http.server {port} --bind 127.0.0.1")
        .ready(Ready::http("/"))
        .timeout(Duration::from_secs(10))
        .start()
        .await?;
    println!(
        "python3 -m http.server is ready at {} (pid {}) after {:.1?}",
        server.base_url(),
        server.pid(),
        started.elapsed()
    );

    let response = reqwest::get(server.url("/Cargo.toml")).await?;
    println!("GET /Cargo.toml -> {}", response.status());
    let body = response.text().await?;
    println!(
        "first line of the file it served: {:?}",
        body.lines().next().unwrap_or("")
    );

    let stopping = Instant::now();
    let pid = server.pid();
    let output = server.output();
    let status = server.stop().await?;
    println!(
        "stopped in {:.1?} ({status}); process {pid} exists afterwards: {}",
        stopping.elapsed(),
        std::path::Path::new(&format!("/proc/{pid}")).exists()
    );
    println!("what the server printed:");
    for line in output.lines() {
        println!("  | {line}");
    }
    Ok(())
}
