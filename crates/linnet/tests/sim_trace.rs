//! Per-packet path traces and capture taps between two simulated stacks, under virtual time:
//! a traced TCP handshake shows each stage on both sides, drops show their reason, tracing
//! off records nothing, and a capture sees both directions.

use linnet::buf::PacketBuf;
use linnet::stats::DropReason;
use linnet::trace::pcapng::{parse_epb, read_blocks, PcapngWriter, EPB};
use linnet::trace::{Direction, Filter, Stage, TraceRecord};
use linnet::transport::tcp::TcpState;
use linnet::Errno;
use linnet::LinkConfig;
use linnet::Sim;
use linnet::{SockId, SockType};
use linnet::{Stack, StackConfig};
use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

const B: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);

fn pair() -> Sim {
    pair_with(LinkConfig::default())
}

fn pair_with(cfg: LinkConfig) -> Sim {
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
        cfg,
        "192.0.2.1/24".parse().unwrap(),
        "192.0.2.2/24".parse().unwrap(),
    );
    sim.advance(Duration::from_millis(100));
    sim
}

fn listen(sim: &mut Sim, port: u16) -> SockId {
    let s = sim.stack(1);
    let l = s.socket(SockType::Stream).unwrap();
    s.bind(l, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port))
        .unwrap();
    s.listen(l, 8).unwrap();
    l
}

fn handshake(sim: &mut Sim, l: SockId, port: u16) -> SockId {
    let now = sim.now();
    let c = sim.stack(0).socket(SockType::Stream).unwrap();
    assert_eq!(
        sim.stack(0).connect(c, SocketAddrV4::new(B, port), now),
        Err(Errno::EINPROGRESS)
    );
    let until = sim.now() + Duration::from_secs(5);
    let mut server = None;
    assert!(sim.run_until_cond(until, |sim| {
        if server.is_none() {
            server = sim.stack(1).accept(l).ok().map(|(s, _)| s);
        }
        server.is_some() && sim.stack(0).tcp_state(c) == Some(TcpState::Established)
    }));
    sim.advance(Duration::from_millis(10));
    c
}

/// The stages of each traced packet, joined as the CLI prints them, by trace id.
fn chains(stack: &mut Stack) -> BTreeMap<u32, String> {
    let mut recs: Vec<TraceRecord> = Vec::new();
    stack.trace_drain(&mut recs);
    let mut out: BTreeMap<u32, Vec<String>> = BTreeMap::new();
    for r in &recs {
        out.entry(r.id).or_default().push(stack.trace_line(r).text);
    }
    out.into_iter().map(|(k, v)| (k, v.join(" → "))).collect()
}

fn find<'a>(chains: &'a BTreeMap<u32, String>, needle: &str) -> &'a str {
    chains
        .values()
        .find(|c| c.contains(needle))
        .unwrap_or_else(|| panic!("no packet with {needle:?} in {chains:#?}"))
}

#[test]
fn traced_handshake_shows_every_stage_on_both_sides() {
    let mut sim = pair();
    let l = listen(&mut sim, 7);
    let f = Filter::parse("tcp and port 7").unwrap();
    sim.stack(0).trace_start(f.clone(), 1024).unwrap();
    sim.stack(1).trace_start(f, 1024).unwrap();
    handshake(&mut sim, l, 7);

    let client = chains(sim.stack(0));
    let server = chains(sim.stack(1));
    // Client: the SYN goes out, waits for ARP, then leaves; the SYN-ACK completes the open.
    assert_eq!(
        find(&client, "tcp_transmit_skb: S →"),
        "tcp_transmit_skb: S → ip_local_out → ip_output → neigh_output: queued for ARP → \
         neigh_output: xmit → dev_queue_xmit: pfifo_fast → eth0 tx"
    );
    assert_eq!(
        find(&client, "SYN_SENT→ESTABLISHED"),
        "eth0 rx → eth_type_trans → ip_rcv → ip_route_input: local → ip_local_deliver → \
         tcp_v4_rcv: established socket → tcp_rcv_state_process SYN_SENT→ESTABLISHED → sk wake"
    );
    assert_eq!(
        find(&client, "tcp_transmit_skb: . →"),
        "tcp_transmit_skb: . → ip_local_out → ip_output → neigh_output: xmit → \
         dev_queue_xmit: pfifo_fast → eth0 tx"
    );
    // Server: the SYN makes a SYN-RECEIVED child; the ACK establishes it and wakes accept.
    assert_eq!(
        find(&server, "LISTEN→SYN_RECV"),
        "eth0 rx → eth_type_trans → ip_rcv → ip_route_input: local → ip_local_deliver → \
         tcp_v4_rcv: listener → tcp_rcv_state_process LISTEN→SYN_RECV"
    );
    assert_eq!(
        find(&server, "SYN_RECV→ESTABLISHED"),
        "eth0 rx → eth_type_trans → ip_rcv → ip_route_input: local → ip_local_deliver → \
         tcp_v4_rcv: established socket → tcp_rcv_state_process SYN_RECV→ESTABLISHED → sk wake"
    );
    assert!(find(&server, "tcp_transmit_skb: S. →").ends_with("eth0 tx"));
    // Three segments each way at most; ARP was not selected by the filter.
    assert_eq!(client.len(), 3, "{client:#?}");
    assert_eq!(server.len(), 3, "{server:#?}");
    assert!(!client.values().any(|c| c.contains("arp")), "{client:#?}");
    // Timestamps come from the virtual clock and never go backwards.
    let mut recs = Vec::new();
    sim.stack(1).trace_drain(&mut recs);
    assert!(recs.is_empty(), "drained already");
}

