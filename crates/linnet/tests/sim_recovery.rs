//! The sender's loss recovery under virtual time (Linux's defaults: SACK, RACK-TLP, PRR,
//! F-RTO, undo): how fast losses are repaired, not only that the data arrives.
//!
//! Run with `--nocapture` to see the figures.

mod common;
use common::{pattern, transfer};

use linnet::stats::TcpStats;
use linnet::transport::tcp::TcpState;
use linnet::Errno;
use linnet::LinkConfig;
use linnet::Sim;
use linnet::{Instant, Stack, StackConfig};
use linnet::{MsgFlags, SockId, SockType};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

const B: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
const MSS: f64 = 1448.0;

fn pair(cfg: LinkConfig) -> Sim {
    pair_with(cfg, |_| {})
}

fn pair_with(cfg: LinkConfig, tweak: impl Fn(&mut StackConfig)) -> Sim {
    let mut sim = Sim::new();
    for seed in [1, 2] {
        let mut c = StackConfig {
            seed,
            ..StackConfig::default()
        };
        tweak(&mut c);
        sim.add_stack(Stack::new(c));
    }
    sim.connect(
        0,
        1,
        cfg,
        "192.0.2.1/24".parse().unwrap(),
        "192.0.2.2/24".parse().unwrap(),
    );
    sim.advance(Duration::from_millis(100));
    sim
}

/// A 20 ms RTT path at `mbit` Mbit/s with the given random loss, queue of a few BDPs.
fn path(mbit: u64, loss: f64, seed: u64) -> LinkConfig {
    LinkConfig {
        delay: Duration::from_millis(10),
        rate_bps: mbit * 1_000_000,
        loss,
        queue_limit: 200,
        seed,
        ..LinkConfig::default()
    }
}

/// Connect stack 0 to stack 1; returns (client, server).
fn establish(sim: &mut Sim) -> (SockId, SockId) {
    let l = sim.stack(1).socket(SockType::Stream).unwrap();
    sim.stack(1)
        .bind(l, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 5001))
        .unwrap();
    sim.stack(1).listen(l, 8).unwrap();
    let now = sim.now();
    let c = sim.stack(0).socket(SockType::Stream).unwrap();
    assert_eq!(
        sim.stack(0).connect(c, SocketAddrV4::new(B, 5001), now),
        Err(Errno::EINPROGRESS)
    );
    let mut server = None;
    let until = sim.now() + Duration::from_secs(30);
    let ok = sim.run_until_cond(until, |sim| {
        if server.is_none() {
            server = sim.stack(1).accept(l).ok().map(|(s, _)| s);
        }
        server.is_some() && sim.stack(0).tcp_state(c) == Some(TcpState::Established)
    });
    assert!(ok, "handshake did not complete");
    (c, server.unwrap())
}

/// (sequence number, payload length) of a TCP segment in an Ethernet frame.
fn tcp_seg(frame: &[u8]) -> Option<(u32, usize)> {
    let ip = frame.get(14..)?;
    if ip.len() < 20 || ip[9] != 6 {
        return None;
    }
    let ihl = usize::from(ip[0] & 0xf) * 4;
    let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
    let tcp = ip.get(ihl..total)?;
    let doff = usize::from(tcp.get(12)? >> 4) * 4;
    let seq = u32::from_be_bytes(tcp.get(4..8)?.try_into().ok()?);
    Some((seq, tcp.len().checked_sub(doff)?))
}

/// Drop the data segments from stack 0 whose index (0-based, in order of first
/// transmission) is in `which`, each `times` times (its first transmissions). Returns a
/// flag raised at the first drop.
fn drop_segments(sim: &mut Sim, which: Vec<u32>, times: u32) -> Arc<AtomicBool> {
    let dropped = Arc::new(AtomicBool::new(false));
    let flag = dropped.clone();
    let mut first: Option<u32> = None;
    let mut highest: u32 = 0;
    let mut targets: Vec<(u32, u32)> = Vec::new();
    let counter = Arc::new(AtomicU32::new(0));
    sim.set_drop_filter(
        0,
        Some(Box::new(move |frame| {
            let Some((seq, len)) = tcp_seg(frame) else {
                return false;
            };
            if len == 0 {
                return false;
            }
            let base = *first.get_or_insert(seq);
            let off = seq.wrapping_sub(base);
            if off >= highest || highest == 0 {
                // A first transmission: number it.
                let n = counter.fetch_add(1, Ordering::Relaxed);
                highest = off + len as u32;
                if which.contains(&n) {
                    targets.push((seq, times));
                }
            }
            if let Some(t) = targets.iter_mut().find(|t| t.0 == seq && t.1 > 0) {
                t.1 -= 1;
                flag.store(true, Ordering::Relaxed);
                return true;
            }
            false
        })),
    );
    dropped
}

