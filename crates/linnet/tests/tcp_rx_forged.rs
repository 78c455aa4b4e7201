//! The receiver's answers to forged segments, field by field: SACK blocks newest first for
//! every out-of-order segment (beyond the 32 holes the old assembler could track), SACK
//! compression after three duplicate ACKs as Linux does it, D-SACK blocks for duplicates
//! (RFC 2883), quick ACKs, segments that carry blocks staying within the MTU, and the data
//! on the ACK that completes a SYN-cookie handshake.
//!
//! The peer is the test: it writes Ethernet frames into `Stack::receive` and reads the
//! stack's answers from `Stack::take_tx`.

mod common;

use linnet::buf::PacketBuf;
use linnet::wire::tcp::{SeqNumber, TcpFlags, TcpPacket, TcpRepr};
use linnet::wire::{EtherType, EthernetAddress, EthernetFrame, IpProtocol, Ipv4Packet};
use linnet::{Instant, Stack, StackConfig};
use linnet::{MsgFlags, SockId, SockType};
use std::net::{Ipv4Addr, SocketAddrV4};

const US: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
const PEER: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const PORT: u16 = 80;
const ISN: u32 = 1_000_000;
const MSS: usize = 1448;

fn seg(sport: u16, flags: TcpFlags, seq: SeqNumber, ack: Option<SeqNumber>) -> TcpRepr {
    TcpRepr {
        src_port: sport,
        dst_port: PORT,
        flags,
        seq_number: seq,
        ack_number: ack,
        window_len: 65535,
        max_seg_size: None,
        window_scale: None,
        sack_permitted: false,
        sack_ranges: [None; 4],
        timestamp: None,
        fastopen: None,
        payload_len: 0,
    }
}

struct Rig {
    stack: Stack,
    ifindex: u32,
    mac: EthernetAddress,
    peer_mac: EthernetAddress,
    now: Instant,
    listener: SockId,
    tsval: u32,
}

impl Rig {
    fn new(tweak: impl FnOnce(&mut StackConfig), backlog: u32) -> Rig {
        let mut cfg = StackConfig {
            seed: 9,
            ..StackConfig::default()
        };
        tweak(&mut cfg);
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
        let l = stack.socket(SockType::Stream).unwrap();
        stack
            .bind(l, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, PORT))
            .unwrap();
        stack.listen(l, backlog).unwrap();
        let mut rig = Rig {
            stack,
            ifindex,
            mac,
            peer_mac,
            now,
            listener: l,
            tsval: 1000,
        };
        rig.drain();
        rig
    }

    /// Deliver one forged segment (with a fresh timestamp) from the peer.
    fn send(&mut self, mut repr: TcpRepr, payload: &[u8]) {
        self.tsval += 1;
        if repr.timestamp.is_none() {
            repr.timestamp = Some((self.tsval, 0));
        }
        let frame =
            common::forge_tcp_frame(self.mac, self.peer_mac, PEER, US, 0, &mut repr, payload);
        self.stack
            .receive(self.ifindex, PacketBuf::from_slice(&frame, 0), self.now);
    }

    /// Everything the stack transmits now: parsed segments, payloads, and the frame sizes.
    fn drain(&mut self) -> Vec<(TcpRepr, Vec<u8>, usize)> {
        let mut out = Vec::new();
        self.stack.poll(self.now);
        while let Some(buf) = self.stack.take_tx(self.ifindex, self.now) {
            let eth = EthernetFrame::new_checked(buf.data()).unwrap();
            if eth.ethertype() == EtherType::IPV4 {
                let ip = Ipv4Packet::new_checked(eth.payload()).unwrap();
                assert_eq!(ip.protocol(), IpProtocol::TCP);
                let p = TcpPacket::new_checked(ip.payload()).unwrap();
                let r = TcpRepr::parse(&p, ip.src_addr(), ip.dst_addr(), true).unwrap();
                out.push((r, p.payload().to_vec(), buf.len()));
            }
            self.stack.recycle(buf);
        }
        out
    }

    /// A SYN with SACK, timestamps and window scaling from `sport`; returns the SYN-ACK.
    fn syn(&mut self, sport: u16) -> TcpRepr {
        let mut syn = seg(sport, TcpFlags::SYN, SeqNumber(ISN), None);
        syn.max_seg_size = Some(1460);
        syn.window_scale = Some(7);
        syn.sack_permitted = true;
        self.send(syn, &[]);
        let out = self.drain();
        assert_eq!(out.len(), 1, "one SYN-ACK: {out:?}");
        let synack = out[0].0;
        assert_eq!(synack.flags, TcpFlags::SYN | TcpFlags::ACK);
        assert!(synack.sack_permitted);
        synack
    }

    /// A connection from `sport` with SACK and timestamps, accepted; returns (socket, our
    /// next sequence number).
    fn connect(&mut self, sport: u16) -> (SockId, SeqNumber) {
        let synack = self.syn(sport);
        let ours = synack.seq_number + 1;
        let mut ack = seg(sport, TcpFlags::ACK, SeqNumber(ISN) + 1, Some(ours));
        ack.timestamp = Some((self.tsval + 1, synack.timestamp.unwrap().0));
        self.send(ack, &[]);
        assert!(self.drain().is_empty());
        let (s, _) = self.stack.accept(self.listener).expect("accepted");
        (s, ours)
    }
}

