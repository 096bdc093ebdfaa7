//! Emit the wrapped test, or on error the function as written together with the errors.
//!
//! The test function stays as it was, moved inside a wrapper that takes its name and its
//! attributes:
//!
//! ```text
//! #[tokio::test]
//! async fn lists_files() {
//!     async fn lists_files(url: &str) { /* the test's body */ }
//!     let server_0 = ::with_server::__private::started(/* builder */.start().await);
//!     let result = lists_files(::with_server::FromServer::from_server(&server_0)).await;
//!     ::with_server::__private::finish(&[&server_0], &result);
//!     ::core::mem::drop(server_0);
//!     result
//! }
//! ```
//!
//! Servers start in declaration order and are dropped in reverse, also while unwinding from
//! a panic. Generated code names everything by absolute path, so a test module that shadows
//! `std`, `core`, `Result` or `Option` still compiles.

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::{ToTokens, format_ident, quote, quote_spanned};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned as _;
use syn::{Attribute, FnArg, Ident, ItemFn, LitStr};

use crate::attr::{Errors, Logs, Probe, ServerAttr, Test, is_test};
use crate::placeholder::{self, Field, Placeholder};

/// The whole macro: parse, validate, then emit the test or the fallback.
pub(crate) fn with_server(args: TokenStream, item: TokenStream) -> TokenStream {
    let func = match syn::parse2::<ItemFn>(item.clone()) {
        Ok(func) => func,
        Err(_) => return not_a_function(item),
    };
    let mut errors = Errors::default();
    let test = Test::from_syn(args, func, &mut errors);
    test.validate(&mut errors);
    match errors.finish() {
        Ok(()) => test.expand(),
        Err(error) => fallback(test.func, &error),
    }
}

/// The function as written, minus its test attributes so that no test runs without its
/// server, plus the errors: the body still type-checks, which keeps completions working in
/// the editor.
fn fallback(mut func: ItemFn, error: &syn::Error) -> TokenStream {
    func.attrs.retain(|attr| {
        !is_test(attr) && !attr.path().is_ident("should_panic") && !attr.path().is_ident("ignore")
    });
    let error = error.to_compile_error();
    quote! {
        #error
        #[allow(dead_code)]
        #func
    }
}

