//! Data sets of labelled speech clips: read from a directory, split into train and
//! test, summarised.
//!
//! A speaker-identification data set is a list of clips, each recorded by one
//! speaker, often grouped in *sessions* (one VoxCeleb video, one recording day). This
//! module reads three directory layouts — one folder per speaker, VoxCeleb and the Free
//! Spoken Digit Dataset — and detects which one a directory uses (see [`layout`] for
//! the exact rules). Opening a directory only lists files; nothing is decoded until a
//! clip is loaded, so a damaged file shows up at load time, as a reported failure
//! ([`Dataset::load_all`]), not as a failure to open the whole set.
//!
//! To measure how well a model recognises speakers, it must be tested on clips it did
//! not see in training. [`split()`] divides every speaker's clips at random (seeded) into
//! a training and a test part that share no clip — and, on request, no session, since
//! two clips cut from the same video share the room, the microphone and the mood, and
//! a model can recognise those instead of the voice. The original Python project's
//! split put every test clip into the training set as well; [`leaky_original_split`]
//! reproduces that bug on purpose so the tutorial can show what it does to accuracy.
//!
//! ```
//! use speaker_similarity::dataset::{Dataset, SplitParams};
//! use speaker_similarity::synth::{SynthCorpus, SynthParams};
//! # fn main() -> speaker_similarity::Result<()> {
//! let params = SynthParams { speakers: 3, clips_per_speaker: 4, ..SynthParams::default() };
//! let data: Dataset = SynthCorpus::generate(&params)?;
//! assert_eq!(data.speakers(), ["spk01", "spk02", "spk03"]);
//! let split = data.split(&SplitParams::default())?;
//! split.check_disjoint()?;
//! assert_eq!(split.train.len() + split.test.len(), 12);
//! # Ok(())
//! # }
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use rayon::prelude::*;

use crate::audio::{Audio, AudioInfo};
use crate::error::{Error, Result};
use crate::progress::{Progress, ProgressFn, Stage};

pub mod layout;
pub mod shard;
pub mod split;
pub mod summary;

pub use layout::{Layout, AUDIO_EXTENSIONS};
pub use shard::Shard;
pub use split::{leaky_original_split, split, SkipReason, SkippedSpeaker, Split, SplitParams};
pub use summary::{DatasetSummary, SpeakerSummary};

/// What [`Dataset::load_all`] returns: the decoded clips and the failures, each with
/// its index into [`Dataset::clips`].
pub type LoadResult = (Vec<(usize, Audio)>, Vec<(usize, Error)>);

/// One recording of one speaker.
#[derive(Debug, Clone)]
pub struct Clip {
    /// The file. For an in-memory (synthetic) clip, the relative path it would be
    /// written to (`speaker/session/clip.wav`).
    pub path: PathBuf,
    /// The speaker's id (folder name, VoxCeleb id, FSDD name).
    pub speaker: String,
    /// The recording session (VoxCeleb video, second-level folder), when the layout
    /// has one.
    pub session: Option<String>,
    /// The samples, for clips held in memory (the synthetic corpus); `None` for clips
    /// read from files.
    pub audio: Option<Arc<Audio>>,
}

impl Clip {
    /// A clip read from a file when loaded.
    pub fn from_file(
        path: impl Into<PathBuf>,
        speaker: impl Into<String>,
        session: Option<String>,
    ) -> Clip {
        Clip {
            path: path.into(),
            speaker: speaker.into(),
            session,
            audio: None,
        }
    }

    /// A clip held in memory; `path` is where [`crate::synth::write_corpus`] would put
    /// it, relative to the output directory.
    pub fn in_memory(
        path: impl Into<PathBuf>,
        speaker: impl Into<String>,
        session: Option<String>,
        audio: Audio,
    ) -> Clip {
        Clip {
            path: path.into(),
            speaker: speaker.into(),
            session,
            audio: Some(Arc::new(audio)),
        }
    }

