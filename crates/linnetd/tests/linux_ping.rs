//! Interop with the Linux kernel: Linux pings Linnet and Linnet pings Linux, over a TAP device
//! and over AF_PACKET on a veth. Each test makes its own network namespaces and removes them
//! (and its daemon) even when it fails. Needs root, /dev/net/tun, iproute2 and iputils-ping.

mod common;

use common::{attach, linnet, ok, start_daemon, text, unique, Daemon, Reap};
use linnet_testkit::{tests, Need, NetNs};
use std::process::{Command, Stdio};

const NEEDS: &[Need] = &[Need::Netns, Need::Tun, Need::Tool("ping")];
use std::time::{Duration, Instant};

/// Both directions of ping, plus the CLI's views of what happened.
fn check_ping_both_ways(linux_ns: &NetNs, daemon: &Daemon, linnet_if: &str) {
    // Linux pings Linnet.
    let out = ok(linux_ns
        .exec(&["ping", "-c", "3", "-i", "0.2", "-W", "2", "192.0.2.2"])
        .expect("ping"));
    assert!(out.contains("3 packets transmitted, 3 received"), "{out}");
    // Linnet pings Linux.
    let out = ok(linnet(
        &daemon.socket,
        &["ping", "-c", "3", "-i", "0.2", "-W", "2", "192.0.2.1"],
    ));
    assert!(out.contains("3 packets transmitted, 3 received"), "{out}");
    assert!(
        out.contains("bytes from 192.0.2.1: icmp_seq=1 ttl=64 time="),
        "{out}"
    );
    // The CLI shows the neighbour, the counters and the addresses.
    let neigh = ok(linnet(&daemon.socket, &["ip", "neigh", "show"]));
    assert!(
        neigh
            .lines()
            .any(|l| l.starts_with(&format!("192.0.2.1 dev {linnet_if} lladdr "))),
        "{neigh}"
    );
    let stats = ok(linnet(&daemon.socket, &["netstat", "-s"]));
    assert!(stats.contains("echo requests: 3"), "{stats}");
    assert!(stats.contains("echo replies: 3"), "{stats}");
    let addr = ok(linnet(
        &daemon.socket,
        &["ip", "addr", "show", "dev", linnet_if],
    ));
    assert!(
        addr.contains("inet 192.0.2.2/24 brd 192.0.2.255 scope global"),
        "{addr}"
    );
    let link = ok(linnet(&daemon.socket, &["ip", "-s", "-j", "link", "show"]));
    let v: serde_json::Value = serde_json::from_str(&link).expect("json");
    let dev = v
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["ifname"] == linnet_if)
        .expect("interface listed, under iproute2's key");
    assert_eq!(dev["operstate"], "UP", "{dev}");
    assert_eq!(dev["link_type"], "ether", "{dev}");
    assert!(
        dev["stats64"]["rx"]["packets"].as_u64().unwrap() >= 6,
        "{dev}"
    );
    assert!(
        dev["stats64"]["tx"]["packets"].as_u64().unwrap() >= 6,
        "{dev}"
    );
    let addr = ok(linnet(
        &daemon.socket,
        &["ip", "-j", "addr", "show", linnet_if],
    ));
    let v: serde_json::Value = serde_json::from_str(&addr).expect("json");
    assert_eq!(v[0]["addr_info"][0]["local"], "192.0.2.2", "{v}");
    assert_eq!(v[0]["addr_info"][0]["prefixlen"], 24, "{v}");
    // Linux learnt Linnet's address too.
    let n = ok(linux_ns
        .exec(&["ip", "neigh", "show", "192.0.2.2"])
        .expect("ip neigh"));
    assert!(n.contains("lladdr"), "{n}");
}

