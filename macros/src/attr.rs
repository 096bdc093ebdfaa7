//! Parse `#[with_server(..)]` attributes into a model that keeps the span of every value.
//!
//! Parsing turns each key's tokens into a typed value (a duration string into a
//! `Duration`, `ready = http(..)` into a [`Probe`]) and reports everything that is wrong with
//! the shape of one key. Rules that span keys, attributes or the function signature live in
//! `valid.rs`.

use std::time::Duration;

use proc_macro2::{Span, TokenStream};
use syn::parse::{ParseStream, Parser};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned as _;
use syn::{Attribute, Expr, ExprLit, Ident, ItemFn, Lit, LitInt, LitStr, Meta, Token};

/// The keys `#[with_server(..)]` accepts, in the order the documentation lists them.
pub(crate) const KEYS: &[&str] = &[
    "cmd", "port", "ready", "logs", "timeout", "env", "cwd", "host", "grace", "name",
];

/// A test function with its stacked `#[with_server]` attributes, topmost first.
pub(crate) struct Test {
    pub(crate) servers: Vec<ServerAttr>,
    /// The function without any `#[with_server]` attribute.
    pub(crate) func: ItemFn,
    /// The function's attributes as written, `#[with_server]` included, for the placement
    /// check.
    pub(crate) attrs: Vec<Attribute>,
}

/// One `#[with_server(..)]` attribute.
pub(crate) struct ServerAttr {
    /// The whole attribute, for errors about what it lacks.
    pub(crate) span: Span,
    pub(crate) cmd: Option<LitStr>,
    pub(crate) port: Option<Spanned<u16>>,
    pub(crate) ready: Option<Probe>,
    pub(crate) logs: Option<Spanned<Logs>>,
    pub(crate) timeout: Option<Spanned<Duration>>,
    pub(crate) grace: Option<Spanned<Duration>>,
    pub(crate) env: Vec<EnvVar>,
    pub(crate) cwd: Option<LitStr>,
    pub(crate) host: Option<LitStr>,
    pub(crate) name: Option<LitStr>,
    /// Keys written in the attribute, valid or not, so that a malformed `cmd` is not also
    /// reported as a missing one.
    pub(crate) keys: Vec<Ident>,
    /// Whether every key could be read; after a syntax error, a key may be there unseen.
    pub(crate) complete: bool,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Spanned<T> {
    pub(crate) value: T,
    pub(crate) span: Span,
}

/// The value of `ready = ..`.
pub(crate) enum Probe {
    Tcp,
    Http {
        path: LitStr,
        status: Option<Spanned<u16>>,
    },
    Log(LitStr),
}

/// The value of `logs = ".."`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Logs {
    OnFailure,
    Always,
    Never,
}

/// One `KEY = "value"` of `env(..)`.
pub(crate) struct EnvVar {
    pub(crate) key: String,
    pub(crate) key_span: Span,
    pub(crate) value: LitStr,
}

/// Errors collected across keys and attributes, so that all of them are reported at once.
#[derive(Default)]
pub(crate) struct Errors(Option<syn::Error>);

impl Errors {
    pub(crate) fn push(&mut self, error: syn::Error) {
        match &mut self.0 {
            Some(errors) => errors.combine(error),
            None => self.0 = Some(error),
        }
    }

    pub(crate) fn at(&mut self, span: Span, message: impl std::fmt::Display) {
        self.push(syn::Error::new(span, message));
    }

    pub(crate) fn spanned(
        &mut self,
        tokens: impl quote::ToTokens,
        message: impl std::fmt::Display,
    ) {
        self.push(syn::Error::new_spanned(tokens, message));
    }

    pub(crate) fn finish(self) -> Result<(), syn::Error> {
        self.0.map_or(Ok(()), Err)
    }
}

/// Whether `attr` is a `#[with_server]` attribute, written as a path of any length.
pub(crate) fn is_with_server(attr: &Attribute) -> bool {
    last_segment_is(attr, "with_server")
}

