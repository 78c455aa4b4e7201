//! Fragmentation, reassembly and path MTU discovery between stacks under virtual time.
//!
//! The first tests use the simulator's in-memory link (1500-byte MTU, with reordering and
//! duplication where asked). The path MTU tests drive two stacks by hand across a "path
//! element" that only passes IP packets of up to 1280 bytes and answers bigger ones with ICMP
//! "fragmentation needed" carrying that MTU, as a router in front of a narrower link does
//! (RFC 1191).

mod common;
use common::pattern;

use linnet::buf::PacketBuf;
use linnet::stats::DropReason;
use linnet::transport::tcp::TcpState;
use linnet::wire::icmpv4::dst_unreachable;
use linnet::wire::{
    EtherType, EthernetAddress, EthernetRepr, Icmpv4Repr, IpProtocol, Ipv4Addr, Ipv4Packet,
    Ipv4Repr,
};
use linnet::Errno;
use linnet::LinkConfig;
use linnet::Sim;
use linnet::{Instant, Stack, StackConfig};
use linnet::{MsgFlags, Shutdown, SockId, SockType};
use std::collections::VecDeque;
use std::net::SocketAddrV4;
use std::time::Duration;

const A: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const B: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
/// The path element's address, the source of its ICMP errors.
const ROUTER: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 254);

fn pair(cfg: LinkConfig) -> Sim {
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

fn udp_socket(s: &mut Stack, port: u16) -> SockId {
    let u = s.socket(SockType::Dgram).unwrap();
    s.bind(u, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port))
        .unwrap();
    u
}

#[test]
fn udp_datagram_of_20000_bytes_crosses_a_1500_mtu_link_in_14_fragments() {
    let mut sim = pair(LinkConfig {
        delay: Duration::from_millis(2),
        ..LinkConfig::default()
    });
    let ua = udp_socket(sim.stack(0), 4000);
    let ub = udp_socket(sim.stack(1), 5000);
    let data = pattern(20_000, 7);
    let now = sim.now();
    assert_eq!(
        sim.stack(0)
            .send_to(ua, &data, SocketAddrV4::new(B, 5000), now),
        Ok(20_000)
    );
    let mut buf = vec![0u8; 65536];
    let mut got = None;
    let until = sim.now() + Duration::from_secs(2);
    sim.run_until_cond(until, |sim| {
        let now = sim.now();
        if let Ok((n, from)) = sim
            .stack(1)
            .recv_from(ub, &mut buf, MsgFlags::default(), now)
        {
            got = Some((buf[..n].to_vec(), from));
        }
        got.is_some()
    });
    let (bytes, from) = got.expect("datagram never arrived");
    assert_eq!(from, SocketAddrV4::new(A, 4000).into());
    assert!(bytes == data, "payload differs");
    // 20008 bytes of UDP over 1480-byte fragment payloads: 13 full fragments and one of 768.
    let a = sim.stack(0).snmp().ip;
    assert_eq!((a.frag_oks, a.frag_creates, a.frag_fails), (1, 14, 0));
    let b = sim.stack(1).snmp().ip;
    assert_eq!((b.reasm_reqds, b.reasm_oks, b.reasm_fails), (14, 1, 0));
    assert_eq!(sim.stack(1).frag_queues().queue_count(), 0);
    assert_eq!(sim.stack(1).frag_queues().mem(), 0);
}

