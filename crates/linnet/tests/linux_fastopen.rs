//! TCP Fast Open between Linnet (on a TAP device) and the Linux kernel in a namespace the
//! test creates: Linux's client (`sendto(MSG_FASTOPEN)` from Python) gets a cookie from a
//! Linnet server and then sends its request in the SYN; Linnet's client does the same against
//! a Linux server with `net.ipv4.tcp_fastopen=3`. Both sides' counters must agree that the
//! second connection carried its data in the SYN.
//! Needs root and python3: reported ignored, with the reason, otherwise.

mod common;

use linnet::Host;
use linnet::SockOpt;
use linnet::{TcpListener, TcpStream};
use linnet_testkit::addr::{LINNET, LINUX};
use linnet_testkit::{tests, Need, NetNs};
use linnet_tools::tc::Tc;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const NEEDS: &[Need] = &[Need::Netns, Need::Tun, Need::Tool("python3")];

/// A namespace with the Linux end of a TAP at 192.0.2.1/24 and a Linnet host at 192.0.2.2
/// whose `tcp_fastopen` is 3 (client and server); the namespace's Fast Open cache is empty.
fn setup(tag: &str, linux_tfo: u32) -> (NetNs, Host) {
    let (ns, host) = common::linux::tap_host(&format!("ltfo{tag}"), "lf");
    ns.exec_ok(&[
        "sysctl",
        "-qw",
        &format!("net.ipv4.tcp_fastopen={linux_tfo}"),
    ])
    .unwrap();
    let _ = ns.exec(&["ip", "tcp_metrics", "flush", "all"]);
    host.handle
        .call(|s, _| s.tcp_config_mut().fastopen = 3)
        .unwrap();
    (ns, host)
}

/// A background process in the namespace, killed if the test ends early.
struct Reap(Option<Child>);

