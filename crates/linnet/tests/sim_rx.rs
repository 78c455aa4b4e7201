//! The receiving side of TCP under virtual time, where it decides how fast a lossy transfer
//! goes: segments that carry SACK blocks stay within the MTU (`tcp_current_mss`), SACK and
//! D-SACK feedback lets the sender retransmit only what was lost, SYN-cookie connections
//! keep the data of their first ACK, and a SYN flood leaves established flows alone.

mod common;
use common::pattern;
use common::{deadline, listen};

use linnet::qdisc::tc::TcReply;
use linnet::stats::DropReason;
use linnet::transport::tcp::TcpState;
use linnet::Errno;
use linnet::LinkConfig;
use linnet::Sim;
use linnet::{Instant, Stack, StackConfig};
use linnet::{MsgFlags, Shutdown, SockId, SockType};
use linnet_tools::tc::Tc;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

const B: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);

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

fn tc(sim: &mut Sim, n: usize, cmd: &str) -> TcReply {
    let now = sim.now();
    let words: Vec<String> = cmd.split_whitespace().map(String::from).collect();
    sim.stack(n)
        .tc(&words, now)
        .unwrap_or_else(|e| panic!("tc {cmd}: {e}"))
}

/// Connect stack 0 to B:port and accept on stack 1; returns (client, server).
fn establish(sim: &mut Sim, l: SockId, port: u16) -> (SockId, SockId) {
    common::establish(sim, l, SocketAddrV4::new(B, port))
}

/// One direction of a transfer: the sending socket on `from`, the receiving one on `to`.
struct Flow {
    from: usize,
    tx: SockId,
    to: usize,
    rx: SockId,
    data: Vec<u8>,
    sent: usize,
    shut: bool,
    got: Vec<u8>,
    eof: bool,
}

impl Flow {
    fn new(from: usize, tx: SockId, to: usize, rx: SockId, data: Vec<u8>) -> Flow {
        Flow {
            from,
            tx,
            to,
            rx,
            got: Vec::with_capacity(data.len()),
            data,
            sent: 0,
            shut: false,
            eof: false,
        }
    }

    /// Send what fits, shut down once all is sent, read what arrived.
    fn pump(&mut self, sim: &mut Sim, buf: &mut [u8]) {
        let now = sim.now();
        while self.sent < self.data.len() {
            match sim
                .stack(self.from)
                .send(self.tx, &self.data[self.sent..], now)
            {
                Ok(n) => self.sent += n,
                Err(Errno::EAGAIN) => break,
                Err(e) => panic!("send: {e}"),
            }
        }
        if self.sent == self.data.len() && !self.shut {
            sim.stack(self.from)
                .shutdown(self.tx, Shutdown::Write, now)
                .unwrap();
            self.shut = true;
        }
        while !self.eof {
            match sim
                .stack(self.to)
                .recv(self.rx, buf, MsgFlags::default(), now)
            {
                Ok(0) => self.eof = true,
                Ok(n) => self.got.extend_from_slice(&buf[..n]),
                Err(Errno::EAGAIN) => break,
                Err(e) => panic!("recv: {e}"),
            }
        }
    }
}

/// Run the flows together until every one saw EOF (or `secs` pass); returns the virtual
/// seconds taken.
fn run_flows(sim: &mut Sim, flows: &mut [Flow], secs: u64) -> f64 {
    let t0 = sim.now();
    let mut buf = vec![0u8; 1 << 16];
    let until = deadline(sim, secs);
    sim.run_until_cond(until, |sim| {
        for f in flows.iter_mut() {
            f.pump(sim, &mut buf);
        }
        flows.iter().all(|f| f.eof)
    });
    for f in flows.iter() {
        assert!(
            f.got == f.data,
            "stack {} → {}: {} of {} bytes, or corrupted",
            f.from,
            f.to,
            f.got.len(),
            f.data.len()
        );
    }
    (sim.now() - t0).as_secs_f64()
}

// ----- 1. tcp_current_mss: SACK blocks never push a segment past the MTU -----

