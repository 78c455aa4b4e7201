//! Congestion signals and control under virtual time, through a Linnet router:
//!
//! - ECN (RFC 3168): with `tcp_ecn=1` on the sender, fq_codel's CE marks at a 10 Mbit/s
//!   bottleneck reach the receiver, come back as ECE, and the sender reduces its window
//!   (CWR) instead of losing segments: no drops, no retransmissions; without ECN the same
//!   queue drops and the sender retransmits.
//! - BBR on a 10 Mbit/s, 40 ms path with a deep buffer keeps the queue (RTT) small where
//!   CUBIC fills it, at ≥ 90% of the bottleneck; and under random loss BBR keeps most of the
//!   bottleneck where CUBIC collapses; pacing keeps up with a 1 Gbit/s link.
//! - netem's `ecn` marks instead of dropping; the sysctls and `TCP_CONGESTION` pick ECN and
//!   the algorithm.

use linnet::qdisc::tc::TcReply;
use linnet::transport::tcp::cong::CcAlgorithm;
use linnet::transport::tcp::TcpState;
use linnet::Errno;
use linnet::Ipv4Addr;
use linnet::LinkConfig;
use linnet::Sim;
use linnet::{MsgFlags, SockId, SockType};
use linnet::{Stack, StackConfig};
use linnet_tools::tc::format::{print_qdisc_opt, print_xstats};
use linnet_tools::tc::Tc;
use std::net::SocketAddrV4;
use std::time::Duration;

const DST: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 2);

/// A —d— R —d— B (192.0.2.1 — R forwarding — 198.51.100.2), each stack's configuration
/// adjusted by `tweak(index, config)`, ARP and routes settled.
fn routed_path(d: Duration, tweak: impl Fn(usize, &mut StackConfig)) -> Sim {
    let mut sim = Sim::new();
    for seed in [1u64, 2, 3] {
        let mut cfg = StackConfig {
            seed,
            ip_forward: seed == 2,
            ..StackConfig::default()
        };
        tweak(seed as usize - 1, &mut cfg);
        sim.add_stack(Stack::new(cfg));
    }
    let link = LinkConfig {
        delay: d,
        ..LinkConfig::default()
    };
    let p = |s: &str| s.parse().unwrap();
    sim.connect(0, 1, link.clone(), p("192.0.2.1/24"), p("192.0.2.254/24"));
    sim.connect(1, 2, link, p("198.51.100.254/24"), p("198.51.100.2/24"));
    sim.stack(0)
        .add_default_gateway(Ipv4Addr::new(192, 0, 2, 254))
        .unwrap();
    sim.stack(2)
        .add_default_gateway(Ipv4Addr::new(198, 51, 100, 254))
        .unwrap();
    sim.advance(Duration::from_millis(100));
    sim
}

/// Run a tc command on stack `n`, as `linnet tc ...` would.
fn tc(sim: &mut Sim, n: usize, cmd: &str) -> TcReply {
    let now = sim.now();
    let words: Vec<String> = cmd.split_whitespace().map(String::from).collect();
    sim.stack(n)
        .tc(&words, now)
        .unwrap_or_else(|e| panic!("tc {cmd}: {e}"))
}

/// A connection A → B:5001: (client on A, server on B).
fn connect(sim: &mut Sim) -> (SockId, SockId) {
    let now = sim.now();
    let l = sim.stack(2).socket(SockType::Stream).unwrap();
    sim.stack(2)
        .bind(l, SocketAddrV4::new(std::net::Ipv4Addr::UNSPECIFIED, 5001))
        .unwrap();
    sim.stack(2).listen(l, 4).unwrap();
    let c = sim.stack(0).socket(SockType::Stream).unwrap();
    assert_eq!(
        sim.stack(0).connect(c, SocketAddrV4::new(DST, 5001), now),
        Err(Errno::EINPROGRESS)
    );
    let mut server = None;
    let until = sim.now() + Duration::from_secs(10);
    let ok = sim.run_until_cond(until, |sim| {
        if server.is_none() {
            server = sim.stack(2).accept(l).ok().map(|(s, _)| s);
        }
        server.is_some() && sim.stack(0).tcp_state(c) == Some(TcpState::Established)
    });
    assert!(ok, "handshake");
    (c, server.unwrap())
}

