//! The rules for names people read: a strategy's name and model, an entrant's name in a
//! market, an admin's flag reason. One place, because a board shows names from every source
//! (a module's metadata, a config, an upload form, a round) side by side, and a rule applied in
//! one place but not another is how a name reads as someone else's.
//!
//! Lengths are counted in characters (Unicode scalar values), as the rules say and as a JSON
//! Schema's `maxLength` counts: the service's OpenAPI document states each rule as
//! `minLength`/`maxLength` and a `pattern` ([`FORM_TEXT_PATTERN`]) built from the same
//! character sets, so a request the document calls valid is one the server accepts.

/// Most characters in a displayed name.
pub const MAX_NAME_CHARS: usize = 64;

/// The rule, in words, for messages (`amm.name`, `strategy[i].name`, the upload form).
pub const NAME_RULE: &str = "1-64 printable characters, no control or bidirectional-formatting characters";

/// True for a character no displayed name (strategy name, model, flag reason) may hold: a
/// control character, or a Unicode bidirectional formatting character (U+061C, U+200E, U+200F,
/// U+202A–U+202E, U+2066–U+2069), which reorders the text around it so that a name on a board
/// can read as another's ("Trojan Source", CVE-2021-42574).
pub fn is_hidden_char(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// True when `s` is a displayable name: 1–64 characters, none of them [hidden](is_hidden_char).
pub fn is_display_name(s: &str) -> bool {
    !s.is_empty() && s.chars().count() <= MAX_NAME_CHARS && !s.chars().any(is_hidden_char)
}

/// Most characters in an admin's flag reason.
pub const MAX_REASON_CHARS: usize = 200;

/// The flag reason's rule, in words.
pub const REASON_RULE: &str = "1-200 characters, not all whitespace, no control or bidirectional-formatting characters";

/// The upload form's name rule, in words.
pub const FORM_NAME_RULE: &str =
    "1-64 characters, not all whitespace, no control or bidirectional-formatting characters";

/// True when `s`, text a person typed into a form (an upload's name, a flag reason), is
/// acceptable as sent: 1 to `max` characters, none [hidden](is_hidden_char), at least one not
/// whitespace. It is stored trimmed (so it is then a [display name](is_display_name) when
/// `max` is [`MAX_NAME_CHARS`]). The rule is checked on the text as sent, not trimmed, because
/// that is what a schema ([`FORM_TEXT_PATTERN`]) can say.
pub fn is_form_text(s: &str, max: usize) -> bool {
    let count = s.chars().count();
    (1..=max).contains(&count) && !s.chars().any(is_hidden_char) && s.chars().any(|c| !c.is_whitespace())
}

/// True when `s` is an acceptable flag reason as sent ([`is_form_text`] of at most 200).
pub fn is_reason(s: &str) -> bool {
    is_form_text(s, MAX_REASON_CHARS)
}

/// [`is_hidden_char`] as the body of a regular-expression character class (ECMA-262, Python
/// `re` and Rust `regex` syntax: `\uXXXX` escapes): the control characters (U+0000–U+001F,
/// U+007F–U+009F) and the bidirectional formatting ones. A macro, so that `concat!` can build
/// [`FORM_TEXT_PATTERN`] from it.
macro_rules! hidden_class {
    () => {
        r"\u0000-\u001F\u007F-\u009F\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069"
    };
}

/// The whitespace that is not a control character (Unicode `White_Space`, which
/// `char::is_whitespace` tests, less U+0009–U+000D and U+0085), as a character class body.
macro_rules! visible_space_class {
    () => {
        r"\u0020\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000"
    };
}

/// [`is_form_text`] less its length, as a JSON Schema `pattern` (with `minLength` 1 and
/// `maxLength` the limit): no hidden character anywhere and one that is not whitespace.
pub const FORM_TEXT_PATTERN: &str =
    concat!("^[^", hidden_class!(), "]*[^", hidden_class!(), visible_space_class!(), "][^", hidden_class!(), "]*$");

/// `name` cut to at most [`MAX_NAME_CHARS`] characters (for names built from displayable
/// parts, such as a round's `submitter/strategy`).
pub fn fit(name: String) -> String {
    match name.char_indices().nth(MAX_NAME_CHARS) {
        Some((end, _)) => name[..end].to_string(),
        None => name,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_is_cut_to_sixty_four_characters() {
        let long = format!("{}é", "a".repeat(64));
        assert_eq!(fit(long), "a".repeat(64));
        assert_eq!(fit("short".into()), "short");
        assert_eq!(fit("ü".repeat(70)), "ü".repeat(64));
        assert!(is_display_name(&fit("ü".repeat(70))));
    }

    #[test]
    fn lengths_are_characters_not_bytes() {
        assert!(is_display_name(&"ü".repeat(64)) && !is_display_name(&"ü".repeat(65)));
        assert!(is_reason(&"€".repeat(200)) && !is_reason(&"€".repeat(201)));
        assert!(is_reason("spam") && !is_reason("") && !is_reason("   ") && !is_reason("\u{3000}"));
        assert!(!is_reason("a\u{11}b") && !is_reason("a\u{202E}b") && is_reason(" padded "));
    }

    /// The pattern and the predicate agree on every character, alone and around a letter: what
    /// the OpenAPI document calls a valid reason or name is one the server accepts, and back.
    #[test]
    fn the_schema_pattern_says_exactly_what_the_rule_checks() {
        let class = |body: &str| regex::Regex::new(&format!("^[{body}]$")).map_err(|e| e.to_string());
        let (hidden, space) = (class(hidden_class!()), class(visible_space_class!()));
        let pattern = regex::Regex::new(FORM_TEXT_PATTERN).map_err(|e| e.to_string());
        let (Ok(hidden), Ok(space), Ok(pattern)) = (hidden, space, pattern) else {
            panic!("the classes and the pattern compile")
        };
        for c in (0..=0x10FFFF).filter_map(char::from_u32) {
            let s = c.to_string();
            assert_eq!(hidden.is_match(&s), is_hidden_char(c), "{c:?}");
            assert_eq!(space.is_match(&s), c.is_whitespace() && !c.is_control(), "{c:?}");
            assert_eq!(pattern.is_match(&s), is_form_text(&s, 1), "{c:?}");
            let around = format!("a{c}");
            assert_eq!(pattern.is_match(&around), is_form_text(&around, 2), "a{c:?}");
        }
    }
}
