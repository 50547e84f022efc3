//! encode → decode gives the plan back; encoding is deterministic and canonical; the bytes of a
//! small plan match the layout documented in docs/bytecode.md.

use crate::common::{arb_plan, minimal_plan, sample_plan, without_v5, without_v6, without_v7};
use proptest::prelude::*;
use ptl_bytecode::*;

#[test]
fn sample_plan_round_trips() {
    let plan = sample_plan();
    let bytes = encode(&plan);
    assert_eq!(decode(&bytes), Ok(plan));
}

#[test]
fn minimal_plan_matches_the_documented_bytes() {
    let bytes = encode(&minimal_plan());
    #[rustfmt::skip]
    let payload: Vec<u8> = vec![
        1, 15,              // meta section, 15 bytes
        1, b'a',            //   name
        1, b't',            //   target
        1, 2, 3, 4,         //   timeout_us, connections, seed, max_inflight
        1,                  //   overflow = queue
        0,                  //   http = 1 (v2 and later)
        0,                  //   no params
        0, 0,               //   no hosts, no tags (v5 and later)
        0,                  //   stop_at knee: no (v7 and later)
        0,                  //   no target envs (v7 and later)
        2, 1, 0,            // consts: empty list
        3, 1, 0,            // datasets
        4, 1, 0,            // vars
        5, 1, 0,            // headers
        6, 1, 0,            // scenarios
        7, 1, 0,            // phases
        8, 1, 0,            // thresholds
    ];
    assert_eq!(bytes, framed(7, &payload));
}

/// The v1 golden bytes of the same plan (no `http` byte in the meta section) still decode, as
/// HTTP/1.1, and re-encode as the current version.
#[test]
fn a_v1_plan_still_decodes_as_http_1() {
    #[rustfmt::skip]
    let payload: Vec<u8> = vec![
        1, 10,
        1, b'a',
        1, b't',
        1, 2, 3, 4,
        1,
        0,
        2, 1, 0,
        3, 1, 0,
        4, 1, 0,
        5, 1, 0,
        6, 1, 0,
        7, 1, 0,
        8, 1, 0,
    ];
    let v1 = framed(1, &payload);
    assert_eq!(v1.len(), 53, "the example in docs/bytecode.md");
    let plan = decode(&v1).expect("v1 decodes");
    assert_eq!(plan, minimal_plan());
    assert_eq!(plan.http, HttpVersion::Http1);
    assert_eq!(
        encode(&plan)[4..6],
        FORMAT_VERSION.to_le_bytes(),
        "written as the current version"
    );
}

/// Apart from think times, v3 only added tags, so a v2 plan is the v3 bytes of a plan without
/// them and without think times, with the header saying 2: it decodes to the same plan, with its
/// status, latency, body and JSON checks.
#[test]
fn a_v2_plan_with_expectations_still_decodes() {
    let mut plan = without_v5(sample_plan());
    plan.phases
        .retain(|p| !matches!(p.load, Load::Users { .. }));
    plan.thresholds.clear();
    for s in &mut plan.scenarios {
        s.steps.retain(|s| !matches!(s, Step::Think(_)));
        for step in &mut s.steps {
            if let Step::Request(r) = step {
                r.expects.retain(|e| {
                    matches!(
                        e,
                        Expect::Status(_)
                            | Expect::LatencyBelow { .. }
                            | Expect::BodyContains(_)
                            | Expect::JsonEq { .. }
                    )
                });
            }
        }
    }
    let mut v2 = encode_as(&plan, 4);
    v2[4..6].copy_from_slice(&2u16.to_le_bytes());
    let decoded = decode(&v2).expect("v2 decodes");
    assert_eq!(decoded, plan);
    let kinds: Vec<usize> = decoded
        .scenarios
        .iter()
        .flat_map(|s| &s.steps)
        .filter_map(|s| match s {
            Step::Request(r) => Some(r.expects.len()),
            Step::Think { .. } => None,
        })
        .collect();
    assert!(kinds.iter().sum::<usize>() >= 4, "{kinds:?}");
}