/// Keep A's sender busy and B's receiver drained for `d`; `tick` runs after each step.
/// Returns the bytes B received.
fn bulk(sim: &mut Sim, c: SockId, s: SockId, d: Duration, mut tick: impl FnMut(&mut Sim)) -> u64 {
    let chunk = vec![0x5au8; 65536];
    let mut buf = vec![0u8; 65536];
    let until = sim.now() + d;
    let mut received = 0u64;
    sim.run_until_cond(until, |sim| {
        let now = sim.now();
        while sim.stack(0).send(c, &chunk, now).is_ok_and(|n| n > 0) {}
        while let Ok(n) = sim.stack(2).recv(s, &mut buf, MsgFlags::default(), now) {
            if n == 0 {
                break;
            }
            received += n as u64;
        }
        tick(sim);
        false
    });
    received
}

/// What one ECN run shows: (CE marks fq_codel made, CE-marked packets B received, ECE ACKs
/// and window reductions at A, fq_codel drops, A's retransmissions, goodput bit/s, whether
/// `ss` showed ECN on both ends).
struct EcnRun {
    marks: u64,
    in_ce: u64,
    ece: u64,
    cwr: u64,
    marks_later: u64,
    drops: u64,
    retrans: u64,
    goodput: f64,
    ecn_both: bool,
}

/// A —10 ms— R —10 ms— B, R's egress to B a 10 Mbit/s tbf with fq_codel (ECN marking on, the
/// default) below; a 6 s bulk transfer A → B with `tcp_ecn` on A as given (B keeps Linux's
/// default 2).
fn ecn_through_fq_codel(sender_ecn: u8) -> EcnRun {
    let mut sim = routed_path(Duration::from_millis(10), |_, _| {});
    let r = linnet::control::sysctl::sysctl(
        sim.stack(0),
        "net.ipv4.tcp_ecn",
        Some(&sender_ecn.to_string()),
    );
    assert!(matches!(r, linnet::Response::Sysctl { .. }), "{r:?}");
    tc(
        &mut sim,
        1,
        "qdisc add dev eth1 root handle 1: tbf rate 10mbit burst 16kb limit 1mb",
    );
    tc(
        &mut sim,
        1,
        "qdisc add dev eth1 parent 1:1 handle 10: fq_codel",
    );
    let (c, s) = connect(&mut sim);
    let _ = bulk(&mut sim, c, s, Duration::from_secs(3), |_| {});
    let t0 = sim.now();
    let got = bulk(&mut sim, c, s, Duration::from_secs(6), |_| {});
    let secs = (sim.now() - t0).as_secs_f64();
    let q = match tc(&mut sim, 1, "qdisc show dev eth1") {
        TcReply::Qdiscs(q) => q,
        r => panic!("{r:?}"),
    };
    let fq = q
        .iter()
        .find(|q| q.kind == "fq_codel")
        .expect("fq_codel shown");
    let xstats = fq.xstats.as_ref().map(print_xstats).unwrap_or_default();
    let word = |w: &str| -> u64 {
        let v: Vec<&str> = xstats.split_whitespace().collect();
        v.iter()
            .position(|x| *x == w)
            .and_then(|i| v.get(i + 1))
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no {w} in {xstats}"))
    };
    let marks = word("ecn_mark");
    // Frames marked just now are still on the 10 ms link to B: let them arrive (the marks
    // made meanwhile are counted too, as an upper bound).
    sim.advance(Duration::from_millis(30));
    let marks_later = match tc(&mut sim, 1, "qdisc show dev eth1") {
        TcReply::Qdiscs(q) => q
            .iter()
            .find(|q| q.kind == "fq_codel")
            .and_then(|fq| {
                let xstats = print_xstats(fq.xstats.as_ref()?);
                let v: Vec<&str> = xstats.split_whitespace().collect();
                let i = v.iter().position(|x| *x == "ecn_mark")?;
                v.get(i + 1)?.parse::<u64>().ok()
            })
            .expect("fq_codel ecn_mark"),
        r => panic!("{r:?}"),
    };
    let a = sim.stack(0).snmp();
    let b = sim.stack(2).snmp();
    let info = |sim: &mut Sim, n: usize| {
        sim.stack(n)
            .sockets_info()
            .into_iter()
            .filter_map(|i| i.tcp)
            .find(|t| t.state == "ESTAB")
            .expect("connection in ss")
    };
    let ecn_both = info(&mut sim, 0).ecn && {
        let b = info(&mut sim, 2);
        b.ecn && b.ecn_seen
    };
    let _ = c;
    EcnRun {
        marks,
        marks_later,
        in_ce: b.ip.in_ce_pkts,
        ece: a.tcp.ecn_ece_rcvd,
        cwr: a.tcp.ecn_cwr,
        drops: fq.stats.drops,
        retrans: a.tcp.retrans_segs,
        goodput: got as f64 * 8.0 / secs,
        ecn_both,
    }
}

