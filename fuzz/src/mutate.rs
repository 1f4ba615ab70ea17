//! Mutations: byte-level (bit flips, interesting values, inserts, deletes, copies,
//! splices, dictionary tokens, arithmetic), container-aware (RIFF chunk sizes and
//! `fmt ` fields, FLAC STREAMINFO fields, Ogg page fields with the CRC made valid
//! again so the mutation reaches the codec) and JSON-aware (numbers, lengths, keys
//! and types of a parsed model file).

use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::Rng;
use serde_json::Value;

const INTERESTING_8: [u8; 9] = [0, 1, 0x7f, 0x80, 0xff, 16, 32, 64, 100];
const INTERESTING_16: [u16; 10] = [0, 1, 0x7fff, 0x8000, 0xffff, 256, 512, 1000, 1024, 4096];
const INTERESTING_32: [u32; 14] = [
    0,
    1,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_ffff,
    0xffff_fffe,
    65536,
    100_000,
    768_000,
    768_001,
    16_000,
    44_100,
    0x0100_0000,
    0x4000_0000,
];

/// Apply 1 to 8 stacked mutations to `input`; `other` is another corpus entry for
/// splices, `dict` holds format tokens worth inserting.
pub fn bytes(
    rng: &mut StdRng,
    input: &[u8],
    other: &[u8],
    dict: &[&[u8]],
    max_len: usize,
) -> Vec<u8> {
    let mut v = input.to_vec();
    let n = 1 << rng.random_range(0..4);
    for _ in 0..n {
        one(rng, &mut v, other, dict);
    }
    v.truncate(max_len);
    v
}

fn pos(rng: &mut StdRng, len: usize) -> usize {
    if len == 0 {
        0
    } else if rng.random_bool(0.3) {
        // Headers live at the start: favour it.
        rng.random_range(0..len.min(64))
    } else {
        rng.random_range(0..len)
    }
}

/// Write a value at a random position of `v`, little- or big-endian at random.
fn put_either_endian(v: &mut [u8], rng: &mut StdRng, le: &[u8], be: &[u8]) {
    let b = if rng.random() { le } else { be };
    let p = pos(rng, v.len());
    put(v, p, b);
}

fn put(v: &mut [u8], at: usize, bytes: &[u8]) {
    for (i, b) in bytes.iter().enumerate() {
        if let Some(x) = v.get_mut(at + i) {
            *x = *b;
        }
    }
}

fn one(rng: &mut StdRng, v: &mut Vec<u8>, other: &[u8], dict: &[&[u8]]) {
    let len = v.len();
    match rng.random_range(0..14) {
        0 if len > 0 => {
            let p = pos(rng, len);
            v[p] ^= 1 << rng.random_range(0..8);
        }
        1 if len > 0 => {
            let p = pos(rng, len);
            v[p] = rng.random();
        }
        2 if len > 0 => {
            let p = pos(rng, len);
            v[p] = *INTERESTING_8.choose(rng).unwrap();
        }
        3 => {
            let x = *INTERESTING_16.choose(rng).unwrap();
            put_either_endian(v, rng, &x.to_le_bytes(), &x.to_be_bytes());
        }
        4 => {
            let x = *INTERESTING_32.choose(rng).unwrap();
            put_either_endian(v, rng, &x.to_le_bytes(), &x.to_be_bytes());
        }
        5 => {
            // Insert random bytes.
            let p = pos(rng, len + 1).min(len);
            let k = rng.random_range(1..=16);
            let ins: Vec<u8> = (0..k).map(|_| rng.random()).collect();
            v.splice(p..p, ins);
        }
        6 if len > 1 => {
            // Delete a range.
            let p = pos(rng, len);
            let k = rng.random_range(1..=(len - p).min(256));
            v.drain(p..p + k);
        }
        7 if len > 1 => {
            // Duplicate or move a block within the input.
            let a = rng.random_range(0..len);
            let k = rng.random_range(1..=(len - a).min(512));
            let block = v[a..a + k].to_vec();
            let p = rng.random_range(0..=len);
            if rng.random() {
                v.splice(p..p, block);
            } else {
                put(v, p.min(len - 1), &block);
            }
        }
        8 if !other.is_empty() => {
            // Splice: our head, the other's tail.
            let a = rng.random_range(0..=len);
            let b = rng.random_range(0..other.len());
            v.truncate(a);
            v.extend_from_slice(&other[b..]);
        }
        9 if !dict.is_empty() => {
            let tok = *dict.choose(rng).unwrap();
            let p = pos(rng, len + 1).min(len);
            if rng.random() {
                v.splice(p..p, tok.iter().copied());
            } else {
                put(v, p, tok);
            }
        }
        10 if len >= 4 => {
            // Arithmetic on a little-endian u32 or u16.
            let p = pos(rng, len - 3);
            let d: i32 = rng.random_range(-35..=35);
            if rng.random() {
                let x = u32::from_le_bytes([v[p], v[p + 1], v[p + 2], v[p + 3]]);
                put(v, p, &x.wrapping_add(d as u32).to_le_bytes());
            } else {
                let x = u16::from_le_bytes([v[p], v[p + 1]]);
                put(v, p, &x.wrapping_add(d as u16).to_le_bytes());
            }
        }
        11 if len > 0 => {
            // Truncate.
            let p = rng.random_range(0..len);
            v.truncate(p);
        }
        12 => riff_field(rng, v),
        13 => {
            flac_field(rng, v);
        }
        _ => {
            if len > 0 {
                let p = pos(rng, len);
                v[p] = v[p].wrapping_add(1);
            }
        }
    }
}

