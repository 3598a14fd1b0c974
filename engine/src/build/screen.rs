//! The single-file screen: a small lexer and the token-level rules a single `.rs` strategy
//! must pass before any compiler sees it.
//!
//! Why a screen and not a sandboxed compiler alone: rustc reads files and the environment at
//! compile time on the source's request (`include_str!`, `env!`, `#[path]`, `#[link]`, …), and
//! a compile error would then show an author what those read — on a server, the operator's
//! secrets. Everything that could reach outside the file at compile time is refused here, with
//! its line, before a build directory is even written: `unsafe`, `include!`, `include_str!`,
//! `include_bytes!`, `env!`, `option_env!`, `#[path]`, `#[debugger_visualizer]`, `extern crate`,
//! an external `mod name;`, a macro invoked through a metavariable, `env` in a file that defines
//! macros, non-ASCII code, `#[link]` and `extern` blocks. The lexer skips comments and the
//! contents of literals, so the rules apply to code only.
//!
//! This file depends on nothing else in the engine: the Prop AMM form's own rules
//! ([`super::prop_amm`]) and the constants rewriter ([`super::constants`]) build on its tokens.

/// A construct refused in a single-file strategy, with its 1-based line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// 1-based line of the source.
    pub line: usize,
    /// What was found and why it is refused.
    pub what: String,
}

/// Lexical token kinds the screen needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Token {
    /// An identifier or keyword (a raw identifier `r#x` is `x`).
    Ident(String),
    /// One punctuation character.
    Punct(char),
    /// A literal (string, char, number); its contents are never inspected.
    Literal,
}

/// Splits `source` into tokens with their lines, skipping comments (nested block comments
/// included) and the contents of string, byte-string, raw-string and char literals.
pub(crate) fn tokenize(source: &str) -> Result<Vec<(usize, Token)>, Refusal> {
    let chars: Vec<char> = source.chars().collect();
    let mut tokens = Vec::new();
    let mut line = 1;
    let mut i = 0;
    let at = |i: usize| chars.get(i).copied();
    let is_ident_start = |c: char| c == '_' || c.is_ascii_alphabetic();
    let is_ident_char = |c: char| c == '_' || c.is_ascii_alphanumeric();
    // Skips a quoted literal whose opening quote is at `i`; returns the index after it.
    let skip_quoted = |mut i: usize, line: &mut usize, quote: char| -> Result<usize, Refusal> {
        let start = *line;
        i += 1;
        while let Some(c) = chars.get(i).copied() {
            match c {
                '\\' => {
                    if chars.get(i + 1) == Some(&'\n') {
                        *line += 1;
                    }
                    i += 2;
                }
                '\n' => {
                    *line += 1;
                    i += 1;
                }
                c if c == quote => return Ok(i + 1),
                _ => i += 1,
            }
        }
        Err(Refusal { line: start, what: "an unterminated literal".into() })
    };
    // Skips a raw string `r#…#"…"#…#` whose `r` is at `i`; returns the index after it.
    let skip_raw = |mut i: usize, line: &mut usize| -> Result<usize, Refusal> {
        let start = *line;
        i += 1;
        let mut hashes = 0;
        while chars.get(i) == Some(&'#') {
            hashes += 1;
            i += 1;
        }
        if chars.get(i) != Some(&'"') {
            return Err(Refusal { line: start, what: "a malformed raw string".into() });
        }
        i += 1;
        while let Some(c) = chars.get(i).copied() {
            if c == '\n' {
                *line += 1;
            }
            if c == '"' && (1..=hashes).all(|k| chars.get(i + k) == Some(&'#')) {
                return Ok(i + 1 + hashes);
            }
            i += 1;
        }
        Err(Refusal { line: start, what: "an unterminated raw string".into() })
    };
    while let Some(c) = at(i) {
        match c {
            // A byte-order mark at the start, which rustc skips too.
            '\u{feff}' if i == 0 => i += 1,
            // Outside comments and literals, rustc's lexer and this one must agree on every
            // character; they differ on non-ASCII ones (rustc splits `a²b` into `a`, an error
            // it recovers from, and `b`, and skips U+200E as whitespace), so none is accepted.
            c if !c.is_ascii() => {
                return Err(Refusal {
                    line,
                    what: format!(
                        "the non-ASCII character U+{:04X} is not allowed outside comments and string literals in a single-file strategy (names must be ASCII)",
                        c as u32
                    ),
                });
            }
            '\n' => {
                line += 1;
                i += 1;
            }
            c if c.is_whitespace() => i += 1,
            '/' if at(i + 1) == Some('/') => {
                while at(i).is_some_and(|c| c != '\n') {
                    i += 1;
                }
            }
            '/' if at(i + 1) == Some('*') => {
                let start = line;
                let mut depth = 0usize;
                loop {
                    match (at(i), at(i + 1)) {
                        (Some('/'), Some('*')) => {
                            depth += 1;
                            i += 2;
                        }
                        (Some('*'), Some('/')) => {
                            depth -= 1;
                            i += 2;
                            if depth == 0 {
                                break;
                            }
                        }
                        (Some('\n'), _) => {
                            line += 1;
                            i += 1;
                        }
                        (Some(_), _) => i += 1,
                        (None, _) => {
                            return Err(Refusal { line: start, what: "an unterminated block comment".into() });
                        }
                    }
                }
            }
            '"' => {
                tokens.push((line, Token::Literal));
                i = skip_quoted(i, &mut line, '"')?;
            }
            // Byte and C strings: b"…", c"…"; raw forms: r"…", r#"…"#, br"…", cr#"…"#.
            'b' | 'c' if at(i + 1) == Some('"') => {
                tokens.push((line, Token::Literal));
                i = skip_quoted(i + 1, &mut line, '"')?;
            }
            'b' if at(i + 1) == Some('\'') => {
                tokens.push((line, Token::Literal));
                i = skip_quoted(i + 1, &mut line, '\'')?;
            }
            'b' | 'c' if at(i + 1) == Some('r') && matches!(at(i + 2), Some('"' | '#')) => {
                tokens.push((line, Token::Literal));
                i = skip_raw(i + 1, &mut line)?;
            }
            'r' if at(i + 1) == Some('"') || (at(i + 1) == Some('#') && matches!(at(i + 2), Some('"' | '#'))) => {
                tokens.push((line, Token::Literal));
                i = skip_raw(i, &mut line)?;
            }
            '\'' => {
                // A char literal ('a', '\n', '\u{..}') or a lifetime / label ('a).
                if at(i + 1) == Some('\\') || (at(i + 2) == Some('\'') && at(i + 1) != Some('\'')) {
                    tokens.push((line, Token::Literal));
                    i = skip_quoted(i, &mut line, '\'')?;
                } else {
                    tokens.push((line, Token::Punct('\'')));
                    i += 1;
                    while at(i).is_some_and(is_ident_char) {
                        i += 1;
                    }
                }
            }
            c if c.is_ascii_digit() => {
                tokens.push((line, Token::Literal));
                while at(i)
                    .is_some_and(|c| is_ident_char(c) || c == '.' && at(i + 1).is_some_and(|d| d.is_ascii_digit()))
                {
                    i += 1;
                }
            }
            c if is_ident_start(c) => {
                // A raw identifier r#name is the identifier name.
                if c == 'r' && at(i + 1) == Some('#') && at(i + 2).is_some_and(is_ident_start) {
                    i += 2;
                }
                let start = i;
                while at(i).is_some_and(is_ident_char) {
                    i += 1;
                }
                tokens.push((line, Token::Ident(chars[start..i].iter().collect())));
            }
            c => {
                tokens.push((line, Token::Punct(c)));
                i += 1;
            }
        }
    }
    Ok(tokens)
}