fn data(i: usize) -> Vec<u8> {
    vec![i as u8; MSS]
}

/// The SACK blocks of an ACK, relative to the peer's first data byte.
fn blocks(r: &TcpRepr) -> Vec<(i32, i32)> {
    let base = SeqNumber(ISN) + 1;
    r.sack_ranges
        .iter()
        .flatten()
        .map(|(l, r)| (*l - base, *r - base))
        .collect()
}

#[test]
fn every_out_of_order_segment_gets_an_immediate_ack_with_its_block_first() {
    // A receive buffer of 1 MiB: room for the 200 segments' window. SACK compression off
    // (`tcp_comp_sack_nr` 0): every out-of-order segment is answered at once, and its
    // ACK's first block is the one it went into.
    let mut rig = Rig::new(
        |c| {
            c.tcp.rmem_default = 1 << 20;
            c.tcp.comp_sack_nr = 0;
        },
        8,
    );
    let (_, ours) = rig.connect(40000);
    let base = SeqNumber(ISN) + 1;
    // Segment 0 arrives; then every other segment: 1, 3, 5, ... lost. 100 holes: far more
    // than the 32 ranges the old assembler kept (it dropped the rest, so the sender had to
    // send them again).
    let mut expect_blocks: Vec<(i32, i32)> = Vec::new();
    rig.send(seg(40000, TcpFlags::ACK, base, Some(ours)), &data(0));
    let _ = rig.drain();
    for k in 1..=100usize {
        let i = 2 * k;
        let off = (i * MSS) as i32;
        rig.send(
            seg(40000, TcpFlags::ACK, base + i * MSS, Some(ours)),
            &data(i),
        );
        let out = rig.drain();
        assert_eq!(
            out.len(),
            1,
            "one immediate ACK for out-of-order segment {i}"
        );
        let (r, payload, _) = &out[0];
        assert!(payload.is_empty());
        assert_eq!(r.ack_number, Some(base + MSS), "cumulative ACK stays");
        let b = blocks(r);
        // Newest first, then the previous ones (three fit beside the timestamps).
        expect_blocks.insert(0, (off, off + MSS as i32));
        expect_blocks.truncate(3);
        assert_eq!(b, expect_blocks, "segment {i}");
    }
    let t = rig.stack.snmp().tcp;
    assert_eq!(t.ofo_queue, 100);
    assert_eq!(t.ofo_drop, 0, "out-of-order data dropped");
    // Filling the holes one by one: each ACK moves on and reports the next blocks.
    for k in 1..=100usize {
        let i = 2 * k - 1;
        rig.send(
            seg(40000, TcpFlags::ACK, base + i * MSS, Some(ours)),
            &data(i),
        );
        let out = rig.drain();
        assert_eq!(out.len(), 1, "hole {i} filled: one immediate ACK");
        assert_eq!(out[0].0.ack_number, Some(base + (i + 2) * MSS), "hole {i}");
    }
    // All 201 segments readable in order.
    let mut got = Vec::new();
    let mut buf = vec![0u8; 1 << 16];
    let s = rig
        .stack
        .sockets_info()
        .iter()
        .find(|i| i.state == "ESTAB")
        .unwrap()
        .id;
    while let Ok(n @ 1..) = rig.stack.recv(s, &mut buf, MsgFlags::default(), rig.now) {
        got.extend_from_slice(&buf[..n]);
    }
    let want: Vec<u8> = (0..=200).flat_map(data).collect();
    assert!(
        got == want,
        "{} of {} bytes, or out of order",
        got.len(),
        want.len()
    );
}

/// Connect from `sport` with a 1 MiB receive buffer and send segments `0..20` in order, so
/// that the quick ACKs of a new connection are used up (Linux: `tcp_incr_quickack` at the
/// first data); returns the rig, our sequence number and the peer's first byte.
fn connected_past_quickacks(sport: u16) -> (Rig, SeqNumber, SeqNumber) {
    let mut rig = Rig::new(|c| c.tcp.rmem_default = 1 << 20, 8);
    let (_, ours) = rig.connect(sport);
    let base = SeqNumber(ISN) + 1;
    for i in 0..20usize {
        rig.send(
            seg(sport, TcpFlags::ACK, base + i * MSS, Some(ours)),
            &data(i),
        );
        let _ = rig.drain();
    }
    rig.now += std::time::Duration::from_millis(50);
    let _ = rig.drain();
    (rig, ours, base)
}

