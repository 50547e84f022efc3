use super::*;
use ptl_bytecode::plan::Load;
use std::net::{Ipv4Addr, SocketAddr};

fn policy(specs: &[&str]) -> TargetPolicy {
    TargetPolicy::from_specs(specs).expect("valid specs")
}

fn v4(a: [u8; 4], port: u16) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::from(a)), port)
}

#[test]
fn no_rules_allow_everything() {
    let p = TargetPolicy::default();
    assert!(p.allows_any_target());
    assert!(p.check_target("example.com", 80).is_ok());
    assert!(p.check_target("10.1.2.3", 9).is_ok());
    let addrs = vec![v4([127, 0, 0, 1], 80)];
    assert_eq!(p.allowed_addrs("localhost", 80, addrs.clone()), Ok(addrs));
}

#[test]
fn names_match_exactly_or_below_a_wildcard() {
    let p = policy(&["api.example.com", "*.test.example.org"]);
    assert!(p.check_target("api.example.com", 443).is_ok());
    assert!(
        p.check_target("API.Example.COM.", 80).is_ok(),
        "no case, trailing dot"
    );
    assert!(p.check_target("www.example.com", 80).is_err());
    assert!(p.check_target("a.test.example.org", 80).is_ok());
    assert!(p.check_target("a.b.test.example.org", 80).is_ok());
    assert!(
        p.check_target("test.example.org", 80).is_err(),
        "the wildcard is below the name, not the name itself"
    );
    assert!(p.check_target("eviltest.example.org", 80).is_err());
    assert!(
        p.check_target("10.0.0.1", 80).is_err(),
        "an IP target needs an address rule"
    );
}

#[test]
fn ports_restrict_a_rule() {
    let p = policy(&["localhost:8080", "127.0.0.1:9000", "[::1]:9001"]);
    assert!(p.check_target("localhost", 8080).is_ok());
    assert!(p.check_target("localhost", 8081).is_err());
    assert!(p.check_target("127.0.0.1", 9000).is_ok());
    assert!(p.check_target("127.0.0.1", 9001).is_err());
    assert!(p.check_target("[::1]", 9001).is_ok());
    assert!(p.check_target("::1", 9000).is_err());
    let refused = p.check_target("127.0.0.1", 9001).unwrap_err().to_string();
    assert!(refused.contains("127.0.0.1:9001"), "{refused}");
    assert!(
        refused.contains("--allow-target 127.0.0.1:9000"),
        "{refused}"
    );
}

#[test]
fn v4_and_v6_cidrs() {
    let p = policy(&["10.0.0.0/8", "[fd00::]/8", "192.168.1.0/24:80", "[::1]/128"]);
    assert!(p.check_target("10.255.0.1", 1).is_ok());
    assert!(p.check_target("11.0.0.1", 1).is_err());
    assert!(p.check_target("fdab::1", 1).is_ok());
    assert!(p.check_target("fe80::1", 1).is_err());
    assert!(p.check_target("192.168.1.7", 80).is_ok());
    assert!(p.check_target("192.168.1.7", 81).is_err());
    assert!(p.check_target("::1", 5).is_ok());
    assert!(p.check_target("::2", 5).is_err());
    // An IPv4-mapped IPv6 answer is the IPv4 address.
    let mapped: IpAddr = "::ffff:10.0.0.1".parse().unwrap();
    assert!(p.net_allows(SocketAddr::new(mapped, 1)));
    let all = policy(&["0.0.0.0/0"]);
    assert!(all.check_target("1.2.3.4", 1).is_ok());
    assert!(all.check_target("::1", 1).is_err(), "v4 rules leave v6 out");
}

#[test]
fn resolved_addresses_are_held_to_the_address_rules() {
    let p = policy(&["10.0.0.0/8"]);
    // A name passes by itself when there are only address rules: its answer decides.
    assert!(p.check_target("localhost", 80).is_ok());
    let refused = p
        .allowed_addrs("localhost", 80, vec![v4([127, 0, 0, 1], 80)])
        .unwrap_err();
    assert!(
        matches!(refused, Refusal::ResolvesOutside { .. }),
        "{refused}"
    );
    assert!(refused.to_string().contains("127.0.0.1"), "{refused}");
    // A mixed answer keeps only the allowed addresses.
    let kept = p
        .allowed_addrs(
            "rebind.example",
            80,
            vec![v4([127, 0, 0, 1], 80), v4([10, 1, 1, 1], 80)],
        )
        .unwrap();
    assert_eq!(kept, vec![v4([10, 1, 1, 1], 80)]);

    // Name and address rules together: both must hold.
    let both = policy(&["*.example.com", "10.0.0.0/8"]);
    assert!(both.check_target("other.org", 80).is_err());
    assert!(both
        .allowed_addrs("a.example.com", 80, vec![v4([192, 168, 0, 1], 80)])
        .is_err());
    assert!(both
        .allowed_addrs("a.example.com", 80, vec![v4([10, 0, 0, 1], 80)])
        .is_ok());
}

