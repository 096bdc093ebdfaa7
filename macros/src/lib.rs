//! The `#[with_server]` attribute of the `with-server` crate. Use it through `with-server`,
//! which re-exports it and provides the runtime that the expansion calls.

mod attr;
mod expand;
mod placeholder;
mod valid;

use proc_macro::TokenStream;

/// Starts a server for a test, waits until it is ready, hands the test its address, and stops
/// it, with everything it spawned, when the test ends.
///
/// ```ignore
/// use with_server::with_server;
///
/// #[with_server(cmd = "python3 -m http.server {port} --bind 127.0.0.1", ready = http("/"))]
/// #[tokio::test]
/// async fn lists_files(url: &str) {
///     let body = reqwest::get(url).await.unwrap().text().await.unwrap();
///     assert!(body.contains("Directory listing"));
/// }
/// ```
///
/// # Keys
///
/// Only `cmd` is required. Every value is checked when the test compiles: a typo in a key, a
/// placeholder, a duration or a regex is a compile error that points at it.
///
/// | key | value | default |
/// |---|---|---|
/// | `cmd` | the command line | required |
/// | `port` | `1..=65535`, or `0` | `0`: a free port for each test |
/// | `ready` | `tcp`, `http("/path")`, `http("/path", status = 204)`, `log("regex")` | `tcp` |
/// | `logs` | `"on_failure"`, `"always"`, `"never"` | `"on_failure"` |
/// | `timeout` | how long to wait for readiness: `"500ms"`, `"10s"`, `"2m"` | `"30s"` |
/// | `env(K = "v", ..)` | environment variables of the server | — |
/// | `cwd` | working directory, relative to the test crate's `CARGO_MANIFEST_DIR` | that directory |
/// | `host` | the address the server is reached at | `"127.0.0.1"` |
/// | `grace` | time between the stop signal (SIGTERM) and SIGKILL | `"5s"` |
/// | `name` | a name, so that the servers below can use its address | — |
///
/// ## `cmd`
///
/// Split into words like a POSIX shell splits them (quotes and backslashes work), but no shell
/// runs unless the command names one. Placeholders are filled in each word:
///
/// - `{port}`, `{host}`, `{url}` (the base URL, `http://127.0.0.1:PORT`);
/// - `{tmp}`, a fresh empty directory for this test, shared by its servers, removed afterwards;
/// - `{bin:NAME}`, the path of the binary target `NAME` of the package whose integration
///   test this is (cargo builds it before the test);
/// - `{NAME.url}`, `{NAME.port}`, `{NAME.host}`, the address of the server named `NAME` by a
///   `#[with_server]` above this one;
/// - `{{` and `}}` for literal braces.
///
/// The server also gets `PORT=<port>` in its environment.
///
/// ```ignore
/// #[with_server(cmd = "{bin:my-server} --listen {host}:{port} --data {tmp}")]
/// #[with_server(cmd = "sh -c 'npm run build && exec npm start'", cwd = "web")]
/// #[with_server(cmd = "{bin:api} --config '{{\"port\": {port}}}'")]
/// ```
///
/// ## `port`
///
/// ```ignore
/// #[with_server(cmd = "redis-server --port {port}")]                // a free port
/// #[with_server(cmd = "redis-server --port {port}", port = 6390)]   // always 6390
/// ```
///
/// Tests that name the same fixed port run one at a time, also across processes; a fixed port
/// that something else listens on fails the test before the server starts.
///
/// ## `ready`
///
/// ```ignore
/// #[with_server(cmd = "redis-server --port {port}", ready = tcp)]
/// #[with_server(cmd = "{bin:api} {port}", ready = http("/health"))]
/// #[with_server(cmd = "{bin:api} {port}", ready = http("/", status = 401))]
/// #[with_server(cmd = "{bin:worker}", ready = log("^listening on .*:(?P<port>\\d+)$"))]
/// ```
///
/// - `tcp`: a connection to the port succeeds.
/// - `http(path)`: a GET of the path answers 2xx, or exactly `status`.
/// - `log(regex)`: a line of the server's stdout or stderr contains a match. With a named group
///   `port` and `port = 0`, the server picks its own port (`{port}` and `PORT` are `0`) and
///   the port is read from the line.
///
/// ## `logs`
///
/// A server's output is captured. It is printed under the test when the test fails
/// (`"on_failure"`), every time (`"always"`) or never (`"never"`).
///
/// ```ignore
/// #[with_server(cmd = "{bin:api} {port}", logs = "always")]
/// ```
///
/// ## `timeout` and `grace`
///
/// A whole number followed by `ms`, `s` or `m`.
///
/// ```ignore
/// #[with_server(cmd = "{bin:slow-api} {port}", timeout = "2m", grace = "500ms")]
/// ```
///
/// ## `env`
///
/// Values may use placeholders; a name that is not an identifier can be a string.
///
/// ```ignore
/// #[with_server(
///     cmd = "{bin:api}",
///     env(RUST_LOG = "debug", DATABASE_URL = "sqlite://{tmp}/db", "odd-name" = "1"),
/// )]
/// ```
///
/// ## `cwd`
///
/// Relative to the manifest directory of the crate the test is in, unless it is absolute or
/// starts with a placeholder such as `{tmp}`.
///
/// ```ignore
/// #[with_server(cmd = "python3 app.py {port}", cwd = "tests/fixtures/app")]
/// #[with_server(cmd = "python3 -m http.server {port}", cwd = "{tmp}")]
/// ```
///
/// ## `host`
///
/// ```ignore
/// #[with_server(cmd = "{bin:api} --bind {host}:{port}", host = "127.0.0.2")]
/// ```
///
/// ## `name`, and several servers
///
/// Each `#[with_server]` binds the next parameter of the test (the topmost binds the first);
/// a test may take fewer parameters than it has servers. Servers start from the top, each
/// ready before the next starts, and stop from the bottom; if one fails to start, those
/// already started are stopped.
///
/// ```ignore
/// use with_server::{with_server, Server};
///
/// #[with_server(name = "api", cmd = "{bin:fake-api} {port}")]
/// #[with_server(cmd = "{bin:frontend} --port {port}", env(API_URL = "{api.url}"), ready = http("/health"))]
/// #[tokio::test]
/// async fn frontend_talks_to_api(api: &Server, frontend: &str) {
///     // ...
/// }
/// ```
///
/// # Parameters
///
/// A parameter can be `&Server`, `&str` or `String` (the base URL, no trailing slash), `u16`
/// (the port), `std::net::SocketAddr` or `with_server::Url`.
///
/// # Test attributes
///
/// Put `#[with_server]` above the test attribute: `#[tokio::test]` (any flavor) on an
/// `async fn`, `#[test]` on a `fn`. Without a test attribute, the function becomes a test
/// anyway, and an `async fn` runs on a runtime of its own. `#[ignore]`,
/// `#[should_panic(expected = "...")]`, `#[cfg(..)]`, doc comments and a `Result<(), E>` or
/// `ExitCode` return type work as usual; a test that returns `Err` counts as failed for
/// `logs = "on_failure"`. A bare `#[should_panic]` is refused: a server that fails to start
/// panics too, and would pass the test.
#[proc_macro_attribute]
pub fn with_server(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::with_server(args.into(), item.into()).into()
}