fn stats(sim: &mut Sim) -> TcpStats {
    sim.stack(0).snmp().tcp
}

#[test]
fn one_lost_segment_is_repaired_by_sack_recovery_within_an_rtt_or_two() {
    // A queue deep enough that slow start loses nothing else.
    let mut sim = pair(LinkConfig {
        queue_limit: 100_000,
        ..path(100, 0.0, 1)
    });
    let (c, s) = establish(&mut sim);
    let dropped = drop_segments(&mut sim, vec![300], 1);
    let data = pattern(4 << 20, 3);
    let (mut t_drop, mut t_rtx): (Option<Instant>, Option<Instant>) = (None, None);
    let secs = transfer(&mut sim, c, s, &data, 60, |sim| {
        let now = sim.now();
        if t_drop.is_none() && dropped.load(Ordering::Relaxed) {
            t_drop = Some(now);
        }
        if t_rtx.is_none() && sim.stack(0).tcp_info(c).is_some_and(|i| i.retrans > 0) {
            t_rtx = Some(now);
        }
    });
    let t = stats(&mut sim);
    let gap = t_rtx.unwrap().saturating_since(t_drop.unwrap());
    println!(
        "one loss in 4 MiB at 100 Mbit/s, 20 ms RTT: repaired {:.1} ms after the drop, transfer {secs:.2} s, {t:?}",
        gap.as_secs_f64() * 1e3
    );
    assert_eq!(t.timeouts, 0, "an RTO fired: {t:?}");
    assert_eq!(t.sack_recovery, 1, "{t:?}");
    assert_eq!(
        t.retrans_segs, 1,
        "exactly the lost segment is resent: {t:?}"
    );
    assert!(
        gap <= Duration::from_millis(45),
        "retransmitted {gap:?} after the drop (RTT 20 ms)"
    );
}

#[test]
fn a_lost_retransmission_is_found_by_rack_without_an_rto() {
    let mut sim = pair(LinkConfig {
        queue_limit: 100_000,
        ..path(100, 0.0, 2)
    });
    let (c, s) = establish(&mut sim);
    drop_segments(&mut sim, vec![300], 2);
    let data = pattern(4 << 20, 4);
    let secs = transfer(&mut sim, c, s, &data, 60, |_| {});
    let t = stats(&mut sim);
    println!("segment and its retransmission lost: transfer {secs:.2} s, {t:?}");
    assert_eq!(t.timeouts, 0, "an RTO fired: {t:?}");
    assert!(t.lost_retransmit >= 1, "{t:?}");
    assert_eq!(t.retrans_segs, 2, "{t:?}");
}

#[test]
fn a_tail_loss_is_repaired_by_a_loss_probe_not_an_rto() {
    let mut sim = pair(path(100, 0.0, 3));
    let (c, s) = establish(&mut sim);
    // Warm up the RTT estimate, then a 30-segment message whose last 3 segments are lost.
    let warm = pattern(64 << 10, 5);
    transfer_no_close(&mut sim, c, s, &warm);
    let first = stats(&mut sim);
    let n = 30;
    let msg = pattern(n * 1448, 6);
    // Count data segments from here on.
    drop_segments(&mut sim, vec![n as u32 - 3, n as u32 - 2, n as u32 - 1], 1);
    let info = sim.stack(0).tcp_info(c).expect("tcp info");
    let rto = Duration::from_micros(info.rto_us);
    let start = sim.now();
    transfer_no_close(&mut sim, c, s, &msg);
    let took = sim.now().saturating_since(start);
    let t = stats(&mut sim);
    println!(
        "last 3 of {n} segments lost: delivered in {:.1} ms (srtt {:.1} ms, RTO {:.1} ms), probes {}, {t:?}",
        took.as_secs_f64() * 1e3,
        info.rtt_us as f64 / 1e3,
        rto.as_secs_f64() * 1e3,
        t.loss_probes - first.loss_probes
    );
    assert_eq!(t.timeouts, first.timeouts, "an RTO fired: {t:?}");
    assert!(t.loss_probes > first.loss_probes, "{t:?}");
    // The whole message, probe and repair included, takes less than the one RTO that
    // recovery by timeout would have waited before its first retransmission.
    assert!(took < rto, "tail loss took {took:?}, an RTO is {rto:?}");
}