fn not_a_function(item: TokenStream) -> TokenStream {
    let error = syn::Error::new_spanned(
        item_head(&item),
        "#[with_server] must be placed on a test function",
    )
    .to_compile_error();
    quote!(#error #item)
}

/// The tokens that say what kind of item this is and its name (`struct Config`, `mod tests`),
/// skipping attributes and visibility, so that the error does not underline a whole item.
fn item_head(item: &TokenStream) -> TokenStream {
    let mut tokens = item.clone().into_iter().peekable();
    let mut head = TokenStream::new();
    while let Some(token) = tokens.next() {
        match &token {
            TokenTree::Punct(punct) if punct.as_char() == '#' => {
                tokens.next_if(|next| matches!(next, TokenTree::Punct(p) if p.as_char() == '!'));
                tokens.next_if(|next| matches!(next, TokenTree::Group(_)));
            }
            TokenTree::Ident(ident) if ident == "pub" => {
                tokens.next_if(|next| matches!(next, TokenTree::Group(_)));
            }
            TokenTree::Ident(_) => {
                head.extend([token]);
                if let Some(name) = tokens.next_if(|next| matches!(next, TokenTree::Ident(_))) {
                    head.extend([name]);
                }
                return head;
            }
            _ => return token.into_token_stream(),
        }
    }
    item.clone()
}

/// Lint attributes belong to the user's code, which is the inner function; the wrapper
/// keeps everything else (test attributes, `#[ignore]`, `#[should_panic]`, `#[cfg]`, docs).
fn is_lint(attr: &Attribute) -> bool {
    ["allow", "warn", "deny", "forbid", "expect"]
        .iter()
        .any(|lint| attr.path().is_ident(lint))
}

impl Test {
    fn expand(self) -> TokenStream {
        let Test { servers, func, .. } = self;
        let ItemFn {
            attrs,
            vis,
            sig,
            block,
        } = func;
        let (lints, attrs): (Vec<Attribute>, Vec<Attribute>) = attrs.into_iter().partition(is_lint);
        let has_test_attr = attrs.iter().any(is_test);
        let is_async = sig.asyncness.is_some();

        let mut outer = sig.clone();
        outer.inputs = Punctuated::new();
        // The inner function keeps the lifetimes; the wrapper, which calls it, has none.
        outer.generics = syn::Generics::default();
        let test_attr = if has_test_attr {
            None
        } else {
            // Without a test attribute of its own, an async test runs on the runtime's
            // executor inside a plain `#[test]`.
            outer.asyncness = None;
            Some(quote!(#[::core::prelude::v1::test]))
        };
        let inner = ItemFn {
            attrs: lints,
            vis: syn::Visibility::Inherited,
            sig: sig.clone(),
            block,
        };

        let handles: Vec<Ident> = (0..servers.len())
            .map(|index| format_ident!("server_{}", index, span = Span::mixed_site()))
            .collect();
        let names: Vec<Option<String>> = servers
            .iter()
            .map(|server| server.name.as_ref().map(LitStr::value))
            .collect();
        let tmp = Ident::new("__with_server_tmp", Span::mixed_site());
        // Declared before the servers, so that it is removed after they have stopped.
        let tmp_dir = servers
            .iter()
            .any(ServerAttr::uses_tmp)
            .then(|| quote!(let #tmp = ::with_server::__private::TestDir::new();));
        let starts = servers.iter().zip(&handles).map(|(server, handle)| {
            let builder = server.builder(&names, &handles, &tmp);
            if is_async {
                quote!(let #handle = ::with_server::__private::started(#builder.start().await);)
            } else {
                quote!(let #handle = ::with_server::__private::started(#builder.start_blocking());)
            }
        });
        let args = sig
            .inputs
            .iter()
            .zip(&handles)
            .map(|(input, handle)| match input {
                FnArg::Typed(param) => {
                    let ty = &param.ty;
                    // The type comes from the inner function's parameter: written out here, a
                    // lifetime of the signature would be undeclared.
                    quote_spanned!(ty.span()=> ::with_server::FromServer::from_server(&#handle))
                }
                // Rejected by validation.
                FnArg::Receiver(receiver) => receiver.to_token_stream(),
            });
        let ident = &sig.ident;
        let await_ = is_async.then(|| quote!(.await));
        let result = Ident::new("result", Span::mixed_site());
        let dropped = handles.iter().rev();
        let mut body = quote! {
            #tmp_dir
            #(#starts)*
            let #result = #ident(#(#args),*) #await_;
            ::with_server::__private::finish(&[#(&#handles),*], &#result);
            #(::core::mem::drop(#dropped);)*
            #result
        };
        if is_async && !has_test_attr {
            body = quote!(::with_server::__private::block_on(async move { #body }));
        }
        quote! {
            #test_attr
            #(#attrs)*
            #vis #outer {
                #inner
                #body
            }
        }
    }
}

impl ServerAttr {
    /// The `ServerBuilder` expression of this server. `names` and `handles` are those of
    /// every server of the test, in order; this one only uses those above it.
    fn builder(&self, names: &[Option<String>], handles: &[Ident], tmp: &Ident) -> TokenStream {
        let cmd = match &self.cmd {
            Some(cmd) => cmd.clone(),
            None => LitStr::new("", self.span),
        };
        let current_dir = self.current_dir();
        let mut calls = vec![quote!(.current_dir(#current_dir))];
        if let Some(port) = &self.port {
            let port = port.value;
            calls.push(quote!(.port(#port)));
        }
        if let Some(ready) = &self.ready {
            let ready = match ready {
                Probe::Tcp => quote!(::with_server::Ready::tcp()),
                Probe::Http { path, status: None } => quote!(::with_server::Ready::http(#path)),
                Probe::Http {
                    path,
                    status: Some(status),
                } => {
                    let status = status.value;
                    quote!(::with_server::Ready::http(#path).status(#status))
                }
                Probe::Log(regex) => quote!(::with_server::Ready::log(#regex)),
            };
            calls.push(quote!(.ready(#ready)));
        }
        if let Some(logs) = &self.logs {
            let logs = match logs.value {
                Logs::OnFailure => quote!(OnFailure),
                Logs::Always => quote!(Always),
                Logs::Never => quote!(Never),
            };
            calls.push(quote!(.logs(::with_server::Logs::#logs)));
        }
        for (key, duration) in [("timeout", &self.timeout), ("grace", &self.grace)] {
            if let Some(duration) = duration {
                let key = Ident::new(key, duration.span);
                let millis = u64::try_from(duration.value.as_millis()).unwrap_or(u64::MAX);
                calls.push(quote!(.#key(::core::time::Duration::from_millis(#millis))));
            }
        }
        for var in &self.env {
            let key = LitStr::new(&var.key, var.key_span);
            let value = &var.value;
            calls.push(quote!(.env(#key, #value)));
        }
        if let Some(host) = &self.host {
            calls.push(quote!(.host(#host)));
        }
        if let Some(name) = &self.name {
            calls.push(quote!(.name(#name)));
        }
        calls.extend(self.placeholders(&cmd, names, handles, tmp));
        quote!(::with_server::Server::builder(#cmd) #(#calls)*)
    }

    /// The working directory: `cwd` relative to the manifest directory of the crate whose
    /// test this is, unless it is absolute or starts with a placeholder such as `{tmp}`.
    fn current_dir(&self) -> TokenStream {
        match &self.cwd {
            None => quote!(::core::env!("CARGO_MANIFEST_DIR")),
            Some(cwd) if cwd.value().starts_with(['/', '{']) => cwd.to_token_stream(),
            Some(cwd) => quote!(::core::concat!(::core::env!("CARGO_MANIFEST_DIR"), "/", #cwd)),
        }
    }

    /// The texts placeholders are filled in: each word of `cmd`, the `env` values, `cwd`.
    fn texts<'a>(&'a self, cmd: &'a LitStr) -> Vec<(&'a LitStr, String)> {
        let words = shell_words::split(&cmd.value()).unwrap_or_default();
        words
            .into_iter()
            .map(|word| (cmd, word))
            .chain(self.env.iter().map(|var| (&var.value, var.value.value())))
            .chain(self.cwd.iter().map(|cwd| (cwd, cwd.value())))
            .collect()
    }

    fn uses_tmp(&self) -> bool {
        let Some(cmd) = &self.cmd else {
            return false;
        };
        self.texts(cmd)
            .iter()
            .any(|(_, text)| placeholder::names(text).is_ok_and(|names| names.contains(&"tmp")))
    }

    /// `.placeholder(..)` calls for the values only the test knows: binary paths and the
    /// addresses of the servers above.
    fn placeholders(
        &self,
        cmd: &LitStr,
        names: &[Option<String>],
        handles: &[Ident],
        tmp: &Ident,
    ) -> Vec<TokenStream> {
        let texts = self.texts(cmd);
        let mut seen: Vec<String> = Vec::new();
        let mut calls = Vec::new();
        for (lit, text) in texts {
            for name in placeholder::names(&text).unwrap_or_default() {
                if seen.iter().any(|seen| seen == name) {
                    continue;
                }
                seen.push(name.to_owned());
                let key = LitStr::new(name, lit.span());
                match placeholder::classify(name) {
                    Placeholder::Bin(bin) => {
                        // Spanned at the literal, so that an unknown binary target is reported
                        // where it is named.
                        let var = LitStr::new(&format!("CARGO_BIN_EXE_{bin}"), lit.span());
                        let missing = LitStr::new(
                            &format!(
                                "`{{bin:{bin}}}` needs a binary target named `{bin}` in this package, and works only in its integration tests and benchmarks"
                            ),
                            lit.span(),
                        );
                        calls.push(quote_spanned!(lit.span()=>
                            .placeholder(#key, ::core::env!(#var, #missing))
                        ));
                    }
                    Placeholder::Server {
                        name: server,
                        field,
                    } => {
                        // Validation has checked that a server above has this name.
                        let above = names.iter().position(|n| n.as_deref() == Some(server));
                        let Some(handle) = above.and_then(|index| handles.get(index)) else {
                            continue;
                        };
                        let value = match field {
                            Field::Url => quote!(::with_server::Server::base_url(&#handle)),
                            Field::Host => quote!(::with_server::Server::host(&#handle)),
                            Field::Port => quote!(::std::string::ToString::to_string(
                                &::with_server::Server::port(&#handle)
                            )),
                        };
                        calls.push(quote!(.placeholder(#key, #value)));
                    }
                    // One folder for the whole test, shared by its servers.
                    Placeholder::Own if name == "tmp" => calls.push(quote!(
                        .placeholder(#key, ::with_server::__private::TestDir::path(&#tmp))
                    )),
                    Placeholder::Own | Placeholder::Unknown(_) => {}
                }
            }
        }
        calls
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expand(args: TokenStream, item: TokenStream) -> String {
        with_server(args, item).to_string()
    }

    #[test]
    fn wraps_a_tokio_test() {
        let out = expand(
            quote!(cmd = "serve {port}", ready = http("/")),
            quote! {
                #[tokio::test]
                async fn lists(url: &str) { let _ = url; }
            },
        );
        assert!(
            out.starts_with("# [tokio :: test] async fn lists () {"),
            "{out}"
        );
        assert!(out.contains("async fn lists (url : & str)"), "{out}");
        assert!(out.contains(":: with_server :: __private :: started (:: with_server :: Server :: builder (\"serve {port}\") . current_dir (:: core :: env ! (\"CARGO_MANIFEST_DIR\")) . ready (:: with_server :: Ready :: http (\"/\")) . start () . await)"), "{out}");
        assert!(
            out.contains(":: with_server :: FromServer :: from_server (& server_0)"),
            "{out}"
        );
        assert!(!out.contains("prelude :: v1 :: test"), "{out}");
    }

    #[test]
    fn adds_a_test_attribute_only_when_there_is_none() {
        let out = expand(
            quote!(cmd = "serve"),
            quote!(
                fn plain() {}
            ),
        );
        assert!(
            out.starts_with("# [:: core :: prelude :: v1 :: test] fn plain () {"),
            "{out}"
        );
        assert!(out.contains("start_blocking"), "{out}");
        let out = expand(
            quote!(cmd = "serve"),
            quote!(
                #[test]
                fn plain() {}
            ),
        );
        assert_eq!(out.matches("test]").count(), 1, "{out}");
        let out = expand(
            quote!(cmd = "serve"),
            quote!(
                async fn run() {}
            ),
        );
        assert!(
            out.starts_with("# [:: core :: prelude :: v1 :: test] fn run () {"),
            "{out}"
        );
        assert!(
            out.contains(":: with_server :: __private :: block_on (async move {"),
            "{out}"
        );
    }

    #[test]
    fn keeps_attributes_where_they_apply() {
        let out = expand(
            quote!(cmd = "serve"),
            quote! {
                /// Docs.
                #[ignore]
                #[allow(unused_variables)]
                #[test]
                fn t() -> Result<(), String> { Ok(()) }
            },
        );
        let inner = out.find("fn t () -> Result").unwrap_or(0);
        assert!(out[..inner].contains("# [ignore]"), "{out}");
        assert!(
            out.find("# [allow (unused_variables)]")
                .is_some_and(|at| at > inner - 40),
            "{out}"
        );
    }

    #[test]
    fn stacked_servers_start_in_order_and_stop_in_reverse() {
        let out = expand(
            quote!(cmd = "api {port}", name = "api"),
            quote! {
                #[with_server(cmd = "{bin:front} --api {api.url}", env(API_PORT = "{api.port}"), cwd = "static")]
                #[test]
                fn t(api: &Server, front: u16) {}
            },
        );
        let first = out.find("let server_0").unwrap_or(usize::MAX);
        let second = out.find("let server_1").unwrap_or(0);
        assert!(first < second, "{out}");
        assert!(
            out.contains(
                ". placeholder (\"bin:front\" , :: core :: env ! (\"CARGO_BIN_EXE_front\" ,"
            ),
            "{out}"
        );
        assert!(
            out.contains(
                ". placeholder (\"api.url\" , :: with_server :: Server :: base_url (& server_0))"
            ),
            "{out}"
        );
        assert!(out.contains("\"api.port\""), "{out}");
        assert!(out.contains(":: core :: concat ! (:: core :: env ! (\"CARGO_MANIFEST_DIR\") , \"/\" , \"static\")"), "{out}");
        assert!(
            out.contains(":: core :: mem :: drop (server_1) ; :: core :: mem :: drop (server_0) ;"),
            "{out}"
        );
    }

    #[test]
    fn every_key_reaches_the_builder() {
        let out = expand(
            quote!(
                cmd = "serve",
                port = 8080,
                ready = log("up"),
                logs = "never",
                timeout = "2m",
                grace = "1s",
                env(A = "1"),
                cwd = "/srv",
                host = "127.0.0.2"
            ),
            quote!(
                fn t() {}
            ),
        );
        for call in [
            ". port (8080u16)",
            ". ready (:: with_server :: Ready :: log (\"up\"))",
            ". logs (:: with_server :: Logs :: Never)",
            ". timeout (:: core :: time :: Duration :: from_millis (120000u64))",
            ". grace (:: core :: time :: Duration :: from_millis (1000u64))",
            ". env (\"A\" , \"1\")",
            ". current_dir (\"/srv\")",
            ". host (\"127.0.0.2\")",
        ] {
            assert!(out.contains(call), "{call} in {out}");
        }
    }

    #[test]
    fn on_error_emits_the_function_and_the_errors() {
        let out = expand(
            quote!(cmd = "", bogus = 1),
            quote!(
                #[tokio::test]
                async fn t(url: &str) {}
            ),
        );
        assert_eq!(out.matches("compile_error").count(), 2, "{out}");
        assert!(
            out.contains("# [allow (dead_code)] async fn t (url : & str) { }"),
            "{out}"
        );
        assert!(!out.contains("tokio :: test"), "{out}");
    }

    #[test]
    fn rejects_other_items() {
        let out = expand(
            quote!(cmd = "serve"),
            quote!(
                #[derive(Debug)]
                pub(crate) struct Config {
                    a: u8,
                }
            ),
        );
        assert!(out.contains("must be placed on a test function"), "{out}");
        assert!(out.contains("struct Config"), "{out}");
    }
}