#[test]
fn segments_carrying_sack_blocks_fit_the_mtu() {
    // Both directions lose segments and both carry data, so data segments carry SACK
    // blocks (three beside the timestamps: 36 option bytes more than the MSS allows for).
    let mut sim = pair_with(
        LinkConfig {
            delay: Duration::from_millis(5),
            loss: 0.03,
            seed: 7,
            ..LinkConfig::default()
        },
        |_| {},
    );
    let l = listen(&mut sim, 1, 7, 16);
    let (c, s) = establish(&mut sim, l, 7);
    let mut flows = [
        Flow::new(0, c, 1, s, pattern(2 << 20, 1)),
        Flow::new(1, s, 0, c, pattern(2 << 20, 2)),
    ];
    let secs = run_flows(&mut sim, &mut flows, 600);
    let mut sacked = 0;
    for n in 0..2 {
        let st = sim.stack(n);
        let t = st.snmp().tcp;
        let ip = st.snmp().ip;
        println!(
            "stack {n}: {secs:.2} s, ofo {} retrans {} timeouts {}, frag fails {}, too big {}",
            t.ofo_queue,
            t.retrans_segs,
            t.timeouts,
            ip.frag_fails,
            st.drops().get(DropReason::PktTooBig)
        );
        assert_eq!(st.drops().get(DropReason::PktTooBig), 0, "stack {n}");
        assert_eq!(ip.frag_fails, 0, "stack {n}");
        sacked += t.ofo_queue;
    }
    assert!(sacked > 20, "too little out-of-order data to test anything");
}

// ----- 5. SACK/D-SACK feedback: the sender retransmits what was lost, no more -----

/// Netem's drops on a stack's `eth0` root qdisc.
fn netem_drops(sim: &mut Sim, n: usize) -> u64 {
    match tc(sim, n, "qdisc show dev eth0") {
        TcReply::Qdiscs(q) => q.iter().map(|q| q.stats.drops).sum(),
        r => panic!("{r:?}"),
    }
}

#[test]
fn sack_feedback_lets_the_sender_retransmit_only_the_lost_segments() {
    // 2% loss on one direction only (netem on stack 0's egress), 10 ms RTT, data both
    // ways as in an echo: stack 1's ACKs ride on its data segments, with SACK blocks. Every
    // retransmission beyond one per lost segment is one the receiver's feedback did not
    // prevent (Linux toward Linux: 1.0 per loss).
    let mut sim = pair_with(
        LinkConfig {
            delay: Duration::from_millis(5),
            queue_limit: 100_000,
            ..LinkConfig::default()
        },
        |_| {},
    );
    tc(&mut sim, 0, "qdisc add dev eth0 root netem loss 2% seed 11");
    let l = listen(&mut sim, 1, 5001, 16);
    let (c, s) = establish(&mut sim, l, 5001);
    let lost_before = netem_drops(&mut sim, 0);
    let mut flows = [
        Flow::new(0, c, 1, s, pattern(8 << 20, 3)),
        Flow::new(1, s, 0, c, pattern(8 << 20, 4)),
    ];
    let secs = run_flows(&mut sim, &mut flows, 600);
    let lost = netem_drops(&mut sim, 0) - lost_before;
    let tx = sim.stack(0).snmp().tcp;
    let rx = sim.stack(1).snmp().tcp;
    let ratio = tx.retrans_segs as f64 / lost.max(1) as f64;
    println!(
        "8 MiB each way, 2% loss one way: {secs:.2} s, {lost} lost, {} retransmitted ({ratio:.2} per loss), \
         {} RTOs; receiver: {} out of order, {} D-SACK (old) {} D-SACK (ofo), {} duplicates",
        tx.retrans_segs,
        tx.timeouts,
        rx.ofo_queue,
        rx.dsack_old_sent,
        rx.dsack_ofo_sent,
        rx.dup_segs
    );
    assert!(lost > 50, "only {lost} losses");
    assert!(rx.ofo_queue > lost, "each loss leaves data out of order");
    assert_eq!(rx.ofo_drop, 0, "out-of-order data thrown away");
    // Every retransmission was of a lost segment, near enough (a lost retransmission is
    // retransmitted again; the tail may be recovered by timeout).
    assert!(ratio <= 1.2, "{ratio:.2} retransmissions per lost segment");
    // What arrived twice was reported as such (RFC 2883).
    assert!(rx.dsack_old_sent + rx.dsack_ofo_sent >= rx.dup_segs);
}

