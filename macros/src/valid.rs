//! Rules that a single key cannot check on its own: the command line, placeholders and the
//! server names they refer to, the `log` regex, and how the attributes fit the function.
//! Every rule reports into the same [`Errors`], so the user sees all problems at once.

use proc_macro2::Span;
use syn::{FnArg, ItemFn, LitStr, Pat, Stmt, Type};

use crate::attr::{
    Errors, Probe, ServerAttr, Test, is_expanded_test, is_test, is_with_server, path_text,
};
use crate::placeholder::{self, Placeholder};

impl Test {
    pub(crate) fn validate(&self, errors: &mut Errors) {
        for (index, server) in self.servers.iter().enumerate() {
            let (above, rest) = self.servers.split_at(index);
            server.validate(above, &rest[1..], errors);
        }
        self.validate_placement(errors);
        validate_params(&self.func, self.servers.len(), errors);
        validate_generics(&self.func, errors);
        validate_should_panic(&self.func, errors);
    }

    /// A test attribute must come last: placed above `#[with_server]` it has already turned
    /// the function into something else by the time `#[with_server]` sees it.
    fn validate_placement(&self, errors: &mut Errors) {
        if contains_started_server(&self.func.block) {
            // A #[with_server] above this one has expanded already and taken every attribute
            // spelled `with_server`: this one is spelled otherwise.
            return errors.at(
                Span::call_site(),
                "stacked #[with_server] attributes must all be spelled `with_server` (a path such as `with_server::with_server` is fine, a renamed import is not), so that the topmost one sees the others",
            );
        }
        if let Some(marker) = self.func.attrs.iter().find(|attr| is_expanded_test(attr)) {
            return errors.spanned(marker, below_test_attribute("test"));
        }
        if rewritten_by_tokio(&self.func) {
            // Its leftover test attribute would also be "above" any stacked #[with_server].
            return errors.at(Span::call_site(), below_test_attribute("tokio::test"));
        }
        let mut test_attr = None;
        for attr in &self.attrs {
            if is_test(attr) {
                test_attr = Some(attr);
            } else if let (true, Some(test_attr)) = (is_with_server(attr), test_attr) {
                errors.spanned(attr, below_test_attribute(&path_text(test_attr.path())));
            }
        }
    }
}

fn below_test_attribute(test: &str) -> String {
    format!("#[with_server] must be placed above #[{test}], move it up")
}

/// `#[tokio::test]` above `#[with_server]` has already run: it leaves a plain `fn` carrying
/// `#[::core::prelude::v1::test]` whose body starts with
/// `let body = async { .. }; tokio::pin!(body);`.
fn rewritten_by_tokio(func: &ItemFn) -> bool {
    let mut stmts = func.block.stmts.iter();
    let async_body = matches!(stmts.next(), Some(Stmt::Local(local))
        if matches!(&local.pat, Pat::Ident(pat) if pat.ident == "body")
            && matches!(local.init.as_ref().map(|init| &*init.expr), Some(syn::Expr::Async(_))));
    let pinned = matches!(stmts.next(), Some(Stmt::Macro(stmt))
        if stmt.mac.path.segments.last().is_some_and(|segment| segment.ident == "pin"));
    let generated_test = func
        .attrs
        .iter()
        .any(|attr| path_text(attr.path()) == "::core::prelude::v1::test");
    func.sig.asyncness.is_none() && async_body && pinned && generated_test
}

/// Whether `block` already starts servers: the mark of an expanded `#[with_server]`.
fn contains_started_server(block: &syn::Block) -> bool {
    fn scan(tokens: proc_macro2::TokenStream) -> bool {
        let mut private = false;
        for token in tokens {
            match token {
                proc_macro2::TokenTree::Group(group) => {
                    if scan(group.stream()) {
                        return true;
                    }
                }
                proc_macro2::TokenTree::Ident(ident) => {
                    if private && ident == "started" {
                        return true;
                    }
                    private = ident == "__private";
                }
                proc_macro2::TokenTree::Punct(_) => {}
                proc_macro2::TokenTree::Literal(_) => private = false,
            }
        }
        false
    }
    scan(quote::ToTokens::to_token_stream(block))
}

