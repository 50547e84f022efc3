//! Fuzz target for the front end: no UTF-8 input may make `parse_file` panic, and whatever it
//! accepts must format to text that parses again and formats to the same text (fmt is
//! idempotent and never produces a file it cannot read back).

#![no_main]

use libfuzzer_sys::fuzz_target;
use ptl_compiler::fmt::format_file;
use ptl_compiler::parse::parse_file;

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(file) = parse_file(src) else {
        return;
    };
    let once = format_file(&file);
    let again = match parse_file(&once) {
        Ok(f) => f,
        Err(e) => panic!(
            "formatted text does not parse: {} at {:?}\n{once}",
            e.message, e.span
        ),
    };
    assert_eq!(format_file(&again), once, "formatting is not idempotent");
});
