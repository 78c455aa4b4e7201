//! ECN segment by segment, as Linux's packetdrill scripts check it (gtests/net/tcp/ecn/
//! ecn-uses-ect0.pkt and the RFC 3168 rules around it): the test is the peer, writing frames
//! into `Stack::receive` with the IP ECN field it chooses and reading every field of what the
//! stack sends, IP ECN field included.
//!
//! - Linnet with `tcp_ecn=1` connects: SYN with ECE|CWR (not ECT), a retransmitted SYN without
//!   them; after a SYN-ACK with ECE, the ACK is not-ECT and data goes out ECT(0);
//! - as receiver, a CE-marked data segment is ACKed at once with ECE, and ECE stays on every
//!   ACK until a data segment with CWR arrives;
//! - as sender, an ACK with ECE reduces the window once and the next new data carries CWR;
//!   retransmissions are not-ECT.

mod common;

use linnet::buf::PacketBuf;
use linnet::transport::tcp::TcpState;
use linnet::wire::tcp::{SeqNumber, TcpFlags, TcpPacket, TcpRepr};
use linnet::wire::{EtherType, EthernetAddress, EthernetFrame, Ipv4Packet};
use linnet::Errno;
use linnet::{Instant, Stack, StackConfig};
use linnet::{SockId, SockType};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

const US: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
const PEER: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const PEER_PORT: u16 = 8080;
const PEER_ISN: u32 = 5_000_000;
const ECT0: u8 = 2;
const CE: u8 = 3;

/// A segment as sent: the TCP header, the payload length and the IP ECN field.
type Out = (TcpRepr, usize, u8);

struct Peer {
    stack: Stack,
    ifindex: u32,
    mac: EthernetAddress,
    peer_mac: EthernetAddress,
    now: Instant,
    conn: SockId,
    local_port: u16,
    /// Our (the peer's) next sequence number, and Linnet's.
    peer_nxt: SeqNumber,
    linnet_nxt: SeqNumber,
}

fn seg(p: &Peer, flags: TcpFlags) -> TcpRepr {
    TcpRepr {
        src_port: PEER_PORT,
        dst_port: p.local_port,
        flags,
        seq_number: p.peer_nxt,
        ack_number: Some(p.linnet_nxt),
        window_len: 65535,
        max_seg_size: None,
        window_scale: None,
        sack_permitted: false,
        sack_ranges: [None; 4],
        timestamp: None,
        payload_len: 0,
        fastopen: None,
    }
}

impl Peer {
    /// Linnet (`tcp_ecn` = `ecn`) connects to the peer; returns before the SYN is answered.
    fn connect(ecn: u8) -> (Peer, Vec<Out>) {
        let mut cfg = StackConfig {
            seed: 11,
            ..StackConfig::default()
        };
        cfg.tcp.ecn = ecn;
        cfg.tcp.timestamps = false;
        let mut stack = Stack::new(cfg);
        let now = Instant::from_secs(1);
        let mac = EthernetAddress::local_from_seed(1);
        let peer_mac = EthernetAddress::local_from_seed(2);
        let ifindex = stack.add_interface("eth0", mac, 1500);
        stack
            .add_addr(ifindex, "192.0.2.2/24".parse().unwrap(), now)
            .unwrap();
        stack.set_link_up(ifindex, true, now).unwrap();
        stack.add_neighbour(ifindex, PEER, peer_mac, now).unwrap();
        let conn = stack.socket(SockType::Stream).unwrap();
        let nodelay = linnet::SockOpt::NoDelay(true);
        stack.setsockopt(conn, nodelay, now).unwrap();
        assert_eq!(
            stack.connect(conn, SocketAddrV4::new(PEER, PEER_PORT), now),
            Err(Errno::EINPROGRESS)
        );
        let mut p = Peer {
            stack,
            ifindex,
            mac,
            peer_mac,
            now,
            conn,
            local_port: 0,
            peer_nxt: SeqNumber(PEER_ISN),
            linnet_nxt: SeqNumber(0),
        };
        let out = p.drain();
        p.local_port = out[0].0.src_port;
        p.linnet_nxt = out[0].0.seq_number + 1;
        (p, out)
    }

