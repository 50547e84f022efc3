//! The decoder refuses everything that is not a valid plan, with an error (never a panic) that
//! says where and what.

use crate::common::{arb_plan, fix_checksum, frame, lit, minimal_plan, sample_plan, tpl};
use proptest::prelude::*;
use ptl_bytecode::*;

const HEADER_LEN: usize = 20;

/// Bit patterns flipped into each byte: every single bit, and all of them.
const FLIPS: [u8; 9] = [0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80, 0xff];

#[test]
fn every_truncation_is_an_error() {
    let bytes = encode(&sample_plan());
    for len in 0..bytes.len() {
        let err = decode(&bytes[..len]).expect_err("a truncated plan must not decode");
        // The offset is inside or at the end of what was given.
        assert!(err.offset() <= len.max(HEADER_LEN), "{len}: {err}");
    }
}

#[test]
fn every_single_byte_flip_is_caught() {
    let bytes = encode(&sample_plan());
    for i in 0..bytes.len() {
        for flip in FLIPS {
            let mut bad = bytes.clone();
            bad[i] ^= flip;
            assert!(
                decode(&bad).is_err(),
                "flip {flip:#04x} at byte {i} decoded"
            );
        }
    }
}

#[test]
fn a_payload_flip_is_reported_as_a_checksum_mismatch() {
    let mut bytes = encode(&sample_plan());
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    let err = decode(&bytes).unwrap_err();
    assert!(
        matches!(err, DecodeError::ChecksumMismatch { offset: 16, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("corrupt"), "{err}");
}

/// With the CRC recomputed, a flip reaches the section decoder: it must either decode to a plan
/// that encodes back to exactly these bytes, or fail cleanly.
#[test]
fn flips_behind_a_valid_checksum_decode_canonically_or_fail() {
    let bytes = encode(&sample_plan());
    let mut decoded = 0;
    for i in HEADER_LEN..bytes.len() {
        for flip in FLIPS {
            let mut bad = bytes.clone();
            bad[i] ^= flip;
            fix_checksum(&mut bad);
            if let Ok(plan) = decode(&bad) {
                assert_eq!(encode(&plan), bad, "flip {flip:#04x} at byte {i}");
                decoded += 1;
            }
        }
    }
    // Flips inside strings and numbers do yield other valid plans; if none did, the test would
    // not be exercising the success path at all.
    assert!(decoded > 0);
}

#[test]
fn a_future_version_names_itself_and_asks_for_an_upgrade() {
    let mut bytes = encode(&sample_plan());
    bytes[4..6].copy_from_slice(&8u16.to_le_bytes());
    let err = decode(&bytes).unwrap_err();
    assert_eq!(
        err,
        DecodeError::NewerVersion {
            found: 8,
            supported: FORMAT_VERSION
        }
    );
    assert_eq!(
        err.to_string(),
        format!("plan format v8 is newer than this ptl (supports v{FORMAT_VERSION}); upgrade ptl")
    );
    assert_eq!(err.offset(), 4);
}

#[test]
fn version_zero_is_rejected() {
    let mut bytes = encode(&minimal_plan());
    bytes[4..6].copy_from_slice(&0u16.to_le_bytes());
    let err = decode(&bytes).unwrap_err();
    assert!(
        matches!(err, DecodeError::OlderVersion { found: 0, .. }),
        "{err}"
    );
}

#[test]
fn bad_magic_is_rejected() {
    let mut bytes = encode(&minimal_plan());
    bytes[3] = b'X';
    assert_eq!(
        decode(&bytes),
        Err(DecodeError::BadMagic {
            found: b"PTLX".to_vec()
        })
    );
    let json = br#"{"name": "not a plan"}"#;
    let err = decode(json).unwrap_err();
    assert!(matches!(err, DecodeError::BadMagic { .. }));
    assert!(err.to_string().contains("not a ptl plan"), "{err}");
    assert!(matches!(decode(b"PT"), Err(DecodeError::Truncated { .. })));
    assert!(matches!(decode(b""), Err(DecodeError::Truncated { .. })));
}

#[test]
fn unknown_flags_are_rejected() {
    let mut bytes = encode(&minimal_plan());
    bytes[6] = 0x01;
    assert_eq!(
        decode(&bytes),
        Err(DecodeError::UnknownFlags {
            offset: 6,
            flags: 1
        })
    );
}

#[test]
fn trailing_bytes_after_the_payload_are_rejected() {
    let mut bytes = encode(&minimal_plan());
    let len = bytes.len();
    bytes.extend_from_slice(b"junk");
    assert_eq!(
        decode(&bytes),
        Err(DecodeError::TrailingBytes {
            offset: len,
            what: "the payload",
            count: 4
        })
    );
}

/// The payload of the minimal plan as (section id, body) pairs, for tests that rebuild it.
fn minimal_sections() -> Vec<(u8, Vec<u8>)> {
    let bytes = encode(&minimal_plan());
    let mut payload = &bytes[HEADER_LEN..];
    let mut out = Vec::new();
    while let [id, len, rest @ ..] = payload {
        let len = *len as usize; // all bodies are under 128 bytes: one-byte lengths
        out.push((*id, rest[..len].to_vec()));
        payload = &rest[len..];
    }
    assert_eq!(out.len(), 8);
    out
}

fn assemble(sections: &[(u8, Vec<u8>)]) -> Vec<u8> {
    let mut payload = Vec::new();
    for (id, body) in sections {
        payload.push(*id);
        payload.push(body.len() as u8);
        payload.extend_from_slice(body);
    }
    frame(&payload)
}

#[test]
fn sections_out_of_order_are_rejected() {
    let mut sections = minimal_sections();
    sections.swap(1, 2);
    let err = decode(&assemble(&sections)).unwrap_err();
    assert!(
        matches!(
            err,
            DecodeError::UnexpectedSection {
                expected: "consts",
                found: 3,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn a_missing_section_is_truncation() {
    let mut sections = minimal_sections();
    sections.pop();
    let err = decode(&assemble(&sections)).unwrap_err();
    assert!(matches!(err, DecodeError::Truncated { .. }), "{err}");
}

#[test]
fn unread_bytes_inside_a_section_are_rejected() {
    let mut sections = minimal_sections();
    sections[0].1.push(0);
    let bytes = assemble(&sections);
    let err = decode(&bytes).unwrap_err();
    assert!(
        matches!(
            err,
            DecodeError::TrailingBytes {
                what: "meta",
                count: 1,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(bytes[err.offset()], 0);
}

#[test]
fn bytes_after_the_last_section_are_rejected() {
    // Only the sources section (9) may follow the thresholds, and it must be well formed.
    let mut sections = minimal_sections();
    sections.push((10, vec![]));
    let err = decode(&assemble(&sections)).unwrap_err();
    assert!(err.to_string().contains("only 9, sources"), "{err}");
    let mut sections = minimal_sections();
    sections.push((9, vec![]));
    let err = decode(&assemble(&sections)).unwrap_err();
    assert!(err.to_string().contains("source count"), "{err}");
    let mut sections = minimal_sections();
    sections.push((9, vec![0]));
    sections.push((9, vec![0]));
    let err = decode(&assemble(&sections)).unwrap_err();
    assert!(
        matches!(err, DecodeError::TrailingBytes { count: 3, .. }),
        "{err}"
    );
}

#[test]
fn absurd_counts_fail_without_allocating() {
    let mut sections = minimal_sections();
    // "consts: 2^28 entries" in a five-byte body.
    sections[1].1 = vec![0x80, 0x80, 0x80, 0x80, 0x01];
    let err = decode(&assemble(&sections)).unwrap_err();
    assert!(
        matches!(err, DecodeError::LengthTooLarge { len, .. } if len == 1 << 28),
        "{err}"
    );
    sections[1].1 = vec![0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
    let err = decode(&assemble(&sections)).unwrap_err();
    assert!(
        matches!(err, DecodeError::LengthTooLarge { len: u64::MAX, .. }),
        "{err}"
    );
}

#[test]
fn bad_utf8_in_a_name_is_rejected() {
    let mut sections = minimal_sections();
    sections[0].1[1] = 0xff; // the plan name "a"
    let bytes = assemble(&sections);
    let err = decode(&bytes).unwrap_err();
    assert!(
        matches!(
            err,
            DecodeError::BadUtf8 {
                what: "plan name",
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(bytes[err.offset()], 0xff);
}

#[test]
fn an_unknown_tag_is_rejected_with_its_offset() {
    let mut sections = minimal_sections();
    sections[0].1[8] = 9; // overflow
    let bytes = assemble(&sections);
    let err = decode(&bytes).unwrap_err();
    assert!(
        matches!(
            err,
            DecodeError::BadTag {
                what: "overflow",
                tag: 9,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(bytes[err.offset()], 9);
}

/// Encodes `plan`, expects a `BadIndex` for `what`, and checks its offset points at the index.
fn expect_bad_index(plan: &Plan, what: &str, index: u64) {
    let bytes = encode(plan);
    let err = decode(&bytes).expect_err(what);
    match &err {
        DecodeError::BadIndex {
            offset,
            what: w,
            index: i,
            ..
        } => {
            assert_eq!((*w, *i), (what, index), "{err}");
            assert_eq!(u64::from(bytes[*offset]), index, "offset of {err}");
        }
        other => panic!("expected a bad {what} index, got: {other}"),
    }
}

#[test]
fn out_of_range_references_are_rejected() {
    let base = sample_plan();
    let n_consts = base.consts.len() as u32;

    let mut p = base.clone();
    p.headers[0].value.ops[0] = lit(n_consts);
    expect_bad_index(&p, "template const", u64::from(n_consts));

    let mut p = base.clone();
    p.datasets[0].rows[1][1] = ConstId(99);
    expect_bad_index(&p, "dataset cell const", 99);

    let mut p = base.clone();
    p.vars[2].parts[1] = VarPart::Var(2); // itself
    expect_bad_index(&p, "earlier var", 2);

    let mut p = base.clone();
    p.vars[1].parts[0] = VarPart::Gen(Generator::Csv {
        dataset: 1,
        draw: Draw::Sequential,
    });
    expect_bad_index(&p, "csv dataset", 1);

    let mut p = base.clone();
    p.headers[0].value.ops.push(TemplateOp::Var(4));
    expect_bad_index(&p, "template var", 4);

    let mut p = base.clone();
    p.headers[0]
        .value
        .ops
        .push(TemplateOp::Field { var: 1, column: 2 });
    expect_bad_index(&p, "template field column", 2);

    // Plan-wide headers have no capture registers.
    let mut p = base.clone();
    p.headers[0].value.ops.push(TemplateOp::Capture(0));
    expect_bad_index(&p, "capture register", 0);

    let mut p = base.clone();
    let Step::Request(r) = &mut p.scenarios[1].steps[2] else {
        unreachable!()
    };
    r.captures[0].register = 3;
    expect_bad_index(&p, "capture register", 3);

    let mut p = base.clone();
    if let Some(mix) = &mut p.phases[1].mix {
        mix[1].0 = 2;
    }
    expect_bad_index(&p, "mix scenario", 2);

    let mut p = base.clone();
    p.thresholds[1].scope = Scope::Phase(5);
    expect_bad_index(&p, "threshold phase", 5);

    let mut p = base.clone();
    p.thresholds[2].scope = Scope::Scenario(2);
    expect_bad_index(&p, "threshold scenario", 2);

    let mut p = base;
    p.thresholds[3].scope = Scope::Step {
        scenario: 0,
        step: 1,
    };
    expect_bad_index(&p, "threshold step", 1);
}

/// Encodes `plan` and expects an `Invalid` error mentioning `needle`.
fn expect_invalid(plan: &Plan, needle: &str) {
    let err = decode(&encode(plan)).expect_err(needle);
    assert!(
        matches!(err, DecodeError::Invalid { .. }) && err.to_string().contains(needle),
        "expected an invalid-plan error about {needle:?}, got: {err}"
    );
}

#[test]
fn plans_the_runtime_cannot_run_are_rejected() {
    let base = sample_plan();
    let misc = |g: Generator, needle: &str| {
        let mut p = base.clone();
        p.vars[3].parts[0] = VarPart::Gen(g);
        expect_invalid(&p, needle);
    };
    misc(Generator::Int { min: 2, max: 1 }, "min is above max");
    misc(
        Generator::Float { min: 1.0, max: 1.0 },
        "min must be below max",
    );
    misc(Generator::OneOf(vec![]), "no values");
    misc(
        Generator::Weighted(vec![(ConstId(0), Ppm(999_999))]),
        "sum to 999999 ppm",
    );
    misc(
        Generator::Zipf {
            min: 0,
            max: 1,
            s: -1.0,
        },
        "negative",
    );

    let mut p = base.clone();
    p.datasets[0].rows[0].pop();
    expect_invalid(&p, "row of 1 cell(s) but 2 column(s)");

    let mut p = base.clone();
    p.datasets[0].rows.clear();
    expect_invalid(&p, "no rows");

    let mut p = base.clone();
    p.headers[0]
        .value
        .ops
        .push(TemplateOp::Field { var: 0, column: 0 });
    expect_invalid(&p, "`product_id` is read by column but is not a csv() row");

    let mut p = base.clone();
    p.scenarios[1].steps[1] = Step::Think(Think::Uniform {
        min_us: 2,
        max_us: 1,
    });
    expect_invalid(&p, "inverted");

    let mut p = base.clone();
    let Step::Request(r) = &mut p.scenarios[0].steps[0] else {
        unreachable!()
    };
    r.expects[0] = Expect::Status(vec![(500, 200)]);
    expect_invalid(&p, "status range 500..=200 is inverted");

    let mut p = base.clone();
    p.phases[1].injections[0].share = Ppm(1_000_001);
    expect_invalid(&p, "above 100 %");

    let mut p = base.clone();
    p.phases[0].load = Load::Rate {
        per_sec: -1.0,
        duration_us: 1,
    };
    expect_invalid(&p, "negative");

    let mut p = base.clone();
    p.thresholds[0].metric = Metric::Percentile(0.0);
    expect_invalid(&p, "outside (0, 100]");

    let mut p = base;
    p.thresholds[0].metric = Metric::IterationPercentile(100.5);
    expect_invalid(&p, "outside (0, 100]");
}

#[test]
fn non_finite_numbers_are_rejected() {
    let mut p = sample_plan();
    p.thresholds[0].value = f64::NAN;
    let err = decode(&encode(&p)).unwrap_err();
    assert!(
        matches!(
            err,
            DecodeError::NotFinite {
                what: "threshold value",
                ..
            }
        ),
        "{err}"
    );
    let mut p = sample_plan();
    p.phases[0].load = Load::Rate {
        per_sec: f64::INFINITY,
        duration_us: 1,
    };
    assert!(matches!(
        decode(&encode(&p)),
        Err(DecodeError::NotFinite { what: "rate", .. })
    ));
}

#[test]
fn a_capture_used_in_a_template_within_registers_is_fine() {
    let mut p = sample_plan();
    let Step::Request(r) = &mut p.scenarios[1].steps[2] else {
        unreachable!()
    };
    r.path = tpl(vec![lit(0), TemplateOp::Capture(2)]);
    assert_eq!(decode(&encode(&p)), Ok(p));
}

proptest! {
    #[test]
    fn truncations_and_flips_of_arbitrary_plans_fail_cleanly(
        plan in arb_plan(),
        cut in any::<prop::sample::Index>(),
        at in any::<prop::sample::Index>(),
        flip in 1u8..=255,
    ) {
        let bytes = encode(&plan);
        let cut = cut.index(bytes.len());
        prop_assert!(decode(&bytes[..cut]).is_err());

        let mut bad = bytes.clone();
        bad[at.index(bytes.len())] ^= flip;
        prop_assert!(decode(&bad).is_err());

        // Behind a valid checksum: a canonical plan or an error, never a panic.
        fix_checksum(&mut bad);
        if let Ok(p) = decode(&bad) {
            prop_assert_eq!(encode(&p), bad);
        }
    }

    /// Random payloads behind a valid header: the section decoder sees arbitrary bytes.
    #[test]
    fn random_payloads_never_panic(payload in proptest::collection::vec(any::<u8>(), 0..256)) {
        let bytes = frame(&payload);
        if let Ok(p) = decode(&bytes) {
            prop_assert_eq!(encode(&p), bytes);
        }
    }

    /// Random payloads that start like a real one get further before failing.
    #[test]
    fn mutated_sample_payloads_never_panic(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
    ) {
        let mut bytes = encode(&sample_plan());
        let payload_len = bytes.len() - HEADER_LEN;
        for (at, byte) in edits {
            bytes[HEADER_LEN + at.index(payload_len)] = byte;
        }
        fix_checksum(&mut bytes);
        if let Ok(p) = decode(&bytes) {
            prop_assert_eq!(encode(&p), bytes);
        }
    }
}