#[test]
fn ecn_marks_at_an_fq_codel_bottleneck_reduce_the_window_without_loss() {
    let on = ecn_through_fq_codel(1);
    let off = ecn_through_fq_codel(2);
    println!(
        "10 Mbit/s fq_codel bottleneck, 6 s after 3 s: ECN: {} CE marks, {} CE received, {} ECE, {} CWR, \
         {} drops, {} retransmitted, {:.2} Mbit/s; without: {} drops, {} retransmitted, {} CWR, \
         {:.2} Mbit/s",
        on.marks,
        on.in_ce,
        on.ece,
        on.cwr,
        on.drops,
        on.retrans,
        on.goodput / 1e6,
        off.drops,
        off.retrans,
        off.cwr,
        off.goodput / 1e6
    );
    assert!(on.ecn_both, "ECN not negotiated / not seen");
    assert!(on.marks >= 5, "fq_codel marked {}", on.marks);
    assert!(
        on.marks <= on.in_ce && on.in_ce <= on.marks_later,
        "every mark reaches the receiver: {} marked, then {}; {} received",
        on.marks,
        on.marks_later,
        on.in_ce
    );
    assert!(
        on.ece >= on.cwr && on.cwr >= 3 && on.cwr <= on.marks,
        "ECE {} CWR {}",
        on.ece,
        on.cwr
    );
    assert!(
        on.drops <= 2 && on.retrans <= 2,
        "drops {} retrans {}",
        on.drops,
        on.retrans
    );
    assert!(
        on.goodput > 9e6 && on.goodput > 0.95 * off.goodput,
        "goodput {} vs {}",
        on.goodput,
        off.goodput
    );
    // Without ECN the same queue controls the flow by dropping.
    assert_eq!((off.marks, off.in_ce, off.cwr), (0, 0, 0));
    assert!(
        off.drops >= 5 && off.retrans >= 5,
        "drops {} retrans {}",
        off.drops,
        off.retrans
    );
}

/// One bulk run A → B over a 10 Mbit/s bottleneck at R (tbf with a 1 MB queue, about 800 ms
/// at the rate), 10 ms each link (40 ms RTT), with `cc` on A (set by the sysctl) and random
/// loss `loss_pct` on the bottleneck (netem under the tbf) if nonzero. Returns (goodput in
/// bit/s over the last `measure` seconds, mean sender RTT over them in ms, segments
/// retransmitted, the sender's last `ss` info).
fn bulk_through_bottleneck(
    cc: &str,
    loss_pct: f64,
    measure: u64,
) -> (f64, f64, u64, linnet::transport::tcp::TcpInfo) {
    let mut sim = routed_path(Duration::from_millis(10), |_, _| {});
    let r =
        linnet::control::sysctl::sysctl(sim.stack(0), "net.ipv4.tcp_congestion_control", Some(cc));
    assert!(matches!(r, linnet::Response::Sysctl { .. }), "{r:?}");
    tc(
        &mut sim,
        1,
        "qdisc add dev eth1 root handle 1: tbf rate 10mbit burst 16kb limit 1mb",
    );
    if loss_pct > 0.0 {
        tc(
            &mut sim,
            1,
            &format!("qdisc add dev eth1 parent 1:1 handle 10: netem loss {loss_pct}% limit 10000"),
        );
    }
    let (c, s) = connect(&mut sim);
    let info = |sim: &mut Sim| {
        sim.stack(0)
            .sockets_info()
            .into_iter()
            .filter_map(|i| i.tcp)
            .find(|t| t.state == "ESTAB")
            .expect("connection in ss")
    };
    assert_eq!(info(&mut sim).cc, cc);
    bulk(&mut sim, c, s, Duration::from_secs(3), |_| {});
    let t0 = sim.now();
    let mut rtts = Vec::new();
    let mut next = t0;
    let got = bulk(&mut sim, c, s, Duration::from_secs(measure), |sim| {
        if sim.now() >= next {
            next = sim.now() + Duration::from_millis(100);
            rtts.push(info(sim).rtt_us as f64 / 1000.0);
        }
    });
    let secs = (sim.now() - t0).as_secs_f64();
    let retrans = sim.stack(0).snmp().tcp.retrans_segs;
    let mean = rtts.iter().sum::<f64>() / rtts.len().max(1) as f64;
    (got as f64 * 8.0 / secs, mean, retrans, info(&mut sim))
}