/// Send `data` and read it all without closing.
fn transfer_no_close(sim: &mut Sim, c: SockId, s: SockId, data: &[u8]) {
    let (mut sent, mut got) = (0, 0);
    let mut buf = vec![0u8; 65536];
    let until = sim.now() + Duration::from_secs(30);
    let ok = sim.run_until_cond(until, |sim| {
        let now = sim.now();
        while sent < data.len() {
            match sim.stack(0).send(c, &data[sent..], now) {
                Ok(n) => sent += n,
                Err(_) => break,
            }
        }
        while let Ok(n) = sim.stack(1).recv(s, &mut buf, MsgFlags::default(), now) {
            if n == 0 {
                break;
            }
            assert_eq!(&buf[..n], &data[got..got + n]);
            got += n;
        }
        got == data.len()
    });
    assert!(ok, "only {got} of {} bytes arrived", data.len());
}

/// Goodput through 10 Mbit/s, 20 ms RTT with random loss `p` (both directions) against
/// the Mathis et al. bound MSS/RTT * 1.22/sqrt(p).
fn goodput_vs_mathis(p: f64, seed: u64) -> (f64, f64, TcpStats) {
    let mut sim = pair(path(10, p, seed));
    let (c, s) = establish(&mut sim);
    let data = pattern(6 << 20, seed);
    let mut info = None;
    let secs = transfer(&mut sim, c, s, &data, 300, |sim| {
        if let Some(i) = sim.stack(0).tcp_info(c) {
            info = Some(i);
        }
    });
    let goodput = data.len() as f64 * 8.0 / secs;
    let mathis = (MSS * 8.0 / 0.020 * 1.22 / p.sqrt()).min(10e6);
    let i = info.unwrap();
    println!(
        "  (loss {p}: reordering {} reord_seen {} dsack_dups {})",
        i.reordering, i.reord_seen, i.dsack_dups
    );
    (goodput, mathis, stats(&mut sim))
}

#[test]
fn goodput_with_one_percent_loss_is_near_the_mathis_bound() {
    let (g, m, t) = goodput_vs_mathis(0.01, 21);
    println!(
        "1% loss, 10 Mbit/s, 20 ms: goodput {:.2} Mbit/s, Mathis {:.2} Mbit/s ({:.0}%), RTOs {}, {t:?}",
        g / 1e6,
        m / 1e6,
        100.0 * g / m,
        t.timeouts
    );
    assert!(g >= 0.7 * m, "goodput {g:.0} < 70% of {m:.0}");
    assert!(t.timeouts <= 3, "{t:?}");
}

#[test]
fn goodput_with_five_percent_loss_is_near_the_mathis_bound() {
    let (g, m, t) = goodput_vs_mathis(0.05, 22);
    println!(
        "5% loss, 10 Mbit/s, 20 ms: goodput {:.2} Mbit/s, Mathis {:.2} Mbit/s ({:.0}%), RTOs {}, {t:?}",
        g / 1e6,
        m / 1e6,
        100.0 * g / m,
        t.timeouts
    );
    assert!(g >= 0.7 * m, "goodput {g:.0} < 70% of {m:.0}");
}

/// A 10 Mbit/s, 20 ms path that reorders (1% of frames skip the delay, 2 ms jitter on the
/// rest) but loses nothing: returns goodput, the sender's `tcp_info` and counters.
fn reordered_transfer(timestamps: bool) -> (f64, linnet::transport::tcp::TcpInfo, TcpStats) {
    let mut cfg = path(10, 0.0, 31);
    cfg.reorder = 0.01;
    cfg.jitter = Duration::from_millis(2);
    let mut sim = pair_with(cfg, |c| c.tcp.timestamps = timestamps);
    let (c, s) = establish(&mut sim);
    let data = pattern(6 << 20, 31);
    let mut info = None;
    let secs = transfer(&mut sim, c, s, &data, 300, |sim| {
        if let Some(i) = sim.stack(0).tcp_info(c) {
            info = Some(i);
        }
    });
    (
        data.len() as f64 * 8.0 / secs,
        info.unwrap(),
        stats(&mut sim),
    )
}