/// A v2 think step is `min max` and a v2 `Users` load one think time: they decode as uniform
/// think times (hand-written v2 bytes, as the v1 example above).
#[test]
fn v2_think_times_decode_as_uniform() {
    #[rustfmt::skip]
    let payload: Vec<u8> = vec![
        1, 11, 1, b'a', 1, b't', 1, 2, 3, 4, 1, 0, 0,   // meta
        2, 1, 0,  3, 1, 0,  4, 1, 0,  5, 1, 0,           // consts, datasets, vars, headers
        6, 11,                                          // scenarios
        1, 1, b's', 1, 0, 0, 0,                         //   "s", weight 1, no flags, 0 registers
        1, 1, 10, 20,                                   //   one step: think 10..20 µs
        7, 12,                                          // phases
        1, 1, b'p', 4, 3, 100, 7,                       //   "p": users 3 for 100 µs, think 7 µs
        0, 0, 0, 0, 0,                                  //   uniform, no cap, overflow, faults, mix
        8, 1, 0,                                        // thresholds
    ];
    let plan = decode(&framed(2, &payload)).expect("v2 decodes");
    assert_eq!(
        plan.scenarios[0].steps,
        [Step::Think(Think::Uniform {
            min_us: 10,
            max_us: 20
        })]
    );
    assert_eq!(
        plan.phases[0].load,
        Load::Users {
            users: 3,
            duration_us: 100,
            think: Think::fixed(7)
        }
    );
    // The same plan in v3: a think tag before each think time (and the users' fixed time
    // written as `min max`), nothing else moved.
    let v3 = encode_as(&plan, 4);
    assert_eq!(v3.len(), framed(2, &payload).len() + 3);
    assert_eq!(decode(&v3), Ok(plan));
}

/// The tags v3 added mean nothing in a v2 plan: rejected as unknown, where they are.
#[test]
fn a_v2_plan_cannot_hold_the_v3_expectations() {
    let mut plan = minimal_plan();
    plan.consts.push(b"$.id".to_vec());
    let mut request = Request::get("r", ConstId(0));
    request.expects.push(Expect::JsonExists(ConstId(0)));
    plan.scenarios.push(Scenario::single(request));
    let mut bytes = encode_as(&plan, 4);
    assert!(decode(&bytes).is_ok(), "v4 holds it");
    bytes[4..6].copy_from_slice(&2u16.to_le_bytes());
    let err = decode(&bytes).expect_err("no such tag in v2");
    assert!(err.to_string().contains("expect"), "{err}");
    assert!(err.to_string().contains("tag 6"), "{err}");
}

/// `env(…)` came with v4: it round-trips, holding the name and default only, and means nothing
/// in a v3 plan.
#[test]
fn env_generators_are_v4_and_hold_no_value() {
    let mut plan = minimal_plan();
    plan.consts.push(b"API_TOKEN".to_vec());
    plan.consts.push(b"dev".to_vec());
    plan.vars.push(Var {
        name: "token".into(),
        parts: vec![VarPart::Gen(Generator::Env {
            name: ConstId(0),
            default: Some(ConstId(1)),
        })],
    });
    let mut bytes = encode_as(&plan, 4);
    assert_eq!(decode(&bytes), Ok(plan));
    bytes[4..6].copy_from_slice(&3u16.to_le_bytes());
    let err = decode(&bytes).expect_err("no such tag in v3");
    assert!(err.to_string().contains("tag 10"), "{err}");
}

/// v5 added hosts, per-request timeouts and tags. A v4 plan (written in the v4 layout by
/// `encode_as`) still decodes: every request goes to the target, with the plan's timeout, and
/// no tag; re-encoded, it is the v5 bytes of the same plan.
#[test]
fn a_v4_plan_decodes_with_one_host_and_no_tags() {
    let plan = without_v5(sample_plan());
    let v4 = encode_as(&plan, 4);
    assert_eq!(v4[4..6], 4u16.to_le_bytes());
    let decoded = decode(&v4).expect("v4 decodes");
    assert_eq!(decoded, plan);
    assert!(decoded.hosts.is_empty() && decoded.tags.is_empty());
    let v5 = encode(&decoded);
    assert!(v5.len() > v4.len(), "v5 writes the new fields");
    assert_eq!(decode(&v5), Ok(plan));
}

/// v7 added `stop_at knee`, one byte at the end of the meta section: a v6 plan decodes
/// without it, v7 keeps it, and a byte other than 0 or 1 is an error at its offset.
#[test]
fn a_v6_plan_never_stops_at_the_knee_and_v7_keeps_the_flag() {
    let plan = Plan {
        stop_at_knee: true,
        ..sample_plan()
    };
    let v6 = encode_as(&plan, 6);
    assert_eq!(decode(&v6), Ok(crate::common::without_v7(plan.clone())));
    let v7 = encode(&plan);
    assert_eq!(v7[4..6], 7u16.to_le_bytes());
    // The flag's byte, and the target envs' list (v7 too; its count alone when empty).
    let no_envs = Plan {
        target_envs: Vec::new(),
        ..plan.clone()
    };
    assert_eq!(encode(&no_envs).len(), encode_as(&no_envs, 6).len() + 2);
    assert_eq!(decode(&v7), Ok(plan.clone()));
    let off = encode(&Plan {
        stop_at_knee: false,
        ..plan.clone()
    });
    // Past the 20-byte header, whose checksum differs too.
    let at = (20..v7.len())
        .find(|&i| v7[i] != off[i])
        .expect("the flag's byte");
    let mut bad = v7.clone();
    bad[at] = 2;
    crate::common::fix_checksum(&mut bad);
    let err = decode(&bad).expect_err("2 is no flag");
    assert_eq!(err.offset(), at, "{err}");
}