#[test]
fn bbr_fills_a_deep_buffered_bottleneck_without_filling_its_queue() {
    let (bbr_g, bbr_rtt, bbr_rx, bbr_info) = bulk_through_bottleneck("bbr", 0.0, 10);
    let (cub_g, cub_rtt, cub_rx, _) = bulk_through_bottleneck("cubic", 0.0, 10);
    let b = bbr_info.bbr.expect("ss shows bbr:(...)");
    println!(
        "10 Mbit/s, 40 ms, 1 MB queue, 10 s after 3 s: BBR {:.2} Mbit/s, mean RTT {:.1} ms, \
         {} retransmitted (bw {:.2} Mbit/s, min_rtt {:.1} ms, pacing_rate {:.2} Mbit/s); \
         CUBIC {:.2} Mbit/s, mean RTT {:.1} ms, {} retransmitted",
        bbr_g / 1e6,
        bbr_rtt,
        bbr_rx,
        b.bw as f64 * 8.0 / 1e6,
        b.min_rtt_us as f64 / 1000.0,
        bbr_info.pacing_rate as f64 * 8.0 / 1e6,
        cub_g / 1e6,
        cub_rtt,
        cub_rx
    );
    assert!(bbr_g >= 9e6, "BBR goodput {bbr_g}");
    assert!(bbr_rtt < 80.0, "BBR keeps a queue: RTT {bbr_rtt} ms");
    assert!(
        cub_rtt > 2.0 * bbr_rtt,
        "CUBIC RTT {cub_rtt} ms vs BBR {bbr_rtt} ms"
    );
    assert!(
        (40_000..=45_000).contains(&b.min_rtt_us),
        "min_rtt {}",
        b.min_rtt_us
    );
    assert!(
        (9_000_000..=10_500_000).contains(&(b.bw * 8)),
        "bw {}",
        b.bw * 8
    );
}

#[test]
fn bbr_holds_the_bottleneck_under_random_loss_where_cubic_collapses() {
    for loss in [1.0, 5.0] {
        let (bbr_g, _, bbr_rx, _) = bulk_through_bottleneck("bbr", loss, 10);
        let (cub_g, _, cub_rx, _) = bulk_through_bottleneck("cubic", loss, 10);
        println!(
            "10 Mbit/s, 40 ms, {loss}% loss: BBR {:.2} Mbit/s ({bbr_rx} retransmitted), \
             CUBIC {:.2} Mbit/s ({cub_rx} retransmitted)",
            bbr_g / 1e6,
            cub_g / 1e6
        );
        assert!(bbr_g >= 7e6, "BBR at {loss}% loss: {bbr_g}");
        assert!(
            bbr_g >= 2.0 * cub_g,
            "BBR {bbr_g} vs CUBIC {cub_g} at {loss}% loss"
        );
    }
}

/// `ss` of the established connection on stack `n`.
fn estab_info(sim: &mut Sim, n: usize) -> linnet::transport::tcp::TcpInfo {
    sim.stack(n)
        .sockets_info()
        .into_iter()
        .filter_map(|i| i.tcp)
        .find(|t| t.state == "ESTAB")
        .expect("connection in ss")
}