    /// Deliver one segment with `ecn` in its IP header.
    fn send(&mut self, mut repr: TcpRepr, payload: &[u8], ecn: u8) {
        let frame =
            common::forge_tcp_frame(self.mac, self.peer_mac, PEER, US, ecn, &mut repr, payload);
        self.stack
            .receive(self.ifindex, PacketBuf::from_slice(&frame, 0), self.now);
        self.peer_nxt += payload.len();
    }

    /// Everything the stack transmits now.
    fn drain(&mut self) -> Vec<Out> {
        let mut out = Vec::new();
        self.stack.poll(self.now);
        while let Some(buf) = self.stack.take_tx(self.ifindex, self.now) {
            let eth = EthernetFrame::new_checked(buf.data()).unwrap();
            if eth.ethertype() == EtherType::IPV4 {
                let ip = Ipv4Packet::new_checked(eth.payload()).unwrap();
                let p = TcpPacket::new_checked(ip.payload()).unwrap();
                let r = TcpRepr::parse(&p, ip.src_addr(), ip.dst_addr(), true).unwrap();
                out.push((r, p.payload().len(), ip.ecn()));
            }
            self.stack.recycle(buf);
        }
        out
    }

    fn advance(&mut self, d: Duration) -> Vec<Out> {
        self.now += d;
        self.drain()
    }

    /// Answer the SYN with a SYN-ACK carrying `flags` beside SYN|ACK.
    fn synack(&mut self, flags: TcpFlags) -> Vec<Out> {
        let mut s = seg(self, TcpFlags::SYN | TcpFlags::ACK | flags);
        s.max_seg_size = Some(1000);
        self.send(s, &[], 0);
        self.peer_nxt += 1;
        let out = self.drain();
        assert_eq!(self.stack.tcp_state(self.conn), Some(TcpState::Established));
        out
    }

    fn write(&mut self, n: usize) -> Vec<Out> {
        let now = self.now;
        assert_eq!(self.stack.send(self.conn, &vec![7u8; n], now), Ok(n));
        self.drain()
    }
}

fn has(f: TcpFlags, x: TcpFlags) -> bool {
    f.contains(x)
}

#[test]
fn ecn_uses_ect0_as_in_linuxs_packetdrill_script() {
    // sysctl -q net.ipv4.tcp_ecn=1; connect(): > SEW 0:0(0)
    let (mut p, out) = Peer::connect(1);
    assert_eq!(out.len(), 1);
    let (syn, _, ecn) = out[0];
    assert_eq!(
        syn.flags,
        TcpFlags::SYN | TcpFlags::ECE | TcpFlags::CWR,
        "the SYN asks for ECN"
    );
    assert_eq!(ecn, 0, "a SYN is not-ECT");
    // < SE. 0:0(0) ack 1; > . 1:1(0) ack 1 (not ECT)
    let out = p.synack(TcpFlags::ECE);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].0.flags, TcpFlags::ACK);
    assert_eq!(out[0].2, 0, "a pure ACK is not-ECT");
    // write(4, ..., 1000); > [ect0] P. 1:1001(1000) ack 1
    let out = p.write(1000);
    assert_eq!(out.len(), 1);
    let (d, len, ecn) = out[0];
    assert_eq!((len, ecn), (1000, ECT0), "data is ECT(0)");
    assert_eq!(d.flags, TcpFlags::ACK | TcpFlags::PSH);
    // A retransmission (the RTO) is not-ECT.
    let out = p.advance(Duration::from_millis(1100));
    assert_eq!(out.len(), 1);
    assert_eq!(
        (out[0].0.seq_number, out[0].1, out[0].2),
        (d.seq_number, 1000, 0)
    );
}

