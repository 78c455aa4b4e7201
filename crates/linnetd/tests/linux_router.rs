//! Linnet as a router between two Linux hosts: linnetd owns two TAP devices, each moved into
//! its own namespace (host A on 192.0.2.0/24, host B on 198.51.100.0/24), with forwarding on.
//! Linux A pings and fetches a page from Linux B through Linnet; `ping -t 1` sees Linnet's
//! time-exceeded; a smaller MTU on B's side makes Linnet fragment (or refuse with
//! frag-needed when DF is set); a large UDP datagram from Linux is reassembled by Linnet and
//! echoed back; routes and rules are changed and queried with `linnet ip route|rule`.
//! Needs root, /dev/net/tun, iproute2, iputils-ping, curl and nc; reported ignored, with the
//! reason, otherwise.

mod common;

use common::{attach, linnet, ok, text, Reap};
use linnet_testkit::{tests, Need, NetNs};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const NEEDS: &[Need] = &[
    Need::Netns,
    Need::Tun,
    Need::Tool("curl"),
    Need::Tool("nc"),
    Need::Tool("ping"),
];

/// The number in front of `what` in `netstat -s` output.
fn counter(stats: &str, what: &str) -> u64 {
    stats
        .lines()
        .find_map(|l| l.trim().strip_suffix(what)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no \"{what}\" line in:\n{stats}"))
}

fn linnet_routes_between_two_linux_hosts() {
    let (a, b, ta, tb) = common::two_namespaces(["lrt-a", "lrt-b"], ["lra", "lrb"]);
    let daemon = common::start_between(&ta, &tb, &["--forward", "--echo", "7"]);
    attach(&a, &ta, "192.0.2.1/24", Some("192.0.2.2"));
    attach(&b, &tb, "198.51.100.1/24", Some("198.51.100.2"));
    let sock = &daemon.socket;

    // Ping across, both ways.
    let out = ok(a
        .exec(&["ping", "-c", "3", "-i", "0.2", "-W", "2", "198.51.100.1"])
        .unwrap());
    assert!(out.contains("3 received"), "{out}");
    // Forwarded packets have one hop less of TTL.
    assert!(out.contains("ttl=63"), "{out}");
    let out = ok(b
        .exec(&["ping", "-c", "1", "-W", "2", "192.0.2.1"])
        .unwrap());
    assert!(out.contains("1 received"), "{out}");

    // curl from A to a one-shot HTTP server on B.
    let _server = Reap(
        Command::new("ip")
            .args([
                "netns",
                "exec",
                b.name(),
                "sh",
                "-c",
                "printf 'HTTP/1.0 200 OK\\r\\nContent-Length: 14\\r\\n\\r\\nhello from B\\r\\n' \
                 | timeout 20 nc -l -N 198.51.100.1 8080",
            ])
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    let body = loop {
        let o = a
            .exec(&[
                "curl",
                "-sS",
                "--max-time",
                "5",
                "http://198.51.100.1:8080/",
            ])
            .unwrap();
        if o.status.success() {
            break String::from_utf8_lossy(&o.stdout).into_owned();
        }
        assert!(
            Instant::now() < deadline,
            "curl through Linnet: {}",
            text(&o)
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(body, "hello from B\r\n");

    // TTL 1: Linnet answers with time exceeded from its address on A's side.
    let o = a
        .exec(&["ping", "-c", "1", "-t", "1", "-W", "2", "198.51.100.1"])
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("From 192.0.2.2") && out.contains("Time to live exceeded"),
        "{}",
        text(&o)
    );

    // A smaller MTU towards B: Linnet fragments what may be fragmented...
    ok(linnet(
        sock,
        &["ip", "link", "set", "dev", &tb, "mtu", "1280"],
    ));
    let out = ok(a
        .exec(&[
            "ping",
            "-c",
            "1",
            "-W",
            "2",
            "-M",
            "dont",
            "-s",
            "1400",
            "198.51.100.1",
        ])
        .unwrap());
    assert!(out.contains("1 received"), "{out}");
    // ...and refuses what may not, telling A the next-hop MTU.
    let o = a
        .exec(&[
            "ping",
            "-c",
            "1",
            "-W",
            "2",
            "-M",
            "do",
            "-s",
            "1400",
            "198.51.100.1",
        ])
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("mtu = 1280"), "{}", text(&o));
    let stats = ok(linnet(sock, &["netstat", "-s"]));
    assert!(counter(&stats, "forwarded") >= 8, "{stats}");
    assert!(counter(&stats, "fragments created") >= 2, "{stats}");

    // A 6000-byte UDP datagram from Linux arrives in fragments; Linnet reassembles it,
    // echoes it, and Linux reassembles the echo: the bytes match.
    let o = a
        .exec(&[
            "sh",
            "-c",
            "head -c 6000 /dev/urandom > /tmp/lrt-udp.$$ && \
             timeout 5 nc -u -w 2 192.0.2.2 7 < /tmp/lrt-udp.$$ > /tmp/lrt-back.$$; \
             cmp /tmp/lrt-udp.$$ /tmp/lrt-back.$$ && echo SAME; rm -f /tmp/lrt-udp.$$ /tmp/lrt-back.$$",
        ])
        .unwrap();
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("SAME"),
        "{}",
        text(&o)
    );
    let stats = ok(linnet(sock, &["netstat", "-s"]));
    assert!(counter(&stats, "packets reassembled ok") >= 1, "{stats}");

    routes_and_rules(&a, sock, &ta, &tb);
}

