//! The mutators never panic, whatever the input's length: a panic there is outside
//! the targets' `catch_unwind` and would end the fuzzer's worker (the 10-minute run
//! found one: a FLAC input of exactly 42 bytes, its STREAMINFO and nothing after).

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use speaker_similarity_fuzz::mutate;

#[test]
fn mutators_take_every_length_of_every_prefix() {
    let mut rng = StdRng::seed_from_u64(3);
    let prefixes: [&[u8]; 5] = [b"", b"fLaC", b"RIFF", b"OggS", b"RIFF\x10\0\0\0WAVEfmt "];
    let dict: Vec<&'static [u8]> = vec![b"fLaC", b"--"];
    for prefix in prefixes {
        for len in 0..200usize {
            for _ in 0..20 {
                let mut v: Vec<u8> = prefix.iter().copied().take(len).collect();
                while v.len() < len {
                    v.push(rng.random());
                }
                let other: Vec<u8> = (0..rng.random_range(0..50)).map(|_| rng.random()).collect();
                let out = mutate::bytes(&mut rng, &v, &other, &dict, 4096);
                assert!(out.len() <= 4096 + 512);
                let mut w = v.clone();
                mutate::flac_field(&mut rng, &mut w);
                mutate::riff_field(&mut rng, &mut w);
                mutate::fix_ogg_crcs(&mut w);
            }
        }
    }
}