#[test]
fn established_data_is_queued_and_wakes_the_reader() {
    let mut sim = pair();
    let l = listen(&mut sim, 9);
    let c = handshake(&mut sim, l, 9);
    sim.stack(1)
        .trace_start(Filter::parse("dst port 9").unwrap(), 256)
        .unwrap();
    let now = sim.now();
    assert_eq!(sim.stack(0).send(c, b"hello", now), Ok(5));
    sim.advance(Duration::from_millis(50));
    let server = chains(sim.stack(1));
    assert_eq!(
        find(&server, "tcp_data_queue"),
        "eth0 rx → eth_type_trans → ip_rcv → ip_route_input: local → ip_local_deliver → \
         tcp_v4_rcv: established socket → tcp_rcv_established: P. → tcp_data_queue: bytes 5 → \
         sk wake"
    );
    // The server's ACK has source port 9, not destination: the filter left it out.
    assert!(
        !server.values().any(|c| c.contains("tcp_transmit_skb")),
        "{server:#?}"
    );
}

#[test]
fn drops_show_their_reason() {
    let mut sim = pair();
    sim.stack(1).trace_start(Filter::all(), 256).unwrap();
    // A SYN to a closed port: reset, and the segment dropped for want of a socket.
    let now = sim.now();
    let c = sim.stack(0).socket(SockType::Stream).unwrap();
    let _ = sim.stack(0).connect(c, SocketAddrV4::new(B, 1), now);
    sim.advance(Duration::from_millis(50));
    assert_eq!(sim.stack(0).tcp_state(c), Some(TcpState::Closed));
    // A frame with a broken IPv4 header checksum, straight into the receive path.
    let mut f = vec![0u8; 14 + 20 + 8];
    let mac = sim.stack(1).iface(2).unwrap().mac;
    f[0..6].copy_from_slice(mac.as_bytes());
    f[12] = 0x08;
    f[14] = 0x45;
    f[16..18].copy_from_slice(&28u16.to_be_bytes());
    f[22] = 64;
    f[23] = 17;
    f[26..30].copy_from_slice(&[192, 0, 2, 1]);
    f[30..34].copy_from_slice(&[192, 0, 2, 2]);
    f[24] = 0xde; // not the checksum
    let now = sim.now();
    sim.stack(1).receive(2, PacketBuf::from_slice(&f, 0), now);
    let server = chains(sim.stack(1));
    assert_eq!(
        find(&server, "NO_SOCKET"),
        "eth0 rx → eth_type_trans → ip_rcv → ip_route_input: local → ip_local_deliver → \
         tcp_v4_rcv: no socket → kfree_skb_reason: NO_SOCKET"
    );
    assert_eq!(
        find(&server, "IP_CSUM"),
        "eth0 rx → eth_type_trans → ip_rcv → kfree_skb_reason: IP_CSUM"
    );
    // The reset answering the SYN is traced from its start.
    assert!(find(&server, "tcp_transmit_skb: R. →").ends_with("eth0 tx"));
    // Each drop record carries the reason as data too.
    let mut recs = Vec::new();
    sim.stack(1).trace_drain(&mut recs);
    assert!(recs.is_empty());
    assert_eq!(sim.stack(1).drops().get(DropReason::IpCsum), 1);
}