#[test]
fn reordering_is_undone_and_raises_the_reordering_degree() {
    for ts in [true, false] {
        let (goodput, i, t) = reordered_transfer(ts);
        println!(
            "reordering, timestamps {ts}: goodput {:.2} Mbit/s, reordering {} reord_seen {} dsack_dups {}, undo full {} partial {} dsack {} loss {}, retrans {}, RTOs {}",
            goodput / 1e6,
            i.reordering,
            i.reord_seen,
            i.dsack_dups,
            t.full_undo,
            t.partial_undo,
            t.dsack_undo,
            t.loss_undo,
            t.retrans_segs,
            t.timeouts
        );
        // Spurious retransmissions are undone: by the Eifel timestamp check when the
        // original's ACK comes first, by D-SACK when the receiver reports the duplicate
        // (without timestamps only D-SACK can tell, when the receiver sends them).
        if ts {
            assert!(
                t.full_undo + t.partial_undo + t.dsack_undo + t.loss_undo > 0,
                "no undo: {t:?}"
            );
        } else if t.dsack_recv + t.dsack_ofo_recv > 0 {
            assert!(t.dsack_undo > 0, "D-SACKs but no D-SACK undo: {t:?}");
        }
        assert!(i.reordering > 3 && i.reord_seen > 0, "{i:?}");
        assert!(t.timeouts <= 2, "{t:?}");
        assert!(goodput > 7e6, "collapsed to {goodput:.0} bit/s");
    }
}

#[test]
fn without_sack_newreno_repairs_losses_by_duplicate_acks() {
    let cfg = LinkConfig {
        queue_limit: 100_000,
        ..path(100, 0.0, 41)
    };
    let mut sim = pair_with(cfg, |c| c.tcp.sack = false);
    let (c, s) = establish(&mut sim);
    assert!(!sim.stack(0).tcp_info(c).unwrap().sack);
    // Two losses in one window: the second is repaired by the partial ACK (RFC 6582).
    drop_segments(&mut sim, vec![300, 310], 1);
    let data = pattern(4 << 20, 41);
    let secs = transfer(&mut sim, c, s, &data, 60, |_| {});
    let t = stats(&mut sim);
    println!("NewReno, two losses in a window: transfer {secs:.2} s, {t:?}");
    assert_eq!(t.timeouts, 0, "an RTO fired: {t:?}");
    assert_eq!(t.reno_recovery, 1, "{t:?}");
    assert_eq!(t.sack_recovery, 0, "{t:?}");
    assert_eq!(t.retrans_segs, 2, "{t:?}");
}

/// An ACK blackout makes the RTO fire although nothing was lost; returns the sender's
/// counters and its (cwnd before, cwnd after) in segments.
fn spurious_rto(timestamps: bool) -> (TcpStats, u32, u32) {
    let cfg = LinkConfig {
        queue_limit: 100_000,
        ..path(10, 0.0, 51)
    };
    // HyStart off: slow start fills the bottleneck's queue far beyond the blackout, so
    // original data is still being delivered after the RTO's retransmission (what F-RTO
    // tells by). With HyStart the queue drains during the blackout, the retransmission
    // arrives as a duplicate and the D-SACK undoes the RTO instead.
    let mut sim = pair_with(cfg, |c| {
        c.tcp.timestamps = timestamps;
        c.tcp.hystart = false;
    });
    let (c, s) = establish(&mut sim);
    let warm = pattern(256 << 10, 51);
    transfer_no_close(&mut sim, c, s, &warm);
    // Every ACK lost for 400 ms (the data gets through): the RTO fires although nothing
    // was lost.
    let blackout = Arc::new(AtomicBool::new(true));
    let b = blackout.clone();
    sim.set_drop_filter(1, Some(Box::new(move |_| b.load(Ordering::Relaxed))));
    let cwnd_before = sim.stack(0).tcp_info(c).unwrap().cwnd;
    let start = sim.now();
    let data = pattern(1 << 20, 52);
    let mut sent = 0;
    let mut got = 0;
    let mut buf = vec![0u8; 65536];
    let until = sim.now() + Duration::from_secs(30);
    let ok = sim.run_until_cond(until, |sim| {
        let now = sim.now();
        if now.saturating_since(start) >= Duration::from_millis(400) {
            blackout.store(false, Ordering::Relaxed);
        }
        while sent < data.len() {
            match sim.stack(0).send(c, &data[sent..], now) {
                Ok(n) => sent += n,
                Err(_) => break,
            }
        }
        while let Ok(n) = sim.stack(1).recv(s, &mut buf, MsgFlags::default(), now) {
            if n == 0 {
                break;
            }
            got += n;
        }
        got == data.len()
    });
    assert!(ok);
    let t = stats(&mut sim);
    let i = sim.stack(0).tcp_info(c).unwrap();
    (t, cwnd_before / i.mss, i.cwnd / i.mss)
}