/// Whether `attr` is a test attribute: `#[test]`, `#[tokio::test]`,
/// `#[::core::prelude::v1::test]` and the like.
pub(crate) fn is_test(attr: &Attribute) -> bool {
    last_segment_is(attr, "test") || is_expanded_test(attr)
}

/// What the built-in `#[test]` leaves on a function once it has expanded (it runs first when
/// it is written above `#[with_server]`).
pub(crate) fn is_expanded_test(attr: &Attribute) -> bool {
    attr.path().is_ident("rustc_test_marker")
}

fn last_segment_is(attr: &Attribute, name: &str) -> bool {
    attr.path()
        .segments
        .last()
        .is_some_and(|segment| segment.ident == name)
}

impl Test {
    /// Parses the attribute being expanded (its arguments are `args`) and every
    /// `#[with_server]` stacked below it on `func`.
    pub(crate) fn from_syn(args: TokenStream, mut func: ItemFn, errors: &mut Errors) -> Test {
        let mut servers = vec![ServerAttr::parse(args, Span::call_site(), errors)];
        let attrs = func.attrs.clone();
        func.attrs.retain(|attr| !is_with_server(attr));
        for attr in attrs.iter().filter(|attr| is_with_server(attr)) {
            let args = match &attr.meta {
                Meta::List(list) => list.tokens.clone(),
                Meta::Path(_) => TokenStream::new(),
                Meta::NameValue(meta) => {
                    errors.spanned(meta, "expected #[with_server(cmd = \"...\", ..)]");
                    continue;
                }
            };
            // On stable a span cannot cover the whole attribute; its name is the clearest part
            // (`attr.span()` would be just the `#`).
            let name = attr
                .path()
                .segments
                .last()
                .map_or_else(|| attr.span(), |segment| segment.ident.span());
            servers.push(ServerAttr::parse(args, name, errors));
        }
        Test {
            servers,
            func,
            attrs,
        }
    }
}

impl ServerAttr {
    /// Parses the arguments of one attribute; `span` is the attribute as a whole.
    pub(crate) fn parse(args: TokenStream, span: Span, errors: &mut Errors) -> ServerAttr {
        let mut attr = ServerAttr {
            span,
            cmd: None,
            port: None,
            ready: None,
            logs: None,
            timeout: None,
            grace: None,
            env: Vec::new(),
            cwd: None,
            host: None,
            name: None,
            keys: Vec::new(),
            complete: true,
        };
        // Key by key, so that the keys before a syntax error are still checked.
        let keys = |input: ParseStream<'_>| {
            while !input.is_empty() {
                attr.parse_key(input.parse()?, errors);
                if !input.is_empty() {
                    input.parse::<Token![,]>()?;
                }
            }
            Ok(())
        };
        if let Err(error) = keys.parse2(args) {
            errors.push(error);
            attr.complete = false;
        }
        attr
    }

    pub(crate) fn has_key(&self, key: &str) -> bool {
        self.keys.iter().any(|ident| ident == key)
    }

    fn parse_key(&mut self, meta: Meta, errors: &mut Errors) {
        let Some(key) = meta.path().get_ident().cloned() else {
            errors.spanned(meta.path(), unknown_key(&path_text(meta.path())));
            return;
        };
        let name = key.to_string();
        if !KEYS.contains(&name.as_str()) {
            errors.spanned(&key, unknown_key(&name));
            return;
        }
        if self.has_key(&name) {
            errors.spanned(&key, format!("duplicate key `{name}`"));
            return;
        }
        self.keys.push(key);
        let result = match name.as_str() {
            "cmd" => string(&meta).map(|lit| self.cmd = Some(lit)),
            "port" => port(&meta).map(|port| self.port = Some(port)),
            "ready" => probe(&meta).map(|probe| self.ready = Some(probe)),
            "logs" => logs(&meta).map(|logs| self.logs = Some(logs)),
            "timeout" => duration(&meta).map(|duration| self.timeout = Some(duration)),
            "grace" => duration(&meta).map(|duration| self.grace = Some(duration)),
            "env" => env(&meta, errors).map(|vars| self.env = vars),
            "cwd" => string(&meta).map(|lit| self.cwd = Some(lit)),
            "host" => string(&meta).map(|lit| self.host = Some(lit)),
            "name" => string(&meta).map(|lit| self.name = Some(lit)),
            _ => Ok(()),
        };
        if let Err(error) = result {
            errors.push(error);
        }
    }
}

