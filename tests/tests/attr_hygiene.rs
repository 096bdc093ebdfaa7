//! The expansion names everything by absolute path: a test module that shadows `std`, `core`,
//! `Result`, `Option`, the prelude's functions and macros, or the crate's own names still
//! compiles, and the expansion's own names do not clash with the test's.
#![deny(warnings)]
#![allow(non_camel_case_types, dead_code, unused_macros, unused_imports)]

mod shadowed {
    use ::with_server::with_server;

    mod std {}
    mod core {}
    mod with_server {}
    struct Result;
    struct Option;
    struct Some;
    struct String;
    struct Box;
    struct u16;
    fn drop() {}
    macro_rules! env {
        () => {};
    }
    macro_rules! concat {
        () => {};
    }
    macro_rules! panic {
        () => {};
    }
    trait FromServer {}
    struct Server;
    struct Ready;
    struct Duration;

    #[with_server(
        cmd = "{bin:fixture} --port {port}",
        ready = tcp,
        timeout = "10s",
        grace = "1s",
        logs = "on_failure",
        env(A = "{port}"),
        cwd = "src",
        name = "first"
    )]
    #[with_server(
        cmd = "{bin:fixture} --port {port} --http",
        ready = http("/", status = 200),
        env(B = "{first.url} {first.port} {first.host}")
    )]
    #[test]
    fn sync_test(first: &::with_server::Server, second: ::std::net::SocketAddr) {
        ::std::net::TcpStream::connect(first.addr()).unwrap();
        ::std::net::TcpStream::connect(second).unwrap();
    }

    #[with_server(cmd = "{bin:fixture} --port {port} --announce", ready = log("listening"))]
    #[tokio::test]
    async fn tokio_test(url: &str) -> ::core::result::Result<(), ::std::string::String> {
        if url.is_empty() {
            return Err("empty url".into());
        }
        Ok(())
    }

    #[with_server(cmd = "{bin:fixture} --port {port}")]
    async fn async_test_without_test_attribute(url: &str) {
        ::core::assert!(!url.is_empty());
    }
}

mod names_of_the_expansion {
    use with_server::{Server, with_server};

    // Names that an expansion might use for its own variables.
    #[with_server(cmd = "{bin:fixture} --port {port}")]
    #[with_server(cmd = "{bin:fixture} --port {port}")]
    #[test]
    fn server(server: &Server, result: u16) {
        let server_0 = 0;
        let server_1 = 1;
        assert_ne!(server.port(), result);
        assert_eq!(server_0 + server_1, 1);
    }

    /// The test's name is free for the test to use, also recursively.
    #[with_server(cmd = "{bin:fixture} --port {port}")]
    #[test]
    fn countdown(port: u16) {
        fn countdown(n: u16) -> u16 {
            if n == 0 { 0 } else { countdown(n - 1) }
        }
        assert_eq!(countdown(port.min(3)), 0);
    }
}
