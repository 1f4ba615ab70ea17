//! Where the data comes from: `--data DIR`, else `$SPEAKER_DATA`, else the embedded
//! synthetic corpus.

use std::path::PathBuf;

use speaker_similarity::dataset::{Dataset, Layout};
use speaker_similarity::synth;

/// Data set arguments shared by the subcommands that train.
#[derive(clap::Args, Debug, Clone)]
pub struct DataArgs {
    /// Data set directory: one folder per speaker, VoxCeleb (`id10001/<video>/*.wav`)
    /// or FSDD (`digit_speaker_n.wav`). Default: $SPEAKER_DATA, else the built-in
    /// synthetic corpus.
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Layout of the data set instead of detecting it: folders, voxceleb or fsdd.
    #[arg(long, value_name = "LAYOUT", value_parser = parse_layout)]
    pub layout: Option<Layout>,
}

fn parse_layout(s: &str) -> Result<Layout, String> {
    s.parse::<Layout>().map_err(|e| e.to_string())
}

impl DataArgs {
    /// The directory asked for, from the flag or the environment.
    pub fn path(&self) -> Option<PathBuf> {
        self.data.clone().or_else(|| {
            std::env::var_os("SPEAKER_DATA")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        })
    }

    /// Open the data set (printing its warnings to stderr) and say what it is.
    pub fn open(&self) -> speaker_similarity::Result<(Dataset, String)> {
        match self.path() {
            Some(dir) => {
                let data = Dataset::open_with(&dir, self.layout)?;
                for w in &data.warnings {
                    eprintln!("warning: {w}");
                }
                let layout = data
                    .layout
                    .map(|l| l.to_string())
                    .unwrap_or_else(|| "synthetic".into());
                let what = format!(
                    "{} ({layout} layout): {} speakers, {} clips",
                    dir.display(),
                    data.n_speakers(),
                    data.len()
                );
                Ok((data, what))
            }
            None => {
                let data = synth::default_dataset();
                let what = format!(
                    "the built-in synthetic corpus: {} speakers, {} clips (give --data DIR for real speech)",
                    data.n_speakers(),
                    data.len()
                );
                Ok((data, what))
            }
        }
    }
}