#[test]
fn tracing_off_records_nothing_and_gives_no_ids() {
    let mut sim = pair();
    let l = listen(&mut sim, 7);
    handshake(&mut sim, l, 7);
    assert!(!sim.stack(1).tracer().on());
    let mut recs = Vec::new();
    sim.stack(1).trace_drain(&mut recs);
    assert!(recs.is_empty());
    // A running trace whose filter selects nothing records nothing either.
    sim.stack(1)
        .trace_start(Filter::parse("udp").unwrap(), 64)
        .unwrap();
    assert_eq!(
        sim.stack(1).trace_start(Filter::all(), 64),
        Err(Errno::EALREADY),
        "one trace at a time"
    );
    let l2 = listen(&mut sim, 8);
    handshake(&mut sim, l2, 8);
    sim.stack(1).trace_drain(&mut recs);
    assert!(recs.is_empty(), "{recs:?}");
    // Stopped: nothing more, and the ring is gone.
    sim.stack(1).trace_stop();
    sim.stack(1).trace_drain(&mut recs);
    assert!(recs.is_empty());
    assert_eq!(sim.stack(1).tracer().lost(), 0);
}

#[test]
fn a_full_ring_counts_lost_records() {
    let mut sim = pair();
    let l = listen(&mut sim, 7);
    sim.stack(1).trace_start(Filter::all(), 16).unwrap();
    handshake(&mut sim, l, 7);
    let mut recs: Vec<TraceRecord> = Vec::new();
    sim.stack(1).trace_drain(&mut recs);
    assert_eq!(recs.len(), 16);
    assert!(sim.stack(1).tracer().lost() > 0);
    assert_eq!(recs[0].stage, Stage::DevRx);
}

#[test]
fn filter_errors_name_the_bad_word() {
    let e = Filter::parse("tcp and prot 80").unwrap_err();
    assert!(e.to_string().contains("\"prot\""), "{e}");
    let e = Filter::parse("host 192.0.2").unwrap_err();
    assert!(e.to_string().contains("\"192.0.2\""), "{e}");
    let e = Filter::parse("(tcp").unwrap_err();
    assert!(e.to_string().contains(')'), "{e}");
}

#[test]
fn capture_sees_both_directions_and_writes_pcapng() {
    let mut sim = pair();
    let l = listen(&mut sim, 7);
    assert_eq!(
        sim.stack(1).capture_start(Some(99), Filter::all(), 1500, 8),
        Err(Errno::ENODEV)
    );
    let id = sim
        .stack(1)
        .capture_start(Some(2), Filter::parse("tcp").unwrap(), 1500, 64)
        .unwrap();
    let arp = sim
        .stack(1)
        .capture_start(None, Filter::parse("arp").unwrap(), 1500, 64)
        .unwrap();
    handshake(&mut sim, l, 7);
    let mut frames = Vec::new();
    sim.stack(1).capture_mut(id).unwrap().drain(|s| {
        frames.push((s.dir, s.ts_us, s.data.to_vec()));
    });
    // The second capture, on all devices, saw the client's ARP request and our reply.
    let mut arps = Vec::new();
    sim.stack(1)
        .capture_mut(arp)
        .unwrap()
        .drain(|s| arps.push((s.dir, s.data[21])));
    assert_eq!(arps, [(Direction::In, 1), (Direction::Out, 2)]);
    let dirs: Vec<Direction> = frames.iter().map(|f| f.0).collect();
    assert_eq!(dirs, [Direction::In, Direction::Out, Direction::In]);
    // SYN, SYN-ACK, ACK by their flags byte.
    let flags: Vec<u8> = frames.iter().map(|f| f.2[14 + 20 + 13]).collect();
    assert_eq!(flags, [0x02, 0x12, 0x10]);
    assert!(frames.windows(2).all(|w| w[0].1 <= w[1].1));
    let mut w = PcapngWriter::new(Vec::new(), "sim_trace").unwrap();
    let ifid = w.interface("eth0", 1500).unwrap();
    for (dir, ts, data) in &frames {
        w.packet(ifid, *ts, data, data.len(), *dir).unwrap();
    }
    let blocks = read_blocks(&w.into_inner()).unwrap();
    let pkts: Vec<_> = blocks
        .iter()
        .filter(|b| b.ty == EPB)
        .map(|b| parse_epb(&b.body).unwrap())
        .collect();
    assert_eq!(pkts.len(), 3);
    assert_eq!(pkts[1].flags, Some(2));
    assert_eq!(pkts[2].data, frames[2].2);
    sim.stack(1).capture_stop(id);
    assert!(sim.stack(1).capture(id).is_none() && sim.stack(1).capturing());
    sim.stack(1).capture_stop(arp);
    assert!(!sim.stack(1).capturing());
}

