//! End-to-end tests of the `ptl` binary's language commands: check, fmt, compile, inspect.
//!
//! Each case runs the real binary and asserts its exit status and output, the way a user or a
//! CI job sees them.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn ptl(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ptl"))
        .args(args)
        .current_dir(repo())
        .output()
        .expect("the ptl binary runs")
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn plans_in(dir: &str) -> Vec<String> {
    let mut plans: Vec<String> = std::fs::read_dir(repo().join(dir))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "ptl"))
        .map(|p| format!("{dir}/{}", p.file_name().unwrap().to_str().unwrap()))
        .collect();
    plans.sort();
    assert!(!plans.is_empty(), "no plans in {dir}");
    plans
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn every_example_and_standard_plan_checks_clean() {
    let mut plans = plans_in("examples");
    plans.extend(plans_in("stdlib-plans"));
    for name in [
        "smoke",
        "load",
        "stress",
        "spike",
        "soak",
        "breakpoint",
        "circuit-breaker",
    ] {
        plans.push(format!("std:{name}"));
    }
    for plan in &plans {
        let out = ptl(&["check", plan]);
        assert_eq!(out.status.code(), Some(0), "{plan}:\n{}", stderr(&out));
        assert!(!stderr(&out).contains("error"), "{plan}:\n{}", stderr(&out));
    }
}

#[test]
fn every_example_and_standard_plan_is_in_canonical_form() {
    let mut plans = plans_in("examples");
    plans.extend(plans_in("stdlib-plans"));
    let mut args = vec!["fmt", "--check"];
    args.extend(plans.iter().map(String::as_str));
    let out = ptl(&args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "not canonical:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn a_broken_plan_exits_3_with_coded_diagnostics_for_every_error() {
    let dir = tempfile::tempdir().unwrap();
    let plan = dir.path().join("broken.ptl");
    std::fs::write(
        &plan,
        r#"plan "broken" {
  target "http://127.0.0.1:8080"
  request a { GET "/{{usr}}" }
  phase p { rate 5s for 10s }
  threshold nosuch.p99 < 1s
}
"#,
    )
    .unwrap();
    let out = ptl(&["check", plan.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3));
    let text = stderr(&out);
    // Three independent mistakes, three coded diagnostics: all reported, not only the first.
    assert!(text.matches("ptl::E").count() >= 3, "{text}");

    let json = ptl(&["check", "--format", "json", plan.to_str().unwrap()]);
    assert_eq!(json.status.code(), Some(3));
    let parsed: serde_json::Value = serde_json::from_slice(&json.stdout).expect("JSON output");
    let diagnostics = parsed[0]["diagnostics"]
        .as_array()
        .expect("diagnostics array");
    assert!(diagnostics.len() >= 3);
    assert!(diagnostics
        .iter()
        .all(|d| d["code"].as_str().unwrap().starts_with("ptl::")));
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(ptl(&["check"]).status.code(), Some(2));
    assert_eq!(ptl(&["check", "std:nosuch"]).status.code(), Some(2));
    assert_eq!(ptl(&["check", "does/not/exist.ptl"]).status.code(), Some(2));
    assert_eq!(ptl(&["frobnicate"]).status.code(), Some(2));
    // Checked before ZooKeeper (nothing listens at 127.0.0.1:9) is tried.
    let coordinator = ["coordinator", "--zk", "127.0.0.1:9"];
    for bad in [
        &["--public-url", "http://coordinator-2:9090"][..],
        &[
            "--http",
            "127.0.0.1:0",
            "--public-url",
            "ftp://coordinator-2",
        ][..],
        &[
            "--http",
            "127.0.0.1:0",
            "--public-url",
            "coordinator-2:9090",
        ][..],
    ] {
        let o = ptl(&[&coordinator[..], bad].concat());
        assert_eq!(o.status.code(), Some(2), "{bad:?}: {}", stderr(&o));
    }
}

