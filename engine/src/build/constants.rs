//! Tunable constants of a single-file source: `const NAME: T = literal;` items, rewritten per
//! candidate.
//!
//! Why rewrite source text: a single file (SDK or Prop AMM form) has no `amm.params` section
//! unless its author writes one, but nearly every such file keeps its knobs as constants. A
//! candidate is the file with those literals replaced and then built by the same screened,
//! sandboxed builder as any source, so a value can never carry code: what is written is a
//! number (or `true`/`false`) formatted here from an `f64`, and the result is screened again.
//! A constant that is not a plain literal (an expression, another constant) is an error naming
//! it, never a silent no-op.

use std::ops::Range;

use regex::Regex;

use super::screen::{Token, tokenize};

/// The value type of a tunable constant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConstType {
    /// `f32` or `f64`.
    Float(&'static str),
    /// An integer type (`u8` … `u64`, `i8` … `i64`, `usize`, `isize`).
    Int(&'static str),
    /// `bool`.
    Bool,
}

const INTS: &[&str] = &["u8", "u16", "u32", "u64", "u128", "usize", "i8", "i16", "i32", "i64", "i128", "isize"];

impl ConstType {
    fn parse(ty: &str) -> Option<ConstType> {
        match ty {
            "f32" => Some(ConstType::Float("f32")),
            "f64" => Some(ConstType::Float("f64")),
            "bool" => Some(ConstType::Bool),
            _ => INTS.iter().find(|t| **t == ty).map(|t| ConstType::Int(t)),
        }
    }

    /// Range of values the type holds (as `f64`).
    fn bounds(self) -> (f64, f64) {
        match self {
            ConstType::Float("f32") => (-f64::from(f32::MAX), f64::from(f32::MAX)),
            ConstType::Float(_) => (f64::MIN, f64::MAX),
            ConstType::Bool => (0.0, 1.0),
            ConstType::Int(t) => match t {
                "u8" => (0.0, 255.0),
                "u16" => (0.0, 65_535.0),
                "u32" => (0.0, 4_294_967_295.0),
                "i8" => (-128.0, 127.0),
                "i16" => (-32_768.0, 32_767.0),
                "i32" => (-2_147_483_648.0, 2_147_483_647.0),
                t if t.starts_with('u') => (0.0, 9.0e15),
                _ => (-9.0e15, 9.0e15),
            },
        }
    }
}

/// A `const NAME: T = literal;` item of a source.
#[derive(Clone, Debug, PartialEq)]
pub struct SourceConst {
    /// Its name.
    pub name: String,
    /// Its type.
    pub ty: ConstType,
    /// The literal's value.
    pub value: f64,
    /// 1-based line.
    pub line: usize,
    span: Range<usize>,
}

/// A constant that cannot be tuned.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ConstError {
    /// The source does not tokenize (the build would refuse it too).
    #[error("line {line}: {what}")]
    Unreadable {
        /// 1-based line.
        line: usize,
        /// What is wrong.
        what: String,
    },
    /// No `const NAME` in the source.
    #[error("no `const {name}: T = literal;` in the source{}", if found.is_empty() { String::new() } else { format!(" (its constants: {})", found.join(", ")) })]
    Missing {
        /// The name looked for.
        name: String,
        /// Constants the source has.
        found: Vec<String>,
    },
    /// Defined more than once (in different scopes), or also written in a comment.
    #[error("`const {name}` appears {count} times in the source; give the tuned constant a unique name")]
    Repeated {
        /// The constant.
        name: String,
        /// How often.
        count: usize,
    },
    /// Its value is not a plain literal.
    #[error("line {line}: `const {name}` is `{text}`, not a literal; write it as a number (or true/false) to tune it")]
    NotLiteral {
        /// The constant.
        name: String,
        /// 1-based line.
        line: usize,
        /// What it is.
        text: String,
    },
    /// A type other than a number or bool.
    #[error("line {line}: `const {name}` has type `{ty}`; only f32, f64, integers and bool can be tuned")]
    Type {
        /// The constant.
        name: String,
        /// 1-based line.
        line: usize,
        /// Its type.
        ty: String,
    },
    /// A value the type cannot hold.
    #[error("`const {name}` is {ty}: {value} is {why}")]
    Value {
        /// The constant.
        name: String,
        /// Its type.
        ty: String,
        /// The value given.
        value: f64,
        /// Why not.
        why: &'static str,
    },
}

fn item_pattern() -> Regex {
    // `pub`/`pub(crate)` and attributes may precede; the value runs to the first `;`.
    Regex::new(r"\bconst\s+([A-Za-z_][A-Za-z0-9_]*)\s*:\s*([A-Za-z0-9_&' ]+?)\s*=\s*([^;]*?)\s*;")
        .unwrap_or_else(|_| unreachable!())
}