#[test]
fn ss_info_reports_the_delivery_rate_of_a_transfer() {
    // 8 Mbit/s with 5 ms each way: the sender's delivery rate must come out near 1 MB/s.
    let mut sim = pair_with(LinkConfig {
        rate_bps: 8_000_000,
        delay: Duration::from_millis(5),
        queue_limit: 1000,
        ..LinkConfig::default()
    });
    let l = listen(&mut sim, 5001);
    let c = handshake(&mut sim, l, 5001);
    let data = vec![0x5au8; 600_000];
    let mut sent = 0;
    let mut got = 0;
    let mut buf = vec![0u8; 65536];
    let until = sim.now() + Duration::from_secs(10);
    let mut peer = None;
    let done = sim.run_until_cond(until, |sim| {
        let now = sim.now();
        while sent < data.len() {
            match sim.stack(0).send(c, &data[sent..], now) {
                Ok(n) => sent += n,
                Err(_) => break,
            }
        }
        if peer.is_none() {
            // The accepted socket is the only other TCP socket in ESTABLISHED.
            peer = sim
                .stack(1)
                .sockets_info()
                .into_iter()
                .find(|s| s.state == "ESTAB")
                .map(|s| s.id);
        }
        if let Some(p) = peer {
            while let Ok(n) = sim
                .stack(1)
                .recv(p, &mut buf, linnet::MsgFlags::default(), now)
            {
                if n == 0 {
                    break;
                }
                got += n;
            }
        }
        got == data.len()
    });
    assert!(done, "transfer stalled at {got}");
    sim.advance(Duration::from_millis(50));
    let info = sim
        .stack(0)
        .sockets_info()
        .into_iter()
        .find(|s| s.id == c)
        .and_then(|s| s.tcp)
        .expect("tcp info");
    assert_eq!(info.bytes_acked, data.len() as u64);
    assert!(
        (800_000..=1_050_000).contains(&info.delivery_rate),
        "delivery_rate {} B/s",
        info.delivery_rate
    );
    assert!(info.rtt_us >= 10_000, "{info:?}");
    let snmp = sim.stack(0).snmp();
    assert!(
        snmp.tcp.out_segs > 400 && snmp.tcp.active_opens == 1,
        "{:?}",
        snmp.tcp
    );
}

/// A —eth0/eth0— R —eth1/eth0— B, R forwarding.
fn routed() -> Sim {
    let mut sim = Sim::new();
    for seed in [1, 2, 3] {
        sim.add_stack(Stack::new(StackConfig {
            seed,
            ip_forward: seed == 2,
            ..StackConfig::default()
        }));
    }
    let p = |s: &str| s.parse().unwrap();
    sim.connect(
        0,
        1,
        LinkConfig::default(),
        p("198.51.100.2/24"),
        p("198.51.100.1/24"),
    );
    sim.connect(
        1,
        2,
        LinkConfig::default(),
        p("203.0.113.1/24"),
        p("203.0.113.2/24"),
    );
    sim.stack(0)
        .add_default_gateway(Ipv4Addr::new(198, 51, 100, 1))
        .unwrap();
    sim.stack(2)
        .add_default_gateway(Ipv4Addr::new(203, 0, 113, 1))
        .unwrap();
    sim.advance(Duration::from_millis(100));
    sim
}

fn ping_once(sim: &mut Sim, size: usize, ttl: Option<u8>) {
    let dst = Ipv4Addr::new(203, 0, 113, 2);
    let ident = sim.stack(0).ping_open().unwrap();
    let now = sim.now();
    sim.stack(0)
        .ping_send(ident, dst, 1, size, ttl, now)
        .unwrap();
    sim.advance(Duration::from_millis(200));
    sim.stack(0).ping_close(ident).unwrap();
}

