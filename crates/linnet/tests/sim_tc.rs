//! Traffic control under virtual time: the five measured behaviours of the qdiscs, each on
//! stacks joined by the in-memory link (infinitely fast, so the qdisc is the bottleneck).
//!
//! - tbf at 10 Mbit/s holds a TCP transfer within 5% of the rate;
//! - netem delay 50 ms shows in ping RTT within 2 ms;
//! - netem loss 10% loses 10% ± 2% of 10,000 datagrams (seeded);
//! - fq_codel on a 10 Mbit/s bottleneck keeps a competing ping's queueing delay under 20 ms
//!   during a bulk transfer (where a plain FIFO lets it grow far beyond);
//! - htb splits a link between two classes in the configured proportion within 5%.

use linnet::qdisc::tc::{QdiscInfo, TcClassInfo, TcReply};
use linnet::transport::tcp::TcpState;
use linnet::Errno;
use linnet::Ipv4Addr;
use linnet::LinkConfig;
use linnet::Sim;
use linnet::{MsgFlags, SockId, SockType};
use linnet::{Stack, StackConfig};
use linnet_tools::tc::format::print_xstats;
use linnet_tools::tc::Tc;
use std::net::SocketAddrV4;
use std::time::Duration;

const B: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);

fn pair(delay_ms: u64) -> Sim {
    let mut sim = Sim::new();
    for seed in [1, 2] {
        sim.add_stack(Stack::new(StackConfig {
            seed,
            ..StackConfig::default()
        }));
    }
    sim.connect(
        0,
        1,
        LinkConfig {
            delay: Duration::from_millis(delay_ms),
            ..LinkConfig::default()
        },
        "192.0.2.1/24".parse().unwrap(),
        "192.0.2.2/24".parse().unwrap(),
    );
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

fn qdiscs(sim: &mut Sim, n: usize, dev: &str) -> Vec<QdiscInfo> {
    match tc(sim, n, &format!("qdisc show dev {dev}")) {
        TcReply::Qdiscs(q) => q,
        r => panic!("{r:?}"),
    }
}

fn classes(sim: &mut Sim, n: usize, dev: &str) -> Vec<TcClassInfo> {
    match tc(sim, n, &format!("class show dev {dev}")) {
        TcReply::Classes(c) => c,
        r => panic!("{r:?}"),
    }
}

/// A TCP connection from stack `from` to `to_addr:port` on stack `to`.
struct Flow {
    from: usize,
    to: usize,
    client: SockId,
    server: SockId,
    received: u64,
}

fn connect(sim: &mut Sim, from: usize, to: usize, to_addr: Ipv4Addr, port: u16) -> Flow {
    let now = sim.now();
    let l = sim.stack(to).socket(SockType::Stream).unwrap();
    sim.stack(to)
        .bind(l, SocketAddrV4::new(std::net::Ipv4Addr::UNSPECIFIED, port))
        .unwrap();
    sim.stack(to).listen(l, 4).unwrap();
    let c = sim.stack(from).socket(SockType::Stream).unwrap();
    assert_eq!(
        sim.stack(from)
            .connect(c, SocketAddrV4::new(to_addr, port), now),
        Err(Errno::EINPROGRESS)
    );
    let mut server = None;
    let until = sim.now() + Duration::from_secs(10);
    let ok = sim.run_until_cond(until, |sim| {
        if server.is_none() {
            server = sim.stack(to).accept(l).ok().map(|(s, _)| s);
        }
        server.is_some() && sim.stack(from).tcp_state(c) == Some(TcpState::Established)
    });
    assert!(ok, "handshake to port {port}");
    Flow {
        from,
        to,
        client: c,
        server: server.unwrap(),
        received: 0,
    }
}

/// Keep every flow's sender busy and its receiver drained for `d`; `tick` runs after each
/// simulation step.
fn bulk(sim: &mut Sim, flows: &mut [Flow], d: Duration, mut tick: impl FnMut(&mut Sim)) {
    let chunk = vec![0x5au8; 65536];
    let mut buf = vec![0u8; 65536];
    let until = sim.now() + d;
    sim.run_until_cond(until, |sim| {
        let now = sim.now();
        for f in flows.iter_mut() {
            while sim
                .stack(f.from)
                .send(f.client, &chunk, now)
                .is_ok_and(|n| n > 0)
            {}
            while let Ok(n) = sim
                .stack(f.to)
                .recv(f.server, &mut buf, MsgFlags::default(), now)
            {
                if n == 0 {
                    break;
                }
                f.received += n as u64;
            }
        }
        tick(sim);
        false
    });
}

#[test]
fn tbf_holds_a_tcp_transfer_to_its_rate() {
    let mut sim = pair(2);
    tc(
        &mut sim,
        0,
        "qdisc add dev eth0 root handle 1: tbf rate 10mbit burst 32kb latency 50ms",
    );
    let mut flows = [connect(&mut sim, 0, 1, B, 5001)];
    // Warm up (slow start, queue fills), then measure ten seconds.
    bulk(&mut sim, &mut flows, Duration::from_secs(2), |_| {});
    let sent0 = qdiscs(&mut sim, 0, "eth0")[0].stats.bytes;
    let rx0 = flows[0].received;
    let secs = 10.0;
    bulk(&mut sim, &mut flows, Duration::from_secs(10), |_| {});
    let q = &qdiscs(&mut sim, 0, "eth0")[0];
    let wire = (q.stats.bytes - sent0) as f64 * 8.0 / secs;
    let goodput = (flows[0].received - rx0) as f64 * 8.0 / secs;
    println!(
        "tbf 10mbit: wire {:.3} Mbit/s, TCP goodput {:.3} Mbit/s, drops {}, overlimits {}",
        wire / 1e6,
        goodput / 1e6,
        q.stats.drops,
        q.stats.overlimits
    );
    assert!((wire / 10e6 - 1.0).abs() < 0.05, "wire rate {wire}");
    // Payload is ~95% of each frame: the transfer itself runs at the shaped rate.
    assert!(goodput > 0.9 * 10e6 && goodput <= 10e6, "goodput {goodput}");
}

/// Ping `dst` from stack 0 `count` times, 200 ms apart; returns the RTTs.
fn ping_rtts(sim: &mut Sim, dst: Ipv4Addr, count: u16) -> Vec<Duration> {
    let ident = sim.stack(0).ping_open().unwrap();
    let mut rtts = Vec::new();
    for seq in 1..=count {
        let now = sim.now();
        sim.stack(0)
            .ping_send(ident, dst, seq, 56, None, now)
            .unwrap();
        sim.advance(Duration::from_millis(200));
        while let Some(r) = sim.stack(0).ping_recv(ident).unwrap() {
            rtts.push(r.rtt.expect("rtt"));
        }
    }
    sim.stack(0).ping_close(ident).unwrap();
    rtts
}

#[test]
fn netem_delay_shows_in_ping_rtt() {
    let mut sim = pair(0);
    let base = ping_rtts(&mut sim, B, 3);
    assert!(
        base.iter().all(|r| *r < Duration::from_millis(1)),
        "{base:?}"
    );
    tc(&mut sim, 0, "qdisc add dev eth0 root netem delay 50ms");
    let rtts = ping_rtts(&mut sim, B, 10);
    assert_eq!(rtts.len(), 10);
    let mean = rtts.iter().sum::<Duration>() / rtts.len() as u32;
    println!("netem delay 50ms: ping RTT mean {mean:?}, all {rtts:?}");
    for r in &rtts {
        assert!(
            *r >= Duration::from_millis(50) && *r <= Duration::from_millis(52),
            "rtt {r:?}"
        );
    }
    // Removing the qdisc takes the delay away again.
    tc(&mut sim, 0, "qdisc del dev eth0 root");
    assert!(ping_rtts(&mut sim, B, 2)
        .iter()
        .all(|r| *r < Duration::from_millis(1)));
}

#[test]
fn netem_loss_loses_its_share_of_ten_thousand_datagrams() {
    let mut sim = pair(0);
    // Pin the neighbours so ARP is not subject to the loss.
    let mac_b = sim.stack(1).iface(2).unwrap().mac;
    let now = sim.now();
    sim.stack(0).add_neighbour(2, B, mac_b, now).unwrap();
    tc(&mut sim, 0, "qdisc add dev eth0 root netem loss 10%");
    let rx = sim.stack(1).socket(SockType::Dgram).unwrap();
    sim.stack(1).bind(rx, SocketAddrV4::new(B, 9000)).unwrap();
    let tx = sim.stack(0).socket(SockType::Dgram).unwrap();
    let total = 10_000;
    let mut received = 0;
    let mut refused = 0;
    let mut buf = [0u8; 2048];
    for batch in 0..(total / 10) {
        let now = sim.now();
        for i in 0..10 {
            let payload = [(batch * 10 + i) as u8; 100];
            match sim
                .stack(0)
                .send_to(tx, &payload, SocketAddrV4::new(B, 9000), now)
            {
                Ok(_) => {}
                Err(Errno::ENOBUFS) => refused += 1,
                Err(e) => panic!("send_to: {e}"),
            }
        }
        sim.advance(Duration::from_millis(1));
        let now = sim.now();
        while sim
            .stack(1)
            .recv_from(rx, &mut buf, MsgFlags::default(), now)
            .is_ok()
        {
            received += 1;
        }
    }
    let lost = total - received;
    let q = &qdiscs(&mut sim, 0, "eth0")[0];
    println!(
        "netem loss 10%: {lost} of {total} lost ({:.2}%), qdisc drops {}, send errors {refused}",
        lost as f64 * 100.0 / total as f64,
        q.stats.drops
    );
    assert!((800..=1200).contains(&lost), "lost {lost}");
    assert_eq!(q.stats.drops, lost as u64, "every loss is netem's");
    // As with Linux's netem, the sender is told every datagram went.
    assert_eq!(refused, 0);
    let xstats = q.xstats.as_ref().map(print_xstats).unwrap_or_default();
    assert!(xstats.contains(&format!("lost {lost}")), "{xstats}");
}

/// A —10 ms— R —10 ms— B (192.0.2.1 — R forwarding — 198.51.100.2), each stack's
/// configuration adjusted by `tweak`, ARP and routes settled.
fn routed_path(tweak: impl Fn(&mut StackConfig)) -> Sim {
    let mut sim = Sim::new();
    for seed in [1, 2, 3] {
        let mut cfg = StackConfig {
            seed,
            ip_forward: seed == 2,
            ..StackConfig::default()
        };
        tweak(&mut cfg);
        sim.add_stack(Stack::new(cfg));
    }
    let link = LinkConfig {
        delay: Duration::from_millis(10),
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

/// A —10 ms— R —10 ms— B with R forwarding; R's egress to B is a 10 Mbit/s tbf whose queue is
/// `child` (or its own 1 MB bfifo). Returns the competing pings' queueing delays (RTT minus
/// the idle RTT) during a bulk transfer A → B.
fn bottleneck_ping_delays(child: Option<&str>) -> (Vec<Duration>, f64) {
    // Fixed 256 KiB socket buffers: the transfer then keeps about 200 ms queued in the
    // 1 MB FIFO without overflowing it, so the comparison is about queueing, whatever
    // slow start and CUBIC's growth would do with autotuned buffers over 13 s.
    let mut sim = routed_path(|cfg| {
        cfg.tcp.rmem_max = cfg.tcp.rmem_default;
        cfg.tcp.wmem_max = cfg.tcp.wmem_default;
    });
    let dst = Ipv4Addr::new(198, 51, 100, 2);
    let idle = ping_rtts(&mut sim, dst, 3);
    // The first ping waited for ARP: the idle RTT is the fastest.
    let idle = *idle.iter().min().expect("idle pings answered");
    tc(
        &mut sim,
        1,
        "qdisc add dev eth1 root handle 1: tbf rate 10mbit burst 16kb limit 1mb",
    );
    if let Some(c) = child {
        tc(
            &mut sim,
            1,
            &format!("qdisc add dev eth1 parent 1:1 handle 10: {c}"),
        );
    }
    let mut flows = [connect(&mut sim, 0, 2, dst, 5001)];
    bulk(&mut sim, &mut flows, Duration::from_secs(3), |_| {});
    // Now ping every 100 ms for 10 s while the transfer goes on.
    let ident = sim.stack(0).ping_open().unwrap();
    let mut seq = 0u16;
    let mut next_ping = sim.now();
    let mut delays = Vec::new();
    let start_rx = flows[0].received;
    let t0 = sim.now();
    bulk(&mut sim, &mut flows, Duration::from_secs(10), |sim| {
        let now = sim.now();
        if now >= next_ping {
            seq += 1;
            sim.stack(0)
                .ping_send(ident, dst, seq, 56, None, now)
                .unwrap();
            next_ping = now + Duration::from_millis(100);
        }
        while let Some(r) = sim.stack(0).ping_recv(ident).unwrap() {
            delays.push(r.rtt.expect("rtt").saturating_sub(idle));
        }
    });
    let secs = (sim.now() - t0).as_secs_f64();
    let goodput = (flows[0].received - start_rx) as f64 * 8.0 / secs;
    assert!(
        delays.len() >= 90,
        "only {} of {seq} pings answered",
        delays.len()
    );
    (delays, goodput)
}

#[test]
fn fq_codel_keeps_a_competing_ping_fast_through_a_bottleneck() {
    let (fifo, fifo_goodput) = bottleneck_ping_delays(None);
    let (fq, fq_goodput) = bottleneck_ping_delays(Some("fq_codel"));
    let max = |v: &[Duration]| *v.iter().max().unwrap();
    let mean = |v: &[Duration]| v.iter().sum::<Duration>() / v.len() as u32;
    println!(
        "10 Mbit/s bottleneck, ping queueing delay: fifo mean {:?} max {:?} (goodput {:.2} Mbit/s); \
         fq_codel mean {:?} max {:?} (goodput {:.2} Mbit/s)",
        mean(&fifo),
        max(&fifo),
        fifo_goodput / 1e6,
        mean(&fq),
        max(&fq),
        fq_goodput / 1e6
    );
    assert!(
        max(&fq) < Duration::from_millis(20),
        "fq_codel: {:?}",
        max(&fq)
    );
    // The test can tell: behind a plain FIFO the ping waits for the bulk transfer's queue.
    assert!(
        mean(&fifo) > Duration::from_millis(50),
        "fifo: {:?}",
        mean(&fifo)
    );
    // And fq_codel does not get there by starving the transfer.
    assert!(fq_goodput > 8e6, "fq_codel goodput {fq_goodput}");
}

#[test]
fn htb_splits_a_link_between_two_classes_in_proportion() {
    let mut sim = pair(2);
    for cmd in [
        "qdisc add dev eth0 root handle 1: htb default 20",
        "class add dev eth0 parent 1: classid 1:1 htb rate 10mbit",
        "class add dev eth0 parent 1:1 classid 1:10 htb rate 3mbit ceil 10mbit",
        "class add dev eth0 parent 1:1 classid 1:20 htb rate 7mbit ceil 10mbit",
        "filter add dev eth0 parent 1: protocol ip prio 1 u32 match ip dport 5001 0xffff flowid 1:10",
    ] {
        tc(&mut sim, 0, cmd);
    }
    let mut flows = [
        connect(&mut sim, 0, 1, B, 5001),
        connect(&mut sim, 0, 1, B, 5002),
    ];
    bulk(&mut sim, &mut flows, Duration::from_secs(3), |_| {});
    let bytes = |c: &[TcClassInfo], id: &str| {
        c.iter()
            .find(|x| linnet::qdisc::units::fmt_handle(x.class.classid) == id)
            .unwrap()
            .class
            .stats
            .bytes
    };
    let c0 = classes(&mut sim, 0, "eth0");
    let secs = 10.0;
    bulk(&mut sim, &mut flows, Duration::from_secs(10), |_| {});
    let c1 = classes(&mut sim, 0, "eth0");
    let r10 = (bytes(&c1, "1:10") - bytes(&c0, "1:10")) as f64 * 8.0 / secs;
    let r20 = (bytes(&c1, "1:20") - bytes(&c0, "1:20")) as f64 * 8.0 / secs;
    let share = r10 / (r10 + r20);
    println!(
        "htb 3:7 of 10 Mbit/s: 1:10 {:.3} Mbit/s, 1:20 {:.3} Mbit/s, share {:.4}",
        r10 / 1e6,
        r20 / 1e6,
        share
    );
    assert!((share / 0.3 - 1.0).abs() < 0.05, "1:10 share {share}");
    assert!(
        ((1.0 - share) / 0.7 - 1.0).abs() < 0.05,
        "1:20 share {}",
        1.0 - share
    );
    assert!(
        ((r10 + r20) / 10e6 - 1.0).abs() < 0.05,
        "total {}",
        r10 + r20
    );
}

/// A —10 ms— R —10 ms— B, R's egress to B a 10 Mbit/s tbf with a 1 MB queue; a 5 s bulk
/// transfer A → B with autotuned buffers and CUBIC's hybrid slow start on or off. Returns
/// (segments retransmitted, goodput in bit/s, slow-start exits by HyStart).
fn slow_start_into_a_bottleneck(hystart: bool) -> (u64, f64, u64) {
    let mut sim = routed_path(|cfg| cfg.tcp.hystart = hystart);
    tc(
        &mut sim,
        1,
        "qdisc add dev eth1 root handle 1: tbf rate 10mbit burst 16kb limit 1mb",
    );
    let dst = Ipv4Addr::new(198, 51, 100, 2);
    let mut flows = [connect(&mut sim, 0, 2, dst, 5001)];
    let t0 = sim.now();
    bulk(&mut sim, &mut flows, Duration::from_secs(5), |_| {});
    let secs = (sim.now() - t0).as_secs_f64();
    let goodput = flows[0].received as f64 * 8.0 / secs;
    let retrans = sim.stack(0).snmp().tcp.retrans_segs;
    let exits = sim.stack(0).snmp().tcp.hystart_exits;
    (retrans, goodput, exits)
}

#[test]
fn hystart_leaves_slow_start_before_the_bottleneck_queue_overflows() {
    let (r_on, g_on, x_on) = slow_start_into_a_bottleneck(true);
    let (r_off, g_off, x_off) = slow_start_into_a_bottleneck(false);
    println!(
        "10 Mbit/s bottleneck, 1 MB queue, 5 s: HyStart on {r_on} retransmitted, {:.2} Mbit/s \
         ({x_on} exits); off {r_off} retransmitted, {:.2} Mbit/s",
        g_on / 1e6,
        g_off / 1e6
    );
    assert_eq!(x_off, 0);
    assert!(x_on >= 1, "HyStart never ended slow start");
    // Without it, slow start overshoots the 1 MB queue by a window's worth of segments.
    assert!(r_off >= 500, "only {r_off} retransmitted without HyStart");
    assert!(r_on * 10 < r_off, "{r_on} retransmitted with HyStart");
    assert!(
        g_on >= g_off * 0.9,
        "HyStart costs goodput: {g_on} vs {g_off}"
    );
}
