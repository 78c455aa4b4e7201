//! ECN between Linnet (on a TAP device) and the Linux kernel in a network namespace the test
//! creates, Linux with `net.ipv4.tcp_ecn=1`:
//! - a Linux client asks for ECN and Linnet, with Linux's default `tcp_ecn=2`, accepts: Linux's
//!   data arrives ECT(0), Linnet's ACKs leave not-ECT, `ss` shows `ecn ecnseen`;
//! - Linnet (`tcp_ecn=1`) sends to Linux through its own tbf + fq_codel, which CE-marks:
//!   Linux counts the marks (`InCEPkts`) and the ECT(0) data, echoes ECE until Linnet's CWR,
//!   and Linnet reduces its window without retransmitting.
//!
//! (This kernel has no marking qdisc, classifier or mangle target, so CE marks on the way to
//! Linnet are tested in simulation, tests/sim_cc.rs.)
//!
//! Needs root, nc and tc: reported ignored, with the reason, otherwise.

mod common;

use linnet::Host;
use linnet::TapDevice;
use linnet::TcpListener;
use linnet_testkit::{addr, peer, tests, Need, NetNs};
use linnet_tools::tc::Tc;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

/// The two tests run one at a time: each measures a transfer on the shared machine.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

const NEEDS: &[Need] = &[Need::Netns, Need::Tun, Need::Tool("nc"), Need::Tool("tc")];

/// A namespace with `tcp_ecn=1` and the Linux end of a TAP at 192.0.2.1/24, a Linnet host at
/// 192.0.2.2 with `tcp_ecn` as given (Linux's default 2 if `None`). Returns the TAP's name.
fn setup(tag: &str, linnet_ecn: Option<&str>) -> (NetNs, Host, String) {
    let tap = TapDevice::open(&linnet_testkit::proc::unique("le")).expect("tap");
    let (ns, tap) = common::linux::tap_netns(&format!("lecn{tag}"), tap);
    let name = tap.name().to_string();
    ns.exec_ok(&["sysctl", "-qw", "net.ipv4.tcp_ecn=1"])
        .unwrap();
    let host = common::linux::host_on(Box::new(tap), addr::LINNET_CIDR);
    if let Some(v) = linnet_ecn {
        host.handle
            .call(|st, _| linnet::control::sysctl::sysctl(st, "net.ipv4.tcp_ecn", Some(v)))
            .unwrap();
    }
    (ns, host, name)
}

/// A counter of Linux's `/proc/net/netstat` or `/proc/net/snmp` group `group` in `ns`.
fn linux_counter(ns: &NetNs, file: &str, group: &str, name: &str) -> u64 {
    let text = ns.exec_ok(&["cat", file]).unwrap();
    let prefix = format!("{group}:");
    let lines: Vec<&str> = text.lines().filter(|l| l.starts_with(&prefix)).collect();
    assert!(lines.len() >= 2, "no {group} in {file}");
    let names: Vec<&str> = lines[0].split_whitespace().collect();
    let values: Vec<&str> = lines[1].split_whitespace().collect();
    let i = names
        .iter()
        .position(|n| *n == name)
        .unwrap_or_else(|| panic!("no {name} in {group}"));
    values[i].parse().unwrap()
}

fn linux_client_asks_for_ecn_and_linnet_accepts_by_default() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (ns, host, _tap) = setup("a", None);
    let listener =
        TcpListener::bind(&host.handle, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 5011)).unwrap();
    let h = host.handle.clone();
    let sink = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        // Bounded: a peer that vanishes (its namespace gone) must not hang the test.
        s.set_read_timeout(Some(Duration::from_secs(30)));
        let mut buf = vec![0u8; 65536];
        let mut got = 0usize;
        while let Ok(n @ 1..) = s.read(&mut buf) {
            got += n;
        }
        // Still open on our side: what ss shows for it.
        let info = h
            .call(|st, _| st.sockets_info())
            .unwrap()
            .into_iter()
            .filter_map(|i| i.tcp)
            .find(|t| t.state == "CLOSE-WAIT")
            .expect("the connection in ss");
        (got, info)
    });
    let size = 4 << 20;
    let cmd = format!("head -c {size} /dev/zero | nc -N -w 20 192.0.2.2 5011");
    let out = ns.exec(&["timeout", "60", "sh", "-c", &cmd]).unwrap();
    assert!(
        out.status.success(),
        "nc: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (got, info) = sink.join().unwrap();
    assert_eq!(got, size);
    let snmp = host.handle.call(|st, _| st.snmp()).unwrap();
    let linux_ect0 = linux_counter(&ns, "/proc/net/netstat", "IpExt", "InECT0Pkts");
    println!(
        "Linux (tcp_ecn=1) → Linnet (tcp_ecn=2): Linnet ss ecn {} ecnseen {}, InECT0Pkts {}, \
         InNoECTPkts {}; Linux InECT0Pkts {linux_ect0}",
        info.ecn, info.ecn_seen, snmp.ip.in_ect0_pkts, snmp.ip.in_noect_pkts
    );
    assert!(info.ecn && info.ecn_seen, "{info:?}");
    // Linux's data segments are ECT(0); Linnet's ACKs are not.
    assert!(
        snmp.ip.in_ect0_pkts >= (size / 1448) as u64 / 2,
        "{:?}",
        snmp.ip
    );
    assert_eq!(linux_ect0, 0, "Linnet sent ECT on ACKs");
    host.stop();
}

