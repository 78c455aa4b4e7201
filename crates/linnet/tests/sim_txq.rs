//! A device that is full refuses frames rather than drop them, and TCP delivers through it
//! without a loss, a retransmission or a timeout, as Linux's does: the driver stops its queue
//! (`NETDEV_TX_BUSY`, `dev_requeue_skb`), the qdisc holds the refused frame, and TCP Small
//! Queues keeps the rest in the socket. The same link dropping instead (a TAP's ring fed
//! through a qdisc, whose overflow nobody reports) costs the sender retransmissions.

mod common;
use common::pattern;

use linnet::device::memlink::{LinkConfig, LinkStats};
use linnet::errno::Errno;
use linnet::sim::Sim;
use linnet::socket::{MsgFlags, Shutdown, SockType};
use linnet::stats::TcpStats;
use linnet::transport::tcp::TcpState;
use linnet::{Stack, StackConfig};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

const B: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);

/// What one bulk transfer over the short-queued link did.
struct Run {
    secs: f64,
    tcp: TcpStats,
    link: LinkStats,
    requeues: u64,
}

/// 4 MiB from stack 0 to stack 1 over a 100 Mbit/s, 1 ms link whose transmit queue holds
/// only 32 frames (a device ring much shorter than a cwnd that slow start reaches), with or
/// without `backpressure`; HyStart off, so slow start runs into the full device.
fn bulk(backpressure: bool) -> Run {
    let mut sim = Sim::new();
    for seed in [1, 2] {
        let mut stack = Stack::new(StackConfig {
            seed,
            ..StackConfig::default()
        });
        stack.tcp_config_mut().hystart = false;
        sim.add_stack(stack);
    }
    sim.connect(
        0,
        1,
        LinkConfig {
            delay: Duration::from_millis(1),
            rate_bps: 100_000_000,
            queue_limit: 32,
            backpressure,
            seed: 7,
            ..LinkConfig::default()
        },
        "192.0.2.1/24".parse().unwrap(),
        "192.0.2.2/24".parse().unwrap(),
    );
    sim.advance(Duration::from_millis(100));
    let l = sim.stack(1).socket(SockType::Stream).unwrap();
    sim.stack(1)
        .bind(l, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 5001))
        .unwrap();
    sim.stack(1).listen(l, 4).unwrap();
    let now = sim.now();
    let c = sim.stack(0).socket(SockType::Stream).unwrap();
    assert_eq!(
        sim.stack(0).connect(c, SocketAddrV4::new(B, 5001), now),
        Err(Errno::EINPROGRESS)
    );
    let mut server = None;
    let until = sim.now() + Duration::from_secs(10);
    assert!(sim.run_until_cond(until, |sim| {
        server = server.or_else(|| sim.stack(1).accept(l).ok().map(|(s, _)| s));
        server.is_some() && sim.stack(0).tcp_state(c) == Some(TcpState::Established)
    }));
    let s = server.unwrap();
    let data = pattern(4 << 20, 11);
    let tcp0 = sim.stack(0).snmp().tcp;
    let start = sim.now();
    let (mut sent, mut closed, mut eof) = (0, false, false);
    let mut got = Vec::with_capacity(data.len());
    let mut buf = vec![0u8; 65536];
    let until = sim.now() + Duration::from_secs(60);
    sim.run_until_cond(until, |sim| {
        let now = sim.now();
        while sent < data.len() {
            match sim.stack(0).send(c, &data[sent..], now) {
                Ok(n) => sent += n,
                Err(Errno::EAGAIN) => break,
                Err(e) => panic!("send: {e}"),
            }
        }
        if sent == data.len() && !closed {
            sim.stack(0).shutdown(c, Shutdown::Write, now).unwrap();
            closed = true;
        }
        loop {
            match sim.stack(1).recv(s, &mut buf, MsgFlags::default(), now) {
                Ok(0) => {
                    eof = true;
                    break;
                }
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(Errno::EAGAIN) => break,
                Err(e) => panic!("recv: {e}"),
            }
        }
        eof
    });
    assert!(eof, "no EOF after {} of {} bytes", got.len(), data.len());
    assert!(got == data, "data corrupted");
    let t = sim.stack(0).snmp().tcp;
    let requeues = sim.stack(0).interfaces().map(|i| i.txq.requeues()).sum();
    Run {
        secs: sim.now().saturating_since(start).as_secs_f64(),
        tcp: TcpStats {
            retrans_segs: t.retrans_segs - tcp0.retrans_segs,
            timeouts: t.timeouts - tcp0.timeouts,
            ..t
        },
        link: sim.link_stats(0),
        requeues,
    }
}

#[test]
fn a_full_device_holds_tcp_back_without_a_loss() {
    let r = bulk(true);
    let mbit = (4 << 20) as f64 * 8.0 / r.secs / 1e6;
    eprintln!(
        "backpressure: {:.3} s ({mbit:.0} Mbit/s), {} retransmitted, {} RTOs, {} refused, {} requeued, {} overflowed",
        r.secs, r.tcp.retrans_segs, r.tcp.timeouts, r.link.refused, r.requeues, r.link.overflow
    );
    // The device was full again and again...
    assert!(r.link.refused > 10, "the device never refused a frame");
    assert_eq!(r.requeues, r.link.refused, "every refused frame was kept");
    // ... and nothing was lost for it: no retransmission, no timeout.
    assert_eq!(r.link.overflow, 0);
    assert_eq!(r.tcp.retrans_segs, 0, "retransmissions");
    assert_eq!(r.tcp.timeouts, 0, "RTOs");
    // The link stayed busy: within 15% of its 100 Mbit/s (headers take ~3%).
    assert!(mbit > 85.0, "{mbit:.1} Mbit/s");
}

#[test]
fn the_same_device_dropping_instead_costs_retransmissions() {
    // The contrast that makes the test above mean something: a full device that drops (a
    // TAP's ring behind a qdisc) makes TCP repair losses it caused itself.
    let r = bulk(false);
    eprintln!(
        "tail drop: {:.3} s, {} retransmitted, {} RTOs, {} overflowed",
        r.secs, r.tcp.retrans_segs, r.tcp.timeouts, r.link.overflow
    );
    assert!(r.link.overflow > 0);
    assert!(r.tcp.retrans_segs > 0);
    assert_eq!(r.requeues, 0);
}
