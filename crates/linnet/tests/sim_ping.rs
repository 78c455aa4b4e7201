//! Two stacks over the in-memory link, under virtual time: ARP resolution, ping both ways,
//! loss, neighbour failure and the ICMP errors that follow.

mod common;

use linnet::link::NudState;
use linnet::stats::DropReason;
use linnet::transport::ping::PingReply;
use linnet::Instant;
use linnet::Ipv4Addr;
use linnet::LinkConfig;
use linnet::Sim;
use std::time::Duration;

const A: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const B: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);

fn pair(cfg: LinkConfig) -> (Sim, u32, u32) {
    let (mut sim, ia, ib) = common::sim_pair(cfg);
    // Let the gratuitous ARPs of address configuration land first: like Linux (without
    // arp_accept) they create no neighbour entry, so the first ping must resolve B itself.
    sim.advance(Duration::from_millis(100));
    (sim, ia, ib)
}

/// Ping `dst` from stack `from` `count` times, one per second; returns the replies.
fn ping(sim: &mut Sim, from: usize, dst: Ipv4Addr, count: u16) -> Vec<PingReply> {
    let ident = sim.stack(from).ping_open().unwrap();
    let mut replies = Vec::new();
    for seq in 1..=count {
        let now = sim.now();
        sim.stack(from)
            .ping_send(ident, dst, seq, 56, None, now)
            .unwrap();
        sim.advance(Duration::from_secs(1));
        while let Some(r) = sim.stack(from).ping_recv(ident).unwrap() {
            replies.push(r);
        }
    }
    sim.advance(Duration::from_secs(2));
    while let Some(r) = sim.stack(from).ping_recv(ident).unwrap() {
        replies.push(r);
    }
    sim.stack(from).ping_close(ident).unwrap();
    replies
}

#[test]
fn ping_both_ways_resolves_arp_and_measures_rtt() {
    let (mut sim, ia, ib) = pair(LinkConfig {
        delay: Duration::from_millis(10),
        ..LinkConfig::default()
    });
    let replies = ping(&mut sim, 0, B, 3);
    assert_eq!(replies.len(), 3, "{replies:?}");
    for (i, r) in replies.iter().enumerate() {
        assert_eq!(r.from, B);
        assert_eq!(r.seq, i as u16 + 1);
        assert_eq!(r.ttl, 64);
        assert_eq!(r.bytes, 64);
        assert!(r.error.is_none());
        // Two link crossings of 10 ms each (the first also waits for ARP: two more).
        let rtt = r.rtt.unwrap();
        let want = if i == 0 { 40 } else { 20 };
        assert_eq!(rtt, Duration::from_millis(want), "reply {i}");
    }
    // Each side learnt the other: A from B's reply (REACHABLE), B from A's request.
    assert_eq!(
        sim.stack(0).neighbours().lookup(ia, B).unwrap().0,
        NudState::Reachable
    );
    assert!(sim
        .stack(1)
        .neighbours()
        .lookup(ib, A)
        .unwrap()
        .0
        .is_valid());
    let back = ping(&mut sim, 1, A, 2);
    assert_eq!(back.len(), 2);
    let sa = sim.stack(0).snmp();
    let sb = sim.stack(1).snmp();
    assert_eq!(sa.icmp.out_echos, 3);
    assert_eq!(sa.icmp.in_echo_reps, 3);
    assert_eq!(sa.icmp.in_echos, 2);
    assert_eq!(sa.icmp.out_echo_reps, 2);
    assert_eq!(sb.icmp.in_echos, 3);
    assert_eq!(sb.icmp.out_echo_reps, 3);
    assert_eq!(sb.ip.in_delivers, 5);
    // B's gratuitous ARP at address add went out, and A's request was answered.
    assert!(sb.arp.replies_sent >= 1);
}

#[test]
fn ping_through_loss_and_reordering() {
    let (mut sim, _, _) = pair(LinkConfig {
        delay: Duration::from_millis(5),
        jitter: Duration::from_millis(3),
        loss: 0.2,
        duplicate: 0.05,
        reorder: 0.1,
        seed: 42,
        ..LinkConfig::default()
    });
    let replies = ping(&mut sim, 0, B, 200);
    let unique: std::collections::BTreeSet<u16> = replies.iter().map(|r| r.seq).collect();
    // Each echo crosses twice: P(success) = 0.8^2 = 64% (ARP losses cost a little more).
    assert!(
        (100..=150).contains(&unique.len()),
        "{} of 200 answered",
        unique.len()
    );
    assert!(replies.iter().all(|r| r.from == B && r.error.is_none()));
}

#[test]
fn ping_to_absent_host_reports_host_unreachable_after_three_arp_requests() {
    let (mut sim, ia, _) = pair(LinkConfig::default());
    let absent = Ipv4Addr::new(192, 0, 2, 99);
    let ident = sim.stack(0).ping_open().unwrap();
    sim.stack(0)
        .ping_send(ident, absent, 1, 56, None, Instant::ZERO)
        .unwrap();
    sim.advance(Duration::from_millis(2500));
    assert_eq!(
        sim.stack(0).neighbours().lookup(ia, absent).unwrap().0,
        NudState::Incomplete
    );
    sim.advance(Duration::from_millis(1000));
    assert_eq!(
        sim.stack(0).neighbours().lookup(ia, absent).unwrap().0,
        NudState::Failed
    );
    let r = sim
        .stack(0)
        .ping_recv(ident)
        .unwrap()
        .expect("an error report");
    assert_eq!(r.error, Some((3, 1)), "destination host unreachable");
    assert_eq!(r.from, A);
    let s = sim.stack(0).snmp();
    assert_eq!(s.arp.res_failed, 1);
    assert!(s.arp.requests_sent >= 3);
    assert_eq!(sim.stack(0).drops().get(DropReason::NeighFailed), 1);
}

#[test]
fn no_route_and_loopback() {
    let (mut sim, _, _) = pair(LinkConfig::default());
    let ident = sim.stack(0).ping_open().unwrap();
    let err = sim
        .stack(0)
        .ping_send(
            ident,
            Ipv4Addr::new(203, 0, 113, 5),
            1,
            56,
            None,
            Instant::ZERO,
        )
        .unwrap_err();
    assert_eq!(err, linnet::Errno::ENETUNREACH);
    assert_eq!(sim.stack(0).snmp().ip.out_no_routes, 1);
    // Pinging our own address goes over loopback.
    let replies = ping(&mut sim, 0, A, 2);
    assert_eq!(replies.len(), 2);
    assert!(replies.iter().all(|r| r.from == A));
    let replies = ping(&mut sim, 0, Ipv4Addr::LOCALHOST, 1);
    assert_eq!(replies.len(), 1);
    assert_eq!(replies[0].from, Ipv4Addr::LOCALHOST);
}

#[test]
fn same_seed_same_run() {
    let run = |seed| {
        let (mut sim, _, _) = pair(LinkConfig {
            delay: Duration::from_millis(1),
            jitter: Duration::from_millis(2),
            loss: 0.3,
            seed,
            ..LinkConfig::default()
        });
        ping(&mut sim, 0, B, 50)
            .iter()
            .map(|r| (r.seq, r.rtt))
            .collect::<Vec<_>>()
    };
    assert_eq!(run(7), run(7));
    assert_ne!(run(7), run(8));
}
