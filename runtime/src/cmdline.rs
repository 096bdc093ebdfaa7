//! The command line: split into words like a POSIX shell splits them, then placeholders filled
//! word by word, so a value with spaces never splits a word.

use std::collections::HashMap;

/// A text with placeholders, parsed once and filled for each start.
#[derive(Debug, Clone)]
pub(crate) struct Template {
    pieces: Vec<Piece>,
}

#[derive(Debug, Clone)]
enum Piece {
    Text(String),
    Placeholder(String),
}

impl Template {
    /// Parses `{name}` placeholders; `{{` and `}}` stand for literal braces.
    pub(crate) fn parse(text: &str) -> Result<Template, String> {
        let mut pieces = Vec::new();
        let mut literal = String::new();
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '{' if chars.peek() == Some(&'{') => {
                    chars.next();
                    literal.push('{');
                }
                '}' if chars.peek() == Some(&'}') => {
                    chars.next();
                    literal.push('}');
                }
                '{' => {
                    let mut name = String::new();
                    let mut closed = false;
                    for c in chars.by_ref() {
                        if c == '}' {
                            closed = true;
                            break;
                        }
                        name.push(c);
                    }
                    if !closed || name.is_empty() || name.contains('{') {
                        return Err(format!(
                            "`{text}` has an unclosed or empty placeholder; write `{{{{` and `}}}}` for literal braces"
                        ));
                    }
                    if !literal.is_empty() {
                        pieces.push(Piece::Text(std::mem::take(&mut literal)));
                    }
                    pieces.push(Piece::Placeholder(name));
                }
                '}' => {
                    return Err(format!(
                        "`{text}` has a `}}` without `{{`; write `}}}}` for a literal brace"
                    ));
                }
                c => literal.push(c),
            }
        }
        if !literal.is_empty() || pieces.is_empty() {
            pieces.push(Piece::Text(literal));
        }
        Ok(Template { pieces })
    }

    pub(crate) fn placeholders(&self) -> impl Iterator<Item = &str> {
        self.pieces.iter().filter_map(|piece| match piece {
            Piece::Placeholder(name) => Some(name.as_str()),
            Piece::Text(_) => None,
        })
    }

    /// Fills the placeholders; an unknown one is an error naming the known ones.
    pub(crate) fn render(&self, values: &Values) -> Result<String, String> {
        let mut out = String::new();
        for piece in &self.pieces {
            match piece {
                Piece::Text(text) => out.push_str(text),
                Piece::Placeholder(name) => out.push_str(values.get(name)?),
            }
        }
        Ok(out)
    }
}

/// The values placeholders are filled from.
#[derive(Debug, Default)]
pub(crate) struct Values<'a> {
    pub(crate) builtin: HashMap<&'static str, String>,
    pub(crate) custom: Option<&'a HashMap<String, String>>,
}

impl Values<'_> {
    fn get(&self, name: &str) -> Result<&str, String> {
        if let Some(value) = self.builtin.get(name) {
            return Ok(value);
        }
        if let Some(value) = self.custom.and_then(|custom| custom.get(name)) {
            return Ok(value);
        }
        let mut known: Vec<String> = ["port", "host", "url", "tmp"]
            .iter()
            .map(|name| format!("{{{name}}}"))
            .collect();
        if let Some(custom) = self.custom {
            let mut names: Vec<_> = custom.keys().map(|name| format!("{{{name}}}")).collect();
            names.sort();
            known.extend(names);
        }
        Err(format!(
            "unknown placeholder `{{{name}}}`; known placeholders are {} (more can be added with `.placeholder(name, value)`)",
            known.join(", ")
        ))
    }
}

/// A command line split into words, each word a template.
#[derive(Debug, Clone)]
pub(crate) struct CommandLine {
    words: Vec<Template>,
}

impl CommandLine {
    pub(crate) fn parse(cmdline: &str) -> Result<CommandLine, String> {
        let words = shell_words::split(cmdline).map_err(|_| {
            "the command line has an unbalanced quote (a `'` or `\"` without its closing partner)"
                .to_string()
        })?;
        if words.is_empty() {
            return Err("the command line is empty; give the program to run".to_string());
        }
        let words = words
            .iter()
            .map(|word| Template::parse(word))
            .collect::<Result<_, _>>()?;
        Ok(CommandLine { words })
    }

    pub(crate) fn placeholders(&self) -> impl Iterator<Item = &str> {
        self.words.iter().flat_map(Template::placeholders)
    }

    pub(crate) fn render(&self, values: &Values) -> Result<Vec<String>, String> {
        self.words.iter().map(|word| word.render(values)).collect()
    }
}

/// Joins words back into one line for messages, quoting where a shell would need it.
pub(crate) fn display(words: &[String]) -> String {
    shell_words::join(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(port: &str) -> Values<'static> {
        let mut values = Values::default();
        values.builtin.insert("port", port.to_string());
        values.builtin.insert("tmp", "/tmp/a b".to_string());
        values
    }

    #[test]
    fn splits_before_filling() {
        let line = CommandLine::parse("sh -c 'echo {port}' x {tmp}").unwrap();
        let words = line.render(&values("80")).unwrap();
        assert_eq!(words, ["sh", "-c", "echo 80", "x", "/tmp/a b"]);
    }

    #[test]
    fn literal_braces() {
        let line = CommandLine::parse("echo {{}} {{port}}").unwrap();
        assert_eq!(line.render(&values("1")).unwrap(), ["echo", "{}", "{port}"]);
    }

    #[test]
    fn unknown_placeholder_names_the_known_ones() {
        let line = CommandLine::parse("echo {prot}").unwrap();
        let err = line.render(&values("1")).unwrap_err();
        assert!(err.contains("`{prot}`") && err.contains("{port}"), "{err}");
    }

    #[test]
    fn bad_lines() {
        assert!(
            CommandLine::parse("echo 'oops")
                .unwrap_err()
                .contains("unbalanced")
        );
        assert!(CommandLine::parse("   ").unwrap_err().contains("empty"));
        assert!(CommandLine::parse("echo {port").is_err());
        assert!(CommandLine::parse("echo {}").is_err());
        assert!(CommandLine::parse("echo }").is_err());
    }
}