/// The block `[i, j)` in segments.
fn segs(i: usize, j: usize) -> (i32, i32) {
    ((i * MSS) as i32, (j * MSS) as i32)
}

#[test]
fn out_of_order_acks_are_compressed_after_three_duplicates() {
    // Linux's receiver (`__tcp_ack_snd_check`): behind one hole, the first three out-of-order
    // segments are answered at once (the sender's duplicate-ACK threshold), the following
    // SACKs are held for 5% of the round trip plus the timer's 100 us slack
    // (`tcp_comp_sack_delay_ns` at most 1 ms) and go out as one ACK; 44 held
    // (`tcp_comp_sack_nr`) send one at once.
    let (mut rig, ours, base) = connected_past_quickacks(40020);
    let send = |rig: &mut Rig, i: usize| {
        rig.send(
            seg(40020, TcpFlags::ACK, base + i * MSS, Some(ours)),
            &data(i),
        );
        rig.drain()
    };
    // Segment 20 lost.
    for i in 21..=23usize {
        let out = send(&mut rig, i);
        assert_eq!(out.len(), 1, "duplicate ACK for segment {i} at once");
        assert_eq!(out[0].0.ack_number, Some(base + 20 * MSS));
        assert_eq!(blocks(&out[0].0), vec![segs(21, i + 1)]);
    }
    for i in 24..=30usize {
        assert!(send(&mut rig, i).is_empty(), "segment {i}: SACK held back");
    }
    rig.now += std::time::Duration::from_micros(1100);
    let out = rig.drain();
    assert_eq!(out.len(), 1, "the compression timer sends one ACK: {out:?}");
    assert_eq!(out[0].0.ack_number, Some(base + 20 * MSS));
    assert_eq!(blocks(&out[0].0), vec![segs(21, 31)]);
    assert_eq!(rig.stack.snmp().tcp.ack_compressed, 6, "7 held, 1 sent");
    // 44 held at most: the 45th is answered at once.
    for i in 31..=74usize {
        assert!(send(&mut rig, i).is_empty(), "segment {i}: SACK held back");
    }
    let out = send(&mut rig, 75);
    assert_eq!(out.len(), 1, "the 45th held SACK goes at once");
    assert_eq!(blocks(&out[0].0), vec![segs(21, 76)]);
    // The retransmission that fills the hole is ACKed at once, without quick-ACK mode after
    // it (Linux since 4.18): the next lone in-order segment waits for the delayed ACK.
    let out = send(&mut rig, 20);
    assert_eq!(out.len(), 1, "hole filled: ACKed at once");
    assert_eq!(out[0].0.ack_number, Some(base + 76 * MSS));
    assert!(blocks(&out[0].0).is_empty());
    assert!(
        send(&mut rig, 76).is_empty(),
        "one in-order segment: delayed ACK"
    );
    rig.now += std::time::Duration::from_millis(41);
    let out = rig.drain();
    assert_eq!(out.len(), 1, "the delayed ACK");
    assert_eq!(out[0].0.ack_number, Some(base + 77 * MSS));
}

#[test]
fn out_of_order_data_beyond_the_expected_blocks_sends_the_held_ack() {
    // Linux: TCP_SACK_BLOCKS_EXPECTED in tcp_sack_new_ofo_skb. A segment that starts a third
    // block (or extends one past the first two) first sends the held ACK, with the blocks as
    // they were, so a sender that lost an ACK still hears of every block.
    let (mut rig, ours, base) = connected_past_quickacks(40021);
    let send = |rig: &mut Rig, i: usize| {
        rig.send(
            seg(40021, TcpFlags::ACK, base + i * MSS, Some(ours)),
            &data(i),
        );
        rig.drain()
    };
    for i in 21..=23usize {
        assert_eq!(send(&mut rig, i).len(), 1);
    }
    assert!(send(&mut rig, 24).is_empty(), "held");
    assert!(send(&mut rig, 30).is_empty(), "a second block: held");
    let out = send(&mut rig, 40);
    assert_eq!(out.len(), 1, "a third block sends the held ACK");
    assert_eq!(blocks(&out[0].0), vec![segs(30, 31), segs(21, 25)]);
    rig.now += std::time::Duration::from_micros(1100);
    let out = rig.drain();
    assert_eq!(out.len(), 1, "then the timer sends the newest");
    assert_eq!(
        blocks(&out[0].0),
        vec![segs(40, 41), segs(30, 31), segs(21, 25)]
    );
}

