//! What `ptl inspect` shows.

use crate::common::sample_plan;
use ptl_bytecode::*;

fn has_line(text: &str, line: &str) {
    assert!(
        text.lines().any(|l| l.trim_end() == line),
        "missing line {line:?} in:\n{text}"
    );
}

#[test]
fn disassembly_shows_every_section() {
    let text = disassemble(&sample_plan());
    has_line(&text, "plan \"shop\"");
    has_line(&text, "  target        http://127.0.0.1:8080/api");
    has_line(&text, "  timeout       30s");
    has_line(&text, "  max_inflight  1000 (overflow drop)");
    has_line(&text, "params (1)");
    has_line(&text, "  peak = 100/s");
    has_line(&text, "consts (24)");
    has_line(&text, "  #0    \"/products/\"");
    has_line(&text, "  #10   \"{\\\"email\\\":\\\"\"");
    has_line(
        &text,
        "  d0  \"users.csv\"  columns (email, password), 2 rows",
    );
    has_line(&text, "      row 1: \"b@example.com\" \"swordfish\"");
    has_line(&text, "  $0   product_id = int(1, 1000)");
    has_line(&text, "  $1   customer = csv(d0 \"users.csv\" unique)");
    has_line(
        &text,
        "  $2   order = \"order-\" {{product_id}} seq() base64({{product_id}} \"order-\")",
    );
    has_line(
        &text,
        "  $3   misc = float(-1.5, 2.25) one_of(\"red\", \"blue\") weighted(\"red\" 25%, \"blue\" 75%) uuid() zipf(-5, 500, s=1.07) str(12) now()",
    );
    has_line(&text, "  \"user-agent\": \"ptl\"");
    has_line(
        &text,
        "  s0  \"browse\"  weight 3  single-request  registers 0",
    );
    has_line(
        &text,
        "    0  request \"product\": GET \"/products/\" {{product_id}}",
    );
    has_line(&text, "        expect status 200..=299, 304");
    has_line(&text, "        expect latency < 500ms");
    has_line(&text, "  s1  \"checkout\"  weight 1  cookies  registers 3");
    has_line(
        &text,
        "        body \"{\\\"email\\\":\\\"\" {{customer.email}} \"\\\"}\"",
    );
    has_line(&text, "        expect body contains \"ok\"");
    has_line(
        &text,
        "        expect json \"$.status\" == \"\\\"active\\\"\"",
    );
    has_line(&text, "        expect body matches \"ok\"");
    has_line(&text, "        expect json \"$.status\" != \"ok\"");
    has_line(&text, "        expect exists json \"$.status\"");
    has_line(&text, "        expect header \"ok\" contains \"ok\"");
    has_line(&text, "        capture r0 <- json \"$.token\"");
    has_line(
        &text,
        "        capture r1 <- header \"x-request-id\" (default \"none\")",
    );
    has_line(&text, "    1  think 1s..2s");
    has_line(
        &text,
        "        header \"authorization\": \"Bearer \" {{r0}}",
    );
    has_line(&text, "        body \"\"");
    has_line(&text, "        capture r2 <- status");
    has_line(&text, "    3  think 250ms");
    has_line(&text, "    4  think exponential(500ms)");
    has_line(&text, "    8  request \"options\": OPTIONS \"/products/\"");
    has_line(
        &text,
        "  p0  \"warmup\"  rate 10/s for 30s  (uniform arrivals)",
    );
    has_line(
        &text,
        "  p1  \"climb\"  ramp 10/s -> 100/s over 1m  (poisson arrivals)",
    );
    has_line(&text, "      max_inflight 200");
    has_line(&text, "      overflow queue");
    has_line(&text, "      inject abort 1.5%");
    has_line(&text, "      inject delay 200ms 10%");
    has_line(&text, "      inject reset 0.0001%");
    has_line(&text, "      inject corrupt 0%");
    has_line(
        &text,
        "      inject header \"x-envoy-fault-abort\": \"503\" 5%",
    );
    has_line(&text, "      mix \"browse\"=1, \"checkout\"=4");
    has_line(
        &text,
        "  p2  \"stairs\"  steps 10/s -> 50/s by 10/s every 10s (total 50s)  (uniform arrivals)",
    );
    has_line(&text, "  p3  \"rest\"  pause 5s  (uniform arrivals)");
    has_line(
        &text,
        "  p4  \"closed\"  users 50 for 2m, think 1s  (uniform arrivals)",
    );
    has_line(&text, "thresholds (9)");
    has_line(&text, "hosts (1)");
    has_line(&text, "  h0    auth http://127.0.0.1:9000");
    has_line(&text, "tags (2)");
    has_line(&text, "  g0    group = \"browse\"");
    has_line(&text, "        host h0 (auth)");
    has_line(&text, "        timeout 2s");
    has_line(&text, "        tag g1 (team = \"shop\")");
    has_line(&text, "  t0  p99 < 1s  [all: p99.9 < 1s]");
    has_line(
        &text,
        "  t1  warmup.max <= 2s  [phase \"warmup\": max <= 2s]",
    );
    has_line(
        &text,
        "  t3  checkout.login.error_rate >= 0  [scenario \"checkout\" step 0: error_rate >= 0%, abort]",
    );
    has_line(&text, "  t4  achieved < 95%  [all: achieved_rate < 95%]");
    has_line(
        &text,
        "  t6  checkout.iteration.p50 < 3s  [scenario \"checkout\": iteration p50 < 3s]",
    );
}

#[test]
fn dangling_indices_print_instead_of_panicking() {
    let mut plan = sample_plan();
    plan.headers[0].value.ops.push(TemplateOp::Lit(ConstId(99)));
    plan.headers[0].value.ops.push(TemplateOp::Var(42));
    plan.thresholds[0].scope = Scope::Phase(9);
    let text = disassemble(&plan);
    has_line(&text, "  \"user-agent\": \"ptl\" #99? {{$42?}}");
    assert!(text.contains("[phase p9?: "), "{text}");
}

#[test]
fn inspect_leads_with_version_size_and_hash() {
    let bytes = encode(&sample_plan());
    let text = inspect(&bytes).unwrap();
    let first = text.lines().next().unwrap();
    assert_eq!(
        first,
        format!(
            "ptl plan format v{FORMAT_VERSION}, {} bytes, sha256 {}",
            bytes.len(),
            hash(&bytes)
        )
    );
    assert!(text.contains("sections: meta "), "{text}");
    assert!(text.ends_with(&disassemble(&sample_plan())));
}

#[test]
fn inspect_reports_decode_errors() {
    let mut bytes = encode(&sample_plan());
    bytes[4] = 9;
    assert!(matches!(
        inspect(&bytes),
        Err(DecodeError::NewerVersion { found: 9, .. })
    ));
}
