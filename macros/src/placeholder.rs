//! The `{..}` placeholders of a command line, an `env` value or a `cwd`.
//!
//! The runtime fills them in; the macro reads them to reject unknown ones at compile time and
//! to hand the runtime the values it cannot know itself (`{bin:NAME}`, `{NAME.url}`).

/// One placeholder, by what it stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Placeholder<'a> {
    /// `{port}`, `{host}`, `{url}` or `{tmp}`: filled by the runtime from the server itself.
    Own,
    /// `{bin:NAME}`: the path of a binary target of the package under test.
    Bin(&'a str),
    /// `{NAME.url}`, `{NAME.port}`, `{NAME.host}`: an address of a server declared above.
    Server {
        name: &'a str,
        field: Field,
    },
    Unknown(&'a str),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Field {
    Url,
    Port,
    Host,
}

/// A brace that neither opens a placeholder nor is doubled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BraceError {
    Unclosed,
    Unmatched,
}

impl std::fmt::Display for BraceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            BraceError::Unclosed => "unclosed `{`, write `{{` for a literal brace",
            BraceError::Unmatched => "unmatched `}`, write `}}` for a literal brace",
        })
    }
}

/// The names between braces in `text`, in order; `{{` and `}}` are literal braces.
pub(crate) fn names(text: &str) -> Result<Vec<&str>, BraceError> {
    let mut names = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find(['{', '}']) {
        let (_, brace) = rest.split_at(at);
        if let Some(after) = brace
            .strip_prefix("{{")
            .or_else(|| brace.strip_prefix("}}"))
        {
            rest = after;
        } else if let Some(after) = brace.strip_prefix('{') {
            let (name, after) = after.split_once('}').ok_or(BraceError::Unclosed)?;
            if name.contains('{') {
                return Err(BraceError::Unclosed);
            }
            names.push(name);
            rest = after;
        } else {
            return Err(BraceError::Unmatched);
        }
    }
    Ok(names)
}

/// What the placeholder `{name}` stands for.
pub(crate) fn classify(name: &str) -> Placeholder<'_> {
    match name {
        "port" | "host" | "url" | "tmp" => return Placeholder::Own,
        _ => {}
    }
    if let Some(bin) = name.strip_prefix("bin:") {
        return if is_name(bin) {
            Placeholder::Bin(bin)
        } else {
            Placeholder::Unknown(name)
        };
    }
    if let Some((server, field)) = name.rsplit_once('.') {
        let field = match field {
            "url" => Some(Field::Url),
            "port" => Some(Field::Port),
            "host" => Some(Field::Host),
            _ => None,
        };
        if let (Some(field), true) = (field, is_name(server)) {
            return Placeholder::Server {
                name: server,
                field,
            };
        }
    }
    Placeholder::Unknown(name)
}

/// Server names and binary target names: letters, digits, `_` and `-`.
pub(crate) fn is_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_names_and_skips_doubled_braces() {
        assert_eq!(
            names("serve --port {port} --dir {tmp}"),
            Ok(vec!["port", "tmp"])
        );
        assert_eq!(names("{{port}} {{{url}}}"), Ok(vec!["url"]));
        assert_eq!(names("{bin:fixture}"), Ok(vec!["bin:fixture"]));
        assert_eq!(names("{}"), Ok(vec![""]));
        assert_eq!(names("no braces"), Ok(vec![]));
    }

    #[test]
    fn rejects_lone_braces() {
        assert_eq!(names("{port"), Err(BraceError::Unclosed));
        assert_eq!(names("{po{rt}"), Err(BraceError::Unclosed));
        assert_eq!(names("port}"), Err(BraceError::Unmatched));
        assert_eq!(names("{port}}"), Err(BraceError::Unmatched));
    }

    #[test]
    fn classifies() {
        assert_eq!(classify("port"), Placeholder::Own);
        assert_eq!(classify("tmp"), Placeholder::Own);
        assert_eq!(classify("bin:my-server"), Placeholder::Bin("my-server"));
        assert_eq!(
            classify("api.url"),
            Placeholder::Server {
                name: "api",
                field: Field::Url
            }
        );
        assert_eq!(classify("bin:"), Placeholder::Unknown("bin:"));
        assert_eq!(classify("api.pid"), Placeholder::Unknown("api.pid"));
        assert_eq!(classify(".url"), Placeholder::Unknown(".url"));
        assert_eq!(classify("PORT"), Placeholder::Unknown("PORT"));
    }
}