/// A bare `#[should_panic]` would pass when the server fails to start, since that panics too.
fn validate_should_panic(func: &ItemFn, errors: &mut Errors) {
    for attr in &func.attrs {
        if attr.path().is_ident("should_panic") && matches!(attr.meta, syn::Meta::Path(_)) {
            errors.spanned(
                attr,
                "#[should_panic] on a #[with_server] test needs `expected = \"...\"`: a server that fails to start panics too, and would pass the test",
            );
        }
    }
}

/// The test function becomes an inner function called with the servers' values: type and const
/// parameters would have nothing to be inferred from.
fn validate_generics(func: &ItemFn, errors: &mut Errors) {
    for param in &func.sig.generics.params {
        if !matches!(param, syn::GenericParam::Lifetime(_)) {
            errors.spanned(
                param,
                "a #[with_server] test cannot have type or const parameters",
            );
        }
    }
}

/// Each `#[with_server]` binds one parameter; a parameter left over has no value.
fn validate_params(func: &ItemFn, servers: usize, errors: &mut Errors) {
    let mut typed = 0;
    for input in &func.sig.inputs {
        match input {
            FnArg::Receiver(receiver) => {
                errors.spanned(receiver, "#[with_server] cannot be used on a method");
            }
            FnArg::Typed(param) => {
                typed += 1;
                if typed > servers {
                    errors.spanned(param, too_many_params(servers));
                } else if let Type::Reference(reference) = &*param.ty
                    && reference
                        .lifetime
                        .as_ref()
                        .is_some_and(|lifetime| lifetime.ident == "static")
                {
                    errors.spanned(
                        reference,
                        "a server lives only as long as its test, not `'static`: take `&str`, `String` or `&Server`",
                    );
                } else if let Type::ImplTrait(ty) = &*param.ty {
                    errors.spanned(
                        ty,
                        "a #[with_server] parameter needs a concrete type: `&Server`, `&str`, `String`, `u16`, `SocketAddr` or `Url`",
                    );
                }
            }
        }
    }
}

fn too_many_params(servers: usize) -> String {
    let attributes = if servers == 1 {
        "1 #[with_server] attribute".to_owned()
    } else {
        format!("{servers} #[with_server] attributes")
    };
    format!(
        "no server for this parameter: each #[with_server] binds one parameter, in order, and this test has {attributes}"
    )
}

impl ServerAttr {
    /// `above` are the attributes above this one, whose names this one may use; `below` are
    /// those below, named only to explain why they cannot be used.
    fn validate(&self, above: &[ServerAttr], below: &[ServerAttr], errors: &mut Errors) {
        let names: Vec<String> = above
            .iter()
            .filter_map(|server| server.name.as_ref().map(LitStr::value))
            .collect();
        let check = |lit: &LitStr, text: &str, errors: &mut Errors| {
            check_placeholders(lit, text, &names, self, below, errors);
        };
        if let Some(cmd) = &self.cmd {
            match shell_words::split(&cmd.value()) {
                Err(_) => errors.spanned(cmd, "unbalanced quote in `cmd`, a quote is never closed"),
                Ok(words) if words.is_empty() => errors.spanned(
                    cmd,
                    "empty `cmd`, expected the command line that starts the server",
                ),
                // The runtime splits first and fills placeholders word by word.
                Ok(words) => words.iter().for_each(|word| check(cmd, word, errors)),
            }
        } else if self.complete && !self.has_key("cmd") {
            errors.at(
                self.span,
                "missing key `cmd`, the command line that starts the server: #[with_server(cmd = \"...\")]",
            );
        }
        for var in &self.env {
            check(&var.value, &var.value.value(), errors);
        }
        if let Some(cwd) = &self.cwd {
            check(cwd, &cwd.value(), errors);
        }
        if let Some(host) = &self.host
            && host.value().trim().is_empty()
        {
            errors.spanned(host, "empty `host`, expected an address like \"127.0.0.1\"");
        }
        if let Some(Probe::Log(regex)) = &self.ready
            && let Err(error) = regex::Regex::new(&regex.value())
        {
            errors.spanned(
                regex,
                format!("invalid regex in `log`: {}", regex_message(&error)),
            );
        }
        if let Some(Probe::Http { path, .. }) = &self.ready
            && !path.value().starts_with('/')
        {
            errors.spanned(
                path,
                "the http path must start with `/`: `http(\"/health\")`",
            );
        }
        if let Some(timeout) = &self.timeout
            && timeout.value.is_zero()
        {
            errors.at(timeout.span, "`timeout` must be longer than zero");
        }
        if let Some(name) = &self.name {
            let value = name.value();
            if !placeholder::is_name(&value) {
                errors.spanned(
                    name,
                    format!("invalid server name \"{value}\", use letters, digits, `_` and `-`"),
                );
            } else if names.contains(&value) {
                errors.spanned(name, format!("duplicate server name \"{value}\""));
            }
        }
    }