// ----- 2. SYN cookies under overload: every connection completes -----

/// `n` clients on stack 0, `per_ms` more each millisecond, connect to an echo service on
/// stack 1 whose listener has a backlog of `backlog` (SYN cookies on) and which accepts at
/// most `accept_per_ms` connections a millisecond; each client sends 16 bytes and waits for
/// their echo. The applications look at their sockets once per virtual millisecond.
/// Returns the virtual seconds until every echo came back, or panics after `secs`.
fn echo_storm(n: usize, per_ms: usize, backlog: u32, accept_per_ms: usize, secs: u64) -> f64 {
    let mut sim = pair_with(
        LinkConfig {
            delay: Duration::from_millis(1),
            queue_limit: 1 << 20,
            ..LinkConfig::default()
        },
        |_| {},
    );
    // Device queues that hold the whole burst: the listener is what is under test.
    for s in 0..2 {
        tc(&mut sim, s, "qdisc add dev eth0 root pfifo limit 100000");
    }
    let l = listen(&mut sim, 1, 7, backlog);
    let t0 = sim.now();
    let clients: Vec<SockId> = (0..n)
        .map(|_| sim.stack(0).socket(SockType::Stream).unwrap())
        .collect();
    let msg = |i: usize| format!("echo {i:011}").into_bytes();
    let mut connected = 0;
    let mut to_send: Vec<usize> = Vec::new();
    let mut to_hear: Vec<usize> = Vec::new();
    let mut servers: Vec<SockId> = Vec::new();
    let mut done = 0;
    let mut last = Instant::ZERO;
    let mut buf = [0u8; 64];
    let ok = sim.run_until_cond(t0 + Duration::from_secs(secs), |sim| {
        let now = sim.now();
        if now < last + Duration::from_millis(1) {
            return false;
        }
        last = now;
        // Clients: `per_ms` more connect each millisecond.
        for _ in 0..per_ms {
            if connected < n {
                let c = clients[connected];
                assert_eq!(
                    sim.stack(0).connect(c, SocketAddrV4::new(B, 7), now),
                    Err(Errno::EINPROGRESS)
                );
                to_send.push(connected);
                connected += 1;
            }
        }
        // Server: accept everything queued, echo whatever arrived.
        for _ in 0..accept_per_ms {
            match sim.stack(1).accept(l) {
                Ok((s, _)) => servers.push(s),
                Err(_) => break,
            }
        }
        servers.retain(|&s| {
            match sim.stack(1).recv(s, &mut buf, MsgFlags::default(), now) {
                Ok(k @ 1..) => {
                    assert_eq!(sim.stack(1).send(s, &buf[..k], now), Ok(k));
                    // One message per connection: done with it.
                    false
                }
                Ok(0) => false,
                _ => true,
            }
        });
        // Clients: send once established, then wait for the echo.
        to_send.retain(|&i| {
            let c = clients[i];
            if sim.stack(0).tcp_state(c) == Some(TcpState::Established) {
                assert_eq!(sim.stack(0).send(c, &msg(i), now), Ok(16));
                to_hear.push(i);
                false
            } else {
                true
            }
        });
        to_hear.retain(|&i| {
            match sim
                .stack(0)
                .recv(clients[i], &mut buf, MsgFlags::default(), now)
            {
                Ok(16) => {
                    assert_eq!(&buf[..16], &msg(i)[..]);
                    done += 1;
                    false
                }
                Ok(k) => panic!("client {i}: {k} bytes"),
                Err(_) => true,
            }
        });
        done == n
    });
    let secs_taken = (sim.now() - t0).as_secs_f64();
    if !ok {
        let mut states = std::collections::BTreeMap::new();
        for i in sim.stack(1).sockets_info() {
            *states.entry(i.state.clone()).or_insert(0) += 1;
        }
        let mut cstates = std::collections::BTreeMap::new();
        for i in sim.stack(0).sockets_info() {
            *cstates.entry(i.state.clone()).or_insert(0) += 1;
        }
        println!(
            "server sockets {states:?}, client sockets {cstates:?}, accepted {}",
            servers.len()
        );
    }
    let t = sim.stack(1).snmp().tcp;
    println!(
        "{n} connections, backlog {backlog}: {done} echoed in {secs_taken:.2} s; cookies sent {} \
         received {} failed {}, ReqQFullDoCookies {}, ListenOverflows {}, ListenDrops {}; \
         client SYN retries {}",
        t.syncookies_sent,
        t.syncookies_recv,
        t.syncookies_failed,
        t.req_qfull_do_cookies,
        t.listen_overflows,
        t.listen_drops,
        sim.stack(0).snmp().tcp.retrans_segs
    );
    assert!(
        ok,
        "{done} of {n} connections echoed in {secs} s; {} still to send, {} waiting",
        to_send.len(),
        to_hear.len()
    );
    assert!(t.syncookies_recv > 0, "the storm never needed cookies");
    secs_taken
}