fn unknown_key(key: &str) -> String {
    let mut message = format!("unknown key `{key}`, expected one of: {}", KEYS.join(", "));
    if let Some(known) = similar_key(key) {
        message.push_str(&format!("; did you mean `{known}`?"));
    }
    message
}

/// The key that `key` is most likely a misspelling or a synonym of.
fn similar_key(key: &str) -> Option<&'static str> {
    let synonym = match key {
        "command" | "cmdline" | "command_line" | "run" | "exec" => Some("cmd"),
        "wait" | "wait_for" | "probe" | "ready_when" | "readiness" => Some("ready"),
        "dir" | "workdir" | "working_dir" | "current_dir" | "cd" => Some("cwd"),
        "log" | "output" | "print" => Some("logs"),
        "environment" | "envs" | "vars" => Some("env"),
        "addr" | "address" | "bind" => Some("host"),
        _ => None,
    };
    synonym.or_else(|| {
        KEYS.iter()
            .map(|known| (edit_distance(key, known), *known))
            .filter(|(distance, known)| *distance <= known.len() / 3 + 1)
            .min()
            .map(|(_, known)| known)
    })
}

/// Levenshtein distance, for suggestions.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitute = diagonal + usize::from(ca != *cb);
            diagonal = row[j + 1];
            row[j + 1] = substitute.min(row[j] + 1).min(diagonal + 1);
        }
    }
    row[b.len()]
}

/// A path as written, `tokio::test` rather than `tokio :: test`.
pub(crate) fn path_text(path: &syn::Path) -> String {
    quote::quote!(#path).to_string().replace(' ', "")
}

/// The value of `key = value`, or an error that shows how the key is written.
fn value<'a>(meta: &'a Meta, example: &str) -> syn::Result<&'a Expr> {
    let key = path_text(meta.path());
    match meta {
        Meta::NameValue(meta) => Ok(ungroup(&meta.value)),
        _ => Err(syn::Error::new_spanned(
            meta,
            format!("expected `{key} = {example}`"),
        )),
    }
}

/// Looks through the invisible groups that `macro_rules!` puts around `$x:expr` and
/// `$x:literal`, and through parentheses.
fn ungroup(expr: &Expr) -> &Expr {
    match expr {
        Expr::Group(group) => ungroup(&group.expr),
        Expr::Paren(paren) => ungroup(&paren.expr),
        _ => expr,
    }
}

fn string(meta: &Meta) -> syn::Result<LitStr> {
    let key = path_text(meta.path());
    let example = match key.as_str() {
        "cmd" => "\"my-server --port {port}\"",
        "logs" => "\"on_failure\"",
        "timeout" => "\"10s\"",
        "grace" => "\"5s\"",
        "host" => "\"127.0.0.1\"",
        "name" => "\"api\"",
        "cwd" => "\"tests/site\"",
        _ => "\"...\"",
    };
    match value(meta, "\"...\"")? {
        Expr::Lit(ExprLit {
            lit: Lit::Str(lit), ..
        }) => Ok(lit.clone()),
        other => Err(syn::Error::new_spanned(
            other,
            format!("expected a string literal: `{key} = {example}`"),
        )),
    }
}

fn port(meta: &Meta) -> syn::Result<Spanned<u16>> {
    const RANGE: &str = "port out of range, expected 1..=65535, or 0 to pick a free port";
    match value(meta, "8080")? {
        Expr::Lit(ExprLit {
            lit: Lit::Int(lit), ..
        }) => match lit.base10_parse::<u16>() {
            Ok(value) => Ok(Spanned {
                value,
                span: lit.span(),
            }),
            Err(_) => Err(syn::Error::new_spanned(lit, RANGE)),
        },
        Expr::Unary(unary) if matches!(unary.op, syn::UnOp::Neg(_)) => {
            Err(syn::Error::new_spanned(unary, RANGE))
        }
        other => Err(syn::Error::new_spanned(
            other,
            "expected an integer: `port = 8080`, or `port = 0` to pick a free port",
        )),
    }
}

