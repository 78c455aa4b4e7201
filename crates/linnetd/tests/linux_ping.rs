//! Interop with the Linux kernel: Linux pings Linnet and Linnet pings Linux, over a TAP device
//! and over AF_PACKET on a veth. Each test makes its own network namespaces and removes them
//! (and its daemon) even when it fails. Needs root, /dev/net/tun, iproute2 and iputils-ping.

use linnet::netns::NetNs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

static COUNTER: AtomicU32 = AtomicU32::new(0);

fn unique(prefix: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    // Interface names are at most 15 bytes.
    format!("{prefix}{}x{n}", std::process::id() % 100_000)
}

/// The daemon, killed on drop.
struct Daemon {
    child: Child,
    socket: PathBuf,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.socket);
    }
}

fn bin(name: &str) -> PathBuf {
    // Integration tests get linnetd's path; the CLI is built beside it by the workspace.
    let daemon = PathBuf::from(env!("CARGO_BIN_EXE_linnetd"));
    if name == "linnetd" {
        return daemon;
    }
    let p = daemon.with_file_name(name);
    assert!(
        p.exists(),
        "{} not built: run the tests with `cargo test --workspace`",
        p.display()
    );
    p
}

/// Start linnetd with `args` (optionally inside a namespace) and wait for its ready line.
fn start_daemon(netns: Option<&NetNs>, args: &[&str]) -> Daemon {
    let socket = std::env::temp_dir().join(format!("{}.sock", unique("linnetd-test-")));
    let mut cmd = match netns {
        Some(ns) => {
            let mut c = Command::new("ip");
            c.args(["netns", "exec", ns.name()]).arg(bin("linnetd"));
            c
        }
        None => Command::new(bin("linnetd")),
    };
    cmd.args(args)
        .arg("--control")
        .arg(&socket)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let mut child = cmd.spawn().expect("spawn linnetd");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let daemon = Daemon { child, socket };
    let line = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("linnetd did not report ready within 10 s");
    assert!(
        line.starts_with("linnetd: "),
        "unexpected first line: {line:?}"
    );
    daemon
}

fn linnet(socket: &Path, args: &[&str]) -> Output {
    Command::new(bin("linnet"))
        .arg("--socket")
        .arg(socket)
        .args(args)
        .output()
        .expect("run linnet")
}

fn text(o: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn ok(o: Output) -> String {
    assert!(o.status.success(), "{}", text(&o));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn wait_for_link(name: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !Path::new("/sys/class/net").join(name).exists() {
        assert!(Instant::now() < deadline, "{name} did not appear");
        std::thread::sleep(Duration::from_millis(20));
    }
}

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
        .find(|l| l["name"] == linnet_if)
        .expect("interface listed");
    assert!(dev["stats"]["rx_packets"].as_u64().unwrap() >= 6, "{dev}");
    assert!(dev["stats"]["tx_packets"].as_u64().unwrap() >= 6, "{dev}");
    // Linux learnt Linnet's address too.
    let n = ok(linux_ns
        .exec(&["ip", "neigh", "show", "192.0.2.2"])
        .expect("ip neigh"));
    assert!(n.contains("lladdr"), "{n}");
}

#[test]
fn linux_and_linnet_ping_each_other_over_tap() {
    let ns = NetNs::new("lnt-tap").expect("create namespace");
    let tap = unique("lnt");
    let daemon = start_daemon(None, &["--tap", &tap, "--addr", "192.0.2.2/24"]);
    wait_for_link(&tap);
    // Move the Linux side of the TAP into the test's namespace; the daemon's fd stays valid.
    let st = Command::new("ip")
        .args(["link", "set", &tap, "netns", ns.name()])
        .status()
        .expect("ip link set netns");
    assert!(st.success());
    for cmd in [
        vec!["ip", "link", "set", "lo", "up"],
        vec!["ip", "addr", "add", "192.0.2.1/24", "dev", &tap],
        vec!["ip", "link", "set", &tap, "up"],
    ] {
        ok(ns.exec(&cmd).expect("configure namespace"));
    }
    check_ping_both_ways(&ns, &daemon, &tap);
    // A malformed command is refused with the bad word named.
    let bad = linnet(&daemon.socket, &["ip", "bogus"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("\"bogus\""));
}

#[test]
fn linux_and_linnet_ping_each_other_over_af_packet_on_veth() {
    let linux = NetNs::new("lnt-lx").expect("create namespace");
    let stack = NetNs::new("lnt-st").expect("create namespace");
    let (va, vb) = (unique("lva"), unique("lvb"));
    let st = Command::new("ip")
        .args([
            "link",
            "add",
            &va,
            "netns",
            linux.name(),
            "type",
            "veth",
            "peer",
            "name",
            &vb,
            "netns",
            stack.name(),
        ])
        .status()
        .expect("ip link add veth");
    assert!(st.success());
    for cmd in [
        vec!["ip", "link", "set", "lo", "up"],
        vec!["ip", "addr", "add", "192.0.2.1/24", "dev", &va],
        vec!["ip", "link", "set", &va, "up"],
    ] {
        ok(linux.exec(&cmd).expect("configure namespace"));
    }
    ok(stack
        .exec(&["ip", "link", "set", &vb, "up"])
        .expect("veth up"));
    let daemon = start_daemon(Some(&stack), &["--packet", &vb, "--addr", "192.0.2.2/24"]);
    check_ping_both_ways(&linux, &daemon, &vb);
}