#[test]
fn a_spurious_rto_is_undone_by_frto_or_the_timestamps() {
    // Without timestamps F-RTO (RFC 5682) tells: never-retransmitted data is acknowledged
    // after the retransmission.
    let (t, before, after) = spurious_rto(false);
    println!("ACK blackout, no timestamps: cwnd {before} -> {after} segments, {t:?}");
    assert!(t.timeouts >= 1, "{t:?}");
    assert!(t.spurious_rtos >= 1, "F-RTO did not see it: {t:?}");
    assert!(t.loss_undo >= 1, "{t:?}");
    assert!(after * 2 >= before, "the window was not restored");
    // With timestamps the first ACK echoes a TSval older than the retransmission (Eifel,
    // RFC 3522): undone at once.
    let (t, before, after) = spurious_rto(true);
    println!("ACK blackout, timestamps: cwnd {before} -> {after} segments, {t:?}");
    assert!(t.timeouts >= 1, "{t:?}");
    assert!(t.loss_undo >= 1, "{t:?}");
    assert!(after * 2 >= before, "the window was not restored");
}

/// Drop `percent`% of the data segments stack 0 sends (a seeded xorshift), none of the
/// ACKs: the rig's "loss on data" rows.
fn lose_data(sim: &mut Sim, percent: u64, seed: u64) {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    sim.set_drop_filter(
        0,
        Some(Box::new(move |frame| {
            if tcp_seg(frame).is_none_or(|(_, len)| len == 0) {
                return false;
            }
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % 100 < percent
        })),
    );
}

#[test]
fn goodput_at_one_gigabit_and_a_short_rtt_with_five_percent_loss() {
    // A LAN-like path (1 Gbit/s, 1 ms RTT) as in the impairment rig of issue 14, with 5% of
    // the data segments lost (its "loss 5% on data" rows; the ACKs arrive). The receiver
    // holds SACKs back as Linux's does (SACK compression). With 5% of the ACKs lost as well,
    // a lost ACK that stood for several held SACKs more often leaves this sender with no
    // ACK clock after a retransmission: 53 RTOs over six seeds against 11 with every SACK
    // sent at once (2026-12-07), Linux's receiver doing the same.
    let cfg = LinkConfig {
        delay: Duration::from_micros(500),
        rate_bps: 1_000_000_000,
        queue_limit: 1000,
        seed: 61,
        ..LinkConfig::default()
    };
    let mut sim = pair(cfg);
    let (c, s) = establish(&mut sim);
    lose_data(&mut sim, 5, 61);
    let data = pattern(16 << 20, 61);
    let secs = transfer(&mut sim, c, s, &data, 300, |_| {});
    let t = stats(&mut sim);
    let goodput = data.len() as f64 * 8.0 / secs;
    let mathis = MSS * 8.0 / 0.001 * 1.22 / 0.05f64.sqrt();
    println!(
        "5% loss, 1 Gbit/s, 1 ms: goodput {:.1} Mbit/s, Mathis {:.1} Mbit/s ({:.0}%), RTOs {}, probes {}, {t:?}",
        goodput / 1e6,
        mathis / 1e6,
        100.0 * goodput / mathis,
        t.timeouts,
        t.loss_probes
    );
    // At a 1 ms RTT each RTO (200 ms minimum, as Linux's) costs 200 round trips, so the
    // few left (a Disorder-state tail, a spurious one after lost ACKs) weigh: the bound
    // here is looser than at 20 ms.
    assert!(
        goodput >= 0.5 * mathis,
        "goodput {goodput:.0} < 50% of {mathis:.0}"
    );
    assert!(t.timeouts <= 5, "{t:?}");
}