fn interesting_u32(rng: &mut StdRng) -> u32 {
    if rng.random_bool(0.7) {
        *INTERESTING_32.choose(rng).unwrap()
    } else {
        rng.random()
    }
}

/// Set a RIFF header field: the RIFF size, a chunk size, or a `fmt ` field (format
/// tag, channels, rate, byte rate, block align, bits, cbSize, valid bits, sub-format).
pub fn riff_field(rng: &mut StdRng, v: &mut [u8]) {
    if v.len() < 12 || &v[..4] != b"RIFF" {
        return;
    }
    // Walk the chunks.
    let mut chunks = vec![4usize]; // the RIFF size
    let mut fmt = None;
    let mut at = 12usize;
    while at + 8 <= v.len() && chunks.len() < 32 {
        chunks.push(at + 4);
        let size = u32::from_le_bytes([v[at + 4], v[at + 5], v[at + 6], v[at + 7]]) as usize;
        if &v[at..at + 4] == b"fmt " {
            fmt = Some(at + 8);
        }
        at = at
            .saturating_add(8)
            .saturating_add(size)
            .saturating_add(size & 1);
    }
    match (fmt, rng.random_range(0..3)) {
        (Some(f), 0 | 1) => {
            // fmt fields: (offset, width)
            const FIELDS: [(usize, usize); 9] = [
                (0, 2),
                (2, 2),
                (4, 4),
                (8, 4),
                (12, 2),
                (14, 2),
                (16, 2),
                (18, 2),
                (24, 2),
            ];
            let (o, w) = *FIELDS.choose(rng).unwrap();
            let x = interesting_u32(rng);
            if w == 2 {
                let vals = [
                    0u16, 1, 2, 3, 6, 7, 8, 16, 24, 32, 64, 0xfffe, 0xffff, x as u16,
                ];
                put(v, f + o, &vals.choose(rng).unwrap().to_le_bytes());
            } else {
                put(v, f + o, &x.to_le_bytes());
            }
        }
        _ => {
            let &c = chunks.choose(rng).unwrap();
            put(v, c, &interesting_u32(rng).to_le_bytes());
        }
    }
}

/// Set a field of a FLAC STREAMINFO block: block sizes, frame sizes, sample rate,
/// channels, bits per sample or total samples.
pub fn flac_field(rng: &mut StdRng, v: &mut [u8]) {
    if v.len() < 42 || &v[..4] != b"fLaC" {
        return;
    }
    // STREAMINFO body starts at 8.
    let b = 8;
    match rng.random_range(0..5) {
        0 => put(
            v,
            b + rng.random_range(0..2) * 2,
            &rng.random::<u16>().to_be_bytes(),
        ),
        1 => {
            let x: u32 = rng.random();
            put(v, b + 4 + rng.random_range(0..2) * 3, &x.to_be_bytes()[1..]);
        }
        2 => {
            // 20-bit sample rate, 3-bit channels-1, 5-bit bps-1, 36-bit total samples.
            let x: u64 = rng.random();
            put(v, b + 10, &x.to_be_bytes());
        }
        3 => {
            let rates = [0u32, 1, 8000, 16000, 655_350, 0xfffff];
            let r = *rates.choose(rng).unwrap();
            v[b + 10] = (r >> 12) as u8;
            v[b + 11] = (r >> 4) as u8;
            v[b + 12] = (v[b + 12] & 0x0f) | ((r & 0xf) << 4) as u8;
        }
        _ => {
            // Flip a bit somewhere in the first frame header, just past the metadata
            // (none when the input ends with STREAMINFO).
            if v.len() > 42 {
                let p = rng.random_range(42..v.len());
                v[p] ^= 1 << rng.random_range(0..8);
            }
        }
    }
}