fn literal_pattern() -> Regex {
    Regex::new(r"^(?:true|false|-?[0-9][0-9_]*(?:\.[0-9][0-9_]*)?(?:[eE][+-]?[0-9][0-9_]*)?(?:_?(?:f32|f64|u8|u16|u32|u64|u128|usize|i8|i16|i32|i64|i128|isize))?)$")
        .unwrap_or_else(|_| unreachable!())
}

/// Every `const NAME: T = …;` item's name in `source`, in order (items in code only, not
/// mentions in comments or strings).
pub fn names(source: &str) -> Vec<String> {
    let in_code: Vec<String> = tokenize(source)
        .map(|tokens| {
            tokens
                .windows(2)
                .filter_map(|w| match (&w[0].1, &w[1].1) {
                    (Token::Ident(k), Token::Ident(n)) if k == "const" => Some(n.clone()),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    let mut names: Vec<String> = Vec::new();
    for c in item_pattern().captures_iter(source) {
        if in_code.iter().any(|n| n == &c[1]) && !names.iter().any(|n| n == &c[1]) {
            names.push(c[1].to_string());
        }
    }
    names
}

/// The constant `name` of `source`.
pub fn find(source: &str, name: &str) -> Result<SourceConst, ConstError> {
    // Only an item in code counts: the tokenizer skips comments and literals.
    let tokens = tokenize(source).map_err(|r| ConstError::Unreadable { line: r.line, what: r.what })?;
    let in_code = tokens
        .windows(2)
        .filter(|w| matches!((&w[0].1, &w[1].1), (Token::Ident(k), Token::Ident(n)) if k == "const" && n == name))
        .count();
    if in_code == 0 {
        return Err(ConstError::Missing { name: name.into(), found: names(source) });
    }
    let pattern = item_pattern();
    let matches: Vec<regex::Captures<'_>> = pattern.captures_iter(source).filter(|c| &c[1] == name).collect();
    // A mention in a comment or a string (`const NAME` as text) would make the rewrite
    // ambiguous: count every textual occurrence, not only complete items.
    let mentions =
        Regex::new(&format!(r"\bconst\s+{}\b", regex::escape(name))).map_or(0, |r| r.find_iter(source).count());
    let Some(m) = matches.first() else {
        return Err(ConstError::Missing { name: name.into(), found: names(source) });
    };
    if matches.len() > 1 || mentions > 1 {
        return Err(ConstError::Repeated { name: name.into(), count: matches.len().max(mentions) });
    }
    let (ty_text, value) = (m[2].trim(), m.get(3).map_or_else(|| 0..0, |v| v.range()));
    let line = source[..m.get(0).map_or(0, |w| w.start())].matches('\n').count() + 1;
    let ty = ConstType::parse(ty_text).ok_or_else(|| ConstError::Type {
        name: name.into(),
        line,
        ty: ty_text.to_string(),
    })?;
    let text = &source[value.clone()];
    if !literal_pattern().is_match(text) {
        return Err(ConstError::NotLiteral { name: name.into(), line, text: text.to_string() });
    }
    let number = parse_literal(text).ok_or_else(|| ConstError::NotLiteral {
        name: name.into(),
        line,
        text: text.to_string(),
    })?;
    Ok(SourceConst { name: name.into(), ty, value: number, line, span: value })
}

/// The value of literal `text` of type `ty`.
fn parse_literal(text: &str) -> Option<f64> {
    match text {
        "true" => return Some(1.0),
        "false" => return Some(0.0),
        _ => {}
    }
    let mut t = text.replace('_', "");
    for suffix in ["f32", "f64", "usize", "isize", "u128", "i128", "u8", "u16", "u32", "u64", "i8", "i16", "i32", "i64"]
    {
        if let Some(stripped) = t.strip_suffix(suffix) {
            t = stripped.to_string();
            break;
        }
    }
    t.parse::<f64>().ok().filter(|v| v.is_finite())
}

/// `value` as a literal of type `ty`, or why it cannot be one.
pub fn literal(ty: ConstType, value: f64) -> Result<String, &'static str> {
    if !value.is_finite() {
        return Err("not a finite number");
    }
    let (lo, hi) = ty.bounds();
    if value < lo || value > hi {
        return Err("outside the range of its type");
    }
    Ok(match ty {
        ConstType::Bool => (value != 0.0).to_string(),
        ConstType::Int(_) if value.fract() != 0.0 => return Err("not a whole number"),
        ConstType::Int(_) => format!("{}", value as i64),
        // `{:?}` always writes a decimal point or an exponent: a float literal, never an integer.
        ConstType::Float(_) => format!("{value:?}"),
    })
}

/// `source` with each named constant's literal replaced by its value.
pub fn rewrite(source: &str, values: &[(String, f64)]) -> Result<String, ConstError> {
    let mut edits: Vec<(Range<usize>, String)> = Vec::with_capacity(values.len());
    for (name, value) in values {
        let c = find(source, name)?;
        let text = literal(c.ty, *value).map_err(|why| ConstError::Value {
            name: name.clone(),
            ty: type_name(c.ty).into(),
            value: *value,
            why,
        })?;
        edits.push((c.span, text));
    }
    edits.sort_by_key(|(r, _)| std::cmp::Reverse(r.start));
    let mut out = source.to_string();
    for (range, text) in edits {
        out.replace_range(range, &text);
    }
    Ok(out)
}

/// The type's name as written in Rust.
pub fn type_name(ty: ConstType) -> &'static str {
    match ty {
        ConstType::Float(t) | ConstType::Int(t) => t,
        ConstType::Bool => "bool",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SOURCE: &str = "// const FEE_BPS: u64 = 5; is not the item below\n\
        use x::y;\n\
        pub const BASE_FEE: f64 = 30.0;\n\
        const WINDOW: usize = 1_0;\n\
        const SKEW: bool = true;\n\
        const EXP: f64 = 2.5e-3_f64;\n\
        const DERIVED: f64 = BASE_FEE * 2.0;\n\
        const NAME: &str = \"x\";\n";

    #[test]
    fn literals_are_found_with_their_types_and_values() {
        let c = find(SOURCE, "BASE_FEE").unwrap();
        assert_eq!((c.ty, c.value, c.line), (ConstType::Float("f64"), 30.0, 3));
        assert_eq!(find(SOURCE, "WINDOW").unwrap().value, 10.0);
        assert_eq!(find(SOURCE, "SKEW").unwrap().value, 1.0);
        assert_eq!(find(SOURCE, "EXP").unwrap().value, 2.5e-3);
    }

    #[test]
    fn rewriting_replaces_only_the_literals() {
        let out = rewrite(SOURCE, &[("BASE_FEE".into(), 12.5), ("WINDOW".into(), 7.0), ("SKEW".into(), 0.0)]).unwrap();
        assert!(out.contains("pub const BASE_FEE: f64 = 12.5;"));
        assert!(out.contains("const WINDOW: usize = 7;"));
        assert!(out.contains("const SKEW: bool = false;"));
        assert_eq!(out.lines().count(), SOURCE.lines().count(), "lines keep their numbers");
        let again = rewrite(&out, &[("BASE_FEE".into(), 1e-7)]).unwrap();
        assert!(again.contains("BASE_FEE: f64 = 1e-7;"), "{again}");
        assert_eq!(find(&again, "BASE_FEE").unwrap().value, 1e-7);
    }

    #[test]
    fn what_cannot_be_tuned_is_named() {
        assert!(matches!(find(SOURCE, "DERIVED"), Err(ConstError::NotLiteral { line: 7, .. })));
        assert!(matches!(find(SOURCE, "NAME"), Err(ConstError::Type { .. })));
        let missing = find(SOURCE, "FEE").unwrap_err().to_string();
        assert!(missing.contains("no `const FEE") && missing.contains("BASE_FEE, WINDOW"), "{missing}");
        assert!(!missing.contains("FEE_BPS"), "a const only in a comment is not listed: {missing}");
        // Only in a comment: not an item of the code.
        assert!(matches!(find(SOURCE, "FEE_BPS"), Err(ConstError::Missing { .. })));
        let twice = format!("{SOURCE}mod m {{ const WINDOW: usize = 3; }}\n");
        assert!(matches!(find(&twice, "WINDOW"), Err(ConstError::Repeated { count: 2, .. })));
        assert!(matches!(
            rewrite(SOURCE, &[("WINDOW".into(), 2.5)]),
            Err(ConstError::Value { why: "not a whole number", .. })
        ));
        assert!(matches!(rewrite(SOURCE, &[("WINDOW".into(), -1.0)]), Err(ConstError::Value { .. })));
    }

    #[test]
    fn a_commented_mention_makes_the_name_ambiguous() {
        let source = "// const FEE: f64 = 1.0;\nconst FEE: f64 = 2.0;\n";
        assert!(matches!(find(source, "FEE"), Err(ConstError::Repeated { count: 2, .. })));
    }
}
