//! What with-server adds on top of a server's own start-up, against a hand-written loop on the
//! same server, in one process, interleaved round by round so machine drift hits all alike.
//!
//! ```text
//! cargo bench -p with-server-tests --bench overhead               # 40 rounds
//! cargo bench -p with-server-tests --bench overhead -- --rounds 10
//! ```
//!
//! "ratio" is the ratio of the medians; "paired" is the median of each round's ratio to the
//! hand loop of the same round.
//!
//! Per fresh server it measures (a) a hand-written loop: spawn, poll a TCP connect every
//! 0.2 ms, SIGTERM, reap; (b) `Server::builder(..).start_blocking()` then drop; (c)
//! `start().await` then `stop().await`. On the fixture server (tiny) and on
//! `python3 -m http.server`. Plus the readiness latency (from the moment the fixture has bound
//! its port, a CLOCK_MONOTONIC stamp it prints, to `start_blocking` returning), the teardown
//! time of a well-behaved server, and 200 servers run as `cargo test` runs 200 tests on this
//! 2-core machine: 2 at a time, each on a thread of its own (and, for reference, 200 hand loops
//! the same way).
//! `--tiny-only` leaves out `python3 -m http.server` and the readiness latency, which makes many
//! rounds quick; `--load-only` runs only the 200 servers.

use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use with_server::{Ready, Server};

const FIXTURE: &str = env!("CARGO_BIN_EXE_fixture");

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Tiny,
    Python,
}

impl Kind {
    fn label(self) -> &'static str {
        match self {
            Kind::Tiny => "fixture (tiny Rust server)",
            Kind::Python => "python3 -m http.server",
        }
    }

    fn cmdline(self) -> String {
        match self {
            Kind::Tiny => format!("{FIXTURE} --port {{port}}"),
            Kind::Python => "python3 -m http.server {port} --bind 127.0.0.1".to_string(),
        }
    }

    fn argv(self, port: u16) -> Vec<String> {
        self.cmdline()
            .replace("{port}", &port.to_string())
            .split(' ')
            .map(str::to_string)
            .collect()
    }
}

/// (a): what people write by hand.
fn hand_loop(kind: Kind) -> Duration {
    hand_loop_with_teardown(kind).0
}

/// (a), and the time from its SIGTERM to the reaped exit.
fn hand_loop_with_teardown(kind: Kind) -> (Duration, Duration) {
    let started = Instant::now();
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let argv = kind.argv(port);
    let mut child = Command::new(&argv[0])
        .args(&argv[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            child.try_wait().expect("try_wait").is_none(),
            "server exited"
        );
        std::thread::sleep(Duration::from_micros(200));
    }
    let pid = i32::try_from(child.id()).expect("pid");
    let stopping = Instant::now();
    // SAFETY: signalling our own child.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    child.wait().expect("wait");
    (started.elapsed(), stopping.elapsed())
}

/// (b): the sync builder, stopped by drop; also returns the teardown time.
fn builder_sync(kind: Kind) -> (Duration, Duration) {
    let started = Instant::now();
    let server = Server::builder(kind.cmdline())
        .start_blocking()
        .expect("start");
    let stopping = Instant::now();
    drop(server);
    (started.elapsed(), stopping.elapsed())
}

/// (c): the async builder, stopped explicitly.
fn builder_async(kind: Kind, runtime: &tokio::runtime::Runtime) -> Duration {
    runtime.block_on(async {
        let started = Instant::now();
        let server = Server::builder(kind.cmdline())
            .start()
            .await
            .expect("start");
        server.stop().await.expect("stop");
        started.elapsed()
    })
}

/// From the fixture's bind to `start_blocking` returning, for a probe of each kind.
fn readiness_latency(ready: Ready) -> Duration {
    let server = Server::builder(format!("{FIXTURE} --port {{port}} --stamp --http"))
        .ready(ready)
        .start_blocking()
        .expect("start");
    let returned = with_server_tests::monotonic_ns();
    let bound = loop {
        let output = server.output();
        if let Some(ns) = output
            .lines()
            .find_map(|line| line.strip_prefix("bound-at-ns "))
            .and_then(|ns| ns.trim().parse::<u128>().ok())
        {
            break ns;
        }
        std::thread::yield_now();
    };
    Duration::from_nanos(u64::try_from(returned.saturating_sub(bound)).expect("fits"))
}