#[test]
fn ten_thousand_concurrent_connections_to_a_small_backlog_all_complete() {
    // Linux: all 10,000 against a Linux echo server in 2.7 s (issue 14).
    // Connections arrive twice as fast as the service accepts them: the accept queue
    // overflows and the SYN queue with it, so cookies carry most handshakes.
    let secs = echo_storm(10_000, 100, 64, 50, 120);
    assert!(secs < 30.0, "{secs:.1} s");
}

// ----- 3. A SYN flood leaves established flows and new connections alone -----

/// A SYN from `src:sport` to B:`dport` as an Ethernet frame from `smac` to `dmac`, with the
/// options a Linux client sends.
fn syn_frame(
    src: Ipv4Addr,
    sport: u16,
    dport: u16,
    smac: linnet::EthernetAddress,
    dmac: linnet::EthernetAddress,
) -> linnet::buf::PacketBuf {
    use linnet::wire::ethernet::HEADER_LEN as ETH_LEN;
    use linnet::wire::tcp::{SeqNumber, TcpFlags, TcpRepr};
    use linnet::wire::{EtherType, EthernetFrame, IpProtocol, Ipv4Repr};
    let repr = TcpRepr {
        src_port: sport,
        dst_port: dport,
        flags: TcpFlags::SYN,
        seq_number: SeqNumber(u32::from(src).wrapping_mul(2_654_435_761) ^ u32::from(sport)),
        ack_number: None,
        window_len: 64240,
        max_seg_size: Some(1460),
        window_scale: Some(7),
        sack_permitted: true,
        sack_ranges: [None; 4],
        timestamp: Some((u32::from(sport), 0)),
        fastopen: None,
        payload_len: 0,
    };
    let tcp_len = repr.header_len();
    let mut frame = vec![0u8; ETH_LEN + 20 + tcp_len];
    {
        let mut eth = EthernetFrame::new_unchecked(&mut frame[..]);
        eth.set_dst_addr(dmac);
        eth.set_src_addr(smac);
        eth.set_ethertype(EtherType::IPV4);
    }
    Ipv4Repr {
        src_addr: src,
        dst_addr: B,
        protocol: IpProtocol::TCP,
        payload_len: tcp_len,
        ttl: 64,
        tos: 0,
        ident: sport,
        dont_frag: true,
    }
    .emit(&mut frame[ETH_LEN..]);
    repr.emit_segment(&mut frame[ETH_LEN + 20..], src, B);
    linnet::buf::PacketBuf::from_slice(&frame, 64)
}