fn logs(meta: &Meta) -> syn::Result<Spanned<Logs>> {
    let lit = string(meta)?;
    let value = match lit.value().as_str() {
        "on_failure" => Logs::OnFailure,
        "always" => Logs::Always,
        "never" => Logs::Never,
        other => {
            return Err(syn::Error::new_spanned(
                &lit,
                format!(
                    "unknown logs value \"{other}\", expected \"on_failure\", \"always\" or \"never\""
                ),
            ));
        }
    };
    Ok(Spanned {
        value,
        span: lit.span(),
    })
}

fn duration(meta: &Meta) -> syn::Result<Spanned<Duration>> {
    let lit = string(meta)?;
    match parse_duration(&lit.value()) {
        Some(value) => Ok(Spanned {
            value,
            span: lit.span(),
        }),
        None => Err(syn::Error::new_spanned(
            &lit,
            format!(
                "malformed duration \"{}\", expected a whole number and a unit: \"500ms\", \"10s\" or \"2m\"",
                lit.value()
            ),
        )),
    }
}

/// `"500ms"`, `"10s"`, `"2m"`; `None` for anything else, and for a duration too long to be
/// meant.
pub(crate) fn parse_duration(text: &str) -> Option<Duration> {
    let digits = text.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = text.split_at(digits);
    let number: u64 = number.parse().ok()?;
    let millis_per_unit = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        _ => return None,
    };
    number
        .checked_mul(millis_per_unit)
        .map(Duration::from_millis)
}

const PROBES: &str =
    "`tcp`, `http(\"/path\")`, `http(\"/path\", status = 204)` or `log(\"regex\")`";

fn probe(meta: &Meta) -> syn::Result<Probe> {
    let expr = value(meta, "http(\"/path\")")?;
    let (name, args) = match expr {
        Expr::Path(path) => (path.path.get_ident(), None),
        Expr::Call(call) => match ungroup(&call.func) {
            Expr::Path(path) => (path.path.get_ident(), Some(&call.args)),
            _ => (None, None),
        },
        _ => (None, None),
    };
    let Some(name) = name else {
        return Err(syn::Error::new_spanned(
            expr,
            format!("unknown probe, expected {PROBES}"),
        ));
    };
    let args: Vec<&Expr> = args.into_iter().flatten().map(ungroup).collect();
    match (name.to_string().as_str(), args.as_slice()) {
        ("tcp", []) if !matches!(expr, Expr::Call(_)) => Ok(Probe::Tcp),
        ("tcp", _) => Err(syn::Error::new_spanned(
            expr,
            "`tcp` takes no arguments: `ready = tcp`",
        )),
        ("http", [path]) => Ok(Probe::Http {
            path: probe_string(path, "http(\"/path\")")?,
            status: None,
        }),
        ("http", [path, status]) => Ok(Probe::Http {
            path: probe_string(path, "http(\"/path\", status = 204)")?,
            status: Some(http_status(status)?),
        }),
        ("http", _) => Err(syn::Error::new_spanned(
            expr,
            "expected `http(\"/path\")` or `http(\"/path\", status = 204)`",
        )),
        ("log", [regex]) => Ok(Probe::Log(probe_string(regex, "log(\"regex\")")?)),
        ("log", _) => Err(syn::Error::new_spanned(expr, "expected `log(\"regex\")`")),
        (other, _) => Err(syn::Error::new_spanned(
            name,
            format!("unknown probe `{other}`, expected {PROBES}"),
        )),
    }
}

fn probe_string(expr: &Expr, example: &str) -> syn::Result<LitStr> {
    match expr {
        Expr::Lit(ExprLit {
            lit: Lit::Str(lit), ..
        }) => Ok(lit.clone()),
        other => Err(syn::Error::new_spanned(
            other,
            format!("expected a string literal: `{example}`"),
        )),
    }
}

