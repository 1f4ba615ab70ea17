//! Lengths in untrusted headers, checked before symphonia reads them.
//!
//! symphonia 0.5 allocates several lengths a file declares before it reads the
//! bytes they announce: a FLAC comment or picture (32-bit lengths), a Vorbis or
//! Opus comment, a RIFF `LIST/INFO` entry, an ID3v2.3 frame (32-bit sizes). A
//! 1 KB file can so make it reserve 4 GB. Every such length is checked here against
//! the bytes that actually follow, and a longer one is a [`Error::Decode`].
//!
//! The checks must look where symphonia looks. Its probe does not require the
//! container at the start of the file: it scans up to 1 MiB for the first
//! start-of-stream marker of a registered reader (`fLaC`, `OggS`, `RIFF`, an MPEG
//! frame sync), reads an ID3v2 tag found on the way and scans on after it.
//! [`find_container`] does the same scan, with the markers taken from symphonia's
//! own reader descriptors, and the decoder is then handed the bytes from that
//! container on: the one symphonia would have chosen, without the ID3v2 tag (which
//! carries no audio, so its frames are never parsed).

use std::collections::BTreeMap;
use std::path::Path;

use crate::error::{Error, Result};

/// How far symphonia's probe scans for a marker (`Probe::PROBE_SEARCH_LIMIT`).
const PROBE_LIMIT: usize = 1 << 20;

/// The containers symphonia is built with here (see the workspace's features).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Container {
    Flac,
    Ogg,
    Riff,
    Mpeg,
}

/// Every start-of-stream marker of the registered readers, from their descriptors.
fn markers() -> Vec<(&'static [u8], Container)> {
    use symphonia::core::probe::QueryDescriptor;
    use symphonia::default::formats::{FlacReader, MpaReader, OggReader, WavReader};
    let mut out = Vec::new();
    for (descriptors, c) in [
        (FlacReader::query(), Container::Flac),
        (OggReader::query(), Container::Ogg),
        (WavReader::query(), Container::Riff),
        (MpaReader::query(), Container::Mpeg),
    ] {
        for d in descriptors {
            for m in d.markers {
                out.push((*m, c));
            }
        }
    }
    out
}

/// Where symphonia's probe finds a container in `bytes`, and which: the first
/// registered marker with at least 16 bytes from it on (the probe reads a 16-byte
/// window at a candidate), within 1 MiB of the start or of the end of the last
/// ID3v2 tag passed. `None` when the probe finds nothing.
pub(crate) fn find_container(bytes: &[u8]) -> Option<(usize, Container)> {
    let table = markers();
    let mut from = 0usize;
    'scan: loop {
        let last = from.checked_add(PROBE_LIMIT - 2)?;
        let mut p = from;
        while p <= last && p + 16 <= bytes.len() {
            let here = &bytes[p..];
            if here.starts_with(b"ID3") {
                // symphonia reads the tag (10-byte header, syncsafe size) and goes on.
                let size = here[6..10]
                    .iter()
                    .fold(0usize, |a, &b| (a << 7) | (b & 0x7f) as usize);
                from = p + 10 + size;
                continue 'scan;
            }
            if let Some(&(_, c)) = table.iter().find(|(m, _)| here.starts_with(m)) {
                return Some((p, c));
            }
            p += 1;
        }
        return None;
    }
}

/// Check every length symphonia would allocate before reading, for a container
/// starting at the start of `bytes` (see [`find_container`]).
pub(crate) fn check(bytes: &[u8], container: Container, path: &Path) -> Result<()> {
    match container {
        Container::Flac => check_flac(bytes, path),
        Container::Ogg => check_ogg(bytes, path),
        Container::Riff => check_riff(bytes, path),
        // MPEG frames are sized by their 4-byte headers (a few KB at most).
        Container::Mpeg => Ok(()),
    }
}

fn damaged(path: &Path, reason: String) -> Error {
    Error::Decode {
        path: path.to_path_buf(),
        reason,
    }
}

fn be32(b: &[u8], i: usize) -> Option<usize> {
    Some(u32::from_be_bytes(b.get(i..i.checked_add(4)?)?.try_into().ok()?) as usize)
}

fn le32(b: &[u8], i: usize) -> Option<usize> {
    Some(u32::from_le_bytes(b.get(i..i.checked_add(4)?)?.try_into().ok()?) as usize)
}