/// Recompute the CRC of every Ogg page in `v`, so that a mutated page still passes
/// the demuxer's check and the mutation reaches the Vorbis decoder.
pub fn fix_ogg_crcs(v: &mut [u8]) {
    let mut at = 0usize;
    while at + 27 <= v.len() && &v[at..at + 4] == b"OggS" {
        let nseg = v[at + 26] as usize;
        if at + 27 + nseg > v.len() {
            return;
        }
        let body: usize = v[at + 27..at + 27 + nseg].iter().map(|&x| x as usize).sum();
        let end = (at + 27 + nseg + body).min(v.len());
        v[at + 22..at + 26].fill(0);
        let crc = ogg_crc(&v[at..end]);
        v[at + 22..at + 26].copy_from_slice(&crc.to_le_bytes());
        at = end;
    }
}

fn ogg_crc(data: &[u8]) -> u32 {
    let mut crc = 0u32;
    for &b in data {
        crc ^= (b as u32) << 24;
        for _ in 0..8 {
            crc = if crc & 0x8000_0000 != 0 {
                (crc << 1) ^ 0x04c1_1db7
            } else {
                crc << 1
            };
        }
    }
    crc
}

/// Mutate parsed JSON: 1 to 4 changes at random nodes.
pub fn json(rng: &mut StdRng, v: &mut Value) {
    let n = rng.random_range(1..=4);
    for _ in 0..n {
        let count = count_nodes(v);
        let target = rng.random_range(0..count);
        let mut i = 0;
        visit(v, target, &mut i, rng);
    }
}

fn count_nodes(v: &Value) -> usize {
    1 + match v {
        Value::Array(a) => a.iter().map(count_nodes).sum(),
        Value::Object(o) => o.values().map(count_nodes).sum(),
        _ => 0,
    }
}

fn visit(v: &mut Value, target: usize, i: &mut usize, rng: &mut StdRng) -> bool {
    if *i == target {
        mutate_node(v, rng);
        return true;
    }
    *i += 1;
    match v {
        Value::Array(a) => a.iter_mut().any(|c| visit(c, target, i, rng)),
        Value::Object(o) => o.values_mut().any(|c| visit(c, target, i, rng)),
        _ => false,
    }
}

fn number(rng: &mut StdRng) -> Value {
    let choices: [Value; 16] = [
        0.into(),
        1.into(),
        (-1).into(),
        2.into(),
        u64::MAX.into(),
        i64::MIN.into(),
        (1u64 << 53).into(),
        (usize::MAX as u64 / 2).into(),
        1e308.into(),
        (-1e308).into(),
        1e-320.into(),
        0.5.into(),
        1e9.into(),
        768_000.into(),
        (1u64 << 40).into(),
        (-0.0).into(),
    ];
    choices.choose(rng).unwrap().clone()
}

fn mutate_node(v: &mut Value, rng: &mut StdRng) {
    match rng.random_range(0..6) {
        0 => *v = number(rng),
        1 => {
            *v = [
                Value::Null,
                Value::Bool(true),
                Value::String(String::new()),
                Value::String("x".repeat(rng.random_range(1..300))),
                Value::Array(vec![]),
                Value::Object(Default::default()),
            ]
            .choose(rng)
            .unwrap()
            .clone()
        }
        _ => match v {
            Value::Number(n) => {
                let f = n.as_f64().unwrap_or(0.0);
                *v = match rng.random_range(0..4) {
                    0 => (f * 1e6).into(),
                    1 => (-f).into(),
                    2 => (f as i64).wrapping_add(rng.random_range(-3..=3)).into(),
                    _ => number(rng),
                };
            }
            Value::Array(a) if !a.is_empty() => match rng.random_range(0..5) {
                0 => {
                    let k = rng.random_range(0..a.len());
                    a.remove(k);
                }
                1 => {
                    let k = rng.random_range(0..a.len());
                    let c = a[k].clone();
                    a.insert(k, c);
                }
                2 => a.truncate(rng.random_range(0..a.len())),
                3 => {
                    let k = rng.random_range(0..a.len());
                    let j = rng.random_range(0..a.len());
                    a.swap(k, j);
                }
                _ => {
                    let c = a.clone();
                    a.extend(c);
                }
            },
            Value::Object(o) if !o.is_empty() => {
                let keys: Vec<String> = o.keys().cloned().collect();
                let k = keys.choose(rng).unwrap().clone();
                if rng.random() {
                    o.remove(&k);
                } else {
                    o.insert(format!("{k}_extra"), Value::Null);
                }
            }
            Value::String(s) => {
                *s = ["", "Mlp", "DiagGmm", "a", "Mfcc", "Energy", "\u{0}", "ü"]
                    .choose(rng)
                    .unwrap()
                    .to_string()
            }
            _ => *v = number(rng),
        },
    }
}