/// v6 added feeders' draw modes and encoded var parts. A v5 plan still decodes, every feeder
/// drawing in order; the mode round-trips in v6, and an unknown mode is an error at its byte.
#[test]
fn a_v5_plan_decodes_with_sequential_feeders_and_v6_keeps_the_mode() {
    let plan = sample_plan();
    let csv = |p: &Plan| p.vars[1].parts[0].clone();
    assert!(matches!(
        csv(&plan),
        VarPart::Gen(Generator::Csv {
            draw: Draw::Unique,
            ..
        })
    ));
    let v5 = encode_as(&plan, 5);
    assert_eq!(v5[4..6], 5u16.to_le_bytes());
    let decoded = decode(&v5).expect("v5 decodes");
    assert_eq!(decoded, without_v6(plan.clone()));
    let v6 = encode_as(&plan, 6);
    // One draw byte, and the encoded part: tag, encoding, count, two parts of two bytes.
    assert_eq!(v6.len(), v5.len() + 1 + 7);
    assert_eq!(decode(&v6), Ok(without_v7(plan.clone())));

    // The draw byte follows the dataset index; 3 is no mode.
    let mut bad = plan;
    bad.vars[1].parts[0] = VarPart::Gen(Generator::Csv {
        dataset: 0,
        draw: Draw::Random,
    });
    let mut bytes = encode(&bad);
    let at = (0..bytes.len())
        .find(|&i| {
            let mut b = bytes.clone();
            b[i] = 2;
            crate::common::fix_checksum(&mut b);
            decode(&b).is_ok_and(|p| p.vars[1].parts[0] != bad.vars[1].parts[0])
        })
        .expect("the draw byte");
    bytes[at] = 3;
    crate::common::fix_checksum(&mut bytes);
    let err = decode(&bytes).expect_err("mode 3");
    assert!(err.to_string().contains("draw mode"), "{err}");
}

/// The v5 fields round-trip, and a request's host must be one the plan lists.
#[test]
fn v5_hosts_timeouts_and_tags_round_trip_and_are_checked() {
    let plan = sample_plan();
    let decoded = decode(&encode(&plan)).expect("v5 decodes");
    let Step::Request(first) = &decoded.scenarios[0].steps[0] else {
        panic!("a request")
    };
    assert_eq!(first.host, Some(0));
    assert_eq!(first.timeout_us, Some(2_000_000));
    assert_eq!(first.tags, [0, 1]);
    assert!(decoded.thresholds.iter().any(|t| t.scope == Scope::Tag(0)));
    assert_eq!(decoded.host_name(Some(0)), "auth");
    assert_eq!(decoded.host_name(None), DEFAULT_HOST);

    let mut bad = plan.clone();
    bad.hosts.clear();
    bad.target_envs.clear();
    let err = decode(&encode(&bad)).expect_err("host 0 of none");
    assert!(err.to_string().contains("request host"), "{err}");

    let mut twice = plan;
    if let Step::Request(r) = &mut twice.scenarios[0].steps[0] {
        r.tags = vec![0, 0];
    }
    let err = decode(&encode(&twice)).expect_err("a key twice");
    assert!(err.to_string().contains("tag `group` twice"), "{err}");
}

#[test]
fn a_v2_plan_keeps_http_2() {
    let mut plan = minimal_plan();
    plan.http = HttpVersion::Http2;
    let bytes = encode(&plan);
    assert_eq!(bytes[20 + 2 + 9], 1, "the http byte follows overflow");
    assert_eq!(decode(&bytes).map(|p| p.http), Ok(HttpVersion::Http2));
}

#[test]
fn an_unknown_http_version_tag_is_rejected_where_it_is() {
    let mut bytes = encode(&minimal_plan());
    let at = 20 + 2 + 9;
    bytes[at] = 2;
    crate::common::fix_checksum(&mut bytes);
    let err = decode(&bytes).expect_err("tag 2 is no http version");
    assert!(err.to_string().contains(&format!("at byte {at}")), "{err}");
    assert!(err.to_string().contains("http version"), "{err}");
}

fn framed(version: u16, payload: &[u8]) -> Vec<u8> {
    let mut out = b"PTLC".to_vec();
    out.extend_from_slice(&version.to_le_bytes());
    out.extend_from_slice(&[0, 0]); // flags
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    out.extend_from_slice(payload);
    out
}

