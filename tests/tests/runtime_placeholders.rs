//! Placeholders: `{port}`, `{host}`, `{url}`, `{tmp}`, names given with `.placeholder()`, and
//! `{{`/`}}` for literal braces; a value is filled into its word and never splits it.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::{
    fixture, fixture_cmd, run_this_test, start, value_after, wait_for_output, wait_until,
};
use with_server::Server;

const WAIT: Duration = Duration::from_secs(5);
const CASE: &str = "WITH_SERVER_TESTS_CASE";

/// The value of the first line `PREFIX value` in the output.
#[test]
fn a_value_with_spaces_stays_one_word() {
    // Were the value split, the fixture would reject `big` as an unknown argument.
    let server = start(
        Server::builder(fixture_cmd("--say {greeting} --port {port}"))
            .placeholder("greeting", "hello big world"),
    );
    let output = wait_for_output(&server, "hello", WAIT);
    assert!(
        output.lines().any(|line| line == "hello big world"),
        "{output}"
    );
}

#[test]
fn values_reach_a_shell_as_single_arguments() {
    let server = start(
        Server::builder(format!(
            r#"sh -c 'printf "argc %s\n" "$#"; printf "arg %s\n" "$@"; exec "$0" --port "$PORT"' '{}' {{greeting}} '{{tmp}}' x{{{{y}}}}z"#,
            fixture()
        ))
        .placeholder("greeting", "hello big world"),
    );
    // The last argument's line comes last on the pipe.
    let output = wait_for_output(&server, "arg x{y}z", WAIT);
    assert_eq!(value_after(&output, "argc "), "3", "{output}");
    let args: Vec<&str> = output
        .lines()
        .filter_map(|l| l.strip_prefix("arg "))
        .collect();
    assert_eq!(args[0], "hello big world");
    assert!(
        PathBuf::from(args[1]).is_dir(),
        "{{tmp}} gave {:?}",
        args[1]
    );
    assert_eq!(args[2], "x{y}z");
}

#[test]
fn a_value_is_inserted_verbatim() {
    let weird = r#"it's "quoted" $HOME {port} \n"#;
    let server = start(
        Server::builder(fixture_cmd("--say value={weird} --port {port}"))
            .placeholder("weird", weird),
    );
    let output = wait_for_output(&server, "value=", WAIT);
    assert_eq!(value_after(&output, "value="), weird);
}

#[test]
fn port_host_and_url_are_filled_in() {
    let server = start(Server::builder(fixture_cmd(
        "--say port={port} --say host={host} --say url={url} --say path={url}/x --port {port}",
    )));
    let output = wait_for_output(&server, "path=", WAIT);
    assert_eq!(value_after(&output, "port="), server.port().to_string());
    assert_eq!(value_after(&output, "host="), "127.0.0.1");
    assert_eq!(value_after(&output, "url="), server.base_url());
    assert_eq!(
        value_after(&output, "path="),
        format!("{}/x", server.base_url())
    );
}

#[test]
fn doubled_braces_are_literal() {
    let server = start(Server::builder(fixture_cmd(
        "--say {{port}} --say a{{b}}c --say {{{port}}} --port {port}",
    )));
    let output = wait_for_output(&server, "a{b}c", WAIT);
    let lines: Vec<&str> = output.lines().take(3).collect();
    assert_eq!(
        lines,
        ["{port}", "a{b}c", &format!("{{{}}}", server.port())]
    );
}

#[test]
fn tmp_is_a_fresh_directory_removed_at_teardown() {
    let server = start(Server::builder(fixture_cmd(
        "--say tmp={tmp} --port {port}",
    )));
    let output = wait_for_output(&server, "tmp=", WAIT);
    let tmp = PathBuf::from(value_after(&output, "tmp="));
    assert!(tmp.is_absolute(), "{tmp:?}");
    assert!(tmp.is_dir(), "{tmp:?} does not exist while the server runs");
    assert_eq!(
        std::fs::read_dir(&tmp).unwrap().count(),
        0,
        "{tmp:?} is not empty"
    );
    std::fs::write(tmp.join("left-by-the-test"), "data").unwrap();
    drop(server);
    // The folder may be removed on a background thread; the next test shows it still is
    // when the test binary exits right away.
    assert!(
        wait_until(Duration::from_secs(2), || !tmp.exists()),
        "{tmp:?} outlived the server"
    );
}

/// Run by the test below in a process of its own, which exits as soon as this returns.
#[test]
#[ignore = "a helper: run by the other tests of this file"]
fn helper_prints_tmp_and_ends() {
    if std::env::var_os(CASE).is_none() {
        return;
    }
    let server = start(Server::builder(fixture_cmd(
        "--say tmp={tmp} --port {port}",
    )));
    let output = wait_for_output(&server, "tmp=", WAIT);
    println!("helper-tmp={}", value_after(&output, "tmp="));
}

#[test]
fn tmp_is_removed_even_when_the_test_binary_exits_right_after() {
    let run = run_this_test(
        "helper_prints_tmp_and_ends",
        &[(CASE, "1")],
        Duration::from_secs(60),
    );
    let all = run.all_output();
    assert!(run.status.success(), "{all}");
    let tmp = all
        .lines()
        .find_map(|line| line.split_once("helper-tmp=").map(|(_, tmp)| tmp.trim()))
        .unwrap_or_else(|| panic!("the helper did not report its folder:\n{all}"));
    let tmp = PathBuf::from(tmp);
    let left = tmp.exists();
    let _ = std::fs::remove_dir_all(&tmp);
    assert!(!left, "{tmp:?} was left behind when the test binary exited");
}

#[test]
fn each_server_gets_its_own_tmp() {
    let first = start(Server::builder(fixture_cmd(
        "--say tmp={tmp} --port {port}",
    )));
    let second = start(Server::builder(fixture_cmd(
        "--say tmp={tmp} --port {port}",
    )));
    let first_tmp = value_after(&wait_for_output(&first, "tmp=", WAIT), "tmp=").to_owned();
    let second_tmp = value_after(&wait_for_output(&second, "tmp=", WAIT), "tmp=").to_owned();
    assert_ne!(first_tmp, second_tmp);
}

#[test]
fn tmp_is_the_same_directory_wherever_it_appears() {
    let server = start(
        Server::builder(fixture_cmd(
            "--say tmp={tmp} --echo-env DATA_DIR --pwd --port {port}",
        ))
        .env("DATA_DIR", "{tmp}/data")
        .current_dir("{tmp}"),
    );
    let output = wait_for_output(&server, "tmp=", WAIT);
    let tmp = value_after(&output, "tmp=");
    assert_eq!(value_after(&output, "DATA_DIR="), format!("{tmp}/data"));
    let pwd = PathBuf::from(value_after(&output, "pwd "));
    assert_eq!(
        pwd.canonicalize().unwrap(),
        PathBuf::from(tmp).canonicalize().unwrap()
    );
}

#[test]
fn env_values_get_placeholders_too() {
    let server = start(
        Server::builder(fixture_cmd(
            "--echo-env API --echo-env LITERAL --port {port}",
        ))
        .env("API", "{url}/api")
        .env("LITERAL", "{{not a placeholder}}"),
    );
    let output = wait_for_output(&server, "LITERAL", WAIT);
    assert_eq!(
        value_after(&output, "API="),
        format!("{}/api", server.base_url())
    );
    assert_eq!(value_after(&output, "LITERAL="), "{not a placeholder}");
}
