//! Port 0 (the default): a free port is picked for each server, handed to it as `{port}` and
//! `PORT`, and no two servers get the same one.

mod common;

use std::collections::HashSet;
use std::net::TcpStream;
use std::time::Duration;

use common::{fixture_cmd, number_after, start, wait_for_output};
use with_server::Server;

#[test]
fn the_picked_port_reaches_the_server_as_placeholder_and_env() {
    let server = start(Server::builder(fixture_cmd(
        "--echo-env PORT --say port-arg={port} --port {port} --announce",
    )));
    let port = server.port();
    assert_ne!(port, 0);
    let output = wait_for_output(&server, "listening on", Duration::from_secs(5));
    assert!(output.contains(&format!("PORT={port}\n")), "{output}");
    assert!(output.contains(&format!("port-arg={port}\n")), "{output}");
    assert_eq!(
        number_after::<u16>(&output, "listening on 127.0.0.1:"),
        port
    );
}

#[test]
fn the_env_port_alone_is_enough_for_a_server() {
    // No `{port}` in the command: the fixture falls back to PORT, as many servers do.
    let server = start(Server::builder(fixture_cmd("--announce")));
    let output = wait_for_output(&server, "listening on", Duration::from_secs(5));
    assert_eq!(
        number_after::<u16>(&output, "listening on 127.0.0.1:"),
        server.port()
    );
}

#[test]
fn servers_started_at_once_get_distinct_ports() {
    const SERVERS: usize = 8;
    let servers: Vec<Server> = std::thread::scope(|scope| {
        let starting: Vec<_> = (0..SERVERS)
            .map(|_| {
                scope.spawn(|| start(Server::builder(fixture_cmd("--port {port} --announce"))))
            })
            .collect();
        starting
            .into_iter()
            .map(|handle| handle.join().unwrap())
            .collect()
    });
    let ports: HashSet<u16> = servers.iter().map(Server::port).collect();
    assert_eq!(ports.len(), SERVERS, "ports handed out twice: {ports:?}");
    for server in &servers {
        let output = wait_for_output(server, "listening on", Duration::from_secs(5));
        assert_eq!(
            number_after::<u16>(&output, "listening on 127.0.0.1:"),
            server.port(),
            "a server bound another port than the one it was given"
        );
        TcpStream::connect(server.addr()).unwrap();
    }
    let pids: HashSet<u32> = servers.iter().map(Server::pid).collect();
    assert_eq!(pids.len(), SERVERS);
}

#[test]
fn a_port_is_not_handed_out_again_while_its_server_runs() {
    let first = start(Server::builder(fixture_cmd("--port {port}")));
    for _ in 0..10 {
        let other = start(Server::builder(fixture_cmd("--port {port}")));
        assert_ne!(other.port(), first.port());
    }
}
