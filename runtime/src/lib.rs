//! API skeleton: bodies are filled in by the runtime work.
#![allow(missing_docs, unused)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitStatus;
use std::time::Duration;

pub use url::Url;
pub use with_server_macros::with_server;

#[derive(Debug)]
pub struct Server {}
#[derive(Debug)]
pub struct ServerBuilder {}
#[derive(Debug, Clone)]
pub struct Ready {}
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Logs { OnFailure, Always, Never }
#[derive(Debug)]
pub enum Error {}
impl std::fmt::Display for Error { fn fmt(&self, _: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { Ok(()) } }
impl std::error::Error for Error {}

impl Ready {
    pub fn tcp() -> Ready { todo!() }
    pub fn http(path: impl Into<String>) -> Ready { todo!() }
    pub fn status(self, status: u16) -> Ready { todo!() }
    pub fn log(regex: &str) -> Ready { todo!() }
}

impl Server {
    pub fn builder(cmdline: impl Into<String>) -> ServerBuilder { todo!() }
    pub fn base_url(&self) -> &str { todo!() }
    pub fn url(&self, path: &str) -> String { todo!() }
    pub fn port(&self) -> u16 { todo!() }
    pub fn host(&self) -> &str { todo!() }
    pub fn addr(&self) -> SocketAddr { todo!() }
    pub fn pid(&self) -> u32 { todo!() }
    pub fn name(&self) -> Option<&str> { todo!() }
    pub fn output(&self) -> String { todo!() }
    pub async fn stop(self) -> Result<ExitStatus, Error> { todo!() }
    pub fn stop_blocking(self) -> Result<ExitStatus, Error> { todo!() }
}

impl ServerBuilder {
    pub fn port(self, port: u16) -> Self { todo!() }
    pub fn ready(self, ready: Ready) -> Self { todo!() }
    pub fn timeout(self, timeout: Duration) -> Self { todo!() }
    pub fn env(self, key: impl Into<String>, value: impl Into<String>) -> Self { todo!() }
    pub fn current_dir(self, dir: impl Into<PathBuf>) -> Self { todo!() }
    pub fn host(self, host: impl Into<String>) -> Self { todo!() }
    pub fn grace(self, grace: Duration) -> Self { todo!() }
    pub fn logs(self, logs: Logs) -> Self { todo!() }
    pub fn name(self, name: impl Into<String>) -> Self { todo!() }
    pub fn placeholder(self, name: impl Into<String>, value: impl Into<String>) -> Self { todo!() }
    pub async fn start(self) -> Result<Server, Error> { todo!() }
    pub fn start_blocking(self) -> Result<Server, Error> { todo!() }
}

pub trait FromServer<'a>: Sized { fn from_server(server: &'a Server) -> Self; }

#[doc(hidden)]
pub mod __private {
    pub use tokio;
    pub async fn start(builder: super::ServerBuilder) -> super::Server { todo!() }
    pub fn start_blocking(builder: super::ServerBuilder) -> super::Server { todo!() }
    pub fn block_on<F: core::future::Future>(future: F) -> F::Output { todo!() }
    pub trait Outcome { fn is_failure(&self) -> bool; }
    pub fn finish<O: Outcome>(servers: &[&super::Server], outcome: &O) {}
}