#[test]
fn reassembly_through_reordering_and_duplication() {
    let mut sim = pair(LinkConfig {
        delay: Duration::from_millis(5),
        jitter: Duration::from_millis(3),
        reorder: 0.25,
        duplicate: 0.1,
        seed: 42,
        ..LinkConfig::default()
    });
    let ua = udp_socket(sim.stack(0), 4000);
    let ub = udp_socket(sim.stack(1), 5000);
    let sizes: Vec<usize> = (0..40).map(|i| 1_472 + i * 1_637 % 40_000).collect();
    let sent: Vec<Vec<u8>> = sizes
        .iter()
        .enumerate()
        .map(|(i, &n)| pattern(n, i as u64 + 1))
        .collect();
    // The 1472-byte one fits in one frame; every other one is fragmented.
    let fragmented = sent.iter().filter(|d| d.len() + 8 + 20 > 1500).count();
    let mut got: Vec<Vec<u8>> = Vec::new();
    let mut buf = vec![0u8; 65536];
    let mut next = 0;
    let until = sim.now() + Duration::from_secs(10);
    sim.run_until_cond(until, |sim| {
        let now = sim.now();
        // A few datagrams at a time, so that they are in flight together.
        for _ in 0..4 {
            if next < sent.len() {
                sim.stack(0)
                    .send_to(ua, &sent[next], SocketAddrV4::new(B, 5000), now)
                    .unwrap();
                next += 1;
            }
        }
        while let Ok((n, _)) = sim
            .stack(1)
            .recv_from(ub, &mut buf, MsgFlags::default(), now)
        {
            got.push(buf[..n].to_vec());
        }
        false
    });
    // Every datagram arrived intact (an unfragmented one may arrive twice, as UDP allows).
    for (i, d) in sent.iter().enumerate() {
        assert!(got.contains(d), "datagram {i} ({} bytes) missing", d.len());
    }
    for g in &got {
        assert!(sent.contains(g), "a corrupt datagram of {} bytes", g.len());
    }
    let b = sim.stack(1).snmp().ip;
    assert_eq!(b.reasm_oks as usize, fragmented);
    assert!(
        sim.stack(1).drops().get(DropReason::DupFrag) > 0,
        "the link duplicated no fragment"
    );
    // Late duplicates of completed datagrams open queues that can never complete; they go
    // after ipfrag_time and the memory comes back.
    sim.advance(Duration::from_secs(31));
    assert_eq!(sim.stack(1).frag_queues().queue_count(), 0);
    assert_eq!(sim.stack(1).frag_queues().mem(), 0);
    let b = sim.stack(1).snmp().ip;
    assert_eq!(b.reasm_fails, b.reasm_timeout);
}

#[test]
fn a_20000_byte_ping_is_reassembled_and_answered_in_fragments() {
    let mut sim = pair(LinkConfig {
        delay: Duration::from_millis(1),
        ..LinkConfig::default()
    });
    let ident = sim.stack(0).ping_open().unwrap();
    let now = sim.now();
    sim.stack(0)
        .ping_send(ident, B, 1, 20_000, None, now)
        .unwrap();
    sim.advance(Duration::from_secs(1));
    let reply = sim.stack(0).ping_recv(ident).unwrap().expect("no reply");
    assert_eq!((reply.seq, reply.from, reply.error), (1, B, None));
    assert_eq!(reply.bytes, 20_008);
    // B reassembled the request and fragmented the reply, built in the request's buffer.
    let (a, b) = (sim.stack(0).snmp().ip, sim.stack(1).snmp().ip);
    assert_eq!((b.reasm_oks, b.frag_oks, b.frag_creates), (1, 1, 14));
    assert_eq!((a.frag_creates, a.reasm_oks), (14, 1));
}

// ----- path MTU discovery -----

/// Two stacks on 1500-byte interfaces, joined by a hand-driven wire whose middle only passes
/// IP packets of up to `path_mtu` bytes from A towards B, answering bigger ones with ICMP
/// fragmentation needed.
struct NarrowPath {
    stacks: [Stack; 2],
    ifs: [u32; 2],
    macs: [EthernetAddress; 2],
    now: Instant,
    delay: Duration,
    /// Frames in flight: arrival time, receiving side, bytes.
    wire: VecDeque<(Instant, usize, Vec<u8>)>,
    path_mtu: usize,
    /// "Fragmentation needed" messages the path element sent.
    frag_needed: u32,
    /// Largest IP packet from A that made it through.
    largest_passed: usize,
    /// An ICMP black hole: oversized packets vanish without "fragmentation needed".
    black_hole: bool,
    /// Packets from A dropped in the black hole.
    swallowed: u32,
    /// Some IP packet from A had DF set.
    df_seen: bool,
}

impl NarrowPath {
    fn new(path_mtu: usize) -> NarrowPath {
        NarrowPath::with(path_mtu, |_| {})
    }