#[test]
fn compile_is_deterministic_and_inspect_reads_it_back() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.ptlc");
    let b = dir.path().join("b.ptlc");
    for out in [&a, &b] {
        let o = ptl(&[
            "compile",
            "examples/checkout.ptl",
            "-o",
            out.to_str().unwrap(),
        ]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    }
    let bytes = std::fs::read(&a).unwrap();
    assert_eq!(bytes, std::fs::read(&b).unwrap());
    assert_eq!(&bytes[..4], b"PTLC");

    let inspect = ptl(&["inspect", a.to_str().unwrap()]);
    assert_eq!(inspect.status.code(), Some(0), "{}", stderr(&inspect));
    let text = String::from_utf8_lossy(&inspect.stdout);
    assert!(text.contains("checkout"), "{text}");
    assert!(text.contains("/products/"), "{text}");

    // A different parameter value is a different plan, with a different hash.
    let c = dir.path().join("c.ptlc");
    let o = ptl(&[
        "compile",
        "examples/checkout.ptl",
        "--set",
        "peak=300/s",
        "-o",
        c.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_ne!(bytes, std::fs::read(&c).unwrap());
}

#[test]
fn a_corrupted_or_truncated_compiled_plan_is_rejected_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.ptlc");
    let o = ptl(&["compile", "std:smoke", "-o", good.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let bytes = std::fs::read(&good).unwrap();

    let flipped = dir.path().join("flipped.ptlc");
    let mut f = bytes.clone();
    let last = f.len() - 1;
    f[last] ^= 0x40;
    std::fs::write(&flipped, &f).unwrap();
    let truncated = dir.path().join("truncated.ptlc");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();

    for bad in [&flipped, &truncated] {
        let out = ptl(&["inspect", bad.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
        assert!(stderr(&out).contains("not a valid compiled plan"));
    }
}

#[test]
fn set_overrides_are_checked() {
    let out = ptl(&["check", "examples/checkout.ptl", "--set", "peak=5s"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let out = ptl(&["check", "examples/checkout.ptl", "--set", "nosuch=1"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
}

#[test]
fn explain_prints_each_phase() {
    let out = ptl(&["check", "--explain", "examples/checkout.ptl"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    for phase in ["warmup", "baseline", "failure", "recovery"] {
        assert!(text.contains(phase), "{phase} missing from:\n{text}");
    }
}

#[test]
fn allow_silences_a_warning_for_one_check_and_refuses_an_error_code() {
    // W0005 (users with no think time) and W0004 (an unused let).
    let dir = tempfile::tempdir().unwrap();
    let plan = dir.path().join("p.ptl");
    std::fs::write(
        &plan,
        "plan \"p\" {\n  target \"http://127.0.0.1:9\"\n  let spare = int(1, 9)\n  request home { GET \"/\" }\n  phase flat_out { users 5 for 10s }\n}\n",
    )
    .unwrap();
    let plan = plan.to_str().unwrap();
    let both = ptl(&["check", plan]);
    assert_eq!(both.status.code(), Some(0));
    assert!(stderr(&both).contains("W0005") && stderr(&both).contains("W0004"));

    let one = ptl(&["check", "--allow", "W0005", plan]);
    assert_eq!(one.status.code(), Some(0));
    assert!(!stderr(&one).contains("W0005"), "{}", stderr(&one));
    assert!(stderr(&one).contains("W0004"), "{}", stderr(&one));
    assert!(stderr(&one).contains("ok (1 warning)"), "{}", stderr(&one));

    let error = ptl(&["check", "--allow", "E0013", plan]);
    assert_eq!(error.status.code(), Some(2));
    assert!(
        stderr(&error).contains("errors cannot be silenced"),
        "{}",
        stderr(&error)
    );
}

#[test]
fn check_json_says_why_a_file_could_not_be_read() {
    let out = ptl(&["check", "--format", "json", "no/such/plan.ptl"]);
    assert_eq!(out.status.code(), Some(2));
    let files: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    assert_eq!(files[0]["file"], "no/such/plan.ptl");
    assert_eq!(files[0]["ok"], false);
    assert!(
        files[0]["error"].as_str().unwrap().contains("cannot read"),
        "{files}"
    );
}
