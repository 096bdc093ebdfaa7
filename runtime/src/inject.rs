//! What a `#[with_server]` parameter can be: anything a [`Server`] can be turned into.

use std::net::SocketAddr;

use crate::{Server, Url};

/// A type that `#[with_server]` can inject into a test's parameter.
///
/// Implemented for `&Server`, `&str` and `String` (the base URL, `http://127.0.0.1:PORT`, no
/// trailing slash), `u16` (the port), [`SocketAddr`] and [`Url`].
///
/// ```no_run
/// use std::net::SocketAddr;
/// use with_server::{with_server, Server, Url};
///
/// #[with_server(cmd = "python3 -m http.server {port} --bind 127.0.0.1")]
/// #[with_server(cmd = "python3 -m http.server {port} --bind 127.0.0.1")]
/// #[with_server(cmd = "python3 -m http.server {port} --bind 127.0.0.1")]
/// #[test]
/// fn every_kind(first: &Server, second: u16, third: Url) {
///     assert_ne!(first.port(), second);
///     assert_eq!(third.scheme(), "http");
/// }
/// # fn main() {}
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be injected by #[with_server]",
    label = "not a type #[with_server] can inject",
    note = "a #[with_server] parameter can be `&Server`, `&str`, `String`, `u16`, `std::net::SocketAddr` or `with_server::Url`"
)]
pub trait FromServer<'a>: Sized {
    /// Takes the value from a started server.
    fn from_server(server: &'a Server) -> Self;
}

impl<'a> FromServer<'a> for &'a Server {
    fn from_server(server: &'a Server) -> Self {
        server
    }
}

impl<'a> FromServer<'a> for &'a str {
    fn from_server(server: &'a Server) -> Self {
        server.base_url()
    }
}

impl FromServer<'_> for String {
    fn from_server(server: &Server) -> Self {
        server.base_url().to_string()
    }
}

impl FromServer<'_> for u16 {
    fn from_server(server: &Server) -> Self {
        server.port()
    }
}

impl FromServer<'_> for SocketAddr {
    fn from_server(server: &Server) -> Self {
        server.addr()
    }
}

impl FromServer<'_> for Url {
    fn from_server(server: &Server) -> Self {
        server.url.clone()
    }
}