#[test]
fn without_ece_on_the_synack_or_with_tcp_ecn_2_there_is_no_ecn() {
    // A SYN-ACK without ECE: no ECN, data not-ECT.
    let (mut p, _) = Peer::connect(1);
    p.synack(TcpFlags(0));
    assert_eq!(p.write(100)[0].2, 0);
    // A reflector (ECE|CWR on the SYN-ACK): no ECN either.
    let (mut p, _) = Peer::connect(1);
    p.synack(TcpFlags::ECE | TcpFlags::CWR);
    assert_eq!(p.write(100)[0].2, 0);
    // Linux's default 2: the SYN does not ask.
    let (_, out) = Peer::connect(2);
    assert_eq!(out[0].0.flags, TcpFlags::SYN);
    // The retransmitted SYN goes without ECE|CWR (tcp_ecn_fallback).
    let (mut p, _) = Peer::connect(1);
    let out = p.advance(Duration::from_millis(1100));
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].0.flags, TcpFlags::SYN, "retransmitted SYN");
}

#[test]
fn ce_is_echoed_with_ece_until_cwr_arrives() {
    let (mut p, _) = Peer::connect(1);
    p.synack(TcpFlags::ECE);
    // In-order data, ECT(0): one ACK for two segments, no ECE.
    p.send(seg(&p, TcpFlags::ACK), &[1u8; 1000], ECT0);
    p.send(seg(&p, TcpFlags::ACK), &[1u8; 1000], ECT0);
    let out = p.drain();
    assert!(!out.is_empty() && out.iter().all(|o| !has(o.0.flags, TcpFlags::ECE)));
    // Past the initial quick ACKs: a single segment now waits for the delayed ACK.
    for _ in 0..20 {
        p.send(seg(&p, TcpFlags::ACK), &[1u8; 1000], ECT0);
        p.send(seg(&p, TcpFlags::ACK), &[1u8; 1000], ECT0);
        p.drain();
    }
    p.send(seg(&p, TcpFlags::ACK), &[1u8; 1000], ECT0);
    assert!(p.drain().is_empty(), "a lone segment's ACK is delayed");
    p.advance(Duration::from_millis(50));
    // CE: ACKed at once (quick ACK), with ECE.
    p.send(seg(&p, TcpFlags::ACK), &[1u8; 1000], CE);
    let out = p.drain();
    assert_eq!(out.len(), 1, "CE is ACKed at once");
    assert!(has(out[0].0.flags, TcpFlags::ECE));
    assert_eq!(out[0].0.ack_number, Some(p.peer_nxt));
    // ECE on every ACK after it, CE or not...
    for _ in 0..3 {
        p.send(seg(&p, TcpFlags::ACK), &[1u8; 1000], ECT0);
        p.send(seg(&p, TcpFlags::ACK), &[1u8; 1000], ECT0);
        let out = p.drain();
        assert!(!out.is_empty() && out.iter().all(|o| has(o.0.flags, TcpFlags::ECE)));
    }
    // ...and on our data too.
    let out = p.write(10);
    assert!(has(out[0].0.flags, TcpFlags::ECE) && out[0].2 == ECT0);
    p.linnet_nxt += 10;
    // Data with CWR ends it, and is ACKed at once.
    p.send(seg(&p, TcpFlags::ACK | TcpFlags::CWR), &[1u8; 1000], ECT0);
    let out = p.drain();
    assert_eq!(out.len(), 1, "CWR is ACKed at once");
    assert!(!has(out[0].0.flags, TcpFlags::ECE));
    let info = |p: &mut Peer| {
        p.stack
            .sockets_info()
            .into_iter()
            .find_map(|i| i.tcp.filter(|t| t.state == "ESTAB"))
            .unwrap()
    };
    let i = info(&mut p);
    assert!(i.ecn && i.ecn_seen);
}