#[test]
fn encodings_of_numbers_follow_the_spec() {
    let mut plan = minimal_plan();
    plan.timeout_us = 300;
    plan.seed = u64::MAX;
    plan.thresholds.push(Threshold {
        expr: String::new(),
        scope: Scope::All,
        metric: Metric::Max,
        cmp: Cmp::Le,
        value: 1.5,
        abort: true,
    });
    plan.vars.push(Var {
        name: String::new(),
        parts: vec![VarPart::Gen(Generator::Int { min: -1, max: 1 })],
    });
    let bytes = encode(&plan);
    let find = |needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
    // LEB128 300 = ac 02, followed by connections = 2.
    assert!(find(&[0xac, 0x02, 0x02]));
    // u64::MAX takes ten bytes.
    assert!(find(&[
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01
    ]));
    // int(-1, 1): part tag 2, generator tag 0, zigzag -1 = 1, zigzag 1 = 2.
    assert!(find(&[2, 0, 1, 2]));
    // Threshold: scope all 0, metric max 1, cmp <= 1, 1.5 as LE bits, abort 1.
    let mut t = vec![0u8, 0, 1, 1];
    t.extend_from_slice(&1.5f64.to_le_bytes());
    t.push(1);
    assert!(find(&t));
}

#[test]
fn same_plan_same_bytes_and_hash() {
    let a = sample_plan();
    let b = sample_plan();
    assert_eq!(encode(&a), encode(&b));
    assert_eq!(encode(&a), encode(&a.clone()));
    assert_eq!(hash(&encode(&a)), hash(&encode(&b)));
}

#[test]
fn any_change_changes_the_hash() {
    let base = sample_plan();
    let h = hash(&encode(&base));
    let mut seed = base.clone();
    seed.seed += 1;
    let mut weight = base.clone();
    weight.scenarios[0].weight += 1;
    let mut literal = base;
    literal.consts[0].push(b'x');
    for changed in [seed, weight, literal] {
        assert_ne!(hash(&encode(&changed)), h);
    }
}

proptest! {
    #[test]
    fn arbitrary_plans_round_trip(plan in arb_plan()) {
        let bytes = encode(&plan);
        let decoded = decode(&bytes);
        prop_assert_eq!(decoded.as_ref(), Ok(&plan));
        // Canonical: what decodes re-encodes to the very same bytes.
        prop_assert_eq!(encode(&decoded.unwrap()), bytes);
    }

    #[test]
    fn encoding_is_deterministic(plan in arb_plan()) {
        prop_assert_eq!(encode(&plan), encode(&plan.clone()));
    }

    #[test]
    fn disassembly_never_panics_on_arbitrary_plans(plan in arb_plan()) {
        let text = disassemble(&plan);
        prop_assert!(text.starts_with("plan "));
        let shown = inspect(&encode(&plan));
        prop_assert!(shown.is_ok());
    }
}

/// v6 plans may end with the sources they were compiled from: `decode` reads the same plan
/// past them, `sources` returns them, and anything else after the thresholds is an error.
#[test]
fn sources_ride_along_and_are_checked() {
    let plan = sample_plan();
    let files = vec![
        ("/p/plan.ptl".to_string(), b"plan \"x\" {}".to_vec()),
        ("/p/users.json".to_string(), vec![0, 159, 146, 150]),
    ];
    let bytes = encode_with_sources(&plan, &files);
    assert_eq!(decode(&bytes), Ok(plan.clone()));
    assert_eq!(sources(&bytes), Ok(files.clone()));
    assert_eq!(sources(&encode(&plan)), Ok(vec![]));
    assert_eq!(encode_with_sources(&plan, &[]), encode(&plan));

    let plain = encode(&plan).len();
    let mut bad = bytes.clone();
    bad[plain] = 10;
    crate::common::fix_checksum(&mut bad);
    let err = decode(&bad).expect_err("section 10");
    assert!(err.to_string().contains("sources"), "{err}");
}

/// A v7 plan keeps its targets read from the environment (host, name, default); a v6 plan has
/// none; a host index beyond the plan's hosts is an error, never a panic.
#[test]
fn target_envs_round_trip_from_v7() {
    let plan = sample_plan();
    assert_eq!(plan.target_envs.len(), 1);
    let v7 = encode(&plan);
    assert_eq!(v7[4..6], 7u16.to_le_bytes());
    assert_eq!(decode(&v7), Ok(plan.clone()));
    let v6 = encode_as(&plan, 6);
    assert!(decode(&v6).expect("v6 decodes").target_envs.is_empty());

    let mut bad = plan;
    bad.target_envs[0].host = 2;
    let err = decode(&encode(&bad)).expect_err("host 2 of 1");
    assert!(err.to_string().contains("target env host 2"), "{err}");
}