    /// The clip's audio: a copy of the in-memory samples, or the decoded file.
    pub fn load(&self) -> Result<Audio> {
        match &self.audio {
            Some(a) => Ok(Audio::clone(a)),
            None => Audio::load(&self.path),
        }
    }

    /// Sample rate, channels and length, from the file header where possible.
    pub fn info(&self) -> Result<AudioInfo> {
        match &self.audio {
            Some(a) => Ok(AudioInfo {
                sample_rate: a.sample_rate,
                channels: 1,
                frames: a.samples.len() as u64,
            }),
            None => crate::audio::info(&self.path),
        }
    }

    /// The file name (`00001.wav`), for display.
    pub fn file_name(&self) -> String {
        self.path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| self.path.display().to_string())
    }

    /// True for a clip held in memory.
    pub fn is_in_memory(&self) -> bool {
        self.audio.is_some()
    }
}

/// A labelled set of clips.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// The directory read, or `<synthetic …>` for a generated corpus.
    pub root: PathBuf,
    /// The layout read, or `None` for a corpus built in memory.
    pub layout: Option<Layout>,
    /// The clips, sorted by speaker, session and path when read from a directory.
    pub clips: Vec<Clip>,
    /// Display names by speaker id (VoxCeleb celebrity names from `vox1_meta.csv`,
    /// names from `speakers.tsv`, invented names for the synthetic corpus). Speakers
    /// without an entry are shown by their id.
    pub names: BTreeMap<String, String>,
    /// Things skipped while reading (files outside the layout, malformed metadata
    /// lines, unreadable sub-directories), one readable line each, for the caller to
    /// print.
    pub warnings: Vec<String>,
}

impl Dataset {
    /// Read a directory, detecting its layout (see [`layout`] for the rules).
    ///
    /// Errors: [`Error::Io`] when the path does not exist or cannot be listed;
    /// [`Error::Dataset`] when it is not a directory, holds no audio file, or holds a
    /// single speaker.
    pub fn open(path: impl AsRef<Path>) -> Result<Dataset> {
        Dataset::open_with(path, None)
    }

    /// Read a directory in the given layout, or detect it when `layout` is `None`.
    pub fn open_with(path: impl AsRef<Path>, layout: Option<Layout>) -> Result<Dataset> {
        layout::read(path.as_ref(), layout)
    }

    /// Build a data set from clips (checked: at least one clip and two speakers).
    pub fn from_clips(
        root: impl Into<PathBuf>,
        layout: Option<Layout>,
        clips: Vec<Clip>,
        names: BTreeMap<String, String>,
    ) -> Result<Dataset> {
        let data = Dataset {
            root: root.into(),
            layout,
            clips,
            names,
            warnings: Vec::new(),
        };
        data.check_usable()?;
        Ok(data)
    }