fn median<T: Copy + PartialOrd>(mut samples: Vec<T>) -> T {
    samples.sort_by(|a, b| a.partial_cmp(b).expect("comparable samples"));
    samples[samples.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1e3)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mut rounds: usize = 40;
    let mut tiny_only = false;
    let mut load_only = false;
    while let Some(arg) = args.next() {
        if arg == "--rounds" {
            rounds = args
                .next()
                .and_then(|n| n.parse().ok())
                .expect("--rounds N");
        } else if arg == "--tiny-only" {
            tiny_only = true;
        } else if arg == "--load-only" {
            load_only = true;
        }
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");

    // Warm-up: page cache, the watchdog, Python's bytecode cache.
    for kind in [Kind::Tiny, Kind::Python] {
        hand_loop(kind);
        builder_sync(kind);
        builder_async(kind, &runtime);
    }

    if !load_only {
        println!(
            "with-server overhead benchmark: {rounds} rounds (python: a quarter of them), medians"
        );
    }
    let kinds: &[Kind] = if load_only {
        &[]
    } else if tiny_only {
        &[Kind::Tiny]
    } else {
        &[Kind::Tiny, Kind::Python]
    };
    for &kind in kinds {
        let rounds = if kind == Kind::Python {
            (rounds / 4).max(3)
        } else {
            rounds
        };
        let (mut hand, mut sync, mut asynch) = (vec![], vec![], vec![]);
        let (mut teardown, mut hand_teardown) = (vec![], vec![]);
        for round in 0..rounds {
            // Rotate the order so neither goes first every time.
            for slot in 0..3 {
                match (round + slot) % 3 {
                    0 => {
                        let (total, stop) = hand_loop_with_teardown(kind);
                        hand.push(total);
                        hand_teardown.push(stop);
                    }
                    1 => {
                        let (total, stop) = builder_sync(kind);
                        sync.push(total);
                        teardown.push(stop);
                    }
                    _ => asynch.push(builder_async(kind, &runtime)),
                }
            }
        }
        // Each round's ratio to the hand loop of the same round: slow drift of the machine
        // over the run cancels out.
        let paired = |x: &[Duration]| {
            let mut ratios: Vec<f64> = x
                .iter()
                .zip(&hand)
                .map(|(x, a)| x.as_secs_f64() / a.as_secs_f64())
                .collect();
            ratios.sort_by(f64::total_cmp);
            ratios[ratios.len() / 2]
        };
        let (paired_b, paired_c) = (paired(&sync), paired(&asynch));
        let (a, b, c) = (median(hand), median(sync), median(asynch));
        let ratio = |x: Duration| x.as_secs_f64() / a.as_secs_f64();
        println!("\n{}", kind.label());
        println!("  (a) hand-written spawn/poll/kill loop  {}", ms(a));
        println!(
            "  (b) start_blocking + drop              {}   ratio {:.3}   paired {:.3}",
            ms(b),
            ratio(b),
            paired_b
        );
        println!(
            "  (c) start().await + stop().await       {}   ratio {:.3}   paired {:.3}",
            ms(c),
            ratio(c),
            paired_c
        );
        println!(
            "  teardown (drop) of the server          {}   (the hand loop's SIGTERM + wait: {})",
            ms(median(teardown)),
            ms(median(hand_teardown))
        );
    }

    if !tiny_only && !load_only {
        println!("\nreadiness latency: fixture has bound its port -> start_blocking returned");
        for (label, ready) in [
            ("tcp", Ready::tcp()),
            ("http(\"/\")", Ready::http("/")),
            ("log(\"bound-at-ns\")", Ready::log("bound-at-ns")),
        ] {
            let samples = (0..rounds)
                .map(|_| readiness_latency(ready.clone()))
                .collect();
            println!("  {label:<20} {}", ms(median(samples)));
        }
    }

    let servers = 200;
    let threads = 2;
    // As libtest runs tests: `threads` at a time, each test on a thread of its own.
    let on_threads = |run: fn()| {
        let started = Instant::now();
        std::thread::scope(|scope| {
            for _ in 0..threads {
                scope.spawn(|| {
                    for _ in 0..servers / threads {
                        std::thread::spawn(run).join().expect("a test thread");
                    }
                });
            }
        });
        started.elapsed()
    };
    // Seven of each, interleaved with the hand loops of (a) that make the yardstick, so drift
    // hits all alike.
    let reps = 7;
    let (mut hand_each, mut hand_walls, mut walls) = (vec![], vec![], vec![]);
    for _ in 0..reps {
        hand_each.extend((0..rounds.div_ceil(reps).max(10)).map(|_| hand_loop(Kind::Tiny)));
        hand_walls.push(on_threads(|| {
            hand_loop(Kind::Tiny);
        }));
        walls.push(on_threads(|| {
            builder_sync(Kind::Tiny);
        }));
    }
    let paired: Vec<f64> = walls
        .iter()
        .zip(&hand_walls)
        .map(|(wall, hand)| wall.as_secs_f64() / hand.as_secs_f64())
        .collect();
    let (hand_wall, wall) = (median(hand_walls), median(walls));
    let budget = median(hand_each) * servers / threads;
    println!(
        "\n{servers} fresh tiny servers on {threads} threads, median of {reps}: {} (200 x (a) / {threads} = {}, (a) measured between the runs; ratio {:.3})",
        ms(wall),
        ms(budget),
        wall.as_secs_f64() / budget.as_secs_f64()
    );
    println!(
        "  the hand loop the same way: {} (ratio {:.3}, paired {:.3})",
        ms(hand_wall),
        wall.as_secs_f64() / hand_wall.as_secs_f64(),
        median(paired)
    );
}
