//! Progress bars on stderr (hidden when stderr is not a terminal).

use std::sync::Mutex;

use indicatif::{ProgressBar, ProgressStyle};
use speaker_similarity::pipeline::{EvalEvent, ModelKind, TrainEvent};

/// A bar counting `total` items.
pub fn bar(total: u64, message: &str) -> ProgressBar {
    let pb = ProgressBar::new(total);
    pb.set_style(
        ProgressStyle::with_template("{msg:>18} [{bar:32}] {pos}/{len} ({eta} left)")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    pb.set_message(message.to_string());
    pb
}

/// A spinner with a message.
pub fn spinner(message: String) -> ProgressBar {
    let pb = ProgressBar::new_spinner();
    pb.set_style(
        ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    pb.enable_steady_tick(std::time::Duration::from_millis(120));
    pb.set_message(message);
    pb
}

/// Shows feature extraction as a bar and each model's training as a spinner.
pub struct EvalProgress {
    features: Mutex<Option<ProgressBar>>,
    model: Mutex<Option<ProgressBar>>,
    quiet: bool,
}

impl EvalProgress {
    /// Progress display; `quiet` hides it (for --json runs it still goes to stderr).
    pub fn new(quiet: bool) -> Self {
        EvalProgress {
            features: Mutex::new(None),
            model: Mutex::new(None),
            quiet,
        }
    }

    /// Handle one event.
    pub fn on(&self, e: EvalEvent) {
        if self.quiet {
            return;
        }
        match e {
            EvalEvent::Features { done, total } => {
                let mut f = self.features.lock().unwrap_or_else(|p| p.into_inner());
                let pb = f.get_or_insert_with(|| bar(total as u64, "features"));
                pb.set_position(done as u64);
                if done == total {
                    pb.finish_and_clear();
                }
            }
            EvalEvent::Train(t) => self.on_train(t),
        }
    }

    /// Handle one training event.
    pub fn on_train(&self, t: TrainEvent) {
        if self.quiet {
            return;
        }
        let mut m = self.model.lock().unwrap_or_else(|p| p.into_inner());
        match t {
            TrainEvent::Started(kind) => {
                *m = Some(spinner(format!("training {kind}")));
            }
            TrainEvent::Epoch(log) => {
                if let Some(pb) = m.as_ref() {
                    pb.set_message(format!(
                        "training {} — epoch {}: loss {:.3}, val accuracy {}",
                        ModelKind::Mlp,
                        log.epoch,
                        log.loss,
                        log.val_accuracy
                            .map(|a| format!("{a:.3}"))
                            .unwrap_or_else(|| "-".into())
                    ));
                }
            }
            TrainEvent::Skipped(kind, why) => {
                if let Some(pb) = m.take() {
                    pb.finish_and_clear();
                }
                eprintln!("skipped {kind}: {why}");
            }
            TrainEvent::Finished(kind, secs) => {
                if let Some(pb) = m.take() {
                    pb.finish_and_clear();
                }
                eprintln!("trained {kind:<13} in {secs:.2} s");
            }
        }
    }
}