    pub(crate) fn check_usable(&self) -> Result<()> {
        let err = |reason: String| Error::Dataset {
            path: self.root.clone(),
            reason,
        };
        if self.clips.is_empty() {
            return Err(err(format!(
                "no audio files ({}) found",
                AUDIO_EXTENSIONS
                    .iter()
                    .map(|e| format!(".{e}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        let speakers = self.speakers();
        if speakers.len() < 2 {
            let hint = match self.layout {
                Some(Layout::Folders) | None => {
                    " (the folders layout wants the directory that holds one sub-folder per speaker)"
                }
                _ => "",
            };
            return Err(err(format!(
                "only one speaker ({}) found; telling speakers apart needs at least two{hint}",
                speakers[0]
            )));
        }
        Ok(())
    }

    /// Number of clips.
    pub fn len(&self) -> usize {
        self.clips.len()
    }

    /// True when there is no clip.
    pub fn is_empty(&self) -> bool {
        self.clips.is_empty()
    }

    /// The speaker ids, sorted.
    pub fn speakers(&self) -> Vec<String> {
        let set: BTreeSet<&str> = self.clips.iter().map(|c| c.speaker.as_str()).collect();
        set.into_iter().map(str::to_string).collect()
    }

    /// Number of speakers.
    pub fn n_speakers(&self) -> usize {
        self.clips
            .iter()
            .map(|c| c.speaker.as_str())
            .collect::<BTreeSet<_>>()
            .len()
    }

    /// For every clip, the index of its speaker in [`Dataset::speakers`] (class
    /// labels for a classifier).
    pub fn labels(&self) -> Vec<usize> {
        let speakers = self.speakers();
        self.clips
            .iter()
            .map(|c| {
                // Every clip's speaker is in `speakers`, built from the same clips.
                speakers
                    .binary_search(&c.speaker)
                    .expect("speaker of a clip is listed")
            })
            .collect()
    }

    /// The name to show for a speaker id: its display name when known, else the id.
    pub fn display_name<'a>(&'a self, speaker: &'a str) -> &'a str {
        self.names
            .get(speaker)
            .map(String::as_str)
            .unwrap_or(speaker)
    }

    /// Indices (into [`Dataset::clips`]) of a speaker's clips, in order.
    pub fn clips_of(&self, speaker: &str) -> Vec<usize> {
        (0..self.clips.len())
            .filter(|&i| self.clips[i].speaker == speaker)
            .collect()
    }

    /// A speaker's distinct sessions, sorted (empty when the layout has none).
    pub fn sessions_of(&self, speaker: &str) -> Vec<String> {
        let set: BTreeSet<&str> = self
            .clips
            .iter()
            .filter(|c| c.speaker == speaker)
            .filter_map(|c| c.session.as_deref())
            .collect();
        set.into_iter().map(str::to_string).collect()
    }

    /// True when at least one clip has a session.
    pub fn has_sessions(&self) -> bool {
        self.clips.iter().any(|c| c.session.is_some())
    }

    /// True for a corpus generated in memory.
    pub fn is_synthetic(&self) -> bool {
        self.layout.is_none() && self.clips.iter().all(Clip::is_in_memory)
    }

    /// Decode every clip, in parallel. Returns the decoded clips and the failures,
    /// each with its index into [`Dataset::clips`], both sorted by index; a damaged
    /// file is a failure in the list, never an abort. `on_progress` receives
    /// [`Progress::Items`] of [`Stage::Load`] after each clip, from worker threads.
    pub fn load_all(&self, on_progress: ProgressFn<'_>) -> LoadResult {
        let total = self.clips.len();
        let done = AtomicUsize::new(0);
        let results: Vec<(usize, Result<Audio>)> = self
            .clips
            .par_iter()
            .enumerate()
            .map(|(i, clip)| {
                let r = clip.load();
                on_progress(Progress::Items {
                    stage: Stage::Load,
                    done: done.fetch_add(1, Ordering::Relaxed) + 1,
                    total,
                });
                (i, r)
            })
            .collect();
        let mut ok = Vec::with_capacity(total);
        let mut failed = Vec::new();
        for (i, r) in results {
            match r {
                Ok(a) => ok.push((i, a)),
                Err(e) => failed.push((i, e)),
            }
        }
        (ok, failed)
    }

    /// Split into train and test clips (see [`split()`]).
    pub fn split(&self, params: &SplitParams) -> Result<Split> {
        split::split(self, params)
    }

    /// Count speakers, clips, durations and sample rates (see [`DatasetSummary`]).
    pub fn summary(&self) -> DatasetSummary {
        summary::summarize(self, &|_| {})
    }

    /// [`Dataset::summary`], reporting [`Progress::Items`] of [`Stage::Scan`] as
    /// clip headers are read (from worker threads).
    pub fn summary_with(&self, on_progress: ProgressFn<'_>) -> DatasetSummary {
        summary::summarize(self, on_progress)
    }
}