    /// Whether this server is named `name`.
    fn declares(&self, name: &str) -> bool {
        self.name.as_ref().is_some_and(|lit| lit.value() == name)
    }
}

/// The first line of a regex error that says what is wrong, without the caret diagram.
fn regex_message(error: &regex::Error) -> String {
    let text = error.to_string();
    text.lines()
        .rev()
        .find_map(|line| line.strip_prefix("error: "))
        .unwrap_or(&text)
        .to_owned()
}

fn check_placeholders(
    lit: &LitStr,
    text: &str,
    names: &[String],
    server: &ServerAttr,
    below: &[ServerAttr],
    errors: &mut Errors,
) {
    let found = match placeholder::names(text) {
        Ok(found) => found,
        Err(error) => return errors.spanned(lit, error),
    };
    for name in found {
        match placeholder::classify(name) {
            Placeholder::Own | Placeholder::Bin(_) => {}
            Placeholder::Server {
                name: server_name, ..
            } if names.iter().any(|n| n == server_name) => {}
            Placeholder::Server {
                name: server_name, ..
            } if server.declares(server_name) => {
                errors.spanned(
                    lit,
                    format!("`{{{name}}}` names this server itself, use `{{url}}`, `{{port}}` or `{{host}}`"),
                );
            }
            Placeholder::Server {
                name: server_name, ..
            } if below.iter().any(|server| server.declares(server_name)) => {
                errors.spanned(
                    lit,
                    format!(
                        "`{{{name}}}` names the server \"{server_name}\" declared below this one; servers start from the top, so move the #[with_server] named \"{server_name}\" above this one"
                    ),
                );
            }
            _ => errors.spanned(lit, unknown_placeholder(name, names)),
        }
    }
}

