//! Capture and trace against Linux: linnetd on a TAP serves HTTP to Linux's curl while
//! `linnet capture -w` records; tshark must decode every frame without errors and show the
//! request and the response. `linnet trace` during a Linux `nc` connect shows the passive
//! open's stages. Needs root, /dev/net/tun, iproute2, curl, netcat and tshark.

mod common;

use common::{attach, bin, linnet, ok, start_daemon, text, unique, Daemon, Reap};
use linnet_testkit::{tests, Need, NetNs};
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn setup(extra: &[&str]) -> (NetNs, Daemon, String) {
    let ns = NetNs::new("lnt-cap").expect("create namespace");
    let tap = unique("lcp");
    let mut args = vec!["--tap", tap.as_str(), "--addr", "192.0.2.2/24"];
    args.extend_from_slice(extra);
    let daemon = start_daemon(None, &args);
    attach(&ns, &tap, "192.0.2.1/24", None);
    (ns, daemon, tap)
}

/// Start a streaming `linnet` command and wait until it reports it is listening (its first
/// stderr line); the rest of stderr is collected.
fn start_stream(daemon: &Daemon, args: &[&str]) -> (Reap, std::sync::mpsc::Receiver<String>) {
    let mut child: Child = Command::new(bin("linnet"))
        .arg("--socket")
        .arg(&daemon.socket)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn linnet");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (Reap(child), rx)
}

fn wait_exit(child: &mut Child, secs: u64) -> std::process::ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(st) = child.try_wait().expect("wait") {
            return st;
        }
        assert!(Instant::now() < deadline, "linnet did not exit in {secs} s");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn interrupt(child: &mut Child) {
    // SAFETY: sending SIGINT to our own child process.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
}

fn stdout_of(child: &mut Child) -> String {
    let mut s = String::new();
    child
        .stdout
        .take()
        .expect("stdout")
        .read_to_string(&mut s)
        .expect("read stdout");
    s
}

fn first_line(rx: &std::sync::mpsc::Receiver<String>) -> String {
    rx.recv_timeout(Duration::from_secs(10))
        .expect("linnet did not start streaming")
}

fn rest(rx: &std::sync::mpsc::Receiver<String>) -> String {
    let mut v = Vec::new();
    while let Ok(l) = rx.recv_timeout(Duration::from_millis(500)) {
        v.push(l);
    }
    v.join("\n")
}