/// What a bulk stream from stack 1 to stack 0 (200 Mbit/s link, 2 ms RTT) achieved while
/// `flood_rate` SYNs a second from spoofed sources that stack 1 routes back towards stack 0
/// hit its listener, and how a new connection fared in the middle of it.
struct FloodRun {
    /// Stream goodput during the flood, bytes a second.
    goodput: f64,
    /// The new connection: time to establish, and the SYNs it had to repeat.
    connect: Duration,
    syn_retries: u64,
}

fn syn_flood_run(flood_rate: u64, on_link: bool) -> FloodRun {
    let mut sim = pair_with(
        LinkConfig {
            delay: Duration::from_millis(1),
            rate_bps: 200_000_000,
            queue_limit: 10_000,
            ..LinkConfig::default()
        },
        |_| {},
    );
    // Replies to the flood's sources go back over the link (Linnet can route them).
    sim.stack(1)
        .add_route(linnet::ip::fib::Route::unicast(
            "198.51.100.0/24".parse().unwrap(),
            Some(Ipv4Addr::new(192, 0, 2, 1)),
            0,
        ))
        .unwrap();
    let mac_of = |sim: &mut Sim, n: usize| {
        sim.stack(n)
            .interfaces()
            .find(|i| i.name == "eth0")
            .map(|i| (i.ifindex, i.mac))
            .unwrap()
    };
    let (if1, mac1) = mac_of(&mut sim, 1);
    let (_, mac0) = mac_of(&mut sim, 0);
    let l = listen(&mut sim, 1, 80, 128);
    let (c, s) = establish(&mut sim, l, 80);
    // The stream: stack 1 sends as fast as it can, stack 0 reads everything.
    let chunk = vec![0x5au8; 1 << 16];
    let mut buf = vec![0u8; 1 << 16];
    let mut received = 0u64;
    let mut pump = |sim: &mut Sim, received: &mut u64| {
        let now = sim.now();
        while sim.stack(1).send(s, &chunk, now).is_ok() {}
        while let Ok(n @ 1..) = sim.stack(0).recv(c, &mut buf, MsgFlags::default(), now) {
            *received += n as u64;
        }
    };
    // Warm up 0.3 s, then flood for 1 s; a new connection starts 0.5 s into the flood.
    let t0 = sim.now();
    sim.run_until_cond(t0 + Duration::from_millis(300), |sim| {
        pump(sim, &mut received);
        false
    });
    let flood_start = sim.now();
    let flood_end = flood_start + Duration::from_secs(1);
    let before = received;
    let mut injected = 0u64;
    let mut newc: Option<SockId> = None;
    let mut connected_at: Option<Instant> = None;
    let retrans_before = sim.stack(0).snmp().tcp.retrans_segs;
    let mut newc_started = Instant::ZERO;
    sim.run_until_cond(flood_end, |sim| {
        let now = sim.now();
        // The flood, evenly spread: as many SYNs as are due by now.
        let due = (now - flood_start).as_micros() as u64 * flood_rate / 1_000_000;
        while injected < due {
            let k = injected as u32;
            // Every SYN from its own address and port.
            let (src, sport) = if on_link {
                // Addresses on the link that nobody answers ARP for.
                let a = u32::from(Ipv4Addr::new(192, 0, 2, 0)) | (k % 200 + 50);
                (Ipv4Addr::from(a), 1024 + (k / 200 % 60000) as u16)
            } else {
                let a = u32::from(Ipv4Addr::new(198, 51, 100, 0)) | (k % 254 + 1);
                (Ipv4Addr::from(a), 1024 + (k / 254 % 60000) as u16)
            };
            let f = syn_frame(src, sport, 80, mac0, mac1);
            sim.stack(1).receive(if1, f, now);
            injected += 1;
        }
        pump(sim, &mut received);
        if newc.is_none() && now >= flood_start + Duration::from_millis(500) {
            let n = sim.stack(0).socket(SockType::Stream).unwrap();
            assert_eq!(
                sim.stack(0).connect(n, SocketAddrV4::new(B, 80), now),
                Err(Errno::EINPROGRESS)
            );
            newc = Some(n);
            newc_started = now;
        }
        if let (Some(n), None) = (newc, connected_at) {
            if sim.stack(0).tcp_state(n) == Some(TcpState::Established) {
                connected_at = Some(now);
            }
        }
        // Keep the accept queue drained, as a server would.
        while sim.stack(1).accept(l).is_ok() {}
        false
    });
    let secs = (sim.now() - flood_start).as_secs_f64();
    let goodput = (received - before) as f64 / secs;
    let t = sim.stack(1).snmp().tcp;
    let syn_retries = sim.stack(0).snmp().tcp.retrans_segs - retrans_before;
    let connect = connected_at.map_or(Duration::MAX, |t| t - newc_started);
    println!(
        "flood {flood_rate}/s ({injected} SYNs): stream {:.1} MB/s; new connection in {connect:?} \
         with {syn_retries} stream/SYN retransmissions; cookies sent {}, ReqQFullDoCookies {}, \
         ListenDrops {}, qdisc/other drops {:?}",
        goodput / 1e6,
        t.syncookies_sent,
        t.req_qfull_do_cookies,
        t.listen_drops,
        sim.stack(1).drops().to_vec()
    );
    FloodRun {
        goodput,
        connect,
        syn_retries,
    }
}

