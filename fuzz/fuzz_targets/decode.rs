//! Fuzz target for `ptl_bytecode::decode`: no input may make it panic, and whatever it accepts
//! must re-encode to exactly the same bytes (the format is canonical), disassemble, and give
//! every phase a duration. Each input is tried twice: raw, which exercises the header checks, and
//! wrapped in a valid header and CRC-32, which gets past the checksum into the section decoder.

#![no_main]

use libfuzzer_sys::fuzz_target;
use ptl_bytecode::format::HEADER_LEN;
use ptl_bytecode::{decode, disassemble, encode, inspect, FORMAT_VERSION, MAGIC};

fuzz_target!(|data: &[u8]| {
    check(data);
    check(&frame(data));
});

fn frame(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + payload.len());
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    out.extend_from_slice(payload);
    out
}

fn check(bytes: &[u8]) {
    let Ok(plan) = decode(bytes) else {
        return;
    };
    assert_eq!(
        encode(&plan),
        bytes,
        "decode accepted bytes that are not the canonical encoding of what it returned"
    );
    let _ = disassemble(&plan);
    assert!(inspect(bytes).is_ok());
    for phase in &plan.phases {
        let _ = phase.load.duration_us();
    }
}
