//! TCP Fast Open through the daemon and the CLI: `linnet sysctl -w net.ipv4.tcp_fastopen=3`
//! turns it on for `linnetd --echo` (whose listener sets `TCP_FASTOPEN`), Linux's client
//! (Python, `sendto(MSG_FASTOPEN)`) gets a cookie and then sends its request in the SYN, and
//! `linnet netstat -s` counts it.
//! Needs root, /dev/net/tun, iproute2 and python3 (reported ignored, with the reason, otherwise).

mod common;

use common::{attach, linnet, ok, start_daemon, unique};
use linnet_testkit::{tests, Need, NetNs};

const NEEDS: &[Need] = &[Need::Netns, Need::Tun, Need::Tool("python3")];

fn linux_fastopen_client_against_linnetd_echo() {
    let ns = NetNs::new("lnt-tfo").expect("create namespace");
    let tap = unique("ltf");
    let daemon = start_daemon(
        None,
        &["--tap", &tap, "--addr", "192.0.2.2/24", "--echo", "7"],
    );
    attach(&ns, &tap, "192.0.2.1/24", None);
    ok(ns
        .exec(&["sysctl", "-qw", "net.ipv4.tcp_fastopen=1"])
        .expect("configure namespace"));
    let _ = ns.exec(&["ip", "tcp_metrics", "flush", "all"]);
    let sock = &daemon.socket;
    assert_eq!(
        ok(linnet(sock, &["sysctl", "net.ipv4.tcp_fastopen"])).trim(),
        "net.ipv4.tcp_fastopen = 1"
    );
    ok(linnet(sock, &["sysctl", "-w", "net.ipv4.tcp_fastopen=0x3"]));
    let key = "01020304-05060708-090a0b0c-0d0e0f10";
    ok(linnet(
        sock,
        &["sysctl", "-w", &format!("net.ipv4.tcp_fastopen_key={key}")],
    ));
    assert_eq!(
        ok(linnet(sock, &["sysctl", "net.ipv4.tcp_fastopen_key"])).trim(),
        format!("net.ipv4.tcp_fastopen_key = {key}")
    );
    let bad = linnet(sock, &["sysctl", "-w", "net.ipv4.tcp_fastopen_key=1-2-3"]);
    assert!(!bad.status.success());

    let script = r#"
import socket
MSG_FASTOPEN = 0x20000000
for i in (1, 2):
    s = socket.socket()
    msg = b"fast open %d\n" % i
    s.sendto(msg, MSG_FASTOPEN, ("192.0.2.2", 7))
    s.settimeout(10)
    r = b""
    while len(r) < len(msg):
        d = s.recv(100)
        if not d:
            break
        r += d
    assert r == msg, r
    s.close()
lines = [l.split() for l in open('/proc/net/netstat') if l.startswith('TcpExt:')]
m = dict(zip(lines[0][1:], lines[1][1:]))
print(m["TCPFastOpenActive"], m["TCPFastOpenActiveFail"])
"#;
    let out = ok(ns
        .exec(&["timeout", "30", "python3", "-c", script])
        .expect("python3"));
    assert_eq!(out.trim(), "1 0", "Linux's TCPFastOpenActive, ActiveFail");
    let stats = ok(linnet(sock, &["netstat", "-s"]));
    assert!(stats.contains("    TCPFastOpenPassive: 1\n"), "{stats}");
    assert!(stats.contains("    TCPFastOpenCookieReqd: 1\n"), "{stats}");
    assert!(!stats.contains("TCPFastOpenPassiveFail"), "{stats}");
    // Linnet was not a client: its cache is empty.
    assert_eq!(ok(linnet(sock, &["ip", "tcp_metrics", "show"])), "");
}

fn main() -> std::process::ExitCode {
    linnet_testkit::run(tests![NEEDS => linux_fastopen_client_against_linnetd_echo])
}