#[test]
fn bad_specs_are_refused_with_a_reason() {
    for (spec, why) in [
        ("", "empty"),
        ("*", "label"),
        ("*.", "label"),
        ("*.:80", "label"),
        ("a.*.com", "label"),
        ("exa mple.com", "label"),
        ("host:0", "port"),
        ("host:http", "port"),
        ("host:70000", "port"),
        ("10.0.0.0/33", "prefix length"),
        ("10.0.0.1/8", "bits set"),
        ("nothost/8", "not an IP address"),
        ("[::1", "missing ']'"),
        ("[nope]:80", "not an IPv6 address"),
        ("[::1]x", "unexpected"),
        ("[::1]/129", "prefix length"),
        ("::1:80:", "port"),
    ] {
        let err = TargetPolicy::from_specs(&[spec]).expect_err(spec);
        assert!(err.to_string().contains(why), "{spec}: {err}");
        assert!(err.to_string().contains("--allow-target"), "{err}");
    }
}

#[test]
fn max_rate_parses_with_or_without_per_second() {
    assert_eq!(parse_max_rate("20000/s"), Ok(20000.0));
    assert_eq!(parse_max_rate(" 12.5 "), Ok(12.5));
    for bad in ["", "0/s", "-1", "fast", "NaN", "inf/s"] {
        assert!(parse_max_rate(bad).is_err(), "{bad}");
    }
}

fn plan_with(load: Load) -> Plan {
    let mut plan = ptl_test_support::plans::one_request("http://127.0.0.1:9/", 1.0, 1_000_000);
    plan.phases[0].load = load;
    plan
}

#[test]
fn the_cap_refuses_a_share_planned_above_it() {
    let cap = TargetPolicy::default().with_max_rate(Some(100.0));
    let rate = |per_sec| Load::Rate {
        per_sec,
        duration_us: 1_000_000,
    };
    let solo = AgentShare::solo();
    assert!(cap.check_rate(&plan_with(rate(100.0)), &solo).is_ok());
    let refused = cap.check_rate(&plan_with(rate(150.0)), &solo).unwrap_err();
    assert!(
        refused.to_string().contains("above --max-rate 100/s"),
        "{refused}"
    );
    let half = AgentShare {
        index: 0,
        count: 2,
        rate_fraction: 0.5,
        seq_base: 0,
    };
    assert!(cap.check_rate(&plan_with(rate(200.0)), &half).is_ok());
    let ramp = Load::Ramp {
        from: 10.0,
        to: 300.0,
        duration_us: 1_000_000,
    };
    assert!(cap.check_rate(&plan_with(ramp), &solo).is_err());
    let users = Load::Users {
        users: 1,
        duration_us: 1_000_000,
        think: ptl_bytecode::plan::Think::NONE,
    };
    assert!(matches!(
        cap.check_rate(&plan_with(users), &solo),
        Err(Refusal::ClosedLoop { .. })
    ));
    assert!(TargetPolicy::default()
        .check_rate(&plan_with(rate(1e9)), &solo)
        .is_ok());
}

#[test]
fn plan_targets_default_the_port_by_scheme() {
    let mut plan = plan_with(Load::Pause { duration_us: 1 });
    plan.target = "https://[::1]/base".into();
    assert_eq!(plan_targets(&plan), Ok(vec![("::1".to_string(), 443)]));
    plan.target = "http://Example.com:8080".into();
    assert_eq!(
        plan_targets(&plan),
        Ok(vec![("Example.com".to_string(), 8080)])
    );
}

#[test]
fn max_fraction_is_the_cap_over_the_plan_peak() {
    let cap = TargetPolicy::default().with_max_rate(Some(50.0));
    let plan = plan_with(Load::Ramp {
        from: 100.0,
        to: 200.0,
        duration_us: 1_000_000,
    });
    assert_eq!(cap.max_fraction(&plan), Some(0.25));
    assert_eq!(TargetPolicy::default().max_fraction(&plan), None);
    assert_eq!(
        cap.max_fraction(&plan_with(Load::Pause { duration_us: 1 })),
        None
    );
}
