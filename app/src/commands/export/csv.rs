//! The CSV tables beside the matrices (RFC 4180 quoting, read as-is by
//! `pandas.read_csv` and Python's `csv`).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use speaker_similarity::{Error, Result};

/// One field, quoted when it holds a comma, a quote, a line break or outer spaces.
pub fn field(s: &str) -> String {
    let plain = !s.contains([',', '"', '\n', '\r']) && s.trim() == s;
    if plain {
        s.to_string()
    } else {
        format!("\"{}\"", s.replace('"', "\"\""))
    }
}

/// A CSV file written line by line.
pub struct CsvWriter {
    out: BufWriter<File>,
    path: PathBuf,
}

impl CsvWriter {
    /// Create `path` with its header line.
    pub fn create(path: &Path, header: &[&str]) -> Result<Self> {
        let file = File::create(path).map_err(|e| Error::io(path, e))?;
        let mut w = CsvWriter {
            out: BufWriter::new(file),
            path: path.to_path_buf(),
        };
        let fields: Vec<String> = header.iter().map(|h| field(h)).collect();
        w.line(&fields)?;
        Ok(w)
    }

    /// One line of fields (already quoted with [`field`] where needed).
    pub fn line(&mut self, fields: &[String]) -> Result<()> {
        writeln!(self.out, "{}", fields.join(",")).map_err(|e| Error::io(&self.path, e))
    }

    /// Flush to disk.
    pub fn finish(self) -> Result<()> {
        let path = self.path;
        let file = self
            .out
            .into_inner()
            .map_err(|e| Error::io(&path, e.into_error()))?;
        file.sync_all().map_err(|e| Error::io(&path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::field;

    #[test]
    fn fields_are_quoted_only_when_needed() {
        assert_eq!(field("spk01/a.wav"), "spk01/a.wav");
        assert_eq!(field("a,b.wav"), "\"a,b.wav\"");
        assert_eq!(field("say \"hi\".wav"), "\"say \"\"hi\"\".wav\"");
        assert_eq!(field(" lead"), "\" lead\"");
        assert_eq!(field("line\nbreak"), "\"line\nbreak\"");
    }
}