/// `ip route add|get|del` and `ip rule` against the running router, each checked by what Linux
/// sees.
fn routes_and_rules(a: &NetNs, sock: &std::path::Path, ta: &str, tb: &str) {
    let get = ok(linnet(sock, &["ip", "route", "get", "198.51.100.1"]));
    assert!(
        get.starts_with(&format!("198.51.100.1 dev {tb} src 198.51.100.2")),
        "{get}"
    );
    let get = ok(linnet(
        sock,
        &[
            "ip",
            "route",
            "get",
            "198.51.100.1",
            "from",
            "192.0.2.1",
            "iif",
            ta,
        ],
    ));
    assert!(
        get.contains(&format!("dev {tb}")) && get.contains(&format!("iif {ta}")),
        "{get}"
    );
    let get = ok(linnet(sock, &["ip", "route", "get", "192.0.2.2"]));
    assert!(get.starts_with("local 192.0.2.2 dev lo"), "{get}");

    // A blackhole for B's host route: pings stop; deleting it brings them back.
    ok(linnet(
        sock,
        &["ip", "route", "add", "blackhole", "198.51.100.1/32"],
    ));
    let routes = ok(linnet(sock, &["ip", "route", "show"]));
    assert!(routes.contains("blackhole 198.51.100.1"), "{routes}");
    let o = a
        .exec(&["ping", "-c", "1", "-W", "1", "198.51.100.1"])
        .unwrap();
    assert!(
        !o.status.success(),
        "blackholed ping answered: {}",
        text(&o)
    );
    // The same route again is refused; a malformed one names its bad word.
    let o = linnet(
        sock,
        &["ip", "route", "add", "blackhole", "198.51.100.1/32"],
    );
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("File exists"),
        "{}",
        text(&o)
    );
    let o = linnet(sock, &["ip", "route", "add", "198.51.100.0/33", "dev", tb]);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("198.51.100.0/33"),
        "{}",
        text(&o)
    );
    ok(linnet(
        sock,
        &["ip", "route", "del", "blackhole", "198.51.100.1/32"],
    ));
    ok(a.exec(&["ping", "-c", "1", "-W", "2", "198.51.100.1"])
        .unwrap());

    // A policy rule: traffic from A's subnet looks up table 100, which prohibits B.
    ok(linnet(
        sock,
        &[
            "ip",
            "route",
            "add",
            "prohibit",
            "198.51.100.0/24",
            "table",
            "100",
        ],
    ));
    ok(linnet(
        sock,
        &[
            "ip",
            "rule",
            "add",
            "from",
            "192.0.2.0/24",
            "lookup",
            "100",
            "pref",
            "1000",
        ],
    ));
    let rules = ok(linnet(sock, &["ip", "rule", "show"]));
    assert!(
        rules.contains("1000:\tfrom 192.0.2.0/24 lookup 100"),
        "{rules}"
    );
    assert!(rules.contains("32766:\tfrom all lookup main"), "{rules}");
    let o = a
        .exec(&["ping", "-c", "1", "-W", "2", "198.51.100.1"])
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("Packet filtered"), "{}", text(&o));
    ok(linnet(sock, &["ip", "rule", "del", "pref", "1000"]));
    ok(a.exec(&["ping", "-c", "1", "-W", "2", "198.51.100.1"])
        .unwrap());

    // Forwarding off: the router stops routing.
    let v = ok(linnet(sock, &["sysctl", "-w", "net.ipv4.ip_forward=0"]));
    assert_eq!(v.trim(), "net.ipv4.ip_forward = 0");
    let o = a
        .exec(&["ping", "-c", "1", "-W", "1", "198.51.100.1"])
        .unwrap();
    assert!(!o.status.success(), "{}", text(&o));
    ok(linnet(sock, &["sysctl", "net.ipv4.ip_forward=1"]));
    ok(a.exec(&["ping", "-c", "1", "-W", "2", "198.51.100.1"])
        .unwrap());
}

fn main() -> std::process::ExitCode {
    linnet_testkit::run(tests![NEEDS => linnet_routes_between_two_linux_hosts])
}