fn linux_and_linnet_ping_each_other_over_tap() {
    let ns = NetNs::new("lnt-tap").expect("create namespace");
    let tap = unique("lnt");
    let daemon = start_daemon(
        None,
        &["--tap", &tap, "--addr", "192.0.2.2/24", "--echo", "7"],
    );
    attach(&ns, &tap, "192.0.2.1/24", None);
    check_ping_both_ways(&ns, &daemon, &tap);
    // A malformed command is refused with the bad word named.
    let bad = linnet(&daemon.socket, &["ip", "bogus"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("\"bogus\""));
    configure_through_the_cli(&ns, &daemon, &tap);
    echo_and_ss(&ns, &daemon);
}

/// `ip addr`, `ip link set`, `ip neigh` changes through the CLI, each checked from Linux's side
/// or in the listings, and malformed or impossible changes refused with a clear error.
fn configure_through_the_cli(ns: &NetNs, daemon: &Daemon, dev: &str) {
    let sock = &daemon.socket;
    ok(linnet(
        sock,
        &["ip", "addr", "add", "198.51.100.2/24", "dev", dev],
    ));
    ok(ns
        .exec(&["ip", "addr", "add", "198.51.100.1/24", "dev", dev])
        .unwrap());
    let out = ok(ns
        .exec(&["ping", "-c", "1", "-W", "2", "198.51.100.2"])
        .unwrap());
    assert!(out.contains("1 received"), "{out}");
    let addr = ok(linnet(sock, &["ip", "addr", "show", dev]));
    assert!(
        addr.contains("inet 198.51.100.2/24 brd 198.51.100.255"),
        "{addr}"
    );
    let routes = ok(linnet(sock, &["ip", "route", "show"]));
    assert!(
        routes.contains(&format!(
            "198.51.100.0/24 dev {dev} proto kernel scope link src 198.51.100.2"
        )),
        "{routes}"
    );
    ok(linnet(
        sock,
        &["ip", "link", "set", "dev", dev, "mtu", "1400"],
    ));
    // A new link address is announced: Linux's cache follows at once and pings still work.
    ok(linnet(
        sock,
        &[
            "ip",
            "link",
            "set",
            "dev",
            dev,
            "address",
            "02:00:5e:00:53:99",
        ],
    ));
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let n = ok(ns.exec(&["ip", "neigh", "show", "192.0.2.2"]).unwrap());
        if n.contains("lladdr 02:00:5e:00:53:99") {
            break;
        }
        assert!(Instant::now() < deadline, "Linux kept the old address: {n}");
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = ok(ns
        .exec(&["ping", "-c", "1", "-W", "2", "192.0.2.2"])
        .unwrap());
    assert!(out.contains("1 received"), "{out}");
    let link = ok(linnet(sock, &["ip", "link", "show", dev]));
    assert!(link.contains("mtu 1400"), "{link}");

    ok(linnet(sock, &["ip", "neigh", "flush", "dev", dev]));
    let neigh = ok(linnet(sock, &["ip", "neigh", "show"]));
    assert!(!neigh.contains("192.0.2.1 "), "{neigh}");
    ok(linnet(
        sock,
        &[
            "ip",
            "neigh",
            "add",
            "192.0.2.77",
            "lladdr",
            "02:00:00:00:00:77",
            "dev",
            dev,
        ],
    ));
    let neigh = ok(linnet(sock, &["ip", "neigh", "show"]));
    assert!(
        neigh.contains(&format!(
            "192.0.2.77 dev {dev} lladdr 02:00:00:00:00:77 PERMANENT"
        )),
        "{neigh}"
    );
    ok(linnet(
        sock,
        &["ip", "neigh", "del", "192.0.2.77", "dev", dev],
    ));
    assert!(!ok(linnet(sock, &["ip", "neigh", "show"])).contains("192.0.2.77"));

    for (args, says) in [
        (
            vec!["ip", "addr", "add", "192.0.2.300/24", "dev", dev],
            "192.0.2.300/24",
        ),
        (
            vec!["ip", "link", "set", "nosuch0", "up"],
            "Cannot find device \"nosuch0\"",
        ),
        (
            vec!["ip", "addr", "add", "192.0.2.2/24", "dev", dev],
            "File exists",
        ),
        (vec!["ip", "link", "set", dev, "mtu", "20"], "mtu 20"),
        (
            vec!["ip", "neigh", "del", "192.0.2.99", "dev", dev],
            "No such file",
        ),
    ] {
        let o = linnet(sock, &args);
        assert!(!o.status.success(), "{args:?} should fail: {}", text(&o));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(says), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    // Nothing half-applied: the MTU is still 1400.
    assert!(ok(linnet(sock, &["ip", "link", "show", dev])).contains("mtu 1400"));

    ok(linnet(
        sock,
        &["ip", "addr", "del", "198.51.100.2/24", "dev", dev],
    ));
    let o = ns
        .exec(&["ping", "-c", "1", "-W", "1", "198.51.100.2"])
        .unwrap();
    assert!(!o.status.success(), "the deleted address still answers");
}

/// Linux's nc talks to linnetd's echo service; `linnet ss` shows the listener and the
/// connection while it is open.
fn echo_and_ss(ns: &NetNs, daemon: &Daemon) {
    let out = ok(ns
        .exec(&["sh", "-c", "printf 'hello linnet' | nc -N -w 5 192.0.2.2 7"])
        .unwrap());
    assert_eq!(out, "hello linnet");
    let _nc = Reap(
        Command::new("ip")
            .args([
                "netns",
                "exec",
                ns.name(),
                "sh",
                "-c",
                "sleep 3 | nc -w 5 192.0.2.2 7",
            ])
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut ss;
    loop {
        ss = ok(linnet(&daemon.socket, &["ss", "-tan"]));
        if ss
            .lines()
            .any(|l| l.starts_with("ESTAB") && l.contains("192.0.2.2:7 "))
        {
            break;
        }
        assert!(Instant::now() < deadline, "no ESTAB line in ss:\n{ss}");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(ss.starts_with("State"), "{ss}");
    assert!(
        ss.lines()
            .any(|l| l.starts_with("LISTEN") && l.contains(" *:7 *:*")),
        "{ss}"
    );
    let j = ok(linnet(&daemon.socket, &["ss", "-tanij"]));
    let v: serde_json::Value = serde_json::from_str(&j).expect("json");
    let est = v
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["state"] == "ESTAB")
        .expect("ESTAB in JSON");
    assert!(est["tcp_info"]["mss"].as_u64().unwrap() > 0, "{est}");
    assert_eq!(est["local_port"], 7, "{est}");
    let n = ok(linnet(&daemon.socket, &["netstat", "-tan"]));
    assert!(
        n.lines().any(|l| l.starts_with("tcp ")
            && l.contains("192.0.2.2:7 ")
            && l.contains("ESTABLISHED")),
        "{n}"
    );
}

fn linux_and_linnet_ping_each_other_over_af_packet_on_veth() {
    let linux = NetNs::new("lnt-lx").expect("create namespace");
    let stack = NetNs::new("lnt-st").expect("create namespace");
    let (va, vb) = (unique("lva"), unique("lvb"));
    linux.add_veth(&va, &stack, &vb).expect("ip link add veth");
    linux
        .addr_up(&va, "192.0.2.1/24")
        .expect("configure namespace");
    ok(stack
        .exec(&["ip", "link", "set", &vb, "up"])
        .expect("veth up"));
    let daemon = start_daemon(Some(&stack), &["--packet", &vb, "--addr", "192.0.2.2/24"]);
    check_ping_both_ways(&linux, &daemon, &vb);
}

fn main() -> std::process::ExitCode {
    linnet_testkit::run(tests![NEEDS =>
        linux_and_linnet_ping_each_other_over_tap,
        linux_and_linnet_ping_each_other_over_af_packet_on_veth,
    ])
}