#[test]
fn a_segment_after_a_silence_longer_than_the_rto_is_acked_at_once() {
    // Linux: tcp_event_data_recv's "too long gap": the sender timed out and restarts from
    // one segment; a delayed ACK would hold its slow start back by 40 ms.
    let (mut rig, ours, base) = connected_past_quickacks(40022);
    rig.send(
        seg(40022, TcpFlags::ACK, base + 20 * MSS, Some(ours)),
        &data(20),
    );
    assert!(
        rig.drain().is_empty(),
        "a lone segment waits for the delayed ACK"
    );
    rig.now += std::time::Duration::from_secs(2);
    let _ = rig.drain();
    rig.send(
        seg(40022, TcpFlags::ACK, base + 21 * MSS, Some(ours)),
        &data(21),
    );
    let out = rig.drain();
    assert_eq!(out.len(), 1, "ACKed at once after the silence");
    assert_eq!(out[0].0.ack_number, Some(base + 22 * MSS));
}

#[test]
fn reading_a_pushed_segment_that_empties_the_queue_acks_at_once() {
    // Linux: ICSK_ACK_PUSHED (tcp_measure_rcv_mss) read by tcp_cleanup_rbuf. A full segment
    // with PSH ends a write; the sender may be cwnd-bound and waiting, so the read that
    // drains it sends the ACK instead of the 40 ms timer. Without PSH the ACK waits.
    let mut rig = Rig::new(|c| c.tcp.rmem_default = 1 << 20, 8);
    let (s, ours) = rig.connect(40030);
    let base = SeqNumber(ISN) + 1;
    let mut buf = vec![0u8; 1 << 16];
    let mut read = |rig: &mut Rig| {
        while let Ok(1..) = rig.stack.recv(s, &mut buf, MsgFlags::default(), rig.now) {}
    };
    for i in 0..20usize {
        rig.send(
            seg(40030, TcpFlags::ACK, base + i * MSS, Some(ours)),
            &data(i),
        );
        let _ = rig.drain();
        read(&mut rig);
        let _ = rig.drain();
    }
    rig.now += std::time::Duration::from_millis(50);
    let _ = rig.drain();

    rig.send(
        seg(40030, TcpFlags::ACK, base + 20 * MSS, Some(ours)),
        &data(20),
    );
    assert!(
        rig.drain().is_empty(),
        "a lone segment waits for the delayed ACK"
    );
    read(&mut rig);
    assert!(rig.drain().is_empty(), "without PSH the read does not ACK");
    rig.now += std::time::Duration::from_millis(50);
    assert_eq!(rig.drain().len(), 1, "the delayed ACK");

    rig.send(
        seg(
            40030,
            TcpFlags::ACK | TcpFlags::PSH,
            base + 21 * MSS,
            Some(ours),
        ),
        &data(21),
    );
    assert!(rig.drain().is_empty(), "not at arrival");
    read(&mut rig);
    let out = rig.drain();
    assert_eq!(
        out.len(),
        1,
        "the read that empties the queue ACKs the pushed segment"
    );
    assert_eq!(out[0].0.ack_number, Some(base + 22 * MSS));
}

#[test]
fn duplicates_are_reported_in_a_dsack_block_first() {
    let mut rig = Rig::new(|_| {}, 8);
    let (_, ours) = rig.connect(40001);
    let base = SeqNumber(ISN) + 1;
    for i in 0..2 {
        rig.send(
            seg(40001, TcpFlags::ACK, base + i * MSS, Some(ours)),
            &data(i),
        );
    }
    let _ = rig.drain();
    // An old duplicate (below RCV.NXT): ACKed at once with a D-SACK block.
    rig.send(seg(40001, TcpFlags::ACK, base, Some(ours)), &data(0));
    let out = rig.drain();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].0.ack_number, Some(base + 2 * MSS));
    assert_eq!(blocks(&out[0].0), vec![(0, MSS as i32)]);
    // Out of order, then the same segment again: D-SACK first, then its SACK block.
    rig.send(
        seg(40001, TcpFlags::ACK, base + 4 * MSS, Some(ours)),
        &data(4),
    );
    let out = rig.drain();
    assert_eq!(blocks(&out[0].0), vec![(4 * MSS as i32, 5 * MSS as i32)]);
    rig.send(
        seg(40001, TcpFlags::ACK, base + 4 * MSS, Some(ours)),
        &data(4),
    );
    let out = rig.drain();
    assert_eq!(out.len(), 1);
    let b4 = (4 * MSS as i32, 5 * MSS as i32);
    assert_eq!(blocks(&out[0].0), vec![b4, b4]);
    // The D-SACK block goes once.
    rig.send(
        seg(40001, TcpFlags::ACK, base + 6 * MSS, Some(ours)),
        &data(6),
    );
    let out = rig.drain();
    assert_eq!(
        blocks(&out[0].0),
        vec![(6 * MSS as i32, 7 * MSS as i32), b4]
    );
    // A segment partly below RCV.NXT: the old part is D-SACKed.
    rig.send(
        seg(40001, TcpFlags::ACK, base + MSS + 100, Some(ours)),
        &vec![9u8; MSS],
    );
    let out = rig.drain();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].0.ack_number, Some(base + 2 * MSS + 100));
    assert_eq!(blocks(&out[0].0)[0], (MSS as i32 + 100, 2 * MSS as i32));
    let t = rig.stack.snmp().tcp;
    assert_eq!((t.dsack_old_sent, t.dsack_ofo_sent), (2, 1), "{t:?}");
}

