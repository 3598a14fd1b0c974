//! The states of jobs, submissions and rounds, and the progress of a set of jobs, as types.
//!
//! The databases keep these as the lowercase words they always held (`'queued'`, `'evaluated'`,
//! …), so no migration changes their meaning: [`JobState::as_str`] and friends are the only
//! spelling, the SQL in `db` binds those words as parameters rather than spelling them (a test
//! keeps it so), and a word the code does not know is a corrupt row, not a silently different
//! state. Everything above the database compares these types, never strings.

use serde::Serialize;

/// Declares a state enum stored as its lowercase name.
macro_rules! stored_state {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $text:literal,)+ }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, serde::Deserialize, utoipa::ToSchema)]
        #[serde(rename_all = "lowercase")]
        pub enum $name {
            $($(#[$vdoc])* $variant,)+
        }

        impl $name {
            /// Every state, in declaration order.
            pub const ALL: &'static [Self] = &[$(Self::$variant,)+];

            /// The stored (and serialized) word.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text,)+
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = UnknownState;

            fn from_str(text: &str) -> Result<Self, UnknownState> {
                Self::ALL
                    .iter()
                    .copied()
                    .find(|s| s.as_str() == text)
                    .ok_or_else(|| UnknownState { what: stringify!($name), text: text.to_string() })
            }
        }
    };
}

/// A stored state word the code does not know (a corrupt or foreign row).
#[derive(Debug, thiserror::Error)]
#[error("unknown {what} {text:?}")]
pub struct UnknownState {
    /// Which state type.
    pub what: &'static str,
    /// The word found.
    pub text: String,
}

stored_state! {
    /// Where an evaluation job is.
    JobState {
        /// Waiting for a worker.
        Queued = "queued",
        /// Leased by a worker.
        Running = "running",
        /// Its shard results are stored.
        Succeeded = "succeeded",
        /// Stopped for good (a strategy fault, the wall clock, attempts used up).
        Failed = "failed",
        /// Cancelled by its submitter or an admin.
        Cancelled = "cancelled",
    }
}

impl JobState {
    /// Whether the job will change no more (unless an admin requeues it).
    pub fn is_finished(self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed | Self::Cancelled)
    }
}

stored_state! {
    /// Where a submission's evaluation is.
    SubmissionStatus {
        /// Its jobs are queued or running (or it is being re-scored).
        Pending = "pending",
        /// Every job succeeded and the summary is stored.
        Evaluated = "evaluated",
        /// A job failed.
        Failed = "failed",
        /// Cancelled before it was evaluated.
        Cancelled = "cancelled",
    }
}

stored_state! {
    /// Where a round is, derived from its groups (not stored).
    RoundState {
        /// No group has started.
        Queued = "queued",
        /// Some group started and none failed or was cancelled.
        Running = "running",
        /// Every group is evaluated.
        Completed = "completed",
        /// A group failed.
        Failed = "failed",
        /// A group was cancelled.
        Cancelled = "cancelled",
    }
}

impl RoundState {
    /// The state of a round whose groups have `statuses`; `started` when any of their jobs left
    /// the queue. A failure outranks a cancellation, which outranks everything else.
    pub fn of_groups(statuses: &[SubmissionStatus], started: bool) -> Self {
        let any = |s: SubmissionStatus| statuses.contains(&s);
        if any(SubmissionStatus::Failed) {
            Self::Failed
        } else if any(SubmissionStatus::Cancelled) {
            Self::Cancelled
        } else if !statuses.is_empty() && statuses.iter().all(|&s| s == SubmissionStatus::Evaluated) {
            Self::Completed
        } else if started {
            Self::Running
        } else {
            Self::Queued
        }
    }
}

/// Progress, in simulations.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Progress {
    /// Simulations finished.
    pub done: i64,
    /// Simulations in all.
    pub total: i64,
}

impl Progress {
    /// The progress of one job in `state` that counted `done` of its `total` simulations: a
    /// succeeded job counts whole (its `done` is of its last attempt, which may have been
    /// re-run). The one rule for every view of a job, a submission or a round.
    pub fn of_job(state: JobState, done: i64, total: i64) -> Self {
        Self { done: if state == JobState::Succeeded { total } else { done }, total }
    }
}

/// The progress of a set of jobs (a submission's, a round's).
impl std::iter::Sum for Progress {
    fn sum<I: Iterator<Item = Self>>(iter: I) -> Self {
        iter.fold(Self::default(), |a, b| Self { done: a.done + b.done, total: a.total + b.total })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_is_stored_as_the_word_the_databases_already_hold() {
        let words = |all: &[&'static str]| all.to_vec();
        assert_eq!(
            words(&JobState::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>()),
            ["queued", "running", "succeeded", "failed", "cancelled"]
        );
        assert_eq!(
            words(&SubmissionStatus::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>()),
            ["pending", "evaluated", "failed", "cancelled"]
        );
        for s in JobState::ALL {
            assert_eq!(serde_json::to_string(s).unwrap(), format!("\"{s}\""));
            assert_eq!(s.as_str().parse::<JobState>().unwrap(), *s);
        }
        assert!("done".parse::<JobState>().is_err());
    }

    #[test]
    fn a_round_fails_before_it_is_cancelled_and_completes_only_when_every_group_is_evaluated() {
        use SubmissionStatus::*;
        assert_eq!(RoundState::of_groups(&[Evaluated, Cancelled, Failed], true), RoundState::Failed);
        assert_eq!(RoundState::of_groups(&[Evaluated, Cancelled], true), RoundState::Cancelled);
        assert_eq!(RoundState::of_groups(&[Evaluated, Evaluated], true), RoundState::Completed);
        assert_eq!(RoundState::of_groups(&[Evaluated, Pending], true), RoundState::Running);
        assert_eq!(RoundState::of_groups(&[Pending], false), RoundState::Queued);
        assert_eq!(RoundState::of_groups(&[], false), RoundState::Queued);
    }
}