/// Macros that read files or the build environment at compile time.
const FORBIDDEN_MACROS: &[&str] = &["include", "include_str", "include_bytes", "env", "option_env"];

/// Checks `source` for everything a single-file strategy may not use; the first refusal, in
/// source order, with its line.
pub fn screen(source: &str) -> Result<(), Refusal> {
    screen_tokens(&tokenize(source)?)
}

/// [`screen`] on a source already split by [`tokenize`].
pub(super) fn screen_tokens(tokens: &[(usize, Token)]) -> Result<(), Refusal> {
    let ident = |k: usize| ident_at(tokens, k);
    let punct = |k: usize| punct_at(tokens, k);
    let mut in_use = false;
    let has_macros = defines_macros(tokens);
    for (k, (line, token)) in tokens.iter().enumerate() {
        let refuse = |what: String| Err(Refusal { line: *line, what });
        match token {
            Token::Ident(name) => {
                let name = name.as_str();
                let after_dollar = punct(k.wrapping_sub(1)) == Some('$') && k > 0;
                if name == "unsafe" {
                    return refuse("`unsafe` is not allowed in a single-file strategy".into());
                }
                if FORBIDDEN_MACROS.contains(&name) && !after_dollar {
                    // `env!(…)`, `core::include_str!(…)`, and any mention of these macros in a
                    // `use` (renaming) or as a macro argument (`call!(include_str)`).
                    let invoked = punct(k + 1) == Some('!');
                    let renamed = in_use || punct(k.wrapping_sub(1)) == Some(':');
                    let named = name != "env";
                    if name == "env" && has_macros && !invoked && !renamed {
                        // A macro can join `env` and a `!` passed apart into `env!(…)`.
                        return refuse(
                            "`env` is not allowed in a single-file strategy that defines macros (a macro could invoke `env!` through it, which reads the build environment); rename it".into(),
                        );
                    }
                    if invoked || renamed || named {
                        return refuse(format!(
                            "`{name}!` is not allowed in a single-file strategy (it reads files or the build environment)"
                        ));
                    }
                }
                if after_dollar && punct(k + 1) == Some('!') {
                    return refuse(format!(
                        "`${name}!` (a macro invoked through a metavariable) is not allowed in a single-file strategy"
                    ));
                }
                if name == "extern" && ident(k + 1) == Some("crate") {
                    return refuse("`extern crate` is not allowed in a single-file strategy".into());
                }
                if name == "mod" && ident(k + 1).is_some() && punct(k + 2) == Some(';') {
                    let module = ident(k + 1).unwrap_or_default();
                    return refuse(format!(
                        "`mod {module};` (a module in another file) is not allowed in a single-file strategy; write `mod {module} {{ … }}` inline"
                    ));
                }
                if name == "debugger_visualizer" {
                    return refuse(
                        "`#[debugger_visualizer]` is not allowed in a single-file strategy (it reads a file at compile time)"
                            .into(),
                    );
                }
                if ["link", "link_name", "link_ordinal"].contains(&name) && in_attribute(tokens, k) {
                    return refuse(format!(
                        "`#[{name}]` is not allowed in a single-file strategy (it asks the linker for outside code)"
                    ));
                }
                let literal_next = matches!(tokens.get(k + 1), Some((_, Token::Literal)));
                if name == "extern" && (punct(k + 1) == Some('{') || (literal_next && punct(k + 2) == Some('{'))) {
                    return refuse(
                        "an `extern` block (foreign functions) is not allowed in a single-file strategy".into(),
                    );
                }
                if name == "path" && in_attribute(tokens, k) {
                    return refuse("`#[path]` is not allowed in a single-file strategy".into());
                }
                if name == "use" {
                    in_use = true;
                }
            }
            Token::Punct(';') => in_use = false,
            _ => {}
        }
    }
    Ok(())
}