fn http_status(expr: &Expr) -> syn::Result<Spanned<u16>> {
    const EXAMPLE: &str =
        "expected `status = N` with N in 100..=599: `http(\"/path\", status = 204)`";
    let Expr::Assign(assign) = expr else {
        return Err(syn::Error::new_spanned(expr, EXAMPLE));
    };
    let is_status =
        matches!(ungroup(&assign.left), Expr::Path(path) if path.path.is_ident("status"));
    let status = match ungroup(&assign.right) {
        Expr::Lit(ExprLit {
            lit: Lit::Int(lit), ..
        }) if is_status => lit,
        _ => return Err(syn::Error::new_spanned(expr, EXAMPLE)),
    };
    match status.base10_parse::<u16>() {
        Ok(value) if (100..=599).contains(&value) => Ok(Spanned {
            value,
            span: status.span(),
        }),
        _ => Err(syn::Error::new_spanned(
            status,
            "http status out of range, expected 100..=599",
        )),
    }
}

/// `env(KEY = "value", ..)`; a malformed pair is reported and the others are kept.
fn env(meta: &Meta, errors: &mut Errors) -> syn::Result<Vec<EnvVar>> {
    const EXAMPLE: &str = "expected `env(KEY = \"value\", ..)`";
    let Meta::List(list) = meta else {
        return Err(syn::Error::new_spanned(meta, EXAMPLE));
    };
    let pairs = list.parse_args_with(|input: ParseStream<'_>| {
        Punctuated::<_, Token![,]>::parse_terminated_with(input, env_pair)
    })?;
    let mut vars: Vec<EnvVar> = Vec::new();
    for (key, value) in pairs {
        let value = match ungroup(&value) {
            Expr::Lit(ExprLit {
                lit: Lit::Str(lit), ..
            }) => lit.clone(),
            other => {
                errors.spanned(
                    other,
                    format!("expected a string literal: `{} = \"value\"`", key.name),
                );
                continue;
            }
        };
        if key.name.is_empty() || key.name.contains(['=', '\0']) {
            errors.at(
                key.span,
                format!("invalid environment variable name \"{}\"", key.name),
            );
        } else if vars.iter().any(|var| var.key == key.name) {
            errors.at(
                key.span,
                format!("duplicate environment variable `{}`", key.name),
            );
        } else {
            vars.push(EnvVar {
                key: key.name,
                key_span: key.span,
                value,
            });
        }
    }
    Ok(vars)
}

struct EnvKey {
    name: String,
    span: Span,
}