#[test]
fn ecn_is_negotiated_as_the_sysctls_on_both_ends_allow() {
    // (client tcp_ecn, server tcp_ecn) → ECN on the connection.
    for (client, server, want) in [
        (1, 2, true),
        (1, 1, true),
        (2, 2, false),
        (2, 1, false),
        (1, 0, false),
        (0, 1, false),
    ] {
        let mut sim = routed_path(Duration::from_millis(1), |i, cfg| {
            cfg.tcp.ecn = match i {
                0 => client,
                2 => server,
                _ => 2,
            }
        });
        let (c, s) = connect(&mut sim);
        let chunk = [7u8; 3000];
        let now = sim.now();
        sim.stack(0).send(c, &chunk, now).unwrap();
        let mut buf = [0u8; 4000];
        let mut got = 0;
        let until = sim.now() + Duration::from_secs(2);
        sim.run_until_cond(until, |sim| {
            let now = sim.now();
            if let Ok(n) = sim.stack(2).recv(s, &mut buf, MsgFlags::default(), now) {
                got += n;
            }
            got == chunk.len()
        });
        assert_eq!(got, chunk.len());
        let (a, b) = (estab_info(&mut sim, 0), estab_info(&mut sim, 2));
        assert_eq!(
            (a.ecn, b.ecn),
            (want, want),
            "client {client} server {server}"
        );
        // The receiver saw ECT(0) on the data exactly when ECN is on.
        let ect0 = sim.stack(2).snmp().ip.in_ect0_pkts;
        assert_eq!(b.ecn_seen, want);
        assert_eq!(
            ect0 > 0,
            want,
            "InECT0Pkts {ect0}, client {client} server {server}"
        );
        // ACKs are never ECT.
        assert_eq!(sim.stack(0).snmp().ip.in_ect0_pkts, 0);
    }
}

#[test]
fn sysctls_pick_ecn_and_the_congestion_control() {
    use linnet::control::sysctl::sysctl;
    use linnet::Response;
    let mut st = Stack::new(StackConfig::default());
    let val = |r: Response| match r {
        Response::Sysctl { values } => values[0].value.clone(),
        r => panic!("{r:?}"),
    };
    assert_eq!(val(sysctl(&mut st, "net.ipv4.tcp_ecn", None)), "2");
    assert_eq!(val(sysctl(&mut st, "net.ipv4.tcp_ecn", Some("1"))), "1");
    assert!(matches!(
        sysctl(&mut st, "net.ipv4.tcp_ecn", Some("3")),
        Response::Error { .. }
    ));
    assert_eq!(
        val(sysctl(&mut st, "net.ipv4.tcp_congestion_control", None)),
        "cubic"
    );
    assert_eq!(
        val(sysctl(
            &mut st,
            "net.ipv4.tcp_available_congestion_control",
            None
        )),
        "reno cubic bbr"
    );
    assert_eq!(
        val(sysctl(
            &mut st,
            "net.ipv4.tcp_congestion_control",
            Some("bbr")
        )),
        "bbr"
    );
    assert!(matches!(
        sysctl(&mut st, "net.ipv4.tcp_congestion_control", Some("vegas")),
        Response::Error { .. }
    ));
    // New sockets take the default; TCP_CONGESTION changes one socket.
    let a = st.socket(SockType::Stream).unwrap();
    let b = st.socket(SockType::Stream).unwrap();
    use linnet::socket::{SockOpt, SockOptName, SockOptValue};
    use linnet::transport::tcp::cong::CcAlgorithm;
    st.setsockopt(
        b,
        SockOpt::Congestion(CcAlgorithm::Reno),
        linnet::Instant::ZERO,
    )
    .unwrap();
    let get = |st: &mut Stack, id| match st.getsockopt(id, SockOptName::Congestion).unwrap() {
        SockOptValue::Opt(SockOpt::Congestion(c)) => c,
        v => panic!("{v:?}"),
    };
    assert_eq!(get(&mut st, a), CcAlgorithm::Bbr);
    assert_eq!(get(&mut st, b), CcAlgorithm::Reno);
}

#[test]
fn netem_loss_with_ecn_marks_ect_packets_instead_of_dropping_them() {
    // (client tcp_ecn) → (netem marks, A's retransmissions, A's window reductions)
    let run = |ecn: u8| {
        let mut sim = routed_path(Duration::from_millis(5), |i, cfg| {
            if i == 0 {
                cfg.tcp.ecn = ecn;
            }
        });
        tc(
            &mut sim,
            1,
            "qdisc add dev eth1 root netem loss 2% ecn seed 7",
        );
        let (c, s) = connect(&mut sim);
        let got = bulk(&mut sim, c, s, Duration::from_secs(3), |_| {});
        let q = match tc(&mut sim, 1, "qdisc show dev eth1") {
            TcReply::Qdiscs(q) => q,
            r => panic!("{r:?}"),
        };
        let options = q[0]
            .options
            .as_ref()
            .map(print_qdisc_opt)
            .unwrap_or_default();
        assert!(options.contains(" ecn"), "{options}");
        let xstats = q[0].xstats.as_ref().map(print_xstats).unwrap_or_default();
        let v: Vec<&str> = xstats.split_whitespace().collect();
        let at = |w: &str| -> u64 {
            let i = v.iter().position(|x| *x == w).expect(w);
            v[i + 1].parse().unwrap()
        };
        let a = sim.stack(0).snmp().tcp;
        (at("ecn_marked"), at("lost"), a.retrans_segs, a.ecn_cwr, got)
    };
    let (marked, lost, retrans, cwr, got) = run(1);
    println!(
        "netem loss 2% ecn: ECN flow {marked} marked, {lost} lost, {retrans} retransmitted, \
         {cwr} reductions, {got} bytes"
    );
    assert!(
        marked > 20 && lost == 0 && retrans == 0,
        "{marked} {lost} {retrans}"
    );
    assert!(cwr > 0 && got > 1 << 20);
    // Without ECN the same loss events drop.
    let (marked, lost, retrans, _, _) = run(2);
    assert_eq!(marked, 0);
    assert!(lost > 20 && retrans > 0, "{lost} {retrans}");
}

