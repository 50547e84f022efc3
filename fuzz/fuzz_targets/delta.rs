//! Fuzz target for `ptl_engine::record::decode_delta`, which a coordinator runs on whatever an
//! agent (or anyone who can write its report nodes) put in ZooKeeper: no input may make it
//! panic, and whatever it accepts must survive a round trip unchanged. Each input is tried
//! raw (format 1's JSON and the magic check) and framed as format 2 (magic and a deflate stream),
//! which gets past the inflater into the body decoder.

#![no_main]

use std::io::Write;

use libfuzzer_sys::fuzz_target;
use ptl_engine::record::{decode_delta, encode_delta, DELTA_MAGIC};

fuzz_target!(|data: &[u8]| {
    check(data);
    check(&frame(data));
});

fn frame(body: &[u8]) -> Vec<u8> {
    let mut z = flate2::write::DeflateEncoder::new(DELTA_MAGIC.to_vec(), flate2::Compression::fast());
    z.write_all(body).expect("in memory");
    z.finish().expect("in memory")
}

fn check(bytes: &[u8]) {
    let Ok(delta) = decode_delta(bytes) else {
        return;
    };
    let again = encode_delta(&delta).expect("a decoded delta encodes");
    let back = decode_delta(&again).expect("what encode_delta wrote decodes");
    assert_eq!(
        format!("{} {} {:?}", delta.agent, delta.window, delta.recorded),
        format!("{} {} {:?}", back.agent, back.window, back.recorded),
        "a delta changed in a round trip"
    );
}