#[test]
fn a_full_data_segment_with_sack_blocks_fits_the_mtu() {
    // Linux: tcp_current_mss. The connection holds out-of-order data, so our segments carry
    // three SACK blocks (28 bytes of options beyond the timestamps the MSS allows for).
    let mut rig = Rig::new(|_| {}, 8);
    let (s, ours) = rig.connect(40002);
    let base = SeqNumber(ISN) + 1;
    for i in [2usize, 4, 6] {
        rig.send(
            seg(40002, TcpFlags::ACK, base + i * MSS, Some(ours)),
            &data(i),
        );
    }
    let _ = rig.drain();
    let now = rig.now;
    let n = rig.stack.send(s, &vec![7u8; 8 * MSS], now).unwrap();
    assert_eq!(n, 8 * MSS);
    let out = rig.drain();
    let sent: usize = out.iter().map(|(_, p, _)| p.len()).sum();
    assert!(sent >= 4 * MSS, "only {sent} bytes went out: {out:?}");
    let data_segs = out.iter().filter(|(_, p, _)| !p.is_empty()).count();
    for (i, (r, p, frame)) in out.iter().filter(|(_, p, _)| !p.is_empty()).enumerate() {
        assert!(*frame <= 1514, "a {frame}-byte frame");
        assert_eq!(blocks(r).len(), 3, "{r:?}");
        // 28 option bytes: NOP, NOP, kind, length and three 8-byte blocks. The write's
        // runt tail may go too (Nagle, Minshall's variant: no earlier small segment).
        if i + 1 < data_segs {
            assert_eq!(p.len(), MSS - 28, "payload sized for the blocks");
        } else {
            assert!(p.len() <= MSS - 28, "a {}-byte tail", p.len());
        }
    }
    assert_eq!(
        rig.stack.drops().get(linnet::stats::DropReason::PktTooBig),
        0
    );
}

#[test]
fn data_on_the_ack_that_completes_a_cookie_handshake_is_queued_and_acked() {
    // A SYN queue of one: the second SYN is answered with a cookie.
    let mut rig = Rig::new(|c| c.tcp.max_syn_backlog = 1, 1);
    let _ = rig.syn(40010);
    let synack = rig.syn(40011);
    assert_eq!(rig.stack.snmp().tcp.syncookies_sent, 1);
    let ours = synack.seq_number + 1;
    // The peer's ACK carries its request (a client that writes at once: Linux delays the
    // handshake ACK to carry it, tcp_rcv_synsent_state_process with a pending write).
    let mut ack = seg(
        40011,
        TcpFlags::ACK | TcpFlags::PSH,
        SeqNumber(ISN) + 1,
        Some(ours),
    );
    ack.timestamp = Some((rig.tsval + 1, synack.timestamp.unwrap().0));
    rig.send(ack, b"GET / HTTP/1.0\r\n\r\n");
    let out = rig.drain();
    assert_eq!(out.len(), 1, "the data is acknowledged: {out:?}");
    assert_eq!(out[0].0.ack_number, Some(SeqNumber(ISN) + 1 + 18));
    let t = rig.stack.snmp().tcp;
    assert_eq!(t.syncookies_recv, 1);
    let (s, from) = rig.stack.accept(rig.listener).expect("accepted");
    assert_eq!(from.port(), 40011);
    let mut buf = [0u8; 64];
    assert_eq!(
        rig.stack.recv(s, &mut buf, MsgFlags::default(), rig.now),
        Ok(18)
    );
    assert_eq!(&buf[..18], b"GET / HTTP/1.0\r\n\r\n");
}

