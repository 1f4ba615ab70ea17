//! The one error type of the crate.
//!
//! Every input a user can give — files, directories, model files, parameters — is
//! checked, and a problem comes back as an [`Error`] that names what is wrong. No
//! function of this crate panics on user input.

use std::path::{Path, PathBuf};

/// Everything that can go wrong in `speaker_similarity`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file or directory could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// The file exists but holds zero bytes.
    #[error("{}: the file is empty (0 bytes)", path.display())]
    EmptyFile {
        /// The file.
        path: PathBuf,
    },
    /// The bytes are not in any audio format this crate reads.
    #[error("{}: not an audio file this tool can read ({reason})", path.display())]
    NotAudio {
        /// The file (or `<upload>` for bytes given in memory).
        path: PathBuf,
        /// What the decoders said.
        reason: String,
    },
    /// The file is audio but damaged: truncated header or data, inconsistent fields.
    #[error("{}: damaged audio: {reason}", path.display())]
    Decode {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// An audio encoding this crate does not decode (for example 64-bit float WAV).
    #[error("{}: unsupported audio encoding: {reason}", path.display())]
    Unsupported {
        /// The file.
        path: PathBuf,
        /// Which encoding.
        reason: String,
    },
    /// The audio decodes to zero samples.
    #[error("{}: the audio holds no samples", path.display())]
    NoSamples {
        /// The file.
        path: PathBuf,
    },
    /// A sample is NaN or infinite.
    #[error("{what}: sample {index} is not a finite number ({value})")]
    NonFinite {
        /// The file or buffer.
        what: String,
        /// Index of the first bad sample.
        index: usize,
        /// Its value.
        value: f32,
    },
    /// A parameter or argument is out of its valid range.
    #[error("invalid parameter `{name}`: {reason}")]
    InvalidParameter {
        /// The parameter's name.
        name: &'static str,
        /// Why the value is rejected.
        reason: String,
    },
    /// The input is too short for the requested computation.
    #[error("input too short: {reason}")]
    TooShort {
        /// What was needed and what was given.
        reason: String,
    },
    /// The audio holds no speech to analyse (digital silence or nearly so).
    #[error("no speech: {0}")]
    NoSpeech(String),
    /// Arrays whose shapes do not fit together.
    #[error("shape mismatch: {0}")]
    Shape(String),
    /// A data set directory that cannot be used.
    #[error("data set {}: {reason}", path.display())]
    Dataset {
        /// The directory.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A model file that is missing, damaged, foreign or of another version.
    #[error("model file {}: {reason}", path.display())]
    Model {
        /// The model file or directory.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// Training could not produce a usable model (for example, no data or a
    /// numerical breakdown).
    #[error("training failed: {0}")]
    Training(String),
    /// The change asked of a trained model (enrolling or removing one speaker) needs
    /// the model trained again.
    #[error("{what}; run `speaker-similarity train` again")]
    RetrainNeeded {
        /// What cannot be done, and why.
        what: String,
    },
    /// Resampling failed.
    #[error("resampling failed: {0}")]
    Resample(String),
    /// Drawing a chart failed.
    #[error("plot failed: {0}")]
    Plot(String),
}

/// `Result` with [`Error`] as the error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An [`Error::Io`] for `path`.
    pub fn io(path: impl AsRef<Path>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.as_ref().to_path_buf(),
            source,
        }
    }

    /// An [`Error::InvalidParameter`].
    pub fn param(name: &'static str, reason: impl Into<String>) -> Self {
        Error::InvalidParameter {
            name,
            reason: reason.into(),
        }
    }
}
