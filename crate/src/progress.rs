//! One progress event type for every long loop: scanning a data set, loading clips,
//! extracting features, training models (and their epochs), evaluating.
//!
//! Every function that runs long takes `on_progress: &(dyn Fn(Progress) + Sync)`
//! (a [`ProgressFn`]), called from worker threads as items finish. Give `&|_| {}`
//! to ignore it; the command line draws bars from it, a notebook prints it:
//!
//! ```
//! use speaker_similarity::progress::{Progress, Stage};
//! let show = |p: Progress| {
//!     if let Progress::Items { stage: Stage::Features, done, total } = p {
//!         if done == total {
//!             println!("features of {total} clips");
//!         }
//!     }
//! };
//! show(Progress::Items { stage: Stage::Features, done: 3, total: 3 });
//! println!("{}", Progress::Items { stage: Stage::Load, done: 1, total: 4 });
//! ```

use std::fmt;

use crate::models::speaker::ModelKind;
use crate::models::EpochLog;

/// What the items of [`Progress::Items`] are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stage {
    /// Audio files of a data set probed (headers read).
    Scan,
    /// Clips decoded.
    Load,
    /// Clips whose features are extracted.
    Features,
}

impl Stage {
    /// A short label for progress bars ("scan", "load", "features").
    pub fn label(self) -> &'static str {
        match self {
            Stage::Scan => "scan",
            Stage::Load => "load",
            Stage::Features => "features",
        }
    }
}

/// One progress event.
#[derive(Debug, Clone, PartialEq)]
pub enum Progress {
    /// `done` of `total` items of a stage are finished (in completion order, from
    /// any thread; `done == total` comes last).
    Items {
        /// What is counted.
        stage: Stage,
        /// Items finished so far.
        done: usize,
        /// Items in all.
        total: usize,
    },
    /// A model's training starts.
    Started(ModelKind),
    /// An iterative model (the MLP) finished an epoch.
    Epoch(ModelKind, EpochLog),
    /// A model is trained, in so many seconds.
    Finished(ModelKind, f64),
    /// An optional model (a baseline) could not be trained on this data and was left
    /// out, for this reason.
    Skipped(ModelKind, String),
}

/// The callback every long-running function takes.
pub type ProgressFn<'a> = &'a (dyn Fn(Progress) + Sync);

impl fmt::Display for Progress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Progress::Items { stage, done, total } => {
                write!(f, "{}: {done}/{total}", stage.label())
            }
            Progress::Started(k) => write!(f, "training {k}"),
            Progress::Epoch(k, log) => {
                write!(f, "training {k}: epoch {}, loss {:.4}", log.epoch, log.loss)?;
                if let Some(a) = log.val_accuracy {
                    write!(f, ", val accuracy {a:.4}")?;
                }
                Ok(())
            }
            Progress::Finished(k, s) => write!(f, "trained {k} in {s:.2} s"),
            Progress::Skipped(k, why) => write!(f, "skipped {k}: {why}"),
        }
    }
}
