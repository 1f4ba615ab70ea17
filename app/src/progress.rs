//! Progress bars on stderr (hidden when stderr is not a terminal).

use std::sync::Mutex;

use indicatif::{ProgressBar, ProgressStyle};
use speaker_similarity::progress::{Progress, Stage};

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

/// Shows the library's [`Progress`] events: a bar per counted stage (scan, load,
/// features) and a spinner per model while it trains, with the MLP's epochs.
pub struct EvalProgress {
    items: Mutex<Option<(Stage, ProgressBar)>>,
    model: Mutex<Option<ProgressBar>>,
    quiet: bool,
}

impl EvalProgress {
    /// Progress display; `quiet` hides it (for --json runs it still goes to stderr).
    pub fn new(quiet: bool) -> Self {
        EvalProgress {
            items: Mutex::new(None),
            model: Mutex::new(None),
            quiet,
        }
    }

    /// Handle one event (from any thread).
    pub fn on(&self, p: Progress) {
        if self.quiet {
            return;
        }
        match p {
            Progress::Items { stage, done, total } => {
                let mut items = self.items.lock().unwrap_or_else(|p| p.into_inner());
                if items.as_ref().map(|(s, _)| *s) != Some(stage) {
                    if let Some((_, pb)) = items.take() {
                        pb.finish_and_clear();
                    }
                    *items = Some((stage, bar(total as u64, stage.label())));
                }
                if let Some((_, pb)) = items.as_ref() {
                    pb.set_position(done as u64);
                    if done == total {
                        pb.finish_and_clear();
                    }
                }
            }
            other => self.on_model(other),
        }
    }

    fn on_model(&self, p: Progress) {
        let mut m = self.model.lock().unwrap_or_else(|p| p.into_inner());
        match p {
            Progress::Started(kind) => {
                *m = Some(spinner(format!("training {kind}")));
            }
            Progress::Epoch(kind, log) => {
                if let Some(pb) = m.as_ref() {
                    pb.set_message(format!(
                        "training {kind} — epoch {}: loss {:.3}, val accuracy {}",
                        log.epoch,
                        log.loss,
                        log.val_accuracy
                            .map(|a| format!("{a:.3}"))
                            .unwrap_or_else(|| "-".into())
                    ));
                }
            }
            Progress::Skipped(kind, why) => {
                if let Some(pb) = m.take() {
                    pb.finish_and_clear();
                }
                eprintln!("skipped {kind}: {why}");
            }
            Progress::Finished(kind, secs) => {
                if let Some(pb) = m.take() {
                    pb.finish_and_clear();
                }
                eprintln!("trained {kind:<13} in {secs:.2} s");
            }
            Progress::Items { .. } => {}
        }
    }
}
