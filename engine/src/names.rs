//! The rules for names people read: a strategy's name and model, an entrant's name in a
//! market, an admin's flag reason. One place, because a board shows names from every source
//! (a module's metadata, a config, an upload form, a round) side by side, and a rule applied in
//! one place but not another is how a name reads as someone else's.

/// Most bytes in a displayed name.
pub const MAX_NAME_BYTES: usize = 64;

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

/// True when `s` is a displayable name: 1–64 bytes, none of them [hidden](is_hidden_char).
pub fn is_display_name(s: &str) -> bool {
    !s.is_empty() && s.len() <= MAX_NAME_BYTES && !s.chars().any(is_hidden_char)
}

/// Most bytes in an admin's flag reason.
pub const MAX_REASON_BYTES: usize = 200;

/// The flag reason's rule, in words.
pub const REASON_RULE: &str = "1-200 printable characters (no control or bidirectional-formatting characters)";

/// True when `s` is a displayable flag reason: 1–200 bytes, none of them hidden.
pub fn is_reason(s: &str) -> bool {
    !s.is_empty() && s.len() <= MAX_REASON_BYTES && !s.chars().any(is_hidden_char)
}

/// `name` cut to at most [`MAX_NAME_BYTES`] bytes, on a character boundary (for names built
/// from displayable parts, such as a round's `submitter/strategy`).
pub fn fit(mut name: String) -> String {
    while name.len() > MAX_NAME_BYTES {
        name.pop();
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_is_cut_to_sixty_four_bytes_on_a_character_boundary() {
        let long = format!("{}é", "a".repeat(63));
        assert_eq!(long.len(), 65);
        assert_eq!(fit(long), "a".repeat(63));
        assert_eq!(fit("short".into()), "short");
        assert!(is_display_name(&fit("ü".repeat(40))));
    }
}