#[test]
fn a_late_original_rejected_by_paws_is_dsacked() {
    // The retransmission of segment 0 overtook its original; the original arrives with an
    // older timestamp: PAWS drops it (PAWSEstab), and the ACK tells the sender the
    // retransmission was not needed. Linux: tcp_validate_incoming → tcp_send_dupack.
    let mut rig = Rig::new(|_| {}, 8);
    let (_, ours) = rig.connect(40003);
    let base = SeqNumber(ISN) + 1;
    let old_ts = rig.tsval + 1;
    rig.tsval += 10;
    rig.send(seg(40003, TcpFlags::ACK, base, Some(ours)), &data(0));
    let _ = rig.drain();
    let mut late = seg(40003, TcpFlags::ACK, base, Some(ours));
    late.timestamp = Some((old_ts, 0));
    rig.send(late, &data(0));
    let out = rig.drain();
    assert_eq!(out.len(), 1, "one immediate ACK");
    assert_eq!(out[0].0.ack_number, Some(base + MSS));
    assert_eq!(blocks(&out[0].0), vec![(0, MSS as i32)]);
    let t = rig.stack.snmp().tcp;
    assert_eq!((t.paws_estab_rejected, t.dsack_old_sent), (1, 1));
}

impl Rig {
    /// Deliver a forged segment with the URG flag and urgent pointer `urg_ptr`.
    fn send_urgent(&mut self, mut repr: TcpRepr, payload: &[u8], urg_ptr: u16) {
        self.tsval += 1;
        repr.timestamp = Some((self.tsval, 0));
        repr.flags.insert(TcpFlags::URG);
        let mut frame =
            common::forge_tcp_frame(self.mac, self.peer_mac, PEER, US, 0, &mut repr, payload);
        let tcp = &mut frame[14 + 20..];
        tcp[18..20].copy_from_slice(&urg_ptr.to_be_bytes());
        tcp[16..18].fill(0);
        let mut pseudo = Vec::new();
        pseudo.extend_from_slice(&PEER.octets());
        pseudo.extend_from_slice(&US.octets());
        pseudo.extend_from_slice(&[0, 6]);
        pseudo.extend_from_slice(&(tcp.len() as u16).to_be_bytes());
        pseudo.extend_from_slice(tcp);
        let c = linnet::wire::checksum::checksum(&pseudo);
        tcp[16..18].copy_from_slice(&c.to_be_bytes());
        self.stack
            .receive(self.ifindex, PacketBuf::from_slice(&frame, 0), self.now);
    }
}

#[test]
fn urgent_byte_is_out_of_band_reads_stop_before_it_and_splice_stops_at_it() {
    let mut rig = Rig::new(|_| {}, 8);
    let (s, ours) = rig.connect(40100);
    let base = SeqNumber(ISN) + 1;
    let payload: Vec<u8> = (0..100u8).collect();
    // urg 100: the urgent byte is the 100th (Linux's reading of the pointer).
    rig.send_urgent(
        seg(40100, TcpFlags::ACK | TcpFlags::PSH, base, Some(ours)),
        &payload,
        100,
    );
    let _ = rig.drain();
    let rd = MsgFlags {
        peek: false,
        dontwait: true,
    };
    let mut buf = [0u8; 200];
    let now = rig.now;
    // A read stops before the urgent byte.
    assert_eq!(rig.stack.recv(s, &mut buf, rd, now), Ok(99));
    assert_eq!(&buf[..99], &payload[..99]);
    // splice's read stops at it and does not step over it, again and again.
    assert_eq!(rig.stack.recv_read_sock(s, &mut buf, now), Ok(0));
    assert_eq!(rig.stack.recv_read_sock(s, &mut buf, now), Ok(0));
    // MSG_OOB returns it once (PEEK leaves it).
    assert_eq!(rig.stack.recv_urg(s, true), Ok(99));
    assert_eq!(rig.stack.recv_urg(s, false), Ok(99));
    assert_eq!(rig.stack.recv_urg(s, false), Err(linnet::Errno::EINVAL));
    // More data: the next read steps over the urgent byte.
    rig.send(
        seg(40100, TcpFlags::ACK | TcpFlags::PSH, base + 100, Some(ours)),
        b"after",
    );
    let _ = rig.drain();
    assert_eq!(rig.stack.recv(s, &mut buf, rd, now), Ok(5));
    assert_eq!(&buf[..5], b"after");
}