fn unknown_placeholder(name: &str, names: &[String]) -> String {
    let mut allowed = vec!["{port}", "{host}", "{url}", "{tmp}", "{bin:NAME}"]
        .into_iter()
        .map(str::to_owned)
        .collect::<Vec<_>>();
    for server in names {
        for field in ["url", "port", "host"] {
            allowed.push(format!("{{{server}.{field}}}"));
        }
    }
    let mut message = format!(
        "unknown placeholder `{{{name}}}`, expected one of: {}",
        allowed.join(", ")
    );
    if names.is_empty()
        && let Placeholder::Server { .. } = placeholder::classify(name)
    {
        message.push_str(
            "; `{NAME.url}` needs a server named NAME by a #[with_server] above this one",
        );
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;
    use proc_macro2::TokenStream;
    use quote::quote;

    fn errors(args: TokenStream, func: ItemFn) -> Vec<String> {
        let mut errors = Errors::default();
        let test = Test::from_syn(args, func, &mut errors);
        test.validate(&mut errors);
        match errors.finish() {
            Ok(()) => Vec::new(),
            Err(error) => error.into_iter().map(|e| e.to_string()).collect(),
        }
    }

    fn errors_of(args: TokenStream) -> Vec<String> {
        errors(
            args,
            syn::parse_quote!(
                fn t() {}
            ),
        )
    }

    #[test]
    fn refuses_a_function_the_builtin_test_attribute_has_expanded() {
        let func: ItemFn = syn::parse_quote! {
            #[rustc_test_marker = "t"]
            fn t() {}
        };
        let found = errors(quote!(cmd = "srv"), func);
        assert_eq!(
            found,
            ["#[with_server] must be placed above #[test], move it up"]
        );
    }

    #[test]
    fn refuses_a_second_spelling_after_an_expanded_attribute() {
        let func: ItemFn = syn::parse_quote! {
            fn t() {
                let server_0 = ::with_server::__private::started(builder.start_blocking());
            }
        };
        let found = errors(quote!(cmd = "srv"), func);
        assert!(
            found[0]
                .starts_with("stacked #[with_server] attributes must all be spelled `with_server`"),
            "{found:?}"
        );
    }

    #[test]
    fn refuses_a_bare_should_panic_generics_and_static_borrows() {
        let func: ItemFn = syn::parse_quote! {
            #[should_panic]
            fn t<T: Default>(url: &'static str) {}
        };
        let found = errors(quote!(cmd = "srv"), func);
        assert_eq!(found.len(), 3, "{found:?}");
        assert!(
            found.iter().any(|e| e.contains("needs `expected")),
            "{found:?}"
        );
        assert!(
            found
                .iter()
                .any(|e| e.contains("cannot have type or const parameters")),
            "{found:?}"
        );
        assert!(
            found.iter().any(|e| e.contains("not `'static`")),
            "{found:?}"
        );
        let fine: ItemFn = syn::parse_quote! {
            #[should_panic(expected = "boom")]
            fn t<'a>(url: &'a str) {}
        };
        assert_eq!(errors(quote!(cmd = "srv"), fine), Vec::<String>::new());
    }

    #[test]
    fn accepts_a_complete_stack() {
        let func: ItemFn = syn::parse_quote! {
            #[with_server(cmd = "{bin:frontend} --api {api.url}", env(API = "{api.host}:{api.port}"), cwd = "{tmp}")]
            #[tokio::test]
            async fn t(api: &Server, frontend: &str) {}
        };
        assert_eq!(
            errors(
                quote!(
                    cmd = "sh -c 'exec serve {port}'",
                    name = "api",
                    ready = log("port (?P<port>\\d+)")
                ),
                func
            ),
            Vec::<String>::new()
        );
    }

    #[test]
    fn command_lines() {
        assert_eq!(
            errors_of(quote!(port = 1)),
            [
                "missing key `cmd`, the command line that starts the server: #[with_server(cmd = \"...\")]"
            ]
        );
        assert_eq!(
            errors_of(quote!(cmd = "  ")),
            ["empty `cmd`, expected the command line that starts the server"]
        );
        assert_eq!(
            errors_of(quote!(cmd = "sh -c 'exit 0")),
            ["unbalanced quote in `cmd`, a quote is never closed"]
        );
        // A malformed `cmd` is reported as such, not also as missing.
        assert_eq!(
            errors_of(quote!(cmd = 1)),
            ["expected a string literal: `cmd = \"my-server --port {port}\"`"]
        );
    }

    #[test]
    fn placeholders() {
        assert_eq!(
            errors_of(quote!(cmd = "serve {prot}")),
            [
                "unknown placeholder `{prot}`, expected one of: {port}, {host}, {url}, {tmp}, {bin:NAME}"
            ]
        );
        assert_eq!(
            errors_of(quote!(cmd = "serve", env(A = "{port"))),
            ["unclosed `{`, write `{{` for a literal brace"]
        );
        assert_eq!(
            errors_of(quote!(cmd = "printf '{{}}' {port}")),
            Vec::<String>::new()
        );
        assert_eq!(
            errors_of(quote!(cmd = "serve", cwd = "{api.url}")),
            [
                "unknown placeholder `{api.url}`, expected one of: {port}, {host}, {url}, {tmp}, {bin:NAME}; `{NAME.url}` needs a server named NAME by a #[with_server] above this one"
            ]
        );
        assert_eq!(
            errors_of(quote!(cmd = "serve {api.url}", name = "api")),
            ["`{api.url}` names this server itself, use `{url}`, `{port}` or `{host}`"]
        );
    }

    #[test]
    fn names_are_visible_only_below() {
        // The second server is named "web"; the first cannot use it.
        let func: ItemFn = syn::parse_quote! {
            #[with_server(cmd = "serve {api.port}", name = "web")]
            fn t() {}
        };
        assert_eq!(
            errors(quote!(cmd = "serve {web.url}", name = "api"), func),
            [
                "`{web.url}` names the server \"web\" declared below this one; servers start from the top, so move the #[with_server] named \"web\" above this one"
            ]
        );
        let func: ItemFn = syn::parse_quote! {
            #[with_server(cmd = "serve {db.url}", name = "api")]
            fn t() {}
        };
        assert_eq!(
            errors(quote!(cmd = "serve", name = "api"), func),
            [
                "unknown placeholder `{db.url}`, expected one of: {port}, {host}, {url}, {tmp}, {bin:NAME}, {api.url}, {api.port}, {api.host}",
                "duplicate server name \"api\"",
            ]
        );
    }

    #[test]
    fn other_values() {
        assert_eq!(
            errors_of(quote!(cmd = "x", ready = log("(unclosed"))),
            ["invalid regex in `log`: unclosed group"]
        );
        assert_eq!(
            errors_of(quote!(cmd = "x", ready = http("health"))),
            ["the http path must start with `/`: `http(\"/health\")`"]
        );
        assert_eq!(
            errors_of(quote!(cmd = "x", timeout = "0s")),
            ["`timeout` must be longer than zero"]
        );
        assert_eq!(
            errors_of(quote!(cmd = "x", grace = "0s")),
            Vec::<String>::new()
        );
        assert_eq!(
            errors_of(quote!(cmd = "x", name = "my api")),
            ["invalid server name \"my api\", use letters, digits, `_` and `-`"]
        );
        assert_eq!(
            errors_of(quote!(cmd = "x", host = "")),
            ["empty `host`, expected an address like \"127.0.0.1\""]
        );
    }

    #[test]
    fn parameters() {
        assert_eq!(
            errors(
                quote!(cmd = "x"),
                syn::parse_quote!(
                    fn t(url: &str) {}
                )
            ),
            Vec::<String>::new()
        );
        assert_eq!(
            errors(
                quote!(cmd = "x"),
                syn::parse_quote!(
                    fn t(url: &str, port: u16, extra: String) {}
                )
            ),
            [
                "no server for this parameter: each #[with_server] binds one parameter, in order, and this test has 1 #[with_server] attribute",
                "no server for this parameter: each #[with_server] binds one parameter, in order, and this test has 1 #[with_server] attribute",
            ]
        );
        assert_eq!(
            errors(
                quote!(cmd = "x"),
                syn::parse_quote!(
                    fn t(&self) {}
                )
            ),
            ["#[with_server] cannot be used on a method"]
        );
        assert_eq!(
            errors(
                quote!(cmd = "x"),
                syn::parse_quote!(
                    fn t(url: impl AsRef<str>) {}
                )
            ),
            [
                "a #[with_server] parameter needs a concrete type: `&Server`, `&str`, `String`, `u16`, `SocketAddr` or `Url`"
            ]
        );
    }

    #[test]
    fn placement() {
        let below_tokio: ItemFn = syn::parse_quote! {
            #[tokio::test]
            #[with_server(cmd = "y")]
            async fn t() {}
        };
        assert_eq!(
            errors(quote!(cmd = "x"), below_tokio),
            ["#[with_server] must be placed above #[tokio::test], move it up"]
        );
        // What #[tokio::test] leaves when it expands before #[with_server].
        let rewritten: ItemFn = syn::parse_quote! {
            #[::core::prelude::v1::test]
            fn t() {
                let body = async { assert!(true); };
                tokio::pin!(body);
            }
        };
        assert_eq!(
            errors(quote!(cmd = "x"), rewritten),
            ["#[with_server] must be placed above #[tokio::test], move it up"]
        );
        // With two attributes below #[tokio::test], the error is said once.
        let rewritten_stack: ItemFn = syn::parse_quote! {
            #[::core::prelude::v1::test]
            #[with_server(cmd = "y")]
            fn t() {
                let body = async {};
                tokio::pin!(body);
            }
        };
        assert_eq!(
            errors(quote!(cmd = "x"), rewritten_stack),
            ["#[with_server] must be placed above #[tokio::test], move it up"]
        );
        let above: ItemFn = syn::parse_quote! {
            #[with_server(cmd = "y")]
            #[test]
            fn t() {
                let body = async {};
                tokio::pin!(body);
            }
        };
        assert_eq!(errors(quote!(cmd = "x"), above), Vec::<String>::new());
    }

    #[test]
    fn all_errors_of_all_attributes_at_once() {
        let func: ItemFn = syn::parse_quote! {
            #[with_server(cmd = "", port = 99999)]
            #[test]
            fn t(a: &str, b: &str, c: &str) {}
        };
        assert_eq!(
            errors(quote!(cmd = "x {nope}", timeout = "1y"), func).len(),
            5
        );
    }
}