#[test]
fn a_syn_flood_leaves_established_streams_and_new_connections_alone() {
    let calm = syn_flood_run(0, false);
    let flood = syn_flood_run(100_000, false);
    let on_link = syn_flood_run(100_000, true);
    // The routed flood's SYN-ACKs (74-byte frames) share the stream's link; on the link,
    // they wait for ARP that never comes.
    for (what, run, synacks) in [
        ("routed", &flood, 100_000.0 * 74.0),
        ("on-link", &on_link, 0.0),
    ] {
        // Linux: 130 → 69–117 MB/s on a TAP, and no SYN retry (issue 14).
        assert!(
            run.goodput >= 0.8 * (calm.goodput - synacks),
            "{what} flood: stream {:.1} MB/s, {:.1} MB/s without",
            run.goodput / 1e6,
            calm.goodput / 1e6
        );
        assert!(
            run.connect < Duration::from_millis(200),
            "{what} flood: a new connection took {:?}",
            run.connect
        );
        assert_eq!(run.syn_retries, 0, "{what} flood: the new SYN was repeated");
    }
}

/// The wall-clock cost of one flood SYN (answered with a cookie) against one in-order data
/// segment, for profiling: `cargo test --release -p linnet --test sim_rx -- --ignored
/// --nocapture syn_cost`.
#[test]
#[ignore]
fn syn_cost() {
    let mut sim = pair_with(LinkConfig::default(), |_| {});
    sim.stack(1)
        .add_route(linnet::ip::fib::Route::unicast(
            "198.51.100.0/24".parse().unwrap(),
            Some(Ipv4Addr::new(192, 0, 2, 1)),
            0,
        ))
        .unwrap();
    let (if1, mac1) = sim
        .stack(1)
        .interfaces()
        .find(|i| i.name == "eth0")
        .map(|i| (i.ifindex, i.mac))
        .unwrap();
    let mac0 = sim
        .stack(0)
        .interfaces()
        .find(|i| i.name == "eth0")
        .map(|i| i.mac)
        .unwrap();
    let _l = listen(&mut sim, 1, 80, 128);
    let now = sim.now();
    let n = 200_000u32;
    let frames: Vec<_> = (0..n)
        .map(|k| {
            let src = Ipv4Addr::from(u32::from(Ipv4Addr::new(198, 51, 100, 0)) | (k % 254 + 1));
            syn_frame(src, 1024 + (k / 254 % 60000) as u16, 80, mac0, mac1)
        })
        .collect();
    let st = sim.stack(1);
    let t = std::time::Instant::now();
    for (i, f) in frames.into_iter().enumerate() {
        st.receive(if1, f, now);
        if i % 64 == 63 {
            st.poll(now);
            while let Some(b) = st.take_tx(if1, now) {
                st.recycle(b);
            }
        }
    }
    let el = t.elapsed();
    println!(
        "{n} SYNs in {el:?}: {:.0} ns each, {:.0} SYN/s; cookies {}",
        el.as_nanos() as f64 / n as f64,
        n as f64 / el.as_secs_f64(),
        st.snmp().tcp.syncookies_sent
    );
}