fn tshark(args: &[&str]) -> String {
    let o = Command::new("tshark")
        .args(args)
        .output()
        .expect("run tshark (apt-get install tshark)");
    assert!(o.status.success(), "tshark {args:?}: {}", text(&o));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn capture_of_an_http_exchange_decodes_in_tshark() {
    let (ns, daemon, tap) = setup(&["--http", "80"]);
    let file = std::env::temp_dir().join(format!("{}.pcapng", unique("linnet-cap-")));
    let path = file.to_str().unwrap().to_string();
    struct Rm(std::path::PathBuf);
    impl Drop for Rm {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }
    let _rm = Rm(file.clone());
    // Bad input is refused with the bad word named, and starts nothing.
    let bad = linnet(
        &daemon.socket,
        &["capture", "-i", &tap, "tcp", "and", "prot", "80"],
    );
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("\"prot\""),
        "{}",
        text(&bad)
    );
    let bad = linnet(&daemon.socket, &["capture", "-i", "nosuch0"]);
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("\"nosuch0\""),
        "{}",
        text(&bad)
    );

    let (mut cap, rx) = start_stream(
        &daemon,
        &[
            "capture", "-i", &tap, "-w", &path, "tcp", "port", "80", "or", "arp",
        ],
    );
    let l = first_line(&rx);
    assert!(l.contains("listening on"), "{l}");
    // A second capture at the same time gets its own copy of the frames.
    let (mut three, rx3) = start_stream(
        &daemon,
        &["capture", "-i", &tap, "-c", "3", "tcp", "port", "80"],
    );
    first_line(&rx3);
    let page = ok(ns
        .exec(&["curl", "-sS", "--max-time", "10", "http://192.0.2.2/"])
        .expect("curl"));
    assert!(page.contains("Hello from the Linnet stack."), "{page}");
    // Let the closing segments arrive, then Ctrl-C: the file is complete.
    std::thread::sleep(Duration::from_millis(500));
    interrupt(&mut cap.0);
    let st = wait_exit(&mut cap.0, 10);
    assert!(st.success(), "{st:?}");
    let summary = rest(&rx);
    let captured: usize = summary
        .lines()
        .find_map(|l| l.strip_suffix(" packets captured"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no count in {summary:?}"));
    assert!(summary.contains("0 packets dropped by kernel"), "{summary}");
    assert!(captured >= 8, "{captured} frames: {summary}");

    assert!(wait_exit(&mut three.0, 10).success());
    let three = stdout_of(&mut three.0);
    let flags: Vec<&str> = three
        .lines()
        .map(|l| {
            l.split("Flags [")
                .nth(1)
                .and_then(|f| f.split(']').next())
                .unwrap_or("")
        })
        .collect();
    assert_eq!(flags, ["S", "S.", "."], "{three}");
    assert!(
        three
            .lines()
            .next()
            .unwrap()
            .contains(&format!("{tap} In  IP 192.0.2.1.")),
        "{three}"
    );
    let plain = tshark(&["-r", &path]);
    assert_eq!(plain.lines().count(), captured, "{plain}");
    let verbose = tshark(&["-r", &path, "-V"]);
    assert!(!verbose.contains("Malformed"), "{verbose}");
    assert!(!verbose.contains("Expert Info (Error"), "{verbose}");
    // Both directions are marked, and the exchange is HTTP.
    assert!(verbose.contains("Direction: Inbound"), "{verbose}");
    assert!(verbose.contains("Direction: Outbound"), "{verbose}");
    let http = tshark(&["-r", &path, "-Y", "http"]);
    assert!(http.contains("GET / HTTP/1.1"), "{http}");
    assert!(http.contains("HTTP/1.1 200 OK"), "{http}");
    // Every TCP checksum we wrote is right.
    let bad_csum = tshark(&[
        "-r",
        &path,
        "-o",
        "tcp.check_checksum:TRUE",
        "-Y",
        "tcp.checksum.status == 0",
    ]);
    assert!(bad_csum.trim().is_empty(), "{bad_csum}");

    // Without -w: one tcpdump-like line per frame; -c stops by itself.
    let (mut cap, rx) = start_stream(&daemon, &["capture", "-i", &tap, "-c", "2", "icmp"]);
    first_line(&rx);
    let _ = ns.exec(&["ping", "-c", "3", "-i", "0.2", "-W", "2", "192.0.2.2"]);
    let st = wait_exit(&mut cap.0, 10);
    assert!(st.success());
    let out = stdout_of(&mut cap.0);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(
        lines[0].contains(&format!(
            "{tap} In  IP 192.0.2.1 > 192.0.2.2: ICMP echo request"
        )),
        "{out}"
    );
    assert!(
        lines[1].contains(&format!(
            "{tap} Out IP 192.0.2.2 > 192.0.2.1: ICMP echo reply"
        )),
        "{out}"
    );
    // The capture stopped with its client: another may start.
    let (mut again, rx) = start_stream(&daemon, &["capture", "-c", "1"]);
    assert!(first_line(&rx).contains("listening on any"));
    interrupt(&mut again.0);
    wait_exit(&mut again.0, 10);
}

fn trace_of_a_linux_connect_shows_the_passive_open() {
    let (ns, daemon, tap) = setup(&["--echo", "7"]);
    let (mut tr, rx) = start_stream(&daemon, &["trace", "tcp", "and", "port", "7"]);
    let l = first_line(&rx);
    assert_eq!(l, "linnet trace: following tcp and port 7");
    let out = ok(ns
        .exec(&["nc", "-z", "-w", "3", "192.0.2.2", "7"])
        .expect("nc"));
    let _ = out;
    std::thread::sleep(Duration::from_millis(500));
    interrupt(&mut tr.0);
    let st = wait_exit(&mut tr.0, 10);
    assert!(st.success(), "{st:?}");
    let out = stdout_of(&mut tr.0);
    let err = rest(&rx);
    assert!(err.contains("packets traced"), "{err}");
    let syn = out
        .lines()
        .find(|l| l.contains("LISTEN→SYN_RECV"))
        .unwrap_or_else(|| panic!("no SYN in\n{out}"));
    assert!(
        syn.contains(&format!(
            "{tap} rx → eth_type_trans → ip_rcv → ip_route_input: local → ip_local_deliver → tcp_v4_rcv: listener → tcp_rcv_state_process LISTEN→SYN_RECV"
        )),
        "{syn}"
    );
    let ack = out
        .lines()
        .find(|l| l.contains("tcp_rcv_state_process SYN_RECV→ESTABLISHED"))
        .unwrap_or_else(|| panic!("no SYN_RECV→ESTABLISHED in\n{out}"));
    assert!(ack.contains("tcp_v4_rcv: established socket"), "{ack}");
    assert!(
        out.lines().any(
            |l| l.contains("tcp_transmit_skb: S. → ip_local_out → ip_output")
                && l.contains(&format!("{tap} tx"))
        ),
        "{out}"
    );
    // One trace at a time, and the first one has stopped with its client.
    let (mut again, rx) = start_stream(&daemon, &["trace", "-c", "1", "icmp"]);
    assert!(first_line(&rx).contains("following icmp"));
    let _ = ns.exec(&["ping", "-c", "1", "-W", "2", "192.0.2.2"]);
    let st = wait_exit(&mut again.0, 10);
    assert!(st.success(), "{st:?}: {}", rest(&rx));
    let out = stdout_of(&mut again.0);
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(out.contains("icmp_rcv: echo request"), "{out}");
}

fn main() -> std::process::ExitCode {
    let base = [Need::Netns, Need::Tun, Need::Tool("ping")];
    let mut t = tests![&[&base[..], &[Need::Tool("curl"), Need::Tool("tshark")]].concat() =>
        capture_of_an_http_exchange_decodes_in_tshark,
    ];
    t.extend(tests![&[&base[..], &[Need::Tool("nc")]].concat() =>
        trace_of_a_linux_connect_shows_the_passive_open,
    ]);
    linnet_testkit::run(t)
}
