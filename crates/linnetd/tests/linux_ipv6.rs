//! IPv6 interop with the Linux kernel (issue 18): Linux pings Linnet's global and link-local
//! addresses over a veth (Linnet on AF_PACKET), both sides resolve each other by neighbour
//! discovery and show REACHABLE, and Linnet's duplicate address detection finds an address
//! Linux already has; Linnet takes SLAAC from Linux's radvd and routes IPv6 between two
//! Linux namespaces. UDP over IPv6: Linux's socat gets its datagrams echoed by
//! `linnetd --echo` (one socket at `[::]:7` serving IPv6 and, v4-mapped, IPv4 clients).
//! Makes its own namespaces, removed even on failure; documentation prefixes only
//! (2001:db8::/32). Needs root, iproute2, iputils-ping and socat (radvd for SLAAC).

mod common;

use common::{linnet, ok, start_daemon, text, unique};
use linnet_testkit::{tests, Need, NetNs};
use std::time::{Duration, Instant};

const NEEDS: &[Need] = &[
    Need::Netns,
    Need::Tun,
    Need::Tool("ping"),
    Need::Tool("socat"),
];

/// Send `payload` from the Linux namespace to `target` (socat's address, e.g.
/// `UDP6:[2001:db8::2]:7`) and return what came back (bounded by socat's and timeout's
/// limits, so never hangs).
fn socat_udp(linux: &NetNs, target: &str, payload: &str) -> String {
    let cmd = format!("printf '%s' '{payload}' | timeout 10 socat -t 2 -T 3 - {target}");
    let out = linux.exec(&["sh", "-c", &cmd]).expect("socat");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Run `f` until it returns `Some`, at most `secs` seconds; panics with `what` otherwise.
fn until<T>(secs: u64, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out: {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `ping -6` with `args` in `ns` (bounded by its `-c` and `-W`).
fn ping6(ns: &NetNs, args: &[&str]) -> std::io::Result<std::process::Output> {
    let mut argv = vec!["ping", "-6"];
    argv.extend_from_slice(args);
    ns.exec(&argv)
}

/// The counter `name` in `linnet netstat -s` output (a `Name: value` line).
fn snmp6(stats: &str, name: &str) -> u64 {
    stats
        .lines()
        .find_map(|l| l.trim().strip_prefix(&format!("{name}: ")))
        .unwrap_or_else(|| panic!("{name} in {stats}"))
        .parse()
        .unwrap()
}

/// Linux's namespace and Linnet's (named from `ns`), joined by a veth (ends named from
/// `veths`): Linux's end up with 192.0.2.1/24, Linnet's up for its packet socket.
/// Returns (Linux, Linnet's namespace, Linux's end, Linnet's end).
fn veth_pair(ns: [&str; 2], veths: [&str; 2]) -> (NetNs, NetNs, String, String) {
    let linux = NetNs::new(ns[0]).expect("create namespace");
    let stack = NetNs::new(ns[1]).expect("create namespace");
    let (va, vb) = (unique(veths[0]), unique(veths[1]));
    linux.add_veth(&va, &stack, &vb).expect("ip link add veth");
    linux.addr_up(&va, "192.0.2.1/24").expect("configure");
    ok(stack.exec(&["ip", "link", "set", &vb, "up"]).expect("up"));
    (linux, stack, va, vb)
}

/// Add `addr` (no DAD) on `dev` in `ns`.
fn ip6_addr_add(ns: &NetNs, addr: &str, dev: &str) {
    ok(ns
        .exec(&["ip", "-6", "addr", "add", addr, "dev", dev, "nodad"])
        .expect("ip -6 addr"));
}

/// Wait up to `secs` for `dst` to answer one `ping -6` from `ns` (`what` names the wait),
/// then check that three in a row are answered; returns ping's output.
fn ping6_three(ns: &NetNs, dst: &str, secs: u64, what: &str) -> String {
    until(secs, what, || {
        let o = ping6(ns, &["-c", "1", "-W", "1", dst]).ok()?;
        o.status.success().then_some(())
    });
    let out = ok(ping6(ns, &["-c", "3", "-i", "0.2", "-W", "2", dst]).expect("ping -6"));
    assert!(out.contains("3 packets transmitted, 3 received"), "{out}");
    out
}

/// Linnet on `link` (`--packet` or `--tap` and its device) with 192.0.2.2/24 and
/// 2001:db8::2/64, echoing on port 7, for [`check_ipv6`].
fn start_echo(netns: Option<&NetNs>, link: [&str; 2]) -> common::Daemon {
    let args = [
        "--addr",
        "192.0.2.2/24",
        "--addr",
        "2001:db8::2/64",
        "--echo",
        "7",
    ];
    start_daemon(netns, &[&link[..], &args[..]].concat())
}

fn linux_pings_linnet_over_ipv6_and_both_resolve_by_ndp() {
    let (linux, stack, va, vb) = veth_pair(["l6-lx", "l6-st"], ["l6a", "l6b"]);
    ip6_addr_add(&linux, "2001:db8::1/64", &va);
    let daemon = start_echo(Some(&stack), ["--packet", &vb]);
    check_ipv6(&linux, &daemon, &va, &vb);
}

/// The same over a TAP device with offloads (virtio-net headers), as linnetd opens it.
fn linux_pings_linnet_over_ipv6_on_a_tap() {
    let linux = NetNs::new("l6-tap").expect("create namespace");
    let tap = unique("l6t");
    let daemon = start_echo(None, ["--tap", &tap]);
    common::attach(&linux, &tap, "192.0.2.1/24", None);
    ip6_addr_add(&linux, "2001:db8::1/64", &tap);
    check_ipv6(&linux, &daemon, &tap, &tap);
}

/// Ping both ways, NDP both ways, the CLI's views, DAD against Linux: Linux's interface
/// `va`, Linnet's `vb`.
fn check_ipv6(linux: &NetNs, daemon: &common::Daemon, va: &str, vb: &str) {
    let sock = &daemon.socket;
    // Linnet's DAD takes up to two seconds: until then it does not answer.
    let out = ping6_three(
        linux,
        "2001:db8::2",
        15,
        "Linnet's global address answers ping -6",
    );
    assert!(out.contains("ttl=64") || out.contains("hlim=64"), "{out}");
    // Larger than the link: Linux fragments, Linnet reassembles, and fragments its reply.
    let out = ok(ping6(
        linux,
        &[
            "-c",
            "2",
            "-i",
            "0.2",
            "-s",
            "3000",
            "-W",
            "2",
            "2001:db8::2",
        ],
    )
    .expect("ping -6 -s 3000"));
    assert!(out.contains("2 packets transmitted, 2 received"), "{out}");
    assert!(out.contains("3008 bytes from 2001:db8::2"), "{out}");
    // Linux resolved Linnet by a solicitation answered with a solicited advertisement.
    let n = ok(linux
        .exec(&["ip", "-6", "neigh", "show", "2001:db8::2"])
        .expect("ip -6 neigh"));
    assert!(n.contains("lladdr") && n.contains("REACHABLE"), "{n}");
    // Linnet's link-local address, from its own listing, answers too.
    let addrs = ok(linnet(sock, &["ip", "-6", "addr", "show"]));
    assert!(
        addrs.contains("inet6 2001:db8::2/64 scope global"),
        "{addrs}"
    );
    assert!(!addrs.contains("tentative"), "{addrs}");
    let ll = addrs
        .lines()
        .find_map(|l| {
            let l = l.trim();
            l.strip_prefix("inet6 fe80::")
                .map(|rest| format!("fe80::{}", rest.split('/').next().unwrap()))
        })
        .unwrap_or_else(|| panic!("a link-local address: {addrs}"));
    let out = ok(ping6(
        linux,
        &["-c", "2", "-i", "0.2", "-W", "2", &format!("{ll}%{va}")],
    )
    .expect("ping -6 link-local"));
    assert!(out.contains("2 packets transmitted, 2 received"), "{out}");
    // Linnet learnt Linux from its solicitation (STALE), used the entry to answer (DELAY),
    // then probed it by unicast NS: Linux's solicited NA makes it REACHABLE.
    let neigh = until(12, "Linnet's entry for Linux REACHABLE", || {
        let n = ok(linnet(sock, &["ip", "-6", "neigh", "show"]));
        n.lines()
            .any(|l| l.starts_with("2001:db8::1 dev") && l.ends_with("REACHABLE"))
            .then_some(n)
    });
    assert!(
        neigh.contains(&format!("2001:db8::1 dev {vb} lladdr ")),
        "{neigh}"
    );
    let routes = ok(linnet(sock, &["ip", "-6", "route", "show"]));
    assert!(
        routes.contains(&format!("2001:db8::/64 dev {vb} proto kernel metric 256")),
        "{routes}"
    );
    assert!(
        routes.contains(&format!("fe80::/64 dev {vb} proto kernel")),
        "{routes}"
    );
    let stats = ok(linnet(sock, &["netstat", "-s"]));
    let counter = |name: &str| snmp6(&stats, name);
    // 3 + 2 + 2 echoes, and at least one while waiting for DAD to end.
    assert!(counter("Icmp6InEchos") >= 8, "{stats}");
    assert_eq!(counter("Ip6ReasmOKs"), 2, "{stats}");
    assert_eq!(counter("Ip6FragOKs"), 2, "{stats}");
    assert_eq!(
        counter("Icmp6InEchos"),
        counter("Icmp6OutEchoReplies"),
        "{stats}"
    );
    assert!(counter("Icmp6InNeighborSolicits") >= 1, "{stats}");
    assert!(
        counter("Icmp6OutNeighborSolicits") >= 3,
        "DAD x2 and the probe: {stats}"
    );
    assert!(counter("Icmp6OutMLDv2Reports") >= 1, "{stats}");
    // UDP over IPv6: socat's datagram comes back byte for byte from [::]:7, and an IPv4
    // client reaches the same socket (as ::ffff:192.0.2.1).
    let payload: String = (0..200).map(|i| format!("{i:x}-")).collect();
    let back = socat_udp(linux, "UDP6:[2001:db8::2]:7", &payload);
    assert_eq!(back, payload, "UDP6 echo");
    let back = socat_udp(linux, "UDP4:192.0.2.2:7", "over v4");
    assert_eq!(back, "over v4", "UDP4 echo from the [::] socket");
    let stats = ok(linnet(sock, &["netstat", "-s"]));
    let counter = |name: &str| snmp6(&stats, name);
    assert_eq!(counter("Udp6InDatagrams"), 1, "{stats}");
    assert_eq!(counter("Udp6OutDatagrams"), 1, "{stats}");
    assert_eq!(counter("Udp6InCsumErrors"), 0, "{stats}");
    let ss = ok(linnet(sock, &["ss", "-uan"]));
    // A dual-stack socket at [::] is `*:7 *:*`, as Linux's ss prints it.
    assert!(ss.contains(" *:7 *:*"), "{ss}");
    // Linnet pings Linux: an address it has never seen is resolved by a multicast
    // solicitation to its solicited-node group, answered by Linux (INCOMPLETE → REACHABLE).
    ip6_addr_add(linux, "2001:db8::3/64", va);
    let out = ok(linnet(
        sock,
        &["ping", "-c", "3", "-i", "0.2", "-W", "2", "2001:db8::3"],
    ));
    assert!(out.contains("3 packets transmitted, 3 received"), "{out}");
    assert!(
        out.contains("bytes from 2001:db8::3: icmp_seq=1 ttl=64 time="),
        "{out}"
    );
    let neigh = ok(linnet(sock, &["ip", "-6", "neigh", "show"]));
    assert!(
        neigh
            .lines()
            .any(|l| l.starts_with(&format!("2001:db8::3 dev {vb} lladdr "))
                && l.ends_with("REACHABLE")),
        "{neigh}"
    );
    // And Linux's link-local address, through the interface named after `%`.
    let lx_ll = ok(linux
        .exec(&["ip", "-6", "-o", "addr", "show", "dev", va, "scope", "link"])
        .expect("ip -6 addr"));
    let lx_ll = lx_ll
        .split_whitespace()
        .skip_while(|w| *w != "inet6")
        .nth(1)
        .and_then(|a| a.split('/').next())
        .unwrap_or_else(|| panic!("Linux's link-local address: {lx_ll}"))
        .to_string();
    let out = ok(linnet(
        sock,
        &[
            "ping",
            "-c",
            "2",
            "-i",
            "0.2",
            "-W",
            "2",
            &format!("{lx_ll}%{vb}"),
        ],
    ));
    assert!(out.contains("2 packets transmitted, 2 received"), "{out}");
    // Duplicate address detection against Linux: Linnet tries Linux's own address; Linux
    // defends it with an advertisement and Linnet marks it failed.
    ok(linnet(
        sock,
        &["ip", "-6", "addr", "add", "2001:db8::1/64", "dev", vb],
    ));
    until(10, "Linnet's DAD fails for Linux's address", || {
        let a = ok(linnet(sock, &["ip", "-6", "addr", "show"]));
        a.lines()
            .any(|l| l.contains("inet6 2001:db8::1/64") && l.contains("dadfailed"))
            .then_some(())
    });
    // Linux still reaches its own address's owner (itself) and Linnet's.
    let out = ok(ping6(linux, &["-c", "1", "-W", "2", "2001:db8::2"]).expect("ping -6"));
    assert!(out.contains("1 received"), "{out}");
}

/// SLAAC from a Linux router: radvd in Linux's namespace advertises 2001:db8:5::/64; Linnet
/// solicits, forms its EUI-64 address there, installs the default route through Linux's
/// link-local address, and Linux reaches the new address.
fn linnet_configures_itself_from_linux_radvd() {
    let (linux, stack, va, vb) = veth_pair(["l6-ra", "l6-rs"], ["l6r", "l6s"]);
    ok(linux
        .exec(&["sysctl", "-qw", "net.ipv6.conf.all.forwarding=1"])
        .expect("sysctl"));
    // The router's own address in the prefix it advertises (radvd does not add it).
    ip6_addr_add(&linux, "2001:db8:5::1/64", &va);
    // Linux's link-local address must be ready before radvd can speak from it.
    until(10, "Linux's link-local address", || {
        let o = ok(linux
            .exec(&[
                "ip", "-6", "-o", "addr", "show", "dev", &va, "scope", "link",
            ])
            .expect("ip -6 addr"));
        (o.contains("fe80::") && !o.contains("tentative")).then_some(())
    });
    let dir = std::env::temp_dir();
    let conf = dir.join(format!("{}.conf", unique("radvd")));
    let pid = dir.join(format!("{}.pid", unique("radvd")));
    std::fs::write(
        &conf,
        format!(
            "interface {va} {{\n  AdvSendAdvert on;\n  MinRtrAdvInterval 3;\n  MaxRtrAdvInterval 4;\n  prefix 2001:db8:5::/64 {{ AdvOnLink on; AdvAutonomous on; }};\n}};\n"
        ),
    )
    .expect("radvd config");
    struct Rm(std::path::PathBuf, std::path::PathBuf);
    impl Drop for Rm {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
            let _ = std::fs::remove_file(&self.1);
        }
    }
    let _rm = Rm(conf.clone(), pid.clone());
    let (c, p) = (conf.to_string_lossy(), pid.to_string_lossy());
    let _radvd = linnet_testkit::peer::spawn(
        &linux,
        Duration::from_secs(60),
        &["radvd", "-n", "-m", "stderr", "-C", &c, "-p", &p],
    )
    .expect("start radvd");
    let daemon = start_daemon(Some(&stack), &["--packet", &vb, "--addr", "192.0.2.2/24"]);
    let sock = &daemon.socket;
    let addr = until(20, "a SLAAC address from radvd's prefix", || {
        let a = ok(linnet(sock, &["ip", "-6", "addr", "show"]));
        a.lines()
            .find_map(|l| l.trim().strip_prefix("inet6 2001:db8:5:"))
            .filter(|_| !a.contains("tentative"))
            .map(|rest| format!("2001:db8:5:{}", rest.split('/').next().unwrap()))
    });
    let routes = ok(linnet(sock, &["ip", "-6", "route", "show"]));
    assert!(
        routes
            .lines()
            .any(|l| l.starts_with("default via fe80::") && l.contains("proto ra")),
        "{routes}"
    );
    assert!(
        routes.contains(&format!("2001:db8:5::/64 dev {vb} proto kernel")),
        "{routes}"
    );
    let addrs = ok(linnet(sock, &["ip", "-6", "addr", "show"]));
    assert!(addrs.contains("scope global dynamic"), "{addrs}");
    let out = ok(ping6(&linux, &["-c", "2", "-i", "0.2", "-W", "2", &addr]).expect("ping -6"));
    assert!(out.contains("2 packets transmitted, 2 received"), "{out}");
    let stats = ok(linnet(sock, &["netstat", "-s"]));
    assert!(
        !stats.contains("Icmp6InRouterAdvertisements: 0\n"),
        "{stats}"
    );
    // (Whether Linnet solicited depends on whether radvd's first unsolicited advertisement
    // came before Linnet's link-local address finished DAD: an RA stops soliciting.)
}

/// Linnet as an IPv6 router between two Linux namespaces (TAPs): forwarding switched on with
/// `linnet sysctl`, hop limit one lower, `ping -6 -t 1` answered with time exceeded, and a
/// datagram too big for B's side answered with packet too big (Linnet does not fragment).
fn linnet_routes_ipv6_between_two_linux_hosts() {
    let (a, b, ta, tb) = common::two_namespaces(["l6-fa", "l6-fb"], ["l6x", "l6y"]);
    let daemon = common::start_between(
        &ta,
        &tb,
        &[
            "--addr",
            &format!("{ta}=2001:db8:1::2/64"),
            "--addr",
            &format!("{tb}=2001:db8:2::2/64"),
        ],
    );
    let sock = &daemon.socket;
    ok(linnet(
        sock,
        &["sysctl", "-w", "net.ipv6.conf.all.forwarding=1"],
    ));
    common::attach(&a, &ta, "192.0.2.1/24", None);
    common::attach(&b, &tb, "198.51.100.1/24", None);
    for (ns, dev, addr, gw) in [
        (&a, &ta, "2001:db8:1::1/64", "2001:db8:1::2"),
        (&b, &tb, "2001:db8:2::1/64", "2001:db8:2::2"),
    ] {
        ip6_addr_add(ns, addr, dev);
        ok(ns
            .exec(&["ip", "-6", "route", "add", "default", "via", gw, "dev", dev])
            .expect("ip -6 route"));
    }
    let out = ping6_three(&a, "2001:db8:2::1", 15, "B reachable through Linnet");
    assert!(out.contains("ttl=63") || out.contains("hlim=63"), "{out}");
    let out = ok(ping6(&b, &["-c", "1", "-W", "2", "2001:db8:1::1"]).expect("ping -6"));
    assert!(out.contains("1 received"), "{out}");
    // Hop limit 1: Linnet's time exceeded, from its address on A's link.
    let o = ping6(&a, &["-c", "1", "-t", "1", "-W", "2", "2001:db8:2::1"]).expect("ping -6 -t 1");
    let out = text(&o);
    assert!(
        out.contains("From 2001:db8:1::2") && out.contains("Time exceeded: Hop limit"),
        "{out}"
    );
    // Too big for B's link (MTU 1400 on Linnet's side): packet too big, with the MTU.
    ok(linnet(
        sock,
        &["ip", "link", "set", "dev", &tb, "mtu", "1400"],
    ));
    let o = ping6(
        &a,
        &[
            "-c",
            "1",
            "-s",
            "1400",
            "-M",
            "do",
            "-W",
            "2",
            "2001:db8:2::1",
        ],
    )
    .expect("ping -6 -s 1400");
    let out = text(&o);
    assert!(
        out.contains("Packet too big") || out.contains("mtu=1400") || out.contains("mtu = 1400"),
        "{out}"
    );
    let stats = ok(linnet(sock, &["netstat", "-s"]));
    for name in [
        "Ip6OutForwDatagrams",
        "Icmp6OutTimeExcds",
        "Icmp6OutPktTooBigs",
    ] {
        let v = snmp6(&stats, name);
        assert!(v >= 1, "{name}: {stats}");
    }
}

const RADVD_NEEDS: &[Need] = &[Need::Netns, Need::Tool("ping"), Need::Tool("radvd")];

fn main() -> std::process::ExitCode {
    let mut t = tests![NEEDS =>
        linux_pings_linnet_over_ipv6_and_both_resolve_by_ndp,
        linux_pings_linnet_over_ipv6_on_a_tap,
        linnet_routes_ipv6_between_two_linux_hosts,
    ];
    t.extend(tests![RADVD_NEEDS => linnet_configures_itself_from_linux_radvd]);
    linnet_testkit::run(t)
}