/// The identifier at token `k`, if that token is one.
pub(super) fn ident_at(tokens: &[(usize, Token)], k: usize) -> Option<&str> {
    match tokens.get(k) {
        Some((_, Token::Ident(s))) => Some(s.as_str()),
        _ => None,
    }
}

/// The punctuation character at token `k`, if that token is one.
pub(super) fn punct_at(tokens: &[(usize, Token)], k: usize) -> Option<char> {
    match tokens.get(k) {
        Some((_, Token::Punct(c))) => Some(*c),
        _ => None,
    }
}

/// True when the source defines macros (`macro_rules!`): the only way it can rearrange tokens,
/// e.g. join an identifier and a `!` passed apart into a macro invocation.
pub(super) fn defines_macros(tokens: &[(usize, Token)]) -> bool {
    tokens.iter().any(|(_, token)| matches!(token, Token::Ident(s) if s == "macro_rules"))
}

/// True when the identifier at `k` is the path of an attribute: `#[path`, `#![path`, or inside
/// `#[cfg_attr(…, path …)]`.
pub(super) fn in_attribute(tokens: &[(usize, Token)], k: usize) -> bool {
    let punct = |k: usize| punct_at(tokens, k);
    if k >= 2 && punct(k - 1) == Some('[') {
        let outer = punct(k - 2) == Some('#');
        let inner = k >= 3 && punct(k - 2) == Some('!') && punct(k - 3) == Some('#');
        if outer || inner {
            return true;
        }
    }
    // Inside cfg_attr(...): walk back to an unmatched '(' preceded by `cfg_attr`.
    let mut depth = 0usize;
    let mut j = k;
    while j > 0 {
        j -= 1;
        match &tokens[j].1 {
            Token::Punct(')') => depth += 1,
            Token::Punct('(') if depth == 0 => {
                return matches!(tokens.get(j.wrapping_sub(1)), Some((_, Token::Ident(s))) if s == "cfg_attr");
            }
            Token::Punct('(') => depth -= 1,
            Token::Punct(';' | '{' | '}') => return false,
            _ => {}
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(source: &str) -> Refusal {
        match screen(source) {
            Err(r) => r,
            Ok(()) => panic!("not refused:\n{source}"),
        }
    }

    #[test]
    fn comments_and_literals_are_not_screened() {
        let source = r##"
// unsafe { include!("x") } mod a;
/* unsafe /* nested env!("HOME") */ extern crate x; */
const A: &str = "unsafe { include_str!(\"/etc/passwd\") }";
const B: &str = r#"mod x; "unsafe""#;
const C: &[u8] = b"unsafe";
const D: char = '"';
fn f<'a>(x: &'a str) -> &'a str { let env = 1; let _ = env; x }
mod inline { pub fn path() {} }
"##;
        assert_eq!(screen(source), Ok(()));
    }

    #[test]
    fn each_forbidden_construct_is_refused_at_its_line() {
        let cases: &[(&str, usize, &str)] = &[
            ("fn f() {\n  unsafe { }\n}", 2, "`unsafe`"),
            ("\n\nconst X: &str = include_str!(\"/etc/passwd\");", 3, "`include_str!`"),
            ("\nconst X: &[u8] = core::include_bytes!(\"a\");", 2, "`include_bytes!`"),
            ("\ninclude!(\"a.rs\");", 2, "`include!`"),
            ("\nconst X: &str = env!(\"HOME\");", 2, "`env!`"),
            ("\nconst X: Option<&str> = option_env!(\"HOME\");", 2, "`option_env!`"),
            ("\nuse core::env as e;", 2, "`env!`"),
            ("\nuse core::{include_str as s};", 2, "`include_str!`"),
            ("\nmacro_rules! m {\n ($x:ident) => { $x!(\"a\") } }", 3, "metavariable"),
            ("\n#[path = \"other.rs\"]\nmod other {}", 2, "`#[path]`"),
            ("#![path = \"other.rs\"]", 1, "`#[path]`"),
            ("\n\n#[cfg_attr(all(), path = \"x.rs\")]\nmod other {}", 3, "`#[path]`"),
            ("\nextern crate alloc;", 2, "`extern crate`"),
            ("\n\n\nmod helpers;", 4, "`mod helpers;`"),
            ("\nfn f() { r#unsafe {} }", 2, "`unsafe`"),
            // Reads any file at compile time (its existence shows in the diagnostics).
            ("\n#![debugger_visualizer(gdb_script_file = \"/etc/passwd\")]", 2, "`#[debugger_visualizer]`"),
            ("\n\n#[link(name = \"/etc/hostname\", kind = \"static\")]\nextern \"C\" {}", 3, "`#[link]`"),
            ("extern \"C\" { fn f(); }", 1, "an `extern` block"),
            ("extern { fn f(); }", 1, "an `extern` block"),
        ];
        for (source, line, what) in cases {
            let r = refused(source);
            assert!(r.what.contains(what), "{source}: {r:?}");
            assert_eq!(r.line, *line, "{source}: {r:?}");
        }
    }

    #[test]
    fn env_reached_through_a_macro_is_refused() {
        // `env` and `!` passed separately, joined by the expansion into `env!("HOME")`.
        let split = "macro_rules! call { ($m:ident, $bang:tt, $arg:literal) => { $m $bang ($arg) }; }\n\
                     const X: &str = call!(env, !, \"HOME\");";
        let r = refused(split);
        assert!(r.what.contains("`env`") && r.what.contains("macro"), "{r:?}");
        assert_eq!(r.line, 2, "{r:?}");
        // The `!` written after a repetition of the arguments.
        let repeated = "macro_rules! m { ($($t:tt)*) => { $($t)* ! (\"PATH\") }; }\nconst X: &str = m!(env);";
        assert_eq!(refused(repeated).line, 2);
        // Without macro_rules, `env` can only be an ordinary name.
        assert_eq!(screen("fn f() -> u32 { let env = 1; env }"), Ok(()));
    }

    #[test]
    fn non_ascii_code_is_refused_but_not_in_comments_or_literals() {
        // rustc splits `a²include_str` at `²` (not an identifier character), expanding
        // `include_str!` after the lexer error; the screen saw one identifier.
        let split = "macro_rules! m { ($x:ident $($t:tt)*) => { compile_error!(concat!($($t)*)) }; }\n\
                     const X: &str = m!(a\u{b2}include_str!(\"/etc/hostname\"));";
        let r = refused(split);
        assert!(r.what.contains("non-ASCII") && r.what.contains("U+00B2"), "{r:?}");
        assert_eq!(r.line, 2, "{r:?}");
        assert_eq!(refused("fn f() {}\n\u{2028}").line, 2);
        let fine =
            "\u{feff}// caf\u{e9} \u{b2}\n/* \u{e9} */ const A: &str = \"\u{e9}\u{b2}\"; const B: char = '\u{e9}';";
        assert_eq!(screen(fine), Ok(()));
    }

    #[test]
    fn ordinary_uses_of_the_words_pass() {
        let source = "fn path(path: &[u8]) -> usize { let v = [path.len()]; v[0] }\nfn g() { let x = [1]; let _ = x; }";
        assert_eq!(screen(source), Ok(()));
    }

    #[test]
    fn unterminated_literals_are_refused() {
        assert!(refused("const A: &str = \"open").what.contains("unterminated"));
        assert!(refused("/* open").what.contains("unterminated"));
    }
}
