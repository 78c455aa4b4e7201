//! Netfilter against Linux peers: linnetd routes between two TAP devices, each moved into its
//! own namespace: a LAN host L (192.0.2.1/24, default route via Linnet's 192.0.2.2) and an
//! "internet" host W (198.51.100.1/24, with no route to the LAN at all). Rules are set with
//! `linnet iptables`; the checks are made with Linux's own curl and nc:
//! MASQUERADE lets L's curl reach W, which sees only Linnet's address; DNAT forwards a port
//! of Linnet to a server on L; a DROP on INPUT makes `nc -w 2` time out while an ESTABLISHED
//! connection keeps flowing; REJECT --reject-with tcp-reset gives "Connection refused".
//! Needs root, /dev/net/tun, iproute2, curl and nc (OpenBSD netcat); reported ignored, with the
//! reason, otherwise.

mod common;

use common::{attach, linnet, ok, text, unique, Reap};
use linnet_testkit::need::have;
use linnet_testkit::{peer, tests, Need, NetNs};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const NEEDS: &[Need] = &[
    Need::Netns,
    Need::Tun,
    Need::Tool("curl"),
    Need::Tool("nc"),
    Need::Tool("ping"),
];

/// A one-shot HTTP server in `ns` on `addr port` answering `body`; nc's verbose report of
/// the peer goes to `log`.
fn http_once(ns: &NetNs, addr: &str, port: u16, body: &str, log: &std::path::Path) -> Reap {
    let script = format!(
        "printf 'HTTP/1.0 200 OK\\r\\nContent-Length: {}\\r\\n\\r\\n{}' | timeout 20 nc -n -v -l -N {addr} {port} >/dev/null 2>{}",
        body.len(),
        body,
        log.display()
    );
    Reap(
        Command::new("ip")
            .args(["netns", "exec", ns.name(), "sh", "-c", &script])
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    )
}

/// curl `url` from `ns` until it works (the server may still be starting), within 10 s.
fn curl(ns: &NetNs, url: &str) -> String {
    peer::curl_retry(ns, url, Duration::from_secs(10)).unwrap_or_else(|e| panic!("{e}"))
}

fn ipt(sock: &std::path::Path, line: &str) {
    let mut args = vec!["iptables"];
    args.extend(line.split_whitespace());
    ok(linnet(sock, &args));
}