#[test]
fn ece_reduces_the_window_once_and_the_next_new_data_carries_cwr() {
    let (mut p, _) = Peer::connect(1);
    p.synack(TcpFlags::ECE);
    let cwnd = |p: &mut Peer| {
        p.stack
            .sockets_info()
            .into_iter()
            .find_map(|i| i.tcp.filter(|t| t.state == "ESTAB"))
            .unwrap()
            .cwnd
    };
    // Ten segments out (the initial window).
    let out = p.write(10_000);
    let sent: usize = out.iter().map(|o| o.1).sum();
    assert_eq!(sent, 10_000);
    assert!(out
        .iter()
        .all(|o| o.2 == ECT0 && !has(o.0.flags, TcpFlags::CWR)));
    let w0 = cwnd(&mut p);
    // The first half ACKed with ECE: the window drops once, CWR goes on the next data.
    p.linnet_nxt += 5000;
    p.send(seg(&p, TcpFlags::ACK | TcpFlags::ECE), &[], 0);
    let out = p.drain();
    let w1 = cwnd(&mut p);
    assert!(w1 < w0, "cwnd {w0} → {w1}");
    assert!(out.is_empty(), "the reduced window is full: {out:?}");
    // More ECE for the same window: no second reduction.
    p.linnet_nxt += 1000;
    p.send(seg(&p, TcpFlags::ACK | TcpFlags::ECE), &[], 0);
    p.drain();
    assert_eq!(cwnd(&mut p), w1, "one reduction per window");
    assert_eq!(p.stack.snmp().tcp.ecn_cwr, 1);
    // The rest ACKed: new data goes out, the first segment with CWR, the rest without.
    p.linnet_nxt += 4000;
    p.send(seg(&p, TcpFlags::ACK), &[], 0);
    p.drain();
    let out = p.write(3000);
    assert!(!out.is_empty());
    assert!(
        has(out[0].0.flags, TcpFlags::CWR) && out[0].2 == ECT0,
        "{:?}",
        out[0]
    );
    assert!(out[1..].iter().all(|o| !has(o.0.flags, TcpFlags::CWR)));
}

#[test]
fn an_ece_reduction_is_paced_by_prr_in_the_cwr_state() {
    // Linux: tcp_enter_cwr → the CWR state, where tcp_cwnd_reduction (PRR) brings the window
    // down to ssthresh ACK by ACK instead of cutting it at once and falling silent.
    let (mut p, _) = Peer::connect(1);
    p.synack(TcpFlags::ECE);
    let info = |p: &mut Peer| {
        p.stack
            .sockets_info()
            .into_iter()
            .find_map(|i| i.tcp.filter(|t| t.state == "ESTAB"))
            .unwrap()
    };
    // Ten 1000-byte segments out (the initial window), ten more queued behind them.
    let out = p.write(20_000);
    assert_eq!(out.iter().map(|o| o.1).sum::<usize>(), 10_000);
    let w0 = info(&mut p).cwnd;
    assert_eq!(w0, 10_000);
    // Half of it ACKed with ECE: CUBIC's ssthresh is 7 segments; 5 are in flight, so PRR
    // sends 2 new segments on this very ACK (cwnd = in flight + 2), not 5 and not none.
    p.linnet_nxt += 5000;
    p.send(seg(&p, TcpFlags::ACK | TcpFlags::ECE), &[], 0);
    let out = p.drain();
    let i = info(&mut p);
    assert_eq!(i.ca_state, "cwr", "{i:?}");
    assert_eq!(i.ssthresh, 7000, "{i:?}");
    assert_eq!(out.iter().filter(|o| o.1 > 0).count(), 2, "{out:?}");
    assert!(has(out[0].0.flags, TcpFlags::CWR), "{:?}", out[0]);
    assert_eq!(i.cwnd, 7000, "{i:?}");
    // Each further ACK of a segment lets one more out while in flight is at ssthresh.
    p.linnet_nxt += 1000;
    p.send(seg(&p, TcpFlags::ACK), &[], 0);
    let out = p.drain();
    assert_eq!(out.iter().filter(|o| o.1 > 0).count(), 1, "{out:?}");
    // Everything up to the reduction point and beyond it ACKed: back to Open at ssthresh.
    p.linnet_nxt += 7000;
    p.send(seg(&p, TcpFlags::ACK), &[], 0);
    p.drain();
    let i = info(&mut p);
    assert_eq!(i.ca_state, "open", "{i:?}");
    assert!(i.cwnd >= 7000 && i.cwnd <= 8000, "{i:?}");
    assert_eq!(p.stack.snmp().tcp.ecn_cwr, 1);
}