/// A Vorbis comment list (vendor length, vendor, count, (length, comment)*) from
/// `at` in `block`: every length within `block`. `None` when one is not.
fn comments_fit(block: &[u8], at: usize) -> Option<()> {
    let vendor = le32(block, at)?;
    let mut i = at.checked_add(4)?.checked_add(vendor)?;
    let n = le32(block, i)?;
    i += 4;
    for _ in 0..n {
        let l = le32(block, i)?;
        i = i.checked_add(4)?.checked_add(l)?;
        if i > block.len() {
            return None;
        }
    }
    Some(())
}

/// A FLAC picture block (type, media type, description, 4 x u32, data): every
/// length within `block`.
fn picture_fits(block: &[u8]) -> Option<()> {
    let mime = be32(block, 4)?;
    let i = 8usize.checked_add(mime)?;
    let desc = be32(block, i)?;
    let i = i.checked_add(4)?.checked_add(desc)?.checked_add(16)?;
    let data = be32(block, i)?;
    (i.checked_add(4)?.checked_add(data)? <= block.len()).then_some(())
}

/// One FLAC metadata block of type `kind`: its comment or picture lengths fit.
fn flac_block(kind: u8, block: &[u8], path: &Path) -> Result<()> {
    let what = match kind {
        4 if comments_fit(block, 0).is_none() => "a comment",
        6 if picture_fits(block).is_none() => "the picture",
        _ => return Ok(()),
    };
    Err(damaged(
        path,
        format!("damaged FLAC metadata: {what} is longer than its block"),
    ))
}

/// Native FLAC: `fLaC`, then metadata blocks (4-byte header: last flag, type,
/// 24-bit length) up to the one marked last.
fn check_flac(bytes: &[u8], path: &Path) -> Result<()> {
    let mut at = 4;
    while let Some(h) = bytes.get(at..at + 4) {
        let (last, kind) = (h[0] & 0x80 != 0, h[0] & 0x7f);
        let len = ((h[1] as usize) << 16) | ((h[2] as usize) << 8) | h[3] as usize;
        let start = at + 4;
        let block = &bytes[start.min(bytes.len())..(start + len).min(bytes.len())];
        flac_block(kind, block, path)?;
        if last {
            break;
        }
        at = start + len;
    }
    Ok(())
}

/// Ogg: the first packets of every logical stream put together from the pages
/// (symphonia resynchronises on `OggS` after damaged bytes, so does this), then the
/// header packets symphonia parses: the Vorbis and Opus comment headers, and the
/// metadata blocks of Ogg FLAC.
fn check_ogg(bytes: &[u8], path: &Path) -> Result<()> {
    // serial -> (finished packets, packet in progress)
    let mut streams: BTreeMap<u32, (Vec<Vec<u8>>, Vec<u8>)> = BTreeMap::new();
    let mut at = 0usize;
    let mut pages = 0;
    // Headers come first; 1 MiB or 512 pages is far more than they take.
    while pages < 512 && at < PROBE_LIMIT && at + 27 <= bytes.len() {
        if &bytes[at..at + 4] != b"OggS" {
            match bytes[at + 1..].windows(4).position(|w| w == b"OggS") {
                Some(k) => {
                    at += 1 + k;
                    continue;
                }
                None => break,
            }
        }
        pages += 1;
        let serial = u32::from_le_bytes(bytes[at + 14..at + 18].try_into().unwrap());
        let nseg = bytes[at + 26] as usize;
        let Some(lacing) = bytes.get(at + 27..at + 27 + nseg) else {
            break;
        };
        let (done, open) = streams.entry(serial).or_default();
        let mut body = at + 27 + nseg;
        for &l in lacing {
            let end = (body + l as usize).min(bytes.len());
            if done.len() < 64 {
                open.extend_from_slice(&bytes[body.min(end)..end]);
            }
            body = end;
            if l < 255 && done.len() < 64 {
                done.push(std::mem::take(open));
            }
        }
        at = body.max(at + 1);
    }
    let vorbis = || {
        damaged(
            path,
            "damaged Vorbis comment header: a length is longer than its packet".into(),
        )
    };
    for (packets, _) in streams.values() {
        let first = packets.first().map(Vec::as_slice).unwrap_or(&[]);
        if first.starts_with(b"\x7fFLAC") {
            // Ogg FLAC: every later header packet is one metadata block.
            // (until a frame, 0xff, or the block marked last).
            for p in &packets[1..] {
                let Some(&h) = p.first() else { continue };
                if h == 0xff {
                    break;
                }
                flac_block(h & 0x7f, p.get(4..).unwrap_or(&[]), path)?;
                if h & 0x80 != 0 {
                    break;
                }
            }
            continue;
        }
        for p in packets {
            if p.starts_with(b"\x03vorbis") && comments_fit(p, 7).is_none() {
                return Err(vorbis());
            }
            if p.starts_with(b"OpusTags") && comments_fit(p, 8).is_none() {
                return Err(vorbis());
            }
        }
    }
    Ok(())
}

