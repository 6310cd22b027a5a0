//! Stream decoding of arbitrary bytes: the first byte picks the protocol version and the
//! chunk size, the rest is fed to `StreamDecoder`; every packet must re-encode and decode
//! to itself. The check lives in the library so `tests/codec_fuzz_corpus.rs` replays the
//! corpus with plain `cargo test`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(e) = imcore::mqtt::fuzz_check(data) {
        panic!("{e}");
    }
});
