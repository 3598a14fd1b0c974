//! Why a strategy stopped trading in a simulation: the call, the step, a typed kind and the
//! full text.
//!
//! The kind is decided where the rule is broken (a fault in the sandbox, an absurd quote, a
//! shape violation, an audit mismatch), never recovered from the text afterwards: reports group
//! by it, pages and the service show it, and a reason's wording can change without changing
//! what it is. The text stays as it was, for people.

use serde::{Deserialize, Serialize};

use crate::sandbox::{CallKind, Fault};

/// What kind of rule a disqualified strategy broke.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DisqualificationKind {
    /// The instance could not be created for the simulation (start function, `amm_buffer()`).
    Load,
    /// A call used up a budget the sandbox gives it: fuel (its own or for host work), the
    /// wall-clock backstop, the wasm stack, memory or table size.
    Budget,
    /// A call failed on its own: a trap (a panic, a division by zero, a bad memory access …),
    /// a WASI exit, anything else Wasmtime reports.
    Fault,
    /// A quote above the pool's output-side reserve.
    AbsurdQuote,
    /// The sampled quote curve was not monotone or not concave.
    ShapeViolation,
    /// A replayed call (a quote, or a hook's storage) differed on a pristine instance.
    AuditMismatch,
}

impl DisqualificationKind {
    /// Every kind, in declaration order.
    pub const ALL: [Self; 6] =
        [Self::Load, Self::Budget, Self::Fault, Self::AbsurdQuote, Self::ShapeViolation, Self::AuditMismatch];

    /// The kind of a fault: running out of something the sandbox rations is a budget, the rest
    /// is the strategy's own failure.
    pub fn of_fault(fault: &Fault) -> Self {
        match fault {
            Fault::OutOfFuel { .. }
            | Fault::HostWorkOverFuel { .. }
            | Fault::Deadline { .. }
            | Fault::StackOverflow
            | Fault::MemoryLimit { .. }
            | Fault::TableLimit { .. } => Self::Budget,
            Fault::Trap { .. } | Fault::Exit { .. } | Fault::Other { .. } => Self::Fault,
        }
    }

    /// The serialized name (`"absurd_quote"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Load => "load",
            Self::Budget => "budget",
            Self::Fault => "fault",
            Self::AbsurdQuote => "absurd_quote",
            Self::ShapeViolation => "shape_violation",
            Self::AuditMismatch => "audit_mismatch",
        }
    }

    /// Words for people (`"absurd quote"`).
    pub fn describe(self) -> &'static str {
        match self {
            Self::Load => "could not load",
            Self::Budget => "over budget",
            Self::Fault => "fault",
            Self::AbsurdQuote => "absurd quote",
            Self::ShapeViolation => "shape violation",
            Self::AuditMismatch => "audit mismatch",
        }
    }

    /// The kind of a reason recorded before kinds were (results stored by an older engine in
    /// a service's database): the only place a reason's text is read back, and only for those.
    fn of_legacy_text(reason: &str) -> Self {
        const BUDGET: [&str; 5] =
            ["out of fuel", "wall-clock backstop", "stack overflow", "memory limit", "table limit"];
        if reason.starts_with("absurd quote") {
            Self::AbsurdQuote
        } else if reason.starts_with("quote curve not") {
            Self::ShapeViolation
        } else if reason.starts_with("impure ") {
            Self::AuditMismatch
        } else if reason.starts_with("instantiation failed") || reason.starts_with("amm_buffer()") {
            Self::Load
        } else if BUDGET.iter().any(|p| reason.starts_with(p)) {
            Self::Budget
        } else {
            Self::Fault
        }
    }
}

impl std::fmt::Display for DisqualificationKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.describe())
    }
}

impl<'de> Deserialize<'de> for DisqualificationKind {
    /// The serialized names; a report written before kinds existed grouped by the reason's text
    /// up to its first colon (`"out of fuel"`), which is read as the kind it names.
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Ok(Self::ALL.into_iter().find(|k| k.as_str() == text).unwrap_or_else(|| Self::of_legacy_text(&text)))
    }
}

/// Why and when a strategy stopped trading in a simulation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "StoredDisqualification")]
pub struct Disqualification {
    /// Step at which it happened (0-based).
    pub step: u64,
    /// The call that caused it.
    pub call: CallKind,
    /// What kind of rule was broken.
    pub kind: DisqualificationKind,
    /// What went wrong, in words.
    pub reason: String,
}

/// A disqualification as stored: results written before kinds existed have none.
#[derive(Deserialize)]
struct StoredDisqualification {
    step: u64,
    call: CallKind,
    kind: Option<DisqualificationKind>,
    reason: String,
}

impl From<StoredDisqualification> for Disqualification {
    fn from(d: StoredDisqualification) -> Self {
        let kind = d.kind.unwrap_or_else(|| DisqualificationKind::of_legacy_text(&d.reason));
        Self { step: d.step, call: d.call, kind, reason: d.reason }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kind_serializes_to_its_name_and_reads_back() {
        for kind in DisqualificationKind::ALL {
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{}\"", kind.as_str()));
            assert_eq!(serde_json::from_str::<DisqualificationKind>(&json).unwrap(), kind);
        }
    }

    #[test]
    fn a_reason_stored_without_a_kind_gets_the_kind_its_text_names() {
        let stored = r#"{"step":3,"call":"quote","reason":"absurd quote: 5 exceeds the output reserve 4"}"#;
        let d: Disqualification = serde_json::from_str(stored).unwrap();
        assert_eq!(d.kind, DisqualificationKind::AbsurdQuote);
        for (text, kind) in [
            ("out of fuel: used the whole budget of 100 units", DisqualificationKind::Budget),
            ("trap: integer division by zero", DisqualificationKind::Fault),
            ("quote curve not concave: marginal output rose", DisqualificationKind::ShapeViolation),
            ("impure after_swap: a fresh instance faulted", DisqualificationKind::AuditMismatch),
            ("instantiation failed: trap: unreachable", DisqualificationKind::Load),
        ] {
            assert_eq!(serde_json::from_str::<DisqualificationKind>(&format!("{text:?}")).unwrap(), kind, "{text}");
        }
    }

    #[test]
    fn running_out_of_a_ration_is_a_budget_and_a_trap_is_a_fault() {
        assert_eq!(DisqualificationKind::of_fault(&Fault::OutOfFuel { budget: 1 }), DisqualificationKind::Budget);
        assert_eq!(DisqualificationKind::of_fault(&Fault::StackOverflow), DisqualificationKind::Budget);
        assert_eq!(DisqualificationKind::of_fault(&Fault::Exit { code: 1 }), DisqualificationKind::Fault);
    }
}
