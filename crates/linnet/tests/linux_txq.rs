//! A Linnet host writing through an `AF_PACKET` socket into a TAP whose ring is nearly always
//! full (8 frames; its reader, another Linnet host, drains it in batches): Linux's driver
//! refuses the frames it has no room for (`ENOBUFS`), Linnet keeps each one at the head of its
//! device queue and retries it, and TCP delivers without a retransmission or a timeout. Before,
//! the kernel's qdisc took every frame and the TAP dropped what did not fit, silently, and
//! TCP repaired losses it had caused itself.
//!
//! Needs root and `ip netns` (reported ignored, with the reason, otherwise); one namespace
//! with a unique name, removed when the test ends, also on failure.

mod common;
use common::pattern;

use linnet::Host;
use linnet::PacketDevice;
use linnet::TapDevice;
use linnet::{TcpListener, TcpStream};
use linnet_testkit::{tests, Need, NetNs};
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

const T: Duration = Duration::from_secs(20);

const NEEDS: &[Need] = &[Need::Netns, Need::Tun];

fn a_full_tap_ring_holds_tcp_back_without_a_loss() {
    let ns = NetNs::new("lntxq").unwrap();
    // No IPv6 on the TAP: the kernel's own MLD/router solicitations would otherwise queue on
    // it and, when the ring is full, count as drops Linnet never caused.
    ns.exec_ok(&[
        "sh",
        "-c",
        "echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6",
    ])
    .unwrap();
    let name = format!("ltq{}", std::process::id() % 100_000);
    let n = name.clone();
    let tap = ns
        .run_in(move || -> std::io::Result<TapDevice> {
            let tap = TapDevice::open(&n)?;
            tap.set_link_up(true)?;
            Ok(tap)
        })
        .unwrap()
        .unwrap();
    // The TAP's ring (frames Linux hands to its reader) follows txqueuelen.
    ns.exec_ok(&["ip", "link", "set", &name, "txqueuelen", "8"])
        .unwrap();
    let n = name.clone();
    let dev = ns.run_in(move || PacketDevice::open(&n)).unwrap().unwrap();
    // R reads the TAP; C writes into it through the packet socket on its Linux end.
    let r = Host::builder()
        .device(Box::new(tap))
        .ifname("eth0")
        .addr("192.0.2.2/24".parse().unwrap())
        .seed(3)
        .spawn()
        .unwrap();
    let c = Host::builder()
        .device(Box::new(dev))
        .ifname("eth0")
        .addr("192.0.2.1/24".parse().unwrap())
        .seed(4)
        .spawn()
        .unwrap();
    // Slow start unchecked, so the sender's window runs far past the ring.
    c.handle
        .call(|s, _| s.tcp_config_mut().hystart = false)
        .unwrap();
    let dropped = || -> u64 {
        ns.exec_ok(&[
            "cat",
            &format!("/sys/class/net/{name}/statistics/tx_dropped"),
        ])
        .unwrap()
        .trim()
        .parse()
        .unwrap()
    };
    let at = SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 2), 5001);
    let mut l = TcpListener::bind(&r.handle, at).unwrap();
    l.set_nonblocking(false);
    let data = pattern(8 << 20, 5);
    let (tcp0, drops0) = (c.handle.call(|s, _| s.snmp().tcp).unwrap(), dropped());
    let got = std::thread::scope(|sc| {
        let rx = sc.spawn(|| {
            let (mut s, _) = l.accept().unwrap();
            s.set_read_timeout(Some(T));
            let mut got = Vec::with_capacity(data.len());
            s.read_to_end(&mut got).unwrap();
            got
        });
        let mut s = TcpStream::connect_timeout(&c.handle, at, Some(T)).unwrap();
        s.set_write_timeout(Some(T));
        s.write_all(&data).unwrap();
        s.shutdown(std::net::Shutdown::Write).unwrap();
        rx.join().unwrap()
    });
    assert!(
        got == data,
        "{} of {} bytes, or not the same",
        got.len(),
        data.len()
    );
    let tcp = c.handle.call(|s, _| s.snmp().tcp).unwrap();
    // A refusal reaches the stack's count at the driver loop's next round, after the TAP
    // counted it: let the last one land (bounded).
    let requeues = || -> u64 {
        c.handle
            .call(|s, _| s.interfaces().map(|i| i.txq.requeues()).sum())
            .unwrap()
    };
    let mut drops = dropped() - drops0;
    for _ in 0..100 {
        if requeues() == drops {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
        drops = dropped() - drops0;
    }
    let requeues = requeues();
    let (retrans, rtos) = (
        tcp.retrans_segs - tcp0.retrans_segs,
        tcp.timeouts - tcp0.timeouts,
    );
    eprintln!(
        "8 MiB through an 8-frame TAP ring: {requeues} frames refused and requeued, {drops} \
         counted dropped by the TAP, {retrans} retransmitted, {rtos} RTOs"
    );
    assert!(requeues > 0, "the ring was never full");
    // Every frame the TAP counted as dropped was one Linnet was told about and kept.
    assert_eq!(drops, requeues);
    assert_eq!(rtos, 0, "RTOs");
    assert_eq!(retrans, 0, "retransmissions");
    c.stop();
    r.stop();
}

fn main() -> std::process::ExitCode {
    linnet_testkit::run(tests![NEEDS => a_full_tap_ring_holds_tcp_back_without_a_loss])
}