// ----- 6. A corrupted segment costs no more than a lost one -----

/// Seconds to move 4 MiB over a 10 ms RTT link that damages frames as `cfg` says.
fn impaired_transfer(cfg: LinkConfig) -> (f64, linnet::stats::TcpStats) {
    let mut sim = pair_with(cfg, |_| {});
    let l = listen(&mut sim, 1, 5001, 16);
    let (c, s) = establish(&mut sim, l, 5001);
    let mut flows = [Flow::new(0, c, 1, s, pattern(4 << 20, 5))];
    let secs = run_flows(&mut sim, &mut flows, 600);
    (secs, sim.stack(1).snmp().tcp)
}

#[test]
fn corrupted_segments_are_counted_and_cost_no_more_than_lost_ones() {
    let base = LinkConfig {
        delay: Duration::from_millis(5),
        rate_bps: 100_000_000,
        queue_limit: 10_000,
        seed: 21,
        ..LinkConfig::default()
    };
    let (lost_secs, _) = impaired_transfer(LinkConfig {
        loss: 0.02,
        ..base.clone()
    });
    let (bad_secs, t) = impaired_transfer(LinkConfig {
        corrupt: 0.02,
        ..base
    });
    println!(
        "4 MiB: 2% loss {lost_secs:.2} s, 2% corruption {bad_secs:.2} s ({} checksum errors)",
        t.in_csum_errors
    );
    assert!(t.in_csum_errors > 10, "{t:?}");
    assert_eq!(t.in_csum_errors, t.in_errs);
    assert!(
        bad_secs <= 1.5 * lost_secs,
        "corruption {bad_secs:.2} s, loss {lost_secs:.2} s"
    );
}

// ----- 4. netem corrupt on a checksum-offloading device never delivers damaged data -----

/// Two stacks whose devices offload checksums and segmentation (a vnet-header pair: frames
/// cross as buffers with their checksum state), stack 0 with `netem corrupt 2%` on its
/// egress, send 4 MiB from 0 to 1. Returns what arrived and stack 1's TCP counters.
fn offload_pair_through_netem_corrupt() -> (Vec<u8>, Vec<u8>, linnet::stats::TcpStats) {
    use linnet::buf::PacketBuf;
    use linnet::device::features::NetdevFeatures;
    use linnet::EthernetAddress;
    let macs = [
        EthernetAddress([2, 0, 0, 0, 0, 1]),
        EthernetAddress([2, 0, 0, 0, 0, 2]),
    ];
    let ips = [Ipv4Addr::new(192, 0, 2, 1), B];
    let mut st: Vec<(Stack, u32)> = (0..2)
        .map(|n| {
            let mut s = Stack::new(StackConfig {
                seed: n as u64 + 1,
                ..StackConfig::default()
            });
            let i = s.add_interface("eth0", macs[n], 1500);
            s.set_dev_features(i, NetdevFeatures::VNET);
            s.add_addr(i, format!("{}/24", ips[n]).parse().unwrap(), Instant::ZERO)
                .unwrap();
            s.set_link_up(i, true, Instant::ZERO).unwrap();
            s.add_neighbour(i, ips[1 - n], macs[1 - n], Instant::ZERO)
                .unwrap();
            (s, i)
        })
        .collect();
    let words: Vec<String> = "qdisc add dev eth0 root netem corrupt 2% seed 5"
        .split_whitespace()
        .map(String::from)
        .collect();
    st[0].0.tc(&words, Instant::ZERO).expect("tc");
    let mut now = Instant::ZERO;
    let l = st[1].0.socket(SockType::Stream).unwrap();
    st[1]
        .0
        .bind(l, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 5000))
        .unwrap();
    st[1].0.listen(l, 4).unwrap();
    let c = st[0].0.socket(SockType::Stream).unwrap();
    let _ = st[0].0.connect(c, SocketAddrV4::new(B, 5000), now);
    let data = pattern(4 << 20, 9);
    let (mut sent, mut shut, mut server) = (0, false, None);
    let mut got = Vec::new();
    let mut buf = vec![0u8; 1 << 16];
    // 1 ms steps, frames crossing at once (both ways), for at most 120 virtual seconds.
    for _ in 0..120_000 {
        for from in 0..2 {
            st[from].0.poll(now);
            let i = st[from].1;
            while let Some(b) = st[from].0.take_tx(i, now) {
                let mut copy = PacketBuf::from_slice(b.data(), 64);
                copy.meta.csum = b.meta.csum;
                copy.meta.gso_size = b.meta.gso_size;
                st[from].0.recycle(b);
                let (s, to) = &mut st[1 - from];
                s.receive(*to, copy, now);
            }
        }
        if server.is_none() {
            server = st[1].0.accept(l).ok().map(|(s, _)| s);
        }
        if sent < data.len() {
            sent += st[0].0.send(c, &data[sent..], now).unwrap_or(0);
        } else if !shut {
            st[0].0.shutdown(c, Shutdown::Write, now).unwrap();
            shut = true;
        }
        let mut eof = false;
        if let Some(s) = server {
            loop {
                match st[1].0.recv(s, &mut buf, MsgFlags::default(), now) {
                    Ok(0) => {
                        eof = true;
                        break;
                    }
                    Ok(n) => got.extend_from_slice(&buf[..n]),
                    Err(_) => break,
                }
            }
        }
        if eof {
            break;
        }
        now += Duration::from_millis(1);
    }
    (got, data, st[1].0.snmp().tcp)
}