    /// As [`NarrowPath::new`], A's configuration changed by `conf`.
    fn with(path_mtu: usize, conf: impl Fn(&mut StackConfig)) -> NarrowPath {
        let now = Instant::ZERO;
        let macs = [
            EthernetAddress([2, 0, 0, 0, 0, 1]),
            EthernetAddress([2, 0, 0, 0, 0, 2]),
        ];
        let mk = |seed: u64, mac: EthernetAddress, addr: &str| {
            let mut c = StackConfig {
                seed,
                ..StackConfig::default()
            };
            if seed == 1 {
                conf(&mut c);
            }
            let mut s = Stack::new(c);
            let i = s.add_interface("eth0", mac, 1500);
            s.add_addr(i, addr.parse().unwrap(), now).unwrap();
            s.set_link_up(i, true, now).unwrap();
            (s, i)
        };
        let (a, ia) = mk(1, macs[0], "192.0.2.1/24");
        let (b, ib) = mk(2, macs[1], "192.0.2.2/24");
        let mut p = NarrowPath {
            stacks: [a, b],
            ifs: [ia, ib],
            macs,
            now,
            delay: Duration::from_millis(1),
            wire: VecDeque::new(),
            path_mtu,
            frag_needed: 0,
            largest_passed: 0,
            black_hole: false,
            swallowed: 0,
            df_seen: false,
        };
        p.advance(Duration::from_millis(100));
        p
    }

    /// ICMP fragmentation needed from the path element to A about `ip` (A's packet).
    fn frag_needed_frame(&self, ip: &[u8]) -> Vec<u8> {
        let icmp = Icmpv4Repr::DstUnreachable {
            code: dst_unreachable::FRAG_NEEDED,
            next_hop_mtu: self.path_mtu as u16,
            data: &ip[..ip.len().min(28)],
        };
        let ip_repr = Ipv4Repr {
            src_addr: ROUTER,
            dst_addr: A,
            protocol: IpProtocol::ICMP,
            payload_len: icmp.buffer_len(),
            ttl: 64,
            tos: 0xc0,
            ident: self.frag_needed as u16,
            dont_frag: false,
        };
        let mut f = vec![0u8; 14 + 20 + icmp.buffer_len()];
        EthernetRepr {
            src_addr: EthernetAddress([2, 0, 0, 0, 0, 0xfe]),
            dst_addr: self.macs[0],
            ethertype: EtherType::IPV4,
        }
        .emit(&mut f[..14]);
        ip_repr.emit(&mut f[14..34]);
        icmp.emit(&mut f[34..]);
        f
    }

    /// Put a frame sent by `from` on the wire (or bounce it at the path element).
    fn carry(&mut self, from: usize, frame: Vec<u8>) {
        let is_ip = frame.len() > 14 && frame[12..14] == [0x08, 0x00];
        if from == 0 && is_ip {
            let ip_len = frame.len() - 14;
            self.df_seen |= frame[14 + 6] & 0x40 != 0;
            if ip_len > self.path_mtu && self.black_hole {
                self.swallowed += 1;
                return;
            }
            if ip_len > self.path_mtu {
                let icmp = self.frag_needed_frame(&frame[14..]);
                self.frag_needed += 1;
                self.wire.push_back((self.now + self.delay, 0, icmp));
                return;
            }
            self.largest_passed = self.largest_passed.max(ip_len);
        }
        self.wire
            .push_back((self.now + self.delay, 1 - from, frame));
    }

    fn step(&mut self) -> Option<Instant> {
        let now = self.now;
        while self.wire.front().is_some_and(|w| w.0 <= now) {
            let (_, to, frame) = self.wire.pop_front().expect("front");
            let b = PacketBuf::from_slice(&frame, 64);
            self.stacks[to].receive(self.ifs[to], b, now);
        }
        let mut next: Option<Instant> = None;
        for s in self.stacks.iter_mut() {
            if let Some(t) = s.poll(now) {
                next = Some(next.map_or(t, |n| n.min(t)));
            }
        }
        for from in 0..2 {
            while let Some(b) = self.stacks[from].take_tx(self.ifs[from], now) {
                let frame = b.data().to_vec();
                self.stacks[from].recycle(b);
                self.carry(from, frame);
            }
        }
        if let Some(&(t, _, _)) = self.wire.front() {
            next = Some(next.map_or(t, |n| n.min(t)));
        }
        next
    }

