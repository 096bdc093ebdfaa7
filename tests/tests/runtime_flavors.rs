//! The builder from each kind of test: `start_blocking` from a plain `#[test]`, `start().await`
//! from `#[tokio::test]` on a current-thread or a multi-thread runtime.

mod common;

use std::net::TcpStream;
use std::time::Duration;

use common::{assert_gave_up_on_time, assert_gone, fixture_cmd, http_get};
use with_server::{Error, Ready, Server};

#[test]
fn start_blocking_from_a_plain_test() {
    let server = Server::builder(fixture_cmd("--http --slow-start 200"))
        .ready(Ready::http("/"))
        .start_blocking()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(http_get(server.addr(), "/").0, 200);
    let pid = server.pid();
    server.stop_blocking().unwrap();
    assert_gone(pid, "the server", Duration::from_secs(2));
}

#[tokio::test]
async fn start_await_on_a_current_thread_runtime() {
    let server = Server::builder(fixture_cmd("--http --slow-start 200"))
        .ready(Ready::http("/"))
        .start()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let response = reqwest::get(server.url("/from-current-thread"))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let pid = server.pid();
    server.stop().await.unwrap();
    assert_gone(pid, "the server", Duration::from_secs(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_await_on_a_multi_thread_runtime() {
    let server = Server::builder(fixture_cmd("--http --slow-start 200"))
        .ready(Ready::http("/"))
        .start()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let response = reqwest::get(server.url("/from-multi-thread"))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let pid = server.pid();
    drop(server);
    assert_gone(pid, "the server", Duration::from_secs(2));
}

#[tokio::test]
async fn servers_start_concurrently_on_one_thread() {
    // Both wait 500 ms before listening; started together they are ready in well under 1 s,
    // so waiting for one does not block the other.
    let began = std::time::Instant::now();
    let (a, b) = tokio::join!(
        Server::builder(fixture_cmd("--slow-start 500")).start(),
        Server::builder(fixture_cmd("--slow-start 500")).start(),
    );
    let (a, b) = (
        a.unwrap_or_else(|e| panic!("{e}")),
        b.unwrap_or_else(|e| panic!("{e}")),
    );
    assert!(
        began.elapsed() < Duration::from_millis(950),
        "the two starts ran one after the other: {:?}",
        began.elapsed()
    );
    TcpStream::connect(a.addr()).unwrap();
    TcpStream::connect(b.addr()).unwrap();
}

#[tokio::test]
async fn dropping_a_server_inside_a_runtime_does_not_panic() {
    let server = Server::builder(fixture_cmd(""))
        .start()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let pid = server.pid();
    drop(server);
    assert_gone(pid, "the server", Duration::from_secs(2));
}

#[test]
fn a_server_outlives_the_runtime_that_started_it() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let server = runtime
        .block_on(Server::builder(fixture_cmd("")).start())
        .unwrap_or_else(|e| panic!("{e}"));
    let pid = server.pid();
    drop(runtime);
    // The server outlives the runtime it was started on, and still stops on drop.
    TcpStream::connect(server.addr()).unwrap();
    drop(server);
    assert_gone(pid, "the server", Duration::from_secs(2));
}

#[tokio::test]
async fn a_fast_server_is_ready_without_leaving_the_async_thread() {
    // Ready within the first milliseconds, the start never needs a blocking thread; the server
    // still works and stops like any other.
    let server = Server::builder(fixture_cmd("--http"))
        .ready(Ready::http("/"))
        .start()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(http_get(server.addr(), "/").0, 200);
    let pid = server.pid();
    server.stop().await.unwrap();
    assert_gone(pid, "the server", Duration::from_secs(2));
}

#[tokio::test]
async fn an_async_start_keeps_its_timeout_when_the_wait_moves_to_a_blocking_thread() {
    let timeout = Duration::from_millis(400);
    let began = std::time::Instant::now();
    let result = Server::builder(fixture_cmd("--never-listen"))
        .timeout(timeout)
        .start()
        .await;
    let took = began.elapsed();
    match result {
        Err(Error::Timeout { output, .. }) => assert!(output.contains("not listening"), "{output}"),
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert_gave_up_on_time(took, timeout, "an async start");
}

#[tokio::test]
async fn an_async_start_reports_an_early_exit_at_once() {
    let began = std::time::Instant::now();
    let result = Server::builder(fixture_cmd("--slow-start 20 --exit-early 3"))
        .timeout(Duration::from_secs(30))
        .start()
        .await;
    match result {
        Err(Error::ExitedEarly { output, .. }) => {
            assert!(output.contains("exiting with 3"), "{output}");
        }
        other => panic!("expected an early exit, got {other:?}"),
    }
    assert!(
        began.elapsed() < Duration::from_secs(5),
        "{:?}",
        began.elapsed()
    );
}

/// Runs `start` next to a task on the same current-thread runtime, and returns its output with
/// the longest time that task could not run: how long the start held the thread.
async fn longest_stall<F: std::future::Future>(start: F) -> (F::Output, Duration) {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};

    let longest = Arc::new(AtomicU64::new(0));
    let seen = longest.clone();
    let ticker = tokio::spawn(async move {
        let mut last = std::time::Instant::now();
        loop {
            tokio::task::yield_now().await;
            let now = std::time::Instant::now();
            let gap = u64::try_from((now - last).as_micros()).unwrap_or(u64::MAX);
            seen.fetch_max(gap, Ordering::Relaxed);
            last = now;
        }
    });
    tokio::task::yield_now().await;
    let output = start.await;
    tokio::task::yield_now().await;
    ticker.abort();
    (
        output,
        Duration::from_micros(longest.load(Ordering::Relaxed)),
    )
}

#[tokio::test]
async fn a_slow_http_answer_does_not_hold_the_async_thread() {
    // The server listens at once but answers each request a second late: the probe waits on
    // the blocking pool, not on the thread the test's other tasks run on.
    let (server, stall) = longest_stall(
        Server::builder(fixture_cmd("--http --answer-after 1000"))
            .ready(Ready::http("/"))
            .start(),
    )
    .await;
    server.unwrap_or_else(|e| panic!("{e}"));
    assert!(
        stall < Duration::from_millis(300),
        "the runtime stalled {stall:?}"
    );
}

#[tokio::test]
async fn stopping_a_server_that_failed_does_not_hold_the_async_thread() {
    // The leader exits at once; a child that ignores SIGTERM (inherited) keeps the output pipe
    // open, so the failed server's stop takes its whole grace period.
    let (result, stall) = longest_stall(
        Server::builder(fixture_cmd("--ignore-sigterm --spawn-child --exit-early 1"))
            .grace(Duration::from_secs(1))
            .start(),
    )
    .await;
    assert!(
        matches!(result, Err(Error::ExitedEarly { .. })),
        "{result:?}"
    );
    assert!(
        stall < Duration::from_millis(300),
        "the runtime stalled {stall:?}"
    );
}
