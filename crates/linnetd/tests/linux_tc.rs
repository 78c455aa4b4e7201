//! Traffic control against Linux: `linnet tc qdisc add dev TAP root netem delay 50ms` and the
//! RTT Linux's ping measures to Linnet rises by 50 ms ± 2 ms; the qdisc shows with its
//! counters, bad words are refused, and deleting it brings the RTT back. Needs root,
//! /dev/net/tun, iproute2 and iputils-ping; makes and removes its own namespace.

mod common;

use common::{attach, linnet, ok, start_daemon, unique};
use linnet_testkit::peer::{self, min_rtt};
use linnet_testkit::{tests, Need, NetNs};

const NEEDS: &[Need] = &[Need::Netns, Need::Tun, Need::Tool("ping")];

/// The minimum of ten RTTs: netem's delay adds to every packet, while a busy machine only
/// makes some replies late, so the minimum shows the delay and not the load.
fn ping(ns: &NetNs) -> f64 {
    let out = ok(peer::ping(ns, "192.0.2.2", 10, "0.1").expect("ping"));
    assert!(out.contains("10 packets transmitted, 10 received"), "{out}");
    min_rtt(&out)
}

fn netem_delay_on_linnet_shows_in_linux_ping_rtt() {
    let ns = NetNs::new("lnt-tc").expect("create namespace");
    let tap = unique("lnt");
    let daemon = start_daemon(None, &["--tap", &tap, "--addr", "192.0.2.2/24"]);
    attach(&ns, &tap, "192.0.2.1/24", None);
    let sock = &daemon.socket;
    // One echo first, so that neighbour resolution is not part of the base RTT.
    ok(peer::ping(&ns, "192.0.2.2", 1, "0.1").expect("ping"));
    let base = ping(&ns);
    let show = ok(linnet(sock, &["tc", "qdisc", "show", "dev", &tap]));
    assert!(show.starts_with("qdisc pfifo_fast 0: dev"), "{show}");

    ok(linnet(
        sock,
        &[
            "tc", "qdisc", "add", "dev", &tap, "root", "netem", "delay", "50ms",
        ],
    ));
    let delayed = ping(&ns);
    println!("Linux ping to Linnet: {base:.3} ms, with netem delay 50ms {delayed:.3} ms");
    let rise = delayed - base;
    assert!((48.0..=52.0).contains(&rise), "RTT rose by {rise:.3} ms");

    let stats = ok(linnet(sock, &["tc", "-s", "qdisc", "show", "dev", &tap]));
    assert!(
        stats.contains("root refcnt 2 limit 1000 delay 50ms"),
        "{stats}"
    );
    assert!(
        stats.contains(" Sent ") && stats.contains("(dropped 0, overlimits 0 requeues 0)"),
        "{stats}"
    );
    let json = ok(linnet(
        sock,
        &["tc", "-s", "-j", "qdisc", "show", "dev", &tap],
    ));
    let v: serde_json::Value = serde_json::from_str(&json).expect("json");
    assert_eq!(v[0]["kind"], "netem");
    assert!(v[0]["packets"].as_u64().unwrap() >= 10, "{v}");

    for (args, says) in [
        (
            vec![
                "tc", "qdisc", "change", "dev", &tap, "root", "netem", "delay", "5xs",
            ],
            "\"5xs\"",
        ),
        (
            vec![
                "tc", "qdisc", "add", "dev", &tap, "root", "tbf", "rate", "1mbit", "burst", "10kb",
                "latency", "50ms",
            ],
            "Exclusivity",
        ),
        (
            vec!["tc", "qdisc", "add", "dev", "nosuch0", "root", "pfifo"],
            "Cannot find device \"nosuch0\"",
        ),
    ] {
        let out = linnet(sock, &args);
        assert!(!out.status.success(), "{args:?} succeeded");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{args:?}: {err}");
    }

    ok(linnet(sock, &["tc", "qdisc", "del", "dev", &tap, "root"]));
    let after = ping(&ns);
    assert!(
        after < base + 5.0,
        "RTT after delete {after:.3} ms (base {base:.3})"
    );
}

fn main() -> std::process::ExitCode {
    linnet_testkit::run(tests![NEEDS => netem_delay_on_linnet_shows_in_linux_ping_rtt])
}