    fn run_until(&mut self, until: Instant, mut cond: impl FnMut(&mut NarrowPath) -> bool) -> bool {
        let mut same_time = 0;
        loop {
            let next = self.step();
            if cond(self) {
                return true;
            }
            let busy = self.stacks.iter().any(|s| s.has_pending_tx())
                || self.wire.front().is_some_and(|w| w.0 <= self.now);
            if busy && same_time < 1000 {
                same_time += 1;
                continue;
            }
            same_time = 0;
            if self.now >= until {
                return false;
            }
            let t = next
                .map_or(until, |n| n.min(until))
                .max(self.now + Duration::from_micros(1));
            self.now = t.min(until);
        }
    }

    fn advance(&mut self, d: Duration) {
        let until = self.now + d;
        self.run_until(until, |_| false);
    }

    /// A connection from A to B:port, accepted on B: (client, server).
    fn establish(&mut self, port: u16) -> (SockId, SockId) {
        let now = self.now;
        let l = self.stacks[1].socket(SockType::Stream).unwrap();
        let any = SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port);
        self.stacks[1].bind(l, any).unwrap();
        self.stacks[1].listen(l, 8).unwrap();
        let c = self.stacks[0].socket(SockType::Stream).unwrap();
        let to = SocketAddrV4::new(B, port);
        assert_eq!(self.stacks[0].connect(c, to, now), Err(Errno::EINPROGRESS));
        let mut server = None;
        let until = now + Duration::from_secs(10);
        let ok = self.run_until(until, |p| {
            if server.is_none() {
                server = p.stacks[1].accept(l).ok().map(|(s, _)| s);
            }
            server.is_some() && p.stacks[0].tcp_state(c) == Some(TcpState::Established)
        });
        assert!(ok, "no handshake");
        (c, server.expect("accepted"))
    }

    /// Send `data` from A's `c` to B's `s`, then close; returns what B read up to EOF.
    fn transfer(&mut self, c: SockId, s: SockId, data: &[u8]) -> Vec<u8> {
        let (mut sent, mut closed, mut eof) = (0, false, false);
        let mut got = Vec::with_capacity(data.len());
        let mut buf = vec![0u8; 65536];
        let until = self.now + Duration::from_secs(60);
        self.run_until(until, |p| {
            let now = p.now;
            while sent < data.len() {
                match p.stacks[0].send(c, &data[sent..], now) {
                    Ok(n) => sent += n,
                    Err(Errno::EAGAIN) => break,
                    Err(e) => panic!("send: {e}"),
                }
            }
            if sent == data.len() && !closed {
                p.stacks[0].shutdown(c, Shutdown::Write, now).unwrap();
                closed = true;
            }
            loop {
                match p.stacks[1].recv(s, &mut buf, MsgFlags::default(), now) {
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
        got
    }

    /// The send MSS of A's socket `c` and whether it uses timestamps.
    fn mss(&self, c: SockId) -> (u32, bool) {
        let info = self.info(0, c);
        (info.mss, info.ts)
    }

    /// `tcp_info` of socket `id` of stack `i`.
    fn info(&self, i: usize, id: SockId) -> linnet::transport::tcp::TcpInfo {
        self.stacks[i]
            .sockets_info()
            .into_iter()
            .find(|x| x.id == id)
            .and_then(|x| x.tcp)
            .expect("tcp info")
    }
}

#[test]
fn tcp_lowers_its_mss_on_frag_needed_and_delivers_byte_exact() {
    let mut p = NarrowPath::new(1280);
    let (c, s) = p.establish(5001);
    let (mss, ts) = p.mss(c);
    assert_eq!(
        mss,
        if ts { 1448 } else { 1460 },
        "MSS from the 1500 MTU first"
    );
    let data = pattern(1 << 20, 99);
    let got = p.transfer(c, s, &data);
    assert!(got == data, "stream differs ({} bytes)", got.len());
    // The path element bounced the first full-sized segments, and only those.
    assert!(p.frag_needed >= 1, "no segment was too big");
    assert!(p.frag_needed <= 16, "{} bounces", p.frag_needed);
    assert!(p.largest_passed <= 1280);
    // MSS = 1280 − 40 (− 12 for the timestamp option).
    let (mss, ts) = p.mss(c);
    assert_eq!(mss, if ts { 1228 } else { 1240 });
    let now = p.now;
    assert_eq!(p.stacks[0].ipv4_mtu(B, now), Some(1280));
    let ex = p.stacks[0].pmtu_exceptions(now);
    assert_eq!(
        (ex.len(), ex[0].dst, ex[0].mtu, ex[0].locked),
        (1, B, 1280, false)
    );
    // Resent at once on the ICMP, not after a retransmission timeout.
    let tcp = p.stacks[0].snmp().tcp;
    assert_eq!(tcp.timeouts, 0);
    assert!(tcp.retrans_segs >= 1);
    assert_eq!(
        p.stacks[0].snmp().icmp.in_dest_unreachs,
        u64::from(p.frag_needed)
    );
}

#[test]
fn a_new_connection_uses_the_learned_path_mtu() {
    let mut p = NarrowPath::new(1280);
    let (c, s) = p.establish(5001);
    let first = pattern(200_000, 1);
    assert!(p.transfer(c, s, &first) == first);
    let bounced = p.frag_needed;
    assert!(bounced >= 1);
    p.largest_passed = 0;
    // A second connection to the same host starts at the learned path MTU: no segment is
    // too big, neither for the path nor inside A (no FragFails, no ICMP to itself).
    let fails = p.stacks[0].snmp().ip.frag_fails;
    let (c2, s2) = p.establish(5002);
    let (mss, ts) = p.mss(c2);
    assert_eq!(
        mss,
        if ts { 1228 } else { 1240 },
        "MSS from the cached PMTU at once"
    );
    let second = pattern(300_000, 2);
    assert!(p.transfer(c2, s2, &second) == second);
    assert_eq!(p.frag_needed, bounced, "the path saw no oversized packet");
    assert!(p.largest_passed <= 1280 && p.largest_passed > 1000);
    assert_eq!(p.stacks[0].snmp().ip.frag_fails, fails);
    // After route.mtu_expires the device MTU is back for new traffic.
    p.advance(Duration::from_secs(601));
    let now = p.now;
    assert_eq!(p.stacks[0].ipv4_mtu(B, now), Some(1500));
}

#[test]
fn frag_needed_for_another_connection_or_out_of_window_is_ignored() {
    let mut p = NarrowPath::new(1500);
    let (c, _s) = p.establish(5001);
    let (mss, _) = p.mss(c);
    // A forged error quoting a segment of a connection that does not exist.
    let mut ip = [0u8; 28];
    Ipv4Repr {
        src_addr: A,
        dst_addr: B,
        protocol: IpProtocol::TCP,
        payload_len: 8,
        ttl: 64,
        tos: 0,
        ident: 1,
        dont_frag: true,
    }
    .emit(&mut ip[..20]);
    ip[20..22].copy_from_slice(&1234u16.to_be_bytes());
    ip[22..24].copy_from_slice(&5001u16.to_be_bytes());
    p.path_mtu = 600;
    let frame = p.frag_needed_frame(&ip);
    let now = p.now;
    p.stacks[0].receive(p.ifs[0], PacketBuf::from_slice(&frame, 64), now);
    assert_eq!(p.mss(c).0, mss);
    assert!(p.stacks[0].pmtu_exceptions(now).is_empty());
    assert_eq!(p.stacks[0].snmp().icmp.in_dest_unreachs, 1);
    assert!(Ipv4Packet::new_checked(&frame[14..]).is_ok());
}

// ----- route metrics and path MTU probing -----

/// A's route to B with metrics, as `ip route add 192.0.2.2 dev eth0 mtu lock 1280 advmss 1000
/// initcwnd 20` makes it.
fn route_with_metrics(p: &mut NarrowPath, line: &str) {
    let mut r = linnet::ip::fib::Route::unicast("192.0.2.2/32".parse().unwrap(), None, p.ifs[0]);
    let mut words = line.split_whitespace();
    while let Some(w) = words.next() {
        assert!(r.metrics.parse_word(w, &mut words).unwrap(), "{w}");
    }
    p.stacks[0].add_route(r).unwrap();
}

#[test]
fn route_metrics_size_the_mss_the_advertised_mss_and_the_initial_window() {
    let mut p = NarrowPath::new(1280);
    route_with_metrics(&mut p, "mtu lock 1280 advmss 1000 initcwnd 20");
    let (c, s) = p.establish(5001);
    let (mss, ts) = p.mss(c);
    let opts = if ts { 12 } else { 0 };
    // A sends for the route's MTU from the start (tcp_sync_mss with dst_mtu)...
    assert_eq!(mss, 1240 - opts);
    // ...B for the MSS A advertised (the route's advmss, not the MTU's 1240).
    assert_eq!(p.info(1, s).mss, 1000 - opts);
    // The route's initcwnd (tcp_init_cwnd), not TCP_INIT_CWND.
    assert_eq!(p.info(0, c).cwnd, 20 * mss);
    let data = pattern(300_000, 5);
    assert!(p.transfer(c, s, &data) == data);
    // Nothing was too big for the 1280 path, and a locked MTU lets routers fragment.
    assert_eq!(p.frag_needed, 0);
    assert!(p.largest_passed <= 1280 && p.largest_passed > 1200);
    assert!(!p.df_seen, "DF set under a locked route MTU");
    // A locked route MTU is not lowered by path MTU discovery.
    p.path_mtu = 1000;
    let (c2, s2) = p.establish(5002);
    let more = pattern(100_000, 6);
    let now = p.now;
    p.stacks[0].send(c2, &more[..20_000], now).unwrap();
    p.advance(Duration::from_millis(50));
    assert!(p.frag_needed >= 1);
    let now = p.now;
    assert!(p.stacks[0].pmtu_exceptions(now).is_empty());
    assert_eq!(p.stacks[0].ipv4_mtu(B, now), Some(1280));
    let _ = s2;
}

#[test]
fn mtu_probing_finds_a_narrower_path_behind_an_icmp_black_hole() {
    // tcp_mtu_probing=2: probe always, from tcp_base_mss (1024) up.
    let mut p = NarrowPath::with(1280, |c| c.tcp.mtu_probing = 2);
    p.black_hole = true;
    let (c, s) = p.establish(5001);
    let (mss, ts) = p.mss(c);
    let opts = if ts { 12 } else { 0 };
    assert_eq!(mss, 1024, "the search starts at tcp_base_mss");
    let data = pattern(4 << 20, 7);
    let got = p.transfer(c, s, &data);
    assert!(got == data, "stream differs ({} bytes)", got.len());
    let tcp = p.stacks[0].snmp().tcp;
    // The first probe (halfway between 1024 + headers and 1500) was too big and vanished;
    // the next ones fit and raised the MSS, until the range was under tcp_probe_threshold.
    assert!(p.swallowed >= 1, "no probe was too big");
    assert!(tcp.mtup_fail >= 1, "{tcp:?}");
    assert!(tcp.mtup_success >= 3, "{tcp:?}");
    let (mss, _) = p.mss(c);
    eprintln!(
        "probing: MSS {mss}, {} probes acknowledged, {} lost, largest packet {}",
        tcp.mtup_success, tcp.mtup_fail, p.largest_passed
    );
    let best = 1280 - 40 - opts;
    assert!(
        mss <= best && mss + 8 >= best,
        "MSS {mss}, the path takes {best}"
    );
    assert!(p.largest_passed <= 1280 && p.largest_passed + 8 >= 1280);
    // No ICMP came back, and what the hole swallowed was only the probes: each one lost
    // cost no retransmission timeout.
    assert_eq!(p.frag_needed, 0);
    assert_eq!(u64::from(p.swallowed), tcp.mtup_fail);
    assert_eq!(tcp.timeouts, 0);
}

#[test]
fn without_probing_a_black_hole_stalls_until_black_hole_detection_lowers_the_mss() {
    // tcp_mtu_probing=1: full-sized segments vanish; after tcp_retries1 timeouts the MSS
    // drops to tcp_base_mss and the transfer completes.
    let mut p = NarrowPath::with(1280, |c| c.tcp.mtu_probing = 1);
    p.black_hole = true;
    let (c, s) = p.establish(5001);
    let (mss, ts) = p.mss(c);
    assert_eq!(mss, if ts { 1448 } else { 1460 });
    let data = pattern(200_000, 8);
    let got = p.transfer(c, s, &data);
    assert!(got == data, "stream differs ({} bytes)", got.len());
    let tcp = p.stacks[0].snmp().tcp;
    eprintln!(
        "black hole detection: {} timeouts, MSS {}",
        tcp.timeouts,
        p.mss(c).0
    );
    assert!(tcp.timeouts >= 4, "{tcp:?}");
    assert!(p.mss(c).0 < 1280 - 40, "MSS {}", p.mss(c).0);
}