fn linnet_sender_backs_off_on_linux_ece_through_its_own_marking_fq_codel() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (ns, host, _tap) = setup("b", Some("1"));
    // Linnet's own egress is the bottleneck; its queue stays short (TCP small queues), so
    // fq_codel marks by `ce_threshold` (packets queued over a few ms), as DCTCP setups do.
    const CE_MS: u32 = 3;
    for cmd in [
        "qdisc add dev eth0 root handle 1: tbf rate 10mbit burst 16kb limit 4mb".to_string(),
        format!("qdisc add dev eth0 parent 1:1 handle 10: fq_codel ce_threshold {CE_MS}ms"),
    ] {
        let words: Vec<String> = cmd.split_whitespace().map(String::from).collect();
        host.handle
            .call(|st, now| st.tc(&words, now))
            .unwrap()
            .unwrap_or_else(|e| panic!("tc {cmd}: {e}"));
    }
    let ce0 = linux_counter(&ns, "/proc/net/netstat", "IpExt", "InCEPkts");
    let acks0 = host.handle.call(|st, _| st.snmp().tcp.in_segs).unwrap();
    let mut nc =
        peer::nc_receive_file(&ns, "192.0.2.1", 5012, std::path::Path::new("/dev/null")).unwrap();
    let mut s = common::connect_retry(
        &host.handle,
        SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 1), 5012),
    );
    s.set_read_timeout(Some(Duration::from_secs(30)));
    let chunk = vec![0x33u8; 1 << 20];
    for _ in 0..6 {
        s.write_all(&chunk).unwrap();
    }
    s.shutdown(std::net::Shutdown::Write).unwrap();
    let mut rest = [0u8; 64];
    while s.read(&mut rest).unwrap_or(0) > 0 {}
    drop(s);
    assert!(nc.0.wait().unwrap().success());
    let ce = linux_counter(&ns, "/proc/net/netstat", "IpExt", "InCEPkts") - ce0;
    let ect0 = linux_counter(&ns, "/proc/net/netstat", "IpExt", "InECT0Pkts");
    let snmp = host.handle.call(|st, _| st.snmp()).unwrap();
    let words: Vec<String> = "qdisc show dev eth0"
        .split_whitespace()
        .map(String::from)
        .collect();
    let q = host
        .handle
        .call(|st, now| st.tc(&words, now))
        .unwrap()
        .unwrap();
    let qs = format!("{q:?}");
    let acks = snmp.tcp.in_segs - acks0;
    println!(
        "Linnet (tcp_ecn=1) → Linux, 6 MiB at 10 Mbit/s, fq_codel ce_threshold {CE_MS}ms: \
         Linux InCEPkts {ce}, InECT0Pkts {ect0}; Linnet: {} ECE of {acks} ACKs, {} window \
         reductions, {} retransmitted",
        snmp.tcp.ecn_ece_rcvd, snmp.tcp.ecn_cwr, snmp.tcp.retrans_segs
    );
    // Every data segment left ECT(0); some were marked CE on the way.
    assert!(ect0 + ce > 4000, "Linnet's data is not ECT at Linux");
    assert!(ce > 0, "no CE mark reached Linux: {qs}");
    assert!(
        snmp.tcp.ecn_ece_rcvd > 0 && snmp.tcp.ecn_cwr > 0,
        "Linux's ECE not acted on"
    );
    // Linux stops echoing once our CWR arrives: ECE is on a minority of its ACKs.
    assert!(
        snmp.tcp.ecn_ece_rcvd * 2 < acks,
        "ECE on {} of {acks} ACKs",
        snmp.tcp.ecn_ece_rcvd
    );
    assert!(
        snmp.tcp.retrans_segs <= 2,
        "retransmitted {}",
        snmp.tcp.retrans_segs
    );
    host.stop();
}

fn main() -> std::process::ExitCode {
    linnet_testkit::run(tests![NEEDS =>
        linux_client_asks_for_ecn_and_linnet_accepts_by_default,
        linnet_sender_backs_off_on_linux_ece_through_its_own_marking_fq_codel,
    ])
}