fn linnet_filters_and_nats_for_linux_hosts() {
    let (l, w, tl, tw) = common::two_namespaces(["lnf-l", "lnf-w"], ["lnl", "lnw"]);
    let daemon = common::start_between(&tl, &tw, &["--forward", "--echo", "7"]);
    attach(&l, &tl, "192.0.2.1/24", Some("192.0.2.2"));
    attach(&w, &tw, "198.51.100.1/24", None);
    let sock = &daemon.socket;
    let log_w = std::env::temp_dir().join(format!("{}.log", unique("lnf-w-")));
    let log_l = std::env::temp_dir().join(format!("{}.log", unique("lnf-l-")));
    struct Rm(Vec<std::path::PathBuf>);
    impl Drop for Rm {
        fn drop(&mut self) {
            for p in &self.0 {
                let _ = std::fs::remove_file(p);
            }
        }
    }
    let _rm = Rm(vec![log_w.clone(), log_l.clone()]);

    // --- MASQUERADE: W has no route to the LAN; with NAT, curl works and W sees Linnet. ---
    let o = l
        .exec(&[
            "curl",
            "-sS",
            "--max-time",
            "2",
            "http://198.51.100.1:8080/",
        ])
        .unwrap();
    assert!(!o.status.success(), "no NAT yet, no way back: {}", text(&o));
    ipt(
        sock,
        &format!("-t nat -A POSTROUTING -o {tw} -j MASQUERADE"),
    );
    let _srv = http_once(&w, "198.51.100.1", 8080, "hello from W\r\n", &log_w);
    assert_eq!(curl(&l, "http://198.51.100.1:8080/"), "hello from W\r\n");
    std::thread::sleep(Duration::from_millis(200));
    let seen = std::fs::read_to_string(&log_w).unwrap_or_default();
    assert!(
        seen.contains("Connection received on 198.51.100.2 "),
        "W saw: {seen:?}"
    );
    assert!(
        !seen.contains("192.0.2.1"),
        "W saw the LAN address: {seen:?}"
    );
    let ct = ok(linnet(sock, &["conntrack", "-L"]));
    assert!(
        ct.lines().any(|x| x.starts_with("tcp ")
            && x.contains("src=192.0.2.1 dst=198.51.100.1")
            && x.contains("dport=8080")
            && x.contains("src=198.51.100.1 dst=198.51.100.2")),
        "{ct}"
    );
    let nat = ok(linnet(
        sock,
        &["iptables", "-t", "nat", "-nvL", "POSTROUTING"],
    ));
    assert!(nat.contains("MASQUERADE"), "{nat}");
    // ICMP through NAT: ping works (identifier translated), and W's port unreachable for a
    // masqueraded UDP datagram comes back to L translated well enough (inner header, ICMP
    // checksum) for L's kernel to hand ECONNREFUSED to the socket.
    let out = ok(l
        .exec(&["ping", "-c", "2", "-i", "0.2", "-W", "2", "198.51.100.1"])
        .unwrap());
    assert!(out.contains("2 received"), "{out}");
    if have("python3") {
        let py = r#"
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(3)
s.connect(("198.51.100.1", 9))
s.send(b"anyone?")
try:
    s.recv(100)
    print("answer")
except ConnectionRefusedError:
    print("refused")
except socket.timeout:
    print("timeout")
"#;
        let o = l.exec(&["python3", "-c", py]).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&o.stdout).trim(),
            "refused",
            "{}",
            text(&o)
        );
    }

    // --- DNAT: port 8081 of Linnet's WAN address forwards to L's port 80. ---
    ipt(
        sock,
        &format!("-t nat -A PREROUTING -i {tw} -p tcp --dport 8081 -j DNAT --to-destination 192.0.2.1:80"),
    );
    let _srv_l = http_once(&l, "192.0.2.1", 80, "hello from L\r\n", &log_l);
    assert_eq!(curl(&w, "http://198.51.100.2:8081/"), "hello from L\r\n");
    std::thread::sleep(Duration::from_millis(200));
    let seen = std::fs::read_to_string(&log_l).unwrap_or_default();
    assert!(
        seen.contains("Connection received on 198.51.100.1 "),
        "L sees the real client: {seen:?}"
    );

    // --- DROP on INPUT: new connections time out, an established one keeps flowing. ---
    ipt(
        sock,
        "-A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT",
    );
    let mut talk = Reap(
        Command::new("ip")
            .args([
                "netns",
                "exec",
                l.name(),
                "sh",
                "-c",
                "(echo first; sleep 3; echo second; sleep 1) | timeout 15 nc -N 192.0.2.2 7",
            ])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    std::thread::sleep(Duration::from_millis(1500));
    ipt(sock, "-A INPUT -p tcp --dport 7 -j DROP");
    let t0 = Instant::now();
    let o = l.exec(&["nc", "-z", "-w", "2", "192.0.2.2", "7"]).unwrap();
    assert!(!o.status.success(), "nc should time out: {}", text(&o));
    assert!(
        t0.elapsed() >= Duration::from_millis(1900),
        "it timed out, not refused"
    );
    let out = {
        let child = &mut talk.0;
        let deadline = Instant::now() + Duration::from_secs(15);
        while child.try_wait().unwrap().is_none() {
            assert!(Instant::now() < deadline, "nc did not finish");
            std::thread::sleep(Duration::from_millis(50));
        }
        let mut s = String::new();
        use std::io::Read;
        child.stdout.take().unwrap().read_to_string(&mut s).unwrap();
        s
    };
    assert_eq!(
        out, "first\nsecond\n",
        "the established connection kept flowing"
    );
    let rules = ok(linnet(sock, &["iptables", "-S", "INPUT", "-v"]));
    assert!(
        rules
            .lines()
            .any(|x| x.starts_with("-A INPUT -p tcp -m tcp --dport 7 -c ")
                && x.ends_with(" -j DROP")
                && !x.contains("-c 0 0")),
        "{rules}"
    );

    // --- REJECT with tcp-reset: "Connection refused", from Linnet and through it. ---
    ipt(
        sock,
        "-I INPUT 1 -p tcp --dport 7 -j REJECT --reject-with tcp-reset",
    );
    let o = l
        .exec(&["nc", "-z", "-v", "-w", "2", "192.0.2.2", "7"])
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && err.contains("Connection refused"),
        "{}",
        text(&o)
    );
    ipt(
        sock,
        "-A FORWARD -p tcp --dport 8082 -j REJECT --reject-with tcp-reset",
    );
    let o = l
        .exec(&[
            "curl",
            "-sS",
            "--max-time",
            "3",
            "http://198.51.100.1:8082/",
        ])
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("Connection refused") || err.contains("Couldn't connect"),
        "{}",
        text(&o)
    );

    // Errors read like iptables's, with its exit status.
    let o = linnet(sock, &["iptables", "-A", "INPUT", "-j", "FOO"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("Couldn't load target `FOO'"),
        "{}",
        text(&o)
    );
    let o = linnet(sock, &["iptables", "-D", "NOPE", "1"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("Chain 'NOPE' does not exist"));

    // Save, flush, restore: the same rules come back.
    let saved = ok(linnet(sock, &["iptables-save"]));
    ipt(sock, "-F");
    ipt(sock, "-t nat -F");
    let mut child = Command::new(common::bin("linnet"))
        .arg("--socket")
        .arg(sock)
        .arg("iptables-restore")
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(saved.as_bytes())
            .unwrap();
    }
    assert!(child.wait().unwrap().success());
    let again = ok(linnet(sock, &["iptables-save"]));
    let strip = |s: &str| -> String {
        s.lines()
            .filter(|x| !x.starts_with(':') && !x.starts_with('#'))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(strip(&again), strip(&saved));
}

fn main() -> std::process::ExitCode {
    linnet_testkit::run(tests![NEEDS => linnet_filters_and_nats_for_linux_hosts])
}
