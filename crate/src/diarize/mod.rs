//! Who speaks when: speaker diarization of long recordings.
//!
//! | module | what |
//! |---|---|
//! | [`rttm`] | speaker turns, NIST RTTM in and out |
//! | [`mix`] | test conversations from single-speaker clips, with their truth |
//! | [`pipeline`] | the pipeline: speech, window embeddings, clustering, re-segmentation, labels |
//! | [`cluster`] | agglomerative clustering with a stopping threshold or a forced count |
//! | [`source`] | audio read chunk by chunk (WAV streamed) |
//! | [`der`] | diarization error rate with the optimal label mapping and a collar |
//! | [`label`] | clusters named after enrolled speakers by the open-set verdicts |

pub mod cluster;
pub mod der;
pub mod label;
pub mod mix;
pub mod pipeline;
pub mod rttm;
pub mod source;

pub use der::{der, DerReport, NIST_COLLAR};
pub use pipeline::{
    diarize, diarize_file, diarize_source, window_embeddings, ClusterLabeler, CountRule,
    Diarization, DiarizeParams, SpeakerSummary, SpeakerTurn, Verdict, WindowEmbedding,
    WindowEmbeddings,
};
pub use rttm::Turn;