#[test]
fn bbr_paces_a_gigabit_link_at_its_rate() {
    // A 1 Gbit/s, 2 ms (4 ms RTT) path with a queue of 1000 frames: pacing (a departure
    // every few microseconds) and its burst sizing keep up with the link. CUBIC, unpaced,
    // is printed beside it.
    let run = |cc: CcAlgorithm| {
        let mut sim = Sim::new();
        for seed in [1u64, 2] {
            let mut cfg = StackConfig {
                seed,
                ..StackConfig::default()
            };
            cfg.tcp.congestion_control = cc;
            sim.add_stack(Stack::new(cfg));
        }
        sim.connect(
            0,
            1,
            LinkConfig {
                delay: Duration::from_millis(2),
                rate_bps: 1_000_000_000,
                queue_limit: 1000,
                ..LinkConfig::default()
            },
            "192.0.2.1/24".parse().unwrap(),
            "192.0.2.2/24".parse().unwrap(),
        );
        sim.advance(Duration::from_millis(100));
        let now = sim.now();
        let l = sim.stack(1).socket(SockType::Stream).unwrap();
        sim.stack(1)
            .bind(l, SocketAddrV4::new(std::net::Ipv4Addr::UNSPECIFIED, 5001))
            .unwrap();
        sim.stack(1).listen(l, 4).unwrap();
        let c = sim.stack(0).socket(SockType::Stream).unwrap();
        let dst = SocketAddrV4::new(std::net::Ipv4Addr::new(192, 0, 2, 2), 5001);
        assert_eq!(sim.stack(0).connect(c, dst, now), Err(Errno::EINPROGRESS));
        let mut s = None;
        let until = sim.now() + Duration::from_secs(5);
        sim.run_until_cond(until, |sim| {
            s = s.or_else(|| sim.stack(1).accept(l).ok().map(|(s, _)| s));
            s.is_some()
        });
        let s = s.expect("accepted");
        // bulk() works on stacks 0 → 2; here the receiver is stack 1.
        let chunk = vec![1u8; 65536];
        let mut buf = vec![0u8; 65536];
        let mut got = 0u64;
        let mut t0 = None;
        let mut got0 = 0;
        let half = sim.now() + Duration::from_secs(1);
        let until = sim.now() + Duration::from_secs(2);
        sim.run_until_cond(until, |sim| {
            let now = sim.now();
            while sim.stack(0).send(c, &chunk, now).is_ok_and(|n| n > 0) {}
            while let Ok(n @ 1..) = sim.stack(1).recv(s, &mut buf, MsgFlags::default(), now) {
                got += n as u64;
            }
            if t0.is_none() && now >= half {
                t0 = Some(now);
                got0 = got;
            }
            false
        });
        let secs = (sim.now() - t0.unwrap()).as_secs_f64();
        let retrans = sim.stack(0).snmp().tcp.retrans_segs;
        ((got - got0) as f64 * 8.0 / secs, retrans)
    };
    let (bbr, bbr_rx) = run(CcAlgorithm::Bbr);
    let (cubic, cubic_rx) = run(CcAlgorithm::Cubic);
    println!(
        "1 Gbit/s, 4 ms, last second of 2: BBR {:.0} Mbit/s ({bbr_rx} retransmitted), CUBIC {:.0} \
         Mbit/s ({cubic_rx} retransmitted)",
        bbr / 1e6,
        cubic / 1e6
    );
    assert!(bbr > 0.9e9, "BBR {bbr}");
}