#[test]
fn forwarding_ttl_expiry_fragments_and_reassembly_are_traced() {
    let mut sim = routed();
    ping_once(&mut sim, 56, None); // neighbours resolved
    for s in 0..3 {
        sim.stack(s)
            .trace_start(Filter::parse("icmp").unwrap(), 4096)
            .unwrap();
    }
    ping_once(&mut sim, 56, None);
    let r = chains(sim.stack(1));
    assert_eq!(
        find(&r, "ip_route_input: forward"),
        "eth0 rx → eth_type_trans → ip_rcv → ip_route_input: forward → ip_forward → ip_output → \
         neigh_output: xmit → dev_queue_xmit: pfifo_fast → eth1 tx"
    );
    // TTL 1: the router drops it with its reason and answers time exceeded.
    ping_once(&mut sim, 56, Some(1));
    let r = chains(sim.stack(1));
    assert_eq!(
        find(&r, "IP_TTL_EXPIRED"),
        "eth0 rx → eth_type_trans → ip_rcv → ip_route_input: forward → ip_forward → \
         kfree_skb_reason: IP_TTL_EXPIRED"
    );
    assert_eq!(
        find(&r, "icmp_push_reply"),
        "icmp_push_reply: time exceeded → ip_local_out → ip_output → neigh_output: xmit → \
         dev_queue_xmit: pfifo_fast → eth0 tx"
    );
    // 3000 bytes over 1500-byte links: A fragments, B reassembles; one id for the datagram.
    chains(sim.stack(0));
    chains(sim.stack(2));
    ping_once(&mut sim, 3000, None);
    let a = chains(sim.stack(0));
    let sent = find(&a, "icmp_push_reply: echo request");
    assert!(
        sent.starts_with(
            "icmp_push_reply: echo request → ip_local_out → ip_output → ip_fragment: mtu 1500 → \
             neigh_output: xmit → dev_queue_xmit: pfifo_fast → neigh_output: xmit"
        ),
        "{sent}"
    );
    assert_eq!(sent.matches("eth0 tx").count(), 3, "{sent}");
    let b = chains(sim.stack(2));
    // Fragments arrive as separate frames; each reaching B starts its own chain, and the one
    // that completes the datagram carries on to ICMP, whose reply reuses the buffer (and the
    // id) and is fragmented in turn.
    let queued = b
        .values()
        .filter(|c| c.ends_with("ip_defrag: queued"))
        .count();
    assert_eq!(queued, 2, "{b:#?}");
    let whole = find(&b, "reassembled");
    assert!(
        whole.contains(
            "ip_local_deliver → ip_defrag: reassembled → icmp_rcv: echo request → \
             icmp_push_reply: echo reply → ip_local_out → ip_output → ip_fragment: mtu 1500"
        ),
        "{whole}"
    );
    assert_eq!(whole.matches("eth0 tx").count(), 3, "{whole}");
}

#[test]
fn tcpext_counters_under_heavy_loss() {
    // 15% loss each way: fast retransmits, loss probes, timeouts, and retransmissions lost
    // again.
    let mut sim = pair_with(LinkConfig {
        loss: 0.15,
        delay: Duration::from_millis(5),
        queue_limit: 1000,
        seed: 8,
        ..LinkConfig::default()
    });
    let l = listen(&mut sim, 5002);
    let c = handshake(&mut sim, l, 5002);
    let data = vec![0x33u8; 400_000];
    let (mut sent, mut got) = (0, 0);
    let mut buf = vec![0u8; 65536];
    let mut peer = None;
    let until = sim.now() + Duration::from_secs(600);
    let done = sim.run_until_cond(until, |sim| {
        let now = sim.now();
        while sent < data.len() {
            match sim.stack(0).send(c, &data[sent..], now) {
                Ok(n) => sent += n,
                Err(_) => break,
            }
        }
        if peer.is_none() {
            peer = sim
                .stack(1)
                .sockets_info()
                .into_iter()
                .find(|s| s.state == "ESTAB")
                .map(|s| s.id);
        }
        if let Some(p) = peer {
            while let Ok(n) = sim
                .stack(1)
                .recv(p, &mut buf, linnet::MsgFlags::default(), now)
            {
                if n == 0 {
                    break;
                }
                got += n;
            }
        }
        got == data.len()
    });
    assert!(done, "transfer stalled at {got}");
    let t = sim.stack(0).snmp().tcp;
    assert!(t.fast_retrans > 0 && t.recoveries > 0, "{t:?}");
    assert!(t.timeouts > 0, "{t:?}");
    // Retransmissions lost again are found by RACK (or re-marked by an RTO).
    assert!(
        t.lost_retransmit > 0 && t.lost_retransmit <= t.retrans_segs,
        "{t:?}"
    );
    assert!(t.sack_recovery > 0 && t.loss_probes > 0, "{t:?}");
    assert!(
        t.retrans_segs >= t.fast_retrans + t.slow_start_retrans,
        "{t:?}"
    );
    let info = sim
        .stack(0)
        .sockets_info()
        .into_iter()
        .find(|s| s.id == c)
        .and_then(|s| s.tcp)
        .expect("tcp info");
    assert_eq!(info.retrans, t.retrans_segs, "{info:?}");
}