#[test]
fn jitter_that_reorders_heavily_does_not_collapse_the_sender() {
    // 20 ± 5 ms one way at 1 Gbit/s (the rig's "delay 20ms 5ms"): frames sent microseconds
    // apart arrive in random order, many segments out of place.
    let cfg = LinkConfig {
        delay: Duration::from_millis(20),
        jitter: Duration::from_millis(5),
        rate_bps: 1_000_000_000,
        queue_limit: 100_000,
        seed: 71,
        ..LinkConfig::default()
    };
    let mut sim = pair(cfg);
    let (c, s) = establish(&mut sim);
    let data = pattern(16 << 20, 71);
    let mut info = None;
    let secs = transfer(&mut sim, c, s, &data, 300, |sim| {
        if let Some(i) = sim.stack(0).tcp_info(c) {
            info = Some(i);
        }
    });
    let t = stats(&mut sim);
    let i = info.unwrap();
    let goodput = data.len() as f64 * 8.0 / secs;
    println!(
        "jitter 20±5 ms at 1 Gbit/s: goodput {:.1} Mbit/s in {secs:.2} s, reordering {} reord_seen {}, retrans {}, undo full {} partial {} dsack {} loss {}, RTOs {}",
        goodput / 1e6,
        i.reordering,
        i.reord_seen,
        t.retrans_segs,
        t.full_undo,
        t.partial_undo,
        t.dsack_undo,
        t.loss_undo,
        t.timeouts
    );
    assert!(t.timeouts <= 2, "{t:?}");
    assert!(i.reordering > 3, "{i:?}");
}

/// Issue 14, the receiver's side: a sender recovering through a Linnet receiver on a LAN-like
/// path (1 Gbit/s, 200 µs RTT, the impairment rig's) with one data segment in twenty lost
/// (5%, on the data direction only, each once) never needs an RTO nor waits on a delayed ACK.
/// The receiver answers each out-of-order segment at once with SACK blocks, newest first, and
/// the segment that fills a hole at once, so every loss is repaired by SACK recovery within
/// a round trip or two: at this RTT one RTO (200 ms minimum) or one delayed ACK (40 ms) would
/// dwarf the transfer, so the transfer time is asserted, not only the counters.
#[test]
fn a_sender_through_a_linnet_receiver_at_five_percent_loss_never_needs_an_rto() {
    let lan = |seed| LinkConfig {
        delay: Duration::from_micros(100),
        rate_bps: 1_000_000_000,
        queue_limit: 1000,
        seed,
        ..LinkConfig::default()
    };
    let data = pattern(4 << 20, 81);
    let segs = data.len().div_ceil(1448) as u32;
    // The same path without loss, for the time it takes.
    let mut sim = pair(lan(81));
    let (c, s) = establish(&mut sim);
    let clean = transfer(&mut sim, c, s, &data, 60, |_| {});
    let mut sim = pair(lan(81));
    let (c, s) = establish(&mut sim);
    let lost: Vec<u32> = (1..segs / 20).map(|k| 20 * k - 1).collect();
    drop_segments(&mut sim, lost.clone(), 1);
    let secs = transfer(&mut sim, c, s, &data, 60, |_| {});
    let t = stats(&mut sim);
    let r = sim.stack(1).snmp().tcp;
    println!(
        "1 segment in 20 lost at 1 Gbit/s, 200 us: {secs:.3} s (no loss {clean:.3} s), {} losses, retrans {}, recoveries {}, RTOs {}, receiver: ofo {} delayed ACKs {}",
        lost.len(),
        t.retrans_segs,
        t.sack_recovery,
        t.timeouts,
        r.ofo_queue,
        r.delayed_acks
    );
    assert_eq!(t.timeouts, 0, "an RTO fired: {t:?}");
    assert_eq!(
        r.delayed_acks, 0,
        "the receiver let a delayed ACK fire: {r:?}"
    );
    assert_eq!(
        t.retrans_segs,
        lost.len() as u64,
        "exactly the lost segments are resent: {t:?}"
    );
    assert!(t.sack_recovery as usize >= lost.len() / 2, "{t:?}");
    // Each loss costs a round trip or two and a window reduction at a 200 us RTT: all of
    // them together stay below what one RTO alone (200 ms) would add.
    assert!(
        secs < clean + 0.15,
        "{secs:.3} s with one loss in twenty, {clean:.3} s without"
    );
}
