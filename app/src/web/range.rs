//! Byte ranges of the audio players' files (RFC 9110 §14): a media element seeks
//! (the timeline plays a turn from its start) only in a resource served with
//! ranges. One range per request, as browsers ask for media; a header asking for
//! several, or one that cannot be read, is ignored and the whole file is sent
//! (which the RFC allows).

use std::ops::Range;

/// What a `Range` header asks of a body of `len` bytes.
#[derive(Debug, PartialEq, Eq)]
pub enum Wanted {
    /// The whole body (no header, or one that is ignored).
    All,
    /// These bytes (answer 206).
    Part(Range<usize>),
    /// Nothing that exists (answer 416).
    Unsatisfiable,
}

/// Read a `Range` header value (`bytes=a-b`, `bytes=a-` or `bytes=-n`).
pub fn wanted(header: Option<&str>, len: usize) -> Wanted {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else {
        return Wanted::All;
    };
    if spec.contains(',') {
        return Wanted::All;
    }
    let Some((a, b)) = spec.trim().split_once('-') else {
        return Wanted::All;
    };
    let num = |s: &str| -> Option<Option<usize>> {
        let s = s.trim();
        if s.is_empty() {
            Some(None)
        } else if s.bytes().all(|c| c.is_ascii_digit()) {
            // Larger than any body: as good as the end.
            Some(Some(s.parse::<usize>().unwrap_or(usize::MAX)))
        } else {
            None
        }
    };
    let (Some(a), Some(b)) = (num(a), num(b)) else {
        return Wanted::All;
    };
    match (a, b) {
        (Some(first), last) => {
            if last.is_some_and(|l| l < first) {
                return Wanted::All;
            }
            if first >= len {
                return Wanted::Unsatisfiable;
            }
            let end = last.map_or(len, |l| l.saturating_add(1).min(len));
            Wanted::Part(first..end)
        }
        (None, Some(suffix)) => {
            if suffix == 0 || len == 0 {
                Wanted::Unsatisfiable
            } else {
                Wanted::Part(len.saturating_sub(suffix)..len)
            }
        }
        (None, None) => Wanted::All,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_read_as_browsers_send_them() {
        assert_eq!(wanted(None, 100), Wanted::All);
        assert_eq!(wanted(Some("bytes=0-"), 100), Wanted::Part(0..100));
        assert_eq!(wanted(Some("bytes=10-19"), 100), Wanted::Part(10..20));
        assert_eq!(wanted(Some("bytes=90-500"), 100), Wanted::Part(90..100));
        assert_eq!(wanted(Some("bytes=-30"), 100), Wanted::Part(70..100));
        assert_eq!(wanted(Some("bytes=-300"), 100), Wanted::Part(0..100));
        assert_eq!(wanted(Some("bytes=100-"), 100), Wanted::Unsatisfiable);
        assert_eq!(wanted(Some("bytes=-0"), 100), Wanted::Unsatisfiable);
        assert_eq!(
            wanted(Some("bytes=99999999999999999999999-"), 100),
            Wanted::Unsatisfiable
        );
        for ignored in [
            "bytes=0-1,5-6",
            "bytes=5-1",
            "bytes=x-",
            "items=0-1",
            "bytes=-",
        ] {
            assert_eq!(wanted(Some(ignored), 100), Wanted::All, "{ignored}");
        }
    }
}