impl Drop for Reap {
    fn drop(&mut self) {
        if let Some(c) = self.0.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Python that prints the namespace's `TcpExt` counter `name` (from /proc/net/netstat).
const NETSTAT_PY: &str = r#"
def tcpext(name):
    lines = [l.split() for l in open('/proc/net/netstat') if l.startswith('TcpExt:')]
    return int(dict(zip(lines[0][1:], lines[1][1:]))[name])
"#;

fn linux_client_sends_its_request_in_the_syn_to_a_linnet_server() {
    let (ns, host) = setup("a", 1);
    let listener =
        TcpListener::bind(&host.handle, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 80)).unwrap();
    let lid = listener.id();
    host.handle
        .call(|s, now| s.setsockopt(lid, SockOpt::FastOpen(16), now))
        .unwrap()
        .unwrap();
    let h = host.handle.clone();
    let server = std::thread::spawn(move || {
        let mut syn_data = Vec::new();
        for _ in 0..2 {
            let (mut s, _) = listener.accept().unwrap();
            let id = s.id();
            syn_data.push(h.call(|st, _| st.tcp_info(id).unwrap().syn_data).unwrap());
            let mut req = Vec::new();
            let mut buf = [0u8; 256];
            while !req.ends_with(b"\n") {
                let n = s.read(&mut buf).unwrap();
                assert!(n > 0, "client closed early");
                req.extend_from_slice(&buf[..n]);
            }
            s.write_all(b"ok ").unwrap();
            s.write_all(&req).unwrap();
            s.shutdown(std::net::Shutdown::Write).unwrap();
            while s.read(&mut buf).unwrap_or(0) > 0 {}
        }
        syn_data
    });
    let script = format!(
        r#"{NETSTAT_PY}
import socket
MSG_FASTOPEN = 0x20000000
for i in (1, 2):
    s = socket.socket()
    # Blocking: without a cookie it waits for the handshake and then sends.
    s.sendto(b"request %d\n" % i, MSG_FASTOPEN, ("{LINNET}", 80))
    s.settimeout(10)
    r = b""
    while True:
        d = s.recv(100)
        if not d:
            break
        r += d
    assert r == b"ok request %d\n" % i, r
    s.close()
print(tcpext("TCPFastOpenActive"), tcpext("TCPFastOpenActiveFail"))
"#
    );
    let out = ns
        .exec(&["timeout", "30", "python3", "-c", &script])
        .unwrap();
    assert!(
        out.status.success(),
        "python: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let linux = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let syn_data = server.join().unwrap();
    let t = host.handle.call(|s, _| s.snmp().tcp).unwrap();
    eprintln!(
        "Linux TCPFastOpenActive/ActiveFail: {linux}; Linnet passive {}, cookie requests {}",
        t.fastopen_passive, t.fastopen_cookie_reqd
    );
    assert_eq!(linux, "1 0", "Linux's counters");
    assert_eq!(
        syn_data,
        [false, true],
        "the second request came in the SYN"
    );
    assert_eq!(t.fastopen_passive, 1);
    assert_eq!(t.fastopen_cookie_reqd, 1);
    assert_eq!(t.fastopen_passive_fail, 0);
}

fn linnet_client_sends_its_request_in_the_syn_to_a_linux_server() {
    let (ns, host) = setup("b", 3);
    let script = format!(
        r#"{NETSTAT_PY}
import socket, sys
TCP_FASTOPEN = 23
l = socket.socket()
l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.setsockopt(socket.IPPROTO_TCP, TCP_FASTOPEN, 16)
l.bind(("{LINUX}", 9000))
l.listen(8)
l.settimeout(20)
print("ready", flush=True)
for i in (1, 2):
    c, _ = l.accept()
    c.settimeout(10)
    r = b""
    while not r.endswith(b"\n"):
        d = c.recv(100)
        if not d:
            break
        r += d
    c.sendall(b"echo " + r)
    c.close()
print(tcpext("TCPFastOpenPassive"), tcpext("TCPFastOpenCookieReqd"), flush=True)
"#
    );
    let mut child = Command::new("ip")
        .args([
            "netns",
            "exec",
            ns.name(),
            "timeout",
            "30",
            "python3",
            "-c",
            &script,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3");
    let mut stdout = child.stdout.take().unwrap();
    let reap = Reap(Some(child));
    let mut first = [0u8; 6];
    stdout.read_exact(&mut first).expect("server ready");
    assert_eq!(&first, b"ready\n");
    let dst = SocketAddrV4::new(LINUX, 9000);
    let mut syn_data = Vec::new();
    for i in 1..=2 {
        let req = format!("request {i}\n");
        let mut s = TcpStream::connect_fastopen(&host.handle, dst, req.as_bytes()).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10)));
        let mut back = Vec::new();
        s.read_to_end(&mut back).unwrap();
        assert_eq!(back, format!("echo {req}").as_bytes());
        let id = s.id();
        syn_data.push(
            host.handle
                .call(|st, _| st.tcp_info(id).unwrap().syn_data)
                .unwrap(),
        );
    }
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    let mut reap = reap;
    let status = reap.0.take().unwrap().wait().unwrap();
    assert!(status.success(), "python server failed");
    let t = host.handle.call(|s, _| s.snmp().tcp).unwrap();
    eprintln!(
        "Linux TCPFastOpenPassive/CookieReqd: {}; Linnet active {}, active fail {}",
        rest.trim(),
        t.fastopen_active,
        t.fastopen_active_fail
    );
    assert_eq!(rest.trim(), "1 1", "Linux's counters");
    assert_eq!(syn_data, [false, true]);
    assert_eq!((t.fastopen_active, t.fastopen_active_fail), (1, 0));
    let cached = host
        .handle
        .call(|s, _| s.tcp_fastopen_cache().get(LINUX).and_then(|m| m.cookie))
        .unwrap();
    assert_eq!(cached.map(|c| c.len), Some(8), "Linux's 8-byte cookie");
}

/// The round trip saved, measured with Linux's client: Linnet's netem delays its side of the
/// TAP by 30 ms (a 30 ms round trip), and the client times a connect-then-request exchange
/// and a Fast Open one (best of three each) against the same Linnet server.
fn linux_client_measures_the_round_trip_saved() {
    let (ns, host) = setup("c", 1);
    let args: Vec<String> = "qdisc add dev eth0 root netem delay 30ms"
        .split_whitespace()
        .map(String::from)
        .collect();
    host.handle
        .call(|s, now| s.tc(&args, now).map(|_| ()))
        .unwrap()
        .unwrap();
    let listener =
        TcpListener::bind(&host.handle, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 80)).unwrap();
    let lid = listener.id();
    host.handle
        .call(|s, now| s.setsockopt(lid, SockOpt::FastOpen(16), now))
        .unwrap()
        .unwrap();
    std::thread::spawn(move || {
        for _ in 0..7 {
            let Ok((mut s, _)) = listener.accept() else {
                return;
            };
            let mut req = Vec::new();
            let mut buf = [0u8; 256];
            while !req.ends_with(b"\n") {
                match s.read(&mut buf) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => req.extend_from_slice(&buf[..n]),
                }
            }
            let _ = s.write_all(&req);
        }
    });
    let script = format!(
        r#"
import socket, time
MSG_FASTOPEN = 0x20000000
def exchange(fast):
    s = socket.socket()
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    t0 = time.monotonic()
    if fast:
        s.sendto(b"ping\n", MSG_FASTOPEN, ("{LINNET}", 80))
    else:
        s.connect(("{LINNET}", 80))
        s.sendall(b"ping\n")
    s.settimeout(10)
    r = b""
    while not r.endswith(b"\n"):
        r += s.recv(100)
    t = time.monotonic() - t0
    s.close()
    return t * 1000
exchange(True)               # fetches the cookie
plain = min(exchange(False) for _ in range(3))
fast = min(exchange(True) for _ in range(3))
print("%.1f %.1f" % (plain, fast))
"#
    );
    let out = ns
        .exec(&["timeout", "30", "python3", "-c", &script])
        .unwrap();
    assert!(
        out.status.success(),
        "python: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let v: Vec<f64> = text
        .split_whitespace()
        .map(|x| x.parse().unwrap())
        .collect();
    let (plain, fast) = (v[0], v[1]);
    eprintln!(
        "request/response over a 30 ms RTT: connect+send {plain:.1} ms, Fast Open {fast:.1} ms"
    );
    // Connect-then-send costs two round trips, Fast Open one: about 30 ms saved.
    assert!(plain >= 55.0, "{plain}");
    assert!(
        fast >= 28.0 && fast + 20.0 < plain,
        "plain {plain} ms, fast {fast} ms"
    );
}

fn main() -> std::process::ExitCode {
    linnet_testkit::run(tests![NEEDS =>
        linux_client_sends_its_request_in_the_syn_to_a_linnet_server,
        linnet_client_sends_its_request_in_the_syn_to_a_linux_server,
        linux_client_measures_the_round_trip_saved,
    ])
}
