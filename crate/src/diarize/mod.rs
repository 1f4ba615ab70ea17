//! Who speaks when: speaker diarization of long recordings.
//!
//! | module | what |
//! |---|---|
//! | [`rttm`] | speaker turns, NIST RTTM in and out |
//! | [`mix`] | test conversations from single-speaker clips, with their truth |
//! | [`der`] | diarization error rate with the optimal label mapping and a collar |

pub mod der;
pub mod mix;
pub mod rttm;

pub use der::{der, DerReport, NIST_COLLAR};
pub use rttm::Turn;
