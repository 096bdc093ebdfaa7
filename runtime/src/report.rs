//! When and how a server's output is printed: from the thread that drops the server (the
//! test's thread), so libtest shows it under that test only.

use std::str::FromStr;

/// When a server's captured output is printed.
///
/// The person running the tests can override it for every server with the environment
/// variable `WITH_SERVER_LOGS` (`always`, `never` or `on_failure`).
///
/// ```
/// use with_server::Logs;
///
/// assert_eq!(Logs::default(), Logs::OnFailure);
/// assert_eq!("always".parse::<Logs>(), Ok(Logs::Always));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Logs {
    /// When the test fails (panics, or returns `Err` under `#[with_server]`).
    #[default]
    OnFailure,
    /// Whenever the server stops.
    Always,
    /// Never; read it with [`Server::output`](crate::Server::output) instead.
    Never,
}

impl FromStr for Logs {
    type Err = String;

    fn from_str(text: &str) -> Result<Logs, String> {
        match text {
            "on_failure" => Ok(Logs::OnFailure),
            "always" => Ok(Logs::Always),
            "never" => Ok(Logs::Never),
            _ => Err(format!(
                "unknown logs setting `{text}`; use \"on_failure\", \"always\" or \"never\""
            )),
        }
    }
}

impl Logs {
    /// This setting, unless `WITH_SERVER_LOGS` says otherwise.
    pub(crate) fn effective(self) -> Logs {
        std::env::var("WITH_SERVER_LOGS")
            .ok()
            .and_then(|value| value.parse().ok())
            .unwrap_or(self)
    }

    pub(crate) fn prints(self, failed: bool) -> bool {
        match self.effective() {
            Logs::Always => true,
            Logs::OnFailure => failed,
            Logs::Never => false,
        }
    }
}

/// Prints a server's output as one block, so blocks of servers on other threads never mix.
pub(crate) fn print(title: &str, output: &str) {
    let body = if output.is_empty() {
        "(no output)\n".to_string()
    } else if output.ends_with('\n') {
        output.to_string()
    } else {
        format!("{output}\n")
    };
    eprint!("---- with-server: output of {title} ----\n{body}---- end of output ----\n");
}

/// Whether `WITH_SERVER_KEEP` asks to leave servers running after the test.
pub(crate) fn keep() -> bool {
    std::env::var_os("WITH_SERVER_KEEP").is_some_and(|value| !value.is_empty() && value != "0")
}