#[test]
fn urgent_byte_stays_in_the_stream_with_oobinline() {
    let mut rig = Rig::new(|_| {}, 8);
    let (s, ours) = rig.connect(40101);
    let now = rig.now;
    rig.stack
        .setsockopt(s, linnet::SockOpt::OobInline(true), now)
        .unwrap();
    let base = SeqNumber(ISN) + 1;
    rig.send_urgent(
        seg(40101, TcpFlags::ACK | TcpFlags::PSH, base, Some(ours)),
        b"0123456789",
        10,
    );
    let _ = rig.drain();
    let rd = MsgFlags {
        peek: false,
        dontwait: true,
    };
    let mut buf = [0u8; 64];
    assert_eq!(rig.stack.recv(s, &mut buf, rd, now), Ok(10));
    assert_eq!(&buf[..10], b"0123456789");
    assert_eq!(rig.stack.recv_urg(s, false), Err(linnet::Errno::EINVAL));
}

#[test]
fn out_of_order_data_grows_the_receive_buffer_over_its_span() {
    // Linux 6.16's tcp_data_queue_ofo → tcp_rcvbuf_grow: on a reordering or lossy path the
    // buffer (and so the window) must cover the hole and what lies past it, before the
    // application has read anything that would drive the usual per-round-trip growth.
    use linnet::socket::{SockOpt, SockOptName, SockOptValue};
    let mut rig = Rig::new(|c| c.tcp.rmem_default = 128 << 10, 8);
    let (s, ours) = rig.connect(40001);
    let base = SeqNumber(ISN) + 1;
    let rcvbuf = |rig: &mut Rig| match rig.stack.getsockopt(s, SockOptName::RcvBuf) {
        Ok(SockOptValue::Opt(SockOpt::RcvBuf(n))) => n,
        r => panic!("SO_RCVBUF: {r:?}"),
    };
    assert_eq!(rcvbuf(&mut rig), 128 << 10);
    // Segment 0 lost; segments 1..=80 (116 KB, within the 128 KiB window) arrive.
    for i in 1..=80usize {
        rig.send(
            seg(40001, TcpFlags::ACK, base + i * MSS, Some(ours)),
            &data(i),
        );
    }
    let mut out = rig.drain();
    // The SACKs held back (compression) go when the timer fires.
    rig.now += std::time::Duration::from_millis(2);
    out.extend(rig.drain());
    let grown = rcvbuf(&mut rig);
    let span = 81 * MSS;
    assert!(
        grown >= span + 16 * MSS && grown <= 6 << 20,
        "rcvbuf {grown} for an out-of-order span of {span}"
    );
    // The window the last ACK offers follows the buffer.
    let last = out.last().expect("ACKs of the out-of-order data").0;
    let wnd = (last.window_len as usize) << 7;
    assert!(wnd > 128 << 10, "window {wnd}");
    // A few sparse segments at the window's edge do not buy megabytes: the growth is bounded
    // by four times what the peer has sent.
    let (s3, ours3) = rig.connect(40003);
    for i in [60usize, 70, 80] {
        rig.send(
            seg(40003, TcpFlags::ACK, base + i * MSS, Some(ours3)),
            &data(i),
        );
    }
    rig.drain();
    assert_eq!(
        rig.stack.getsockopt(s3, SockOptName::RcvBuf),
        Ok(SockOptValue::Opt(SockOpt::RcvBuf(128 << 10)))
    );
    // A connection pinned by SO_RCVBUF keeps its size.
    let (s2, ours2) = rig.connect(40002);
    let now = rig.now;
    rig.stack
        .setsockopt(s2, SockOpt::RcvBuf(64 << 10), now)
        .unwrap();
    let pinned = rig.stack.getsockopt(s2, SockOptName::RcvBuf);
    for i in 1..=20usize {
        rig.send(
            seg(40002, TcpFlags::ACK, base + i * MSS, Some(ours2)),
            &data(i),
        );
    }
    rig.drain();
    assert_eq!(rig.stack.getsockopt(s2, SockOptName::RcvBuf), pinned);
}