#[test]
fn netem_corrupt_on_an_offloading_device_never_delivers_damaged_bytes() {
    // Issue 14: `netem corrupt 2%` on a device with checksum offload delivered 101 damaged
    // bytes of 8 MiB to a Linux application. Linux's netem completes the checksum first.
    let (got, data, t) = offload_pair_through_netem_corrupt();
    println!(
        "{} of {} bytes arrived; receiver: {} checksum errors",
        got.len(),
        data.len(),
        t.in_csum_errors
    );
    assert!(
        got == data,
        "{} of {} bytes, or damaged",
        got.len(),
        data.len()
    );
    assert!(
        t.in_csum_errors > 10,
        "the corruption never reached TCP: {t:?}"
    );
}

// ----- Heavy reordering: an echo-like exchange finishes -----

#[test]
fn an_exchange_through_heavy_reordering_finishes() {
    // Issue 14: 25% reordering with 20 ± 5 ms of delay never finished an echo of 32 MiB
    // (SACK-carrying segments over the MTU, and out-of-order data beyond 32 holes thrown
    // away). Here both directions reorder a quarter of the frames and carry data.
    let mut sim = pair_with(
        LinkConfig {
            delay: Duration::from_millis(10),
            jitter: Duration::from_millis(5),
            reorder: 0.25,
            queue_limit: 100_000,
            seed: 3,
            ..LinkConfig::default()
        },
        |_| {},
    );
    let l = listen(&mut sim, 1, 7, 16);
    let (c, s) = establish(&mut sim, l, 7);
    let mut flows = [
        Flow::new(0, c, 1, s, pattern(4 << 20, 31)),
        Flow::new(1, s, 0, c, pattern(4 << 20, 32)),
    ];
    let secs = run_flows(&mut sim, &mut flows, 300);
    let t = sim.stack(1).snmp().tcp;
    println!(
        "4 MiB each way, 25% reordering: {secs:.2} s; receiver: {} out of order, {} dropped, \
         {} D-SACK",
        t.ofo_queue,
        t.ofo_drop,
        t.dsack_old_sent + t.dsack_ofo_sent
    );
    assert_eq!(t.ofo_drop, 0);
    assert!(secs < 20.0, "{secs:.1} s");
}