/// `KEY = value`, where `KEY` is an identifier (keywords too: `env(type = "x")`) or a string
/// literal for names that are not identifiers.
fn env_pair(input: ParseStream<'_>) -> syn::Result<(EnvKey, Expr)> {
    let key = if input.peek(LitStr) {
        let lit: LitStr = input.parse()?;
        EnvKey {
            name: lit.value(),
            span: lit.span(),
        }
    } else if input.peek(LitInt) {
        return Err(input.error("expected a variable name: `KEY = \"value\"`"));
    } else {
        let ident = input
            .call(<Ident as syn::ext::IdentExt>::parse_any)
            .map_err(|error| {
                syn::Error::new(error.span(), "expected a variable name: `KEY = \"value\"`")
            })?;
        EnvKey {
            // `env(r#type = "x")` names `type`.
            name: syn::ext::IdentExt::unraw(&ident).to_string(),
            span: ident.span(),
        }
    };
    input.parse::<Token![=]>()?;
    let value: Expr = input.parse()?;
    Ok((key, value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    fn parse(args: TokenStream) -> (ServerAttr, Result<(), syn::Error>) {
        let mut errors = Errors::default();
        let attr = ServerAttr::parse(args, Span::call_site(), &mut errors);
        (attr, errors.finish())
    }

    fn messages(args: TokenStream) -> Vec<String> {
        match parse(args).1 {
            Ok(()) => Vec::new(),
            Err(error) => error.into_iter().map(|e| e.to_string()).collect(),
        }
    }

    #[test]
    fn every_key() {
        let (attr, result) = parse(quote! {
            cmd = "python3 -m http.server {port}",
            port = 8080,
            ready = http("/health", status = 204),
            logs = "always",
            timeout = "10s",
            env(RUST_LOG = "debug", "odd-name" = "1", type = "keyword"),
            cwd = "fixtures",
            host = "127.0.0.2",
            grace = "500ms",
            name = "api",
        });
        assert!(result.is_ok(), "{result:?}");
        assert_eq!(
            attr.cmd.map(|lit| lit.value()).as_deref(),
            Some("python3 -m http.server {port}")
        );
        assert_eq!(attr.port.map(|port| port.value), Some(8080));
        assert!(matches!(
            attr.ready,
            Some(Probe::Http { ref path, status: Some(Spanned { value: 204, .. }) }) if path.value() == "/health"
        ));
        assert_eq!(attr.logs.map(|logs| logs.value), Some(Logs::Always));
        assert_eq!(attr.timeout.map(|d| d.value), Some(Duration::from_secs(10)));
        assert_eq!(
            attr.grace.map(|d| d.value),
            Some(Duration::from_millis(500))
        );
        let env: Vec<_> = attr
            .env
            .iter()
            .map(|var| (var.key.as_str(), var.value.value()))
            .collect();
        assert_eq!(
            env,
            [
                ("RUST_LOG", "debug".into()),
                ("odd-name", "1".into()),
                ("type", "keyword".into())
            ]
        );
        assert_eq!(attr.cwd.map(|lit| lit.value()).as_deref(), Some("fixtures"));
        assert_eq!(
            attr.host.map(|lit| lit.value()).as_deref(),
            Some("127.0.0.2")
        );
        assert_eq!(attr.name.map(|lit| lit.value()).as_deref(), Some("api"));
    }

    #[test]
    fn probes() {
        let probe = |tokens| parse(quote!(cmd = "x", ready = #tokens)).0.ready;
        assert!(matches!(probe(quote!(tcp)), Some(Probe::Tcp)));
        assert!(matches!(
            probe(quote!(http("/"))),
            Some(Probe::Http { status: None, .. })
        ));
        assert!(
            matches!(probe(quote!(log("^ready$"))), Some(Probe::Log(ref re)) if re.value() == "^ready$")
        );
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("10s"), Some(Duration::from_secs(10)));
        assert_eq!(parse_duration("2m"), Some(Duration::from_secs(120)));
        assert_eq!(parse_duration("0s"), Some(Duration::ZERO));
        for bad in [
            "",
            "10",
            "s",
            "1.5s",
            "10 s",
            "-1s",
            "10sec",
            "1h",
            "99999999999999999999m",
        ] {
            assert_eq!(parse_duration(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn unknown_and_duplicate_keys() {
        assert_eq!(
            messages(quote!(cmd = "x", command = "y")),
            [
                "unknown key `command`, expected one of: cmd, port, ready, logs, timeout, env, cwd, host, grace, name; did you mean `cmd`?"
            ]
        );
        assert_eq!(
            messages(quote!(cmd = "x", cmd = "y")),
            ["duplicate key `cmd`"]
        );
    }

    #[test]
    fn all_errors_at_once() {
        let messages = messages(quote! {
            cmd = 1, port = 70000, ready = grpc, timeout = "soon", logs = "sometimes",
            env(A = 1, A = "x", A = "y"), nme = "x",
        });
        assert_eq!(
            messages,
            [
                "expected a string literal: `cmd = \"my-server --port {port}\"`",
                "port out of range, expected 1..=65535, or 0 to pick a free port",
                "unknown probe `grpc`, expected `tcp`, `http(\"/path\")`, `http(\"/path\", status = 204)` or `log(\"regex\")`",
                "malformed duration \"soon\", expected a whole number and a unit: \"500ms\", \"10s\" or \"2m\"",
                "unknown logs value \"sometimes\", expected \"on_failure\", \"always\" or \"never\"",
                "expected a string literal: `A = \"value\"`",
                "duplicate environment variable `A`",
                "unknown key `nme`, expected one of: cmd, port, ready, logs, timeout, env, cwd, host, grace, name; did you mean `name`?",
            ]
        );
    }

    #[test]
    fn keys_before_a_syntax_error_are_checked() {
        assert_eq!(
            messages(quote!(port = 70000, cmd "x", timeout = "1y")),
            [
                "port out of range, expected 1..=65535, or 0 to pick a free port",
                "expected `cmd = \"...\"`",
                "expected `,`",
            ]
        );
    }

    #[test]
    fn malformed_values() {
        assert_eq!(messages(quote!(cmd("x"))), ["expected `cmd = \"...\"`"]);
        assert_eq!(
            messages(quote!(cmd = "x", port = -1)),
            ["port out of range, expected 1..=65535, or 0 to pick a free port"]
        );
        assert_eq!(
            messages(quote!(cmd = "x", port = "80")),
            ["expected an integer: `port = 8080`, or `port = 0` to pick a free port"]
        );
        assert_eq!(
            messages(quote!(cmd = "x", ready = tcp())),
            ["`tcp` takes no arguments: `ready = tcp`"]
        );
        assert_eq!(
            messages(quote!(cmd = "x", ready = http)),
            ["expected `http(\"/path\")` or `http(\"/path\", status = 204)`"]
        );
        assert_eq!(
            messages(quote!(cmd = "x", ready = http("/", status = 42))),
            ["http status out of range, expected 100..=599"]
        );
        assert_eq!(
            messages(quote!(cmd = "x", ready = http("/", code = 200))),
            ["expected `status = N` with N in 100..=599: `http(\"/path\", status = 204)`"]
        );
        assert_eq!(
            messages(quote!(cmd = "x", ready = log(1))),
            ["expected a string literal: `log(\"regex\")`"]
        );
        assert_eq!(
            messages(quote!(cmd = "x", env = "A=1")),
            ["expected `env(KEY = \"value\", ..)`"]
        );
        assert_eq!(
            messages(quote!(cmd = "x", ready = 1)),
            [format!("unknown probe, expected {PROBES}")]
        );
        assert_eq!(messages(quote!(cmd = "x", a::b = 1)).len(), 1);
    }

    #[test]
    fn values_from_macro_rules_fragments() {
        // `$cmd:literal` and `$port:expr` reach the attribute inside invisible groups.
        let cmd = proc_macro2::Group::new(proc_macro2::Delimiter::None, quote!("sh -c 'exit 0'"));
        let port = proc_macro2::Group::new(proc_macro2::Delimiter::None, quote!(8081));
        let (attr, result) = parse(quote!(cmd = #cmd, port = #port));
        assert!(result.is_ok(), "{result:?}");
        assert_eq!(
            attr.cmd.map(|lit| lit.value()).as_deref(),
            Some("sh -c 'exit 0'")
        );
        assert_eq!(attr.port.map(|port| port.value), Some(8081));
    }

    #[test]
    fn stacked_attributes_are_taken_in_order() {
        let func: ItemFn = syn::parse_quote! {
            #[with_server(cmd = "second", name = "b")]
            #[doc = "kept"]
            #[::with_server::with_server(cmd = "third")]
            #[test]
            fn t() {}
        };
        let mut errors = Errors::default();
        let test = Test::from_syn(quote!(cmd = "first"), func, &mut errors);
        assert!(errors.finish().is_ok());
        let cmds: Vec<_> = test
            .servers
            .iter()
            .map(|s| s.cmd.as_ref().map(LitStr::value))
            .collect();
        assert_eq!(
            cmds,
            [
                Some("first".into()),
                Some("second".into()),
                Some("third".into())
            ]
        );
        assert_eq!(test.func.attrs.len(), 2);
        assert_eq!(test.attrs.len(), 4);
    }
}