/// RIFF/WAVE read by symphonia: the entries of a `LIST` of form `INFO` are
/// allocated at their declared length; each must fit in the file. The walk stops
/// at the `data` chunk, where symphonia stops reading headers.
fn check_riff(bytes: &[u8], path: &Path) -> Result<()> {
    let mut at = 12usize;
    while at + 8 <= bytes.len() {
        let id = &bytes[at..at + 4];
        let Some(len) = le32(bytes, at + 4) else {
            break;
        };
        let body = at + 8;
        if id == b"data" {
            break;
        }
        if id == b"LIST" && bytes.get(body..body + 4) == Some(b"INFO") {
            let end = body.saturating_add(len).min(bytes.len());
            let mut i = body + 4;
            while i + 8 <= end {
                let l = le32(bytes, i + 4).unwrap_or(0);
                if l > bytes.len() - (i + 8) {
                    return Err(damaged(
                        path,
                        format!(
                            "damaged RIFF INFO list: an entry of {l} bytes is longer than the file"
                        ),
                    ));
                }
                i += 8 + l;
                i += (i - body) & 1;
            }
        }
        at = body.saturating_add(len);
        at = at.saturating_add(at & 1);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_container_is_found_where_symphonias_probe_finds_it() {
        let mut flac = vec![0u8; 40];
        flac[..4].copy_from_slice(b"fLaC");
        assert_eq!(find_container(&flac), Some((0, Container::Flac)));
        // After junk bytes and after an ID3v2 tag (whose body may hold a marker).
        let mut v = b"\xff\xf8".to_vec();
        v.extend(&flac);
        assert_eq!(find_container(&v), Some((2, Container::Flac)));
        let mut id3 = b"ID3\x03\x00\x00\x00\x00\x00\x08OggSOggS".to_vec();
        id3.extend(&flac);
        assert_eq!(find_container(&id3), Some((18, Container::Flac)));
        // A marker with fewer than 16 bytes after it is not read by the probe.
        assert_eq!(find_container(&flac[..15]), None);
        assert_eq!(find_container(b"no marker in this text at all"), None);
        let mp3 = [&[0xffu8, 0xfb][..], &[0; 30]].concat();
        assert_eq!(find_container(&mp3), Some((0, Container::Mpeg)));
    }

    #[test]
    fn lengths_beyond_the_bytes_that_follow_are_decode_errors() {
        let p = Path::new("x");
        // A FLAC picture claiming 4 GB of data in a 40-byte block.
        let mut pic = vec![0u8; 40];
        // type, media type length (0), description length (0), 4 x u32, data length.
        pic[28..32].copy_from_slice(&u32::MAX.to_be_bytes());
        let mut flac = b"fLaC\x86\x00\x00\x28".to_vec();
        flac.extend(&pic);
        assert!(matches!(
            check(&flac, Container::Flac, p),
            Err(Error::Decode { .. })
        ));
        pic[28..32].copy_from_slice(&8u32.to_be_bytes());
        let mut ok = b"fLaC\x86\x00\x00\x28".to_vec();
        ok.extend(&pic);
        assert!(check(&ok, Container::Flac, p).is_ok());
        // A RIFF INFO entry claiming 3 GB.
        let mut riff = b"RIFF\xff\xff\xff\xffWAVELIST\xff\xff\xff\x00INFOINAM".to_vec();
        riff.extend(3_000_000_000u32.to_le_bytes());
        riff.extend(b"abcd");
        assert!(matches!(
            check(&riff, Container::Riff, p),
            Err(Error::Decode { .. })
        ));
        let mut fine = b"RIFF\x20\x00\x00\x00WAVELIST\x10\x00\x00\x00INFOINAM".to_vec();
        fine.extend(4u32.to_le_bytes());
        fine.extend(b"abcddata\x00\x00\x00\x00");
        assert!(check(&fine, Container::Riff, p).is_ok());
    }
}
