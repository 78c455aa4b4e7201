//! A device that is full refuses frames rather than drop them, and TCP delivers through it
//! without a loss, a retransmission or a timeout, as Linux's does: the driver stops its queue
//! (`NETDEV_TX_BUSY`, `dev_requeue_skb`), the qdisc holds the refused frame, and TCP Small
//! Queues keeps the rest in the socket. The same link dropping instead (a TAP's ring fed
//! through a qdisc, whose overflow nobody reports) costs the sender retransmissions.

mod common;
use common::{pattern, transfer};

use linnet::driver::memlink::{LinkConfig, LinkStats};
use linnet::stats::TcpStats;
use linnet::Sim;
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
    let l = common::listen(&mut sim, 1, 5001, 4);
    let (c, s) = common::establish(&mut sim, l, SocketAddrV4::new(B, 5001));
    let data = pattern(4 << 20, 11);
    let tcp0 = sim.stack(0).snmp().tcp;
    let secs = transfer(&mut sim, c, s, &data, 60, |_| {});
    let t = sim.stack(0).snmp().tcp;
    let requeues = sim.stack(0).interfaces().map(|i| i.txq.requeues()).sum();
    Run {
        secs,
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