#[test]
fn quick_ack_mode_acks_each_segment_of_a_batch() {
    // A new connection's first flight (an initial window of ten segments) arrives in one
    // receive batch. Linux's receiver is in quick-ACK mode (`tcp_incr_quickack` at the first
    // data) and `__tcp_ack_snd_check` sends an ACK for every segment at once, so the sender's
    // slow start is clocked per segment and losing one ACK costs it nothing. Folding the
    // batch into one ACK left a sender whose single ACK was lost waiting for its loss probe
    // (7 ms on the impair rig's "loss 5% on acks" path, a 40-segment flight).
    let mut rig = Rig::new(|c| c.tcp.rmem_default = 1 << 20, 8);
    let (sock, ours) = rig.connect(40030);
    let base = SeqNumber(ISN) + 1;
    for i in 0..10usize {
        rig.send(
            seg(40030, TcpFlags::ACK, base + i * MSS, Some(ours)),
            &data(i),
        );
    }
    let out = rig.drain();
    let acks: Vec<SeqNumber> = out.iter().filter_map(|(r, _, _)| r.ack_number).collect();
    let want: Vec<SeqNumber> = (1..=10usize).map(|i| base + i * MSS).collect();
    assert_eq!(acks, want, "one ACK per segment, in order");
    // Past the quick-ACK budget (16 segments here) the batch shares one cumulative ACK.
    for i in 10..40usize {
        rig.send(
            seg(40030, TcpFlags::ACK, base + i * MSS, Some(ours)),
            &data(i),
        );
    }
    let out = rig.drain();
    let acks: Vec<SeqNumber> = out.iter().filter_map(|(r, _, _)| r.ack_number).collect();
    assert_eq!(acks.last(), Some(&(base + 40 * MSS)), "all acknowledged");
    assert!(
        acks.len() < 30,
        "quick ACKs only for the budget, then batched: {} ACKs",
        acks.len()
    );
    let mut buf = vec![0u8; 40 * MSS];
    let mut got = 0;
    while let Ok(n @ 1..) = rig
        .stack
        .recv(sock, &mut buf[got..], MsgFlags::default(), rig.now)
    {
        got += n;
    }
    assert_eq!(got, 40 * MSS);
}

#[test]
fn while_the_window_opens_each_segment_is_acked_at_once() {
    // Linux's tcp_grow_window: the window opens by two segments for each segment received
    // while the receive buffer has room beyond it (rcv_ssthresh), and that segment is ACKed
    // at once (`icsk_ack.quick |= 1`) so the sender hears of the larger window. So a Linux
    // receiver whose buffer autotuning grew ACKs every segment until its window has caught
    // up: through slow start, and in the low-window stretches after a sender's timeouts,
    // where each held ACK stalls the sender (issue 14: on the impair rig's "loss 5% on data"
    // path Linux B ACKed 620 lone segments at once, each with a larger window; Linnet held
    // them for its delayed ACK).
    use linnet::socket::SockOpt;
    let mut rig = Rig::new(|c| c.tcp.rmem_default = 64 << 10, 8);
    let (s, ours) = rig.connect(40040);
    let base = SeqNumber(ISN) + 1;
    let mut buf = vec![0u8; 1 << 16];
    let read = |rig: &mut Rig, buf: &mut [u8]| {
        while let Ok(1..) = rig.stack.recv(s, buf, MsgFlags::default(), rig.now) {}
    };
    // Segments `range` in order, each read as it comes.
    let feed = |rig: &mut Rig, buf: &mut [u8], range: std::ops::Range<usize>| {
        for i in range {
            rig.send(
                seg(40040, TcpFlags::ACK, base + i * MSS, Some(ours)),
                &data(i),
            );
            let _ = rig.drain();
            read(rig, buf);
            let _ = rig.drain();
        }
    };
    // After 50 ms of quiet, segment `i` alone: what goes out at once.
    let lone = |rig: &mut Rig, i: usize| {
        rig.now += std::time::Duration::from_millis(50);
        let _ = rig.drain();
        rig.send(
            seg(40040, TcpFlags::ACK, base + i * MSS, Some(ours)),
            &data(i),
        );
        rig.drain()
    };
    // Past a new connection's quick-ACK budget, the window as large as the buffer.
    feed(&mut rig, &mut buf, 0..40);
    assert!(
        lone(&mut rig, 40).is_empty(),
        "no room to open the window: a lone segment waits for the delayed ACK"
    );
    read(&mut rig, &mut buf);
    rig.now += std::time::Duration::from_millis(50);
    let out = rig.drain();
    assert_eq!(out.len(), 1, "the delayed ACK");
    let mut wnd = out[0].0.window_len;

    // The buffer grows (as autotuning or SO_RCVBUF make it): every segment now opens the
    // window further and is ACKed on arrival.
    rig.stack
        .setsockopt(s, SockOpt::RcvBuf(1 << 20), rig.now)
        .unwrap();
    for i in 41..61usize {
        rig.send(
            seg(40040, TcpFlags::ACK, base + i * MSS, Some(ours)),
            &data(i),
        );
        let out = rig.drain();
        assert_eq!(out.len(), 1, "segment {i} ACKed at once: {out:?}");
        let r = out[0].0;
        assert_eq!(r.ack_number, Some(base + (i + 1) * MSS));
        assert!(
            r.window_len > wnd,
            "segment {i}: window {} after {wnd}",
            r.window_len
        );
        wnd = r.window_len;
        read(&mut rig, &mut buf);
        let _ = rig.drain();
    }

    // Once the window has caught up with the buffer, a lone segment waits again.
    feed(&mut rig, &mut buf, 61..700);
    assert!(
        lone(&mut rig, 700).is_empty(),
        "the window is open as far as it goes"
    );
}
