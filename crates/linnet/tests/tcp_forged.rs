//! Forged segments against one established connection: each RFC 5961 / RFC 9293 / RFC 7323
//! acceptance rule checked by what the stack sends back (or does not) and what the socket sees.
//!
//! The peer here is the test itself: it writes Ethernet frames into `Stack::receive` and reads
//! the stack's answers from `Stack::take_tx`, so every field of every segment is under control.

mod common;

use linnet::buf::PacketBuf;
use linnet::transport::tcp::TcpState;
use linnet::wire::tcp::{SeqNumber, TcpFlags, TcpPacket, TcpRepr};
use linnet::wire::{EtherType, EthernetAddress, EthernetFrame, IpProtocol, Ipv4Packet};
use linnet::Errno;
use linnet::{Instant, Stack, StackConfig};
use linnet::{MsgFlags, SockId, SockType};
use linnet_tools::tc::Tc;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

const US: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
const PEER: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const PEER_PORT: u16 = 40000;
const PORT: u16 = 80;
const PEER_ISN: u32 = 1_000_000;

struct Rig {
    stack: Stack,
    ifindex: u32,
    mac: EthernetAddress,
    peer_mac: EthernetAddress,
    now: Instant,
    /// The accepted socket.
    conn: SockId,
    /// Peer's next sequence number (= our rcv_nxt).
    peer_nxt: SeqNumber,
    /// Our next sequence number as the peer has seen it (= our snd_nxt).
    our_nxt: SeqNumber,
    /// Peer timestamps in use.
    ts: Option<u32>,
}

fn seg(flags: TcpFlags, seq: SeqNumber, ack: Option<SeqNumber>) -> TcpRepr {
    TcpRepr {
        src_port: PEER_PORT,
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

impl Rig {
    fn new(timestamps: bool, tweak: impl FnOnce(&mut StackConfig)) -> Rig {
        let mut cfg = StackConfig {
            seed: 7,
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
        stack.listen(l, 8).unwrap();
        let mut rig = Rig {
            stack,
            ifindex,
            mac,
            peer_mac,
            now,
            conn: l,
            peer_nxt: SeqNumber(PEER_ISN),
            our_nxt: SeqNumber(0),
            ts: timestamps.then_some(1000),
        };
        rig.drain();
        // Three-way handshake, driven by hand.
        let mut syn = seg(TcpFlags::SYN, rig.peer_nxt, None);
        syn.max_seg_size = Some(1460);
        syn.window_scale = Some(0);
        rig.send(syn, &[]);
        let out = rig.drain();
        assert_eq!(out.len(), 1, "one SYN-ACK");
        let (synack, _) = &out[0];
        assert_eq!(synack.flags, TcpFlags::SYN | TcpFlags::ACK);
        assert_eq!(synack.ack_number, Some(rig.peer_nxt + 1));
        assert_eq!(synack.timestamp.is_some(), timestamps);
        rig.peer_nxt += 1;
        rig.our_nxt = synack.seq_number + 1;
        rig.send(seg(TcpFlags::ACK, rig.peer_nxt, Some(rig.our_nxt)), &[]);
        assert!(rig.drain().is_empty(), "the final ACK needs no answer");
        let (conn, from) = rig.stack.accept(l).expect("accepted");
        assert_eq!(from, SocketAddrV4::new(PEER, PEER_PORT));
        rig.conn = conn;
        assert_eq!(rig.stack.tcp_state(conn), Some(TcpState::Established));
        rig
    }

    /// Deliver one forged segment from the peer.
    fn send(&mut self, mut repr: TcpRepr, payload: &[u8]) {
        if let Some(tsval) = self.ts.as_mut() {
            *tsval += 1;
            repr.timestamp.get_or_insert((*tsval, 0));
        }
        let frame =
            common::forge_tcp_frame(self.mac, self.peer_mac, PEER, US, 0, &mut repr, payload);
        self.stack
            .receive(self.ifindex, PacketBuf::from_slice(&frame, 0), self.now);
    }

    /// Everything the stack transmits now, parsed.
    fn drain(&mut self) -> Vec<(TcpRepr, Vec<u8>)> {
        let mut out = Vec::new();
        self.stack.poll(self.now);
        while let Some(buf) = self.stack.take_tx(self.ifindex, self.now) {
            let eth = EthernetFrame::new_checked(buf.data()).unwrap();
            if eth.ethertype() == EtherType::IPV4 {
                let ip = Ipv4Packet::new_checked(eth.payload()).unwrap();
                assert_eq!(ip.protocol(), IpProtocol::TCP);
                let p = TcpPacket::new_checked(ip.payload()).unwrap();
                let r = TcpRepr::parse(&p, ip.src_addr(), ip.dst_addr(), true).unwrap();
                out.push((r, p.payload().to_vec()));
            }
            self.stack.recycle(buf);
        }
        out
    }

    fn advance(&mut self, d: Duration) {
        self.now += d;
    }

    fn challenge_acks(&self) -> u64 {
        self.stack.snmp().tcp.challenge_acks
    }

    /// Assert `out` is exactly one pure ACK at our snd_nxt acknowledging `ack`.
    fn assert_one_ack(&self, out: &[(TcpRepr, Vec<u8>)], ack: SeqNumber) {
        assert_eq!(out.len(), 1, "expected one ACK, got {out:?}");
        let (r, data) = &out[0];
        assert_eq!(r.flags, TcpFlags::ACK, "{r:?}");
        assert!(data.is_empty());
        assert_eq!(r.seq_number, self.our_nxt);
        assert_eq!(r.ack_number, Some(ack));
    }

    fn readable(&mut self) -> usize {
        let mut b = [0u8; 64];
        match self.stack.recv(
            self.conn,
            &mut b,
            MsgFlags {
                peek: true,
                dontwait: true,
            },
            self.now,
        ) {
            Ok(n) => n,
            Err(Errno::EAGAIN) => 0,
            Err(e) => panic!("recv: {e:?}"),
        }
    }
}

#[test]
fn rst_at_rcv_nxt_resets_the_connection() {
    let mut rig = Rig::new(false, |_| {});
    rig.send(seg(TcpFlags::RST, rig.peer_nxt, None), &[]);
    assert!(rig.drain().is_empty(), "no answer to an accepted RST");
    let mut b = [0u8; 8];
    assert_eq!(
        rig.stack
            .recv(rig.conn, &mut b, MsgFlags::default(), rig.now),
        Err(Errno::ECONNRESET)
    );
    assert_eq!(rig.stack.snmp().tcp.estab_resets, 1);
}

#[test]
fn in_window_rst_gets_a_challenge_ack_and_changes_nothing() {
    let mut rig = Rig::new(false, |_| {});
    rig.send(seg(TcpFlags::RST, rig.peer_nxt + 100, None), &[]);
    let out = rig.drain();
    rig.assert_one_ack(&out, rig.peer_nxt);
    assert_eq!(rig.challenge_acks(), 1);
    assert_eq!(rig.stack.tcp_state(rig.conn), Some(TcpState::Established));
    // The connection still carries data afterwards.
    rig.send(
        seg(
            TcpFlags::ACK | TcpFlags::PSH,
            rig.peer_nxt,
            Some(rig.our_nxt),
        ),
        b"hi",
    );
    assert_eq!(rig.readable(), 2);
}

#[test]
fn out_of_window_rst_is_dropped_silently() {
    let mut rig = Rig::new(false, |_| {});
    let far = rig.peer_nxt + (1 << 30);
    rig.send(seg(TcpFlags::RST, far, None), &[]);
    let behind = SeqNumber(rig.peer_nxt.0.wrapping_sub(10));
    rig.send(
        seg(TcpFlags::RST | TcpFlags::ACK, behind, Some(rig.our_nxt)),
        &[],
    );
    assert!(rig.drain().is_empty(), "no answer to an out-of-window RST");
    assert_eq!(rig.challenge_acks(), 0);
    assert_eq!(rig.stack.tcp_state(rig.conn), Some(TcpState::Established));
}

#[test]
fn syn_on_an_established_connection_gets_a_challenge_ack() {
    let mut rig = Rig::new(false, |_| {});
    // In window and out of window alike (RFC 5961 4.2).
    for s in [rig.peer_nxt + 5, rig.peer_nxt + (1 << 30)] {
        let mut syn = seg(TcpFlags::SYN, s, None);
        syn.max_seg_size = Some(536);
        rig.send(syn, &[]);
    }
    let out = rig.drain();
    assert_eq!(out.len(), 2, "{out:?}");
    for (r, _) in &out {
        assert_eq!(r.flags, TcpFlags::ACK);
        assert_eq!(r.ack_number, Some(rig.peer_nxt));
    }
    assert_eq!(rig.stack.snmp().tcp.syn_challenges, 1);
    assert_eq!(rig.stack.tcp_state(rig.conn), Some(TcpState::Established));
}

#[test]
fn ack_of_unsent_data_is_dropped_silently() {
    // Linux: tcp_ack discards a segment acknowledging data never sent, without an answer
    // (packetdrill's ts_recent/invalid_ack.pkt); only too-old ACKs get a challenge ACK.
    let mut rig = Rig::new(false, |_| {});
    let ahead = rig.our_nxt + 5000;
    rig.send(
        seg(TcpFlags::ACK | TcpFlags::PSH, rig.peer_nxt, Some(ahead)),
        b"evil",
    );
    let out = rig.drain();
    assert!(out.is_empty(), "{out:?}");
    assert_eq!(
        rig.readable(),
        0,
        "data riding an unacceptable ACK is not delivered"
    );
    assert_eq!(rig.stack.tcp_state(rig.conn), Some(TcpState::Established));
}

#[test]
fn very_old_ack_is_answered_and_its_data_dropped() {
    let mut rig = Rig::new(false, |_| {});
    let ancient = SeqNumber(rig.our_nxt.0.wrapping_sub(1 << 20));
    rig.send(seg(TcpFlags::ACK, rig.peer_nxt, Some(ancient)), b"old");
    let out = rig.drain();
    rig.assert_one_ack(&out, rig.peer_nxt);
    assert_eq!(rig.readable(), 0);
}

#[test]
fn out_of_window_data_is_re_acked_not_delivered() {
    let mut rig = Rig::new(false, |_| {});
    // Entirely old data (a duplicate of bytes before rcv_nxt).
    let old = SeqNumber(rig.peer_nxt.0.wrapping_sub(100));
    rig.send(seg(TcpFlags::ACK, old, Some(rig.our_nxt)), &[7u8; 50]);
    // Beyond the right edge of the window.
    let beyond = rig.peer_nxt + (1 << 24);
    rig.send(seg(TcpFlags::ACK, beyond, Some(rig.our_nxt)), &[9u8; 50]);
    let out = rig.drain();
    assert_eq!(out.len(), 2, "{out:?}");
    for (r, _) in &out {
        assert_eq!(r.ack_number, Some(rig.peer_nxt));
    }
    assert_eq!(rig.readable(), 0);
    assert_eq!(
        rig.stack.snmp().tcp.dup_segs,
        1,
        "the old one counts as a duplicate"
    );
}

#[test]
fn challenge_acks_are_rate_limited() {
    let mut rig = Rig::new(false, |c| c.tcp.challenge_ack_limit = 3);
    for i in 0..10 {
        rig.send(seg(TcpFlags::RST, rig.peer_nxt + (10 + i), None), &[]);
    }
    assert_eq!(
        rig.drain().len(),
        3,
        "only the first 3 in a second are answered"
    );
    assert_eq!(rig.challenge_acks(), 3);
    // A new second brings a new allowance.
    rig.advance(Duration::from_secs(1));
    rig.send(seg(TcpFlags::RST, rig.peer_nxt + 10, None), &[]);
    assert_eq!(rig.drain().len(), 1);
    assert_eq!(rig.stack.tcp_state(rig.conn), Some(TcpState::Established));
}

#[test]
fn paws_drops_a_segment_with_an_old_timestamp() {
    let mut rig = Rig::new(true, |_| {});
    rig.send(seg(TcpFlags::ACK, rig.peer_nxt, Some(rig.our_nxt)), b"new!");
    assert_eq!(rig.readable(), 4);
    let _ = rig.drain();
    // Same sequence space ahead, but a timestamp from the past: a wrapped old duplicate.
    let mut stale = seg(TcpFlags::ACK, rig.peer_nxt + 4, Some(rig.our_nxt));
    stale.timestamp = Some((5, 0));
    rig.send(stale, b"old!");
    let out = rig.drain();
    assert_eq!(out.len(), 1, "PAWS answers with an ACK: {out:?}");
    assert_eq!(out[0].0.ack_number, Some(rig.peer_nxt + 4));
    assert_eq!(rig.readable(), 4, "the stale bytes were not queued");
    assert_eq!(rig.stack.snmp().tcp.paws_estab_rejected, 1);
}

#[test]
fn syn_to_time_wait_with_a_higher_sequence_reopens_at_once() {
    let mut rig = Rig::new(false, |_| {});
    // We close first, so we end in TIME-WAIT.
    rig.stack.close(rig.conn, rig.now).unwrap();
    let out = rig.drain();
    assert_eq!(out.len(), 1);
    assert!(out[0].0.flags.contains(TcpFlags::FIN));
    rig.our_nxt += 1;
    let mut finack = seg(
        TcpFlags::FIN | TcpFlags::ACK,
        rig.peer_nxt,
        Some(rig.our_nxt),
    );
    finack.window_len = 1000;
    rig.send(finack, &[]);
    rig.peer_nxt += 1;
    let out = rig.drain();
    rig.assert_one_ack(&out, rig.peer_nxt);
    // A new SYN on the same four-tuple, beyond the old sequence space: answered with a
    // SYN-ACK straight away (not after the client's SYN retransmission).
    rig.send(seg(TcpFlags::SYN, rig.peer_nxt + 100_000, None), &[]);
    let out = rig.drain();
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(out[0].0.flags, TcpFlags::SYN | TcpFlags::ACK);
    assert_eq!(out[0].0.ack_number, Some(rig.peer_nxt + 100_001));
}

#[test]
fn timestamps_never_run_backwards_even_if_the_callers_clock_does() {
    let mut rig = Rig::new(true, |_| {});
    rig.advance(Duration::from_secs(2));
    let nodelay = linnet::SockOpt::NoDelay(true);
    rig.stack.setsockopt(rig.conn, nodelay, rig.now).unwrap();
    rig.stack.send(rig.conn, b"later", rig.now).unwrap();
    let first = rig.drain();
    let tsval = |out: &[(TcpRepr, Vec<u8>)]| out[0].0.timestamp.expect("timestamps on").0;
    let t1 = tsval(&first);
    // A caller hands the stack an older time (another thread's stale reading).
    rig.now = Instant::from_micros(rig.now.total_micros() - 500_000);
    rig.stack.send(rig.conn, b"stale", rig.now).unwrap();
    let second = rig.drain();
    assert_eq!(second.len(), 1, "{second:?}");
    assert!(
        t1.wrapping_sub(tsval(&second)) as i32 <= 0,
        "TSval went back from {t1} to {}",
        tsval(&second)
    );
    // Time moving on again moves the timestamps on.
    rig.now += Duration::from_secs(1);
    rig.stack.send(rig.conn, b"again", rig.now).unwrap();
    let third = rig.drain();
    assert!(tsval(&third).wrapping_sub(t1) as i32 > 0);
}

#[test]
fn a_route_change_moves_an_established_connection_to_the_new_device() {
    // The socket caches its route (sk_dst_cache); a change to the tables must move it.
    let mut rig = Rig::new(false, |_| {});
    let nodelay = linnet::SockOpt::NoDelay(true);
    rig.stack.setsockopt(rig.conn, nodelay, rig.now).unwrap();
    rig.stack.send(rig.conn, b"one", rig.now).unwrap();
    assert_eq!(rig.drain().len(), 1, "leaves by eth0");
    rig.our_nxt += 3;
    let mac2 = EthernetAddress::local_from_seed(3);
    let eth1 = rig.stack.add_interface("eth1", mac2, 1500);
    rig.stack
        .add_addr(eth1, "198.51.100.2/24".parse().unwrap(), rig.now)
        .unwrap();
    rig.stack.set_link_up(eth1, true, rig.now).unwrap();
    rig.stack
        .add_neighbour(eth1, PEER, rig.peer_mac, rig.now)
        .unwrap();
    let _ = rig.drain();
    while let Some(b) = rig.stack.take_tx(eth1, rig.now) {
        rig.stack.recycle(b); // the gratuitous ARP
    }
    let host = "192.0.2.1/32".parse().unwrap();
    let route = linnet::ip::fib::Route::unicast(host, None, eth1);
    rig.stack.add_route(route).unwrap();
    rig.stack.send(rig.conn, b"two", rig.now).unwrap();
    assert!(rig.drain().is_empty(), "nothing leaves by eth0 any more");
    let b = rig
        .stack
        .take_tx(eth1, rig.now)
        .expect("the segment leaves by eth1");
    let eth = EthernetFrame::new_checked(b.data()).unwrap();
    assert_eq!(eth.src_addr(), mac2);
    let ip = Ipv4Packet::new_checked(eth.payload()).unwrap();
    assert_eq!(ip.dst_addr(), PEER);
    assert_eq!(
        TcpPacket::new_checked(ip.payload()).unwrap().payload(),
        b"two"
    );
}

// ----- ACKs deferred to the end of a receive batch (Linux: TCP_ACK_DEFERRED) -----

impl Rig {
    /// Frames waiting in the interface's qdisc (sent by the stack, not yet taken).
    fn queued(&self) -> usize {
        self.stack.iface(self.ifindex).unwrap().qdisc.len()
    }

    /// Deliver in-order data of `len` bytes at the peer's next sequence number.
    fn send_data(&mut self, len: usize) {
        let s = seg(
            TcpFlags::ACK | TcpFlags::PSH,
            self.peer_nxt,
            Some(self.our_nxt),
        );
        self.send(s, &vec![0x5au8; len]);
        self.peer_nxt += len;
    }

    /// Use up the quick-ACK budget of a new connection (16 segments, each ACKed at once as
    /// Linux's `__tcp_ack_snd_check` does in quick-ACK mode) and read the data, so that the
    /// ACKs that follow are the deferred ones.
    fn use_up_quickacks(&mut self) {
        for _ in 0..16 {
            self.send_data(100);
            assert_eq!(self.queued(), 1, "quick-ACK mode: ACKed at once");
            let _ = self.drain();
        }
        let mut b = vec![0u8; 4096];
        assert_eq!(
            self.stack
                .recv(self.conn, &mut b, MsgFlags::default(), self.now),
            Ok(1600)
        );
        let _ = self.drain();
    }
}

#[test]
fn in_order_frames_of_one_batch_share_one_ack() {
    let mut rig = Rig::new(false, |_| {});
    rig.use_up_quickacks();
    let start = rig.peer_nxt;
    let out0 = rig.stack.snmp().tcp.out_segs;
    // Six in-order segments back to back, as one receive batch, past the quick-ACK budget:
    // Linux's receiver outside its socket lock would ACK every second full segment at once.
    for _ in 0..6 {
        rig.send_data(1000);
        assert_eq!(
            rig.queued(),
            0,
            "an in-order ACK waits for the end of the batch"
        );
    }
    assert!(
        rig.stack.has_pending_tx(),
        "a deferred ACK is pending output"
    );
    // take_tx without a poll still flushes it: exactly one ACK, covering all six.
    let first = rig
        .stack
        .take_tx(rig.ifindex, rig.now)
        .expect("the deferred ACK");
    rig.stack.recycle(first);
    assert!(rig.stack.take_tx(rig.ifindex, rig.now).is_none());
    assert_eq!(
        rig.stack.snmp().tcp.out_segs - out0,
        1,
        "one ACK for six frames"
    );
    // The next batch gets its own single ACK through poll, acknowledging everything.
    for _ in 0..3 {
        rig.send_data(500);
    }
    let out = rig.drain();
    rig.assert_one_ack(&out, start + 7500);
    assert!(!rig.stack.has_pending_tx());
    let mut b = vec![0u8; 10_000];
    assert_eq!(
        rig.stack
            .recv(rig.conn, &mut b, MsgFlags::default(), rig.now),
        Ok(7500)
    );
}

#[test]
fn out_of_order_data_is_acked_at_once_inside_a_batch() {
    let mut rig = Rig::new(false, |_| {});
    rig.use_up_quickacks();
    let start = rig.peer_nxt;
    rig.send_data(1000);
    rig.send_data(1000);
    assert_eq!(rig.queued(), 0);
    // A segment beyond a 1000-byte hole: a duplicate ACK goes out during receive, not at the
    // end of the batch (RFC 5681 4.2), and carries the deferred one along.
    let ooo = seg(TcpFlags::ACK, start + 3000, Some(rig.our_nxt));
    rig.send(ooo, &[1u8; 1000]);
    assert_eq!(rig.queued(), 1, "out-of-order data is ACKed immediately");
    let out = rig.drain();
    rig.assert_one_ack(&out, start + 2000);
    assert_eq!(rig.stack.snmp().tcp.ofo_queue, 1);
    // The segment filling the hole is ACKed at once too, for everything now in order.
    rig.send_data(1000);
    assert_eq!(rig.queued(), 1, "a filled hole is ACKed immediately");
    let out = rig.drain();
    rig.assert_one_ack(&out, start + 4000);
    // A FIN is never deferred either.
    rig.peer_nxt = start + 4000;
    rig.send_data(100);
    rig.send(
        seg(
            TcpFlags::ACK | TcpFlags::FIN,
            rig.peer_nxt,
            Some(rig.our_nxt),
        ),
        &[],
    );
    assert_eq!(rig.queued(), 1, "the ACK of a FIN goes at once");
    let out = rig.drain();
    rig.assert_one_ack(&out, start + 4101);
    assert_eq!(rig.stack.tcp_state(rig.conn), Some(TcpState::CloseWait));
}

#[test]
fn a_batch_using_half_the_window_is_acked_before_it_ends() {
    let mut rig = Rig::new(false, |_| {});
    rig.use_up_quickacks();
    let start = rig.peer_nxt;
    // A long batch of in-order data must not leave the sender without an ACK until the
    // window we last offered runs out: the ACK goes once half of it is unacknowledged.
    let offered = rig.stack.tcp_info(rig.conn).unwrap().rcv_wnd as usize;
    assert!(offered >= 65535, "offered {offered}");
    let mut sent = 0;
    while rig.queued() == 0 && sent < 400 {
        rig.send_data(1400);
        sent += 1;
    }
    assert_eq!(rig.queued(), 1, "no ACK inside a batch of {sent} segments");
    assert_eq!(
        sent,
        offered.div_ceil(2 * 1400),
        "ACK after {sent} segments"
    );
    let out = rig.drain();
    rig.assert_one_ack(&out, start + sent * 1400);
}

/// With `net.ipv4.tcp_backlog_ack_defer` off, in-order data is ACKed from the segment that
/// earns the ACK, every second full segment, not once at the end of the receive batch
/// (Linux's `__tcp_ack_snd_check` from the softirq, for a socket its user does not hold).
#[test]
fn without_backlog_ack_defer_every_second_segment_is_acked_at_once() {
    let mut rig = Rig::new(false, |c| c.tcp.backlog_ack_defer = false);
    rig.use_up_quickacks();
    let start = rig.peer_nxt;
    let out0 = rig.stack.snmp().tcp.out_segs;
    for i in 1..=6 {
        rig.send_data(1000);
        let want = if i % 2 == 0 { 1 } else { 0 };
        assert_eq!(rig.queued(), want, "segment {i}");
        if want == 1 {
            let out = rig.drain();
            rig.assert_one_ack(&out, start + 1000 * i);
        }
    }
    assert_eq!(
        rig.stack.snmp().tcp.out_segs - out0,
        3,
        "three ACKs for six frames"
    );
    assert!(!rig.stack.has_pending_tx(), "nothing deferred");
    // The sysctl turns the deferral back on.
    let r = linnet::control::sysctl::sysctl(
        &mut rig.stack,
        "net.ipv4.tcp_backlog_ack_defer",
        Some("1"),
    );
    assert!(
        !matches!(r, linnet::control::Response::Error { .. }),
        "{r:?}"
    );
    assert!(rig.stack.config().tcp.backlog_ack_defer);
    rig.send_data(1000);
    rig.send_data(1000);
    assert_eq!(rig.queued(), 0, "deferred to the end of the batch");
}

/// Each write ends in a pushed skb, `MSG_EOR` keeps later writes out of it, and a
/// retransmission carries the PSH its skb had (Linux: `tcp_push` → `tcp_mark_push`, the `eor`
/// bit, `__tcp_retransmit_skb` keeping `tcp_flags`).
#[test]
fn record_ends_stay_separate_pushed_segments_also_when_retransmitted() {
    let mut rig = Rig::new(false, |_| {});
    let now = rig.now;
    // Fill the initial window: ten full segments, the last one pushed.
    let big = vec![7u8; 14600];
    assert_eq!(rig.stack.send(rig.conn, &big, now), Ok(big.len()));
    let out = rig.drain();
    assert_eq!(out.len(), 10, "{out:?}");
    assert!(out[9].0.flags.contains(TcpFlags::PSH));
    // Three records wait behind the full window.
    for _ in 0..3 {
        assert_eq!(rig.stack.send(rig.conn, &[1u8; 400], now), Ok(400));
        rig.stack.send_eor(rig.conn).unwrap();
    }
    // A full segment last, so that Nagle holds none of the records back.
    assert_eq!(rig.stack.send(rig.conn, &big[..1460], now), Ok(1460));
    assert!(rig.drain().is_empty(), "the window is full");
    rig.advance(Duration::from_millis(10));
    let acked = rig.our_nxt + 14600;
    rig.send(seg(TcpFlags::ACK, rig.peer_nxt, Some(acked)), &[]);
    let out = rig.drain();
    let data: Vec<_> = out.iter().filter(|(_, d)| !d.is_empty()).collect();
    assert_eq!(data.len(), 4, "one segment per record: {out:?}");
    for (i, (r, d)) in data.iter().take(3).enumerate() {
        assert_eq!(d.len(), 400);
        assert_eq!(r.seq_number, acked + 400 * i);
        assert!(r.flags.contains(TcpFlags::PSH), "record {i} unpushed");
    }
    // Nothing acknowledged: the RTO resends the first record, still pushed.
    rig.advance(Duration::from_secs(2));
    let out = rig.drain();
    let (r, d) = out
        .iter()
        .find(|(_, d)| !d.is_empty())
        .expect("a retransmission");
    assert_eq!((r.seq_number, d.len()), (acked, 400));
    assert!(r.flags.contains(TcpFlags::PSH), "{r:?}");
}

/// Data arriving after `close()` aborts the connection, and the answer is a reset made from
/// that segment: its ACK as our sequence number, no ACK flag (Linux: `TCPAbortOnData` in
/// `tcp_rcv_state_process`, then `tcp_v4_send_reset` from `tcp_v4_do_rcv`).
#[test]
fn data_after_close_is_answered_with_a_reset_from_its_ack() {
    let mut rig = Rig::new(false, |_| {});
    let now = rig.now;
    rig.stack.close(rig.conn, now).unwrap();
    let out = rig.drain();
    assert!(out.iter().any(|(r, _)| r.flags.contains(TcpFlags::FIN)));
    let fin_ack = rig.our_nxt;
    rig.send(
        seg(TcpFlags::ACK | TcpFlags::PSH, rig.peer_nxt, Some(fin_ack)),
        b"late",
    );
    let out = rig.drain();
    assert_eq!(out.len(), 1, "{out:?}");
    let (r, d) = &out[0];
    assert_eq!(r.flags, TcpFlags::RST);
    assert_eq!(r.seq_number, fin_ack);
    assert_eq!(r.ack_number, None);
    assert!(d.is_empty());
    assert_eq!(rig.stack.snmp().tcp.abort_on_data, 1);
    assert_eq!(rig.stack.tcp_state(rig.conn), None);
}

/// Data the local qdisc refuses is not sent: it stays queued, the probe timer retries it
/// (first after an RTO, then every 500 ms, without backoff), it goes out as soon as the
/// qdisc takes it, and `TCP_USER_TIMEOUT` ends the retries (Linux: `tcp_write_xmit` stopping
/// on `NET_XMIT_DROP`, `tcp_check_probe_timer`, `tcp_send_probe0`'s
/// `TCP_RESOURCE_PROBE_INTERVAL`, `tcp_probe_timer`).
#[test]
fn data_the_qdisc_refuses_is_retried_by_the_probe_timer_until_the_user_timeout() {
    use linnet::SockOpt;
    let tc = |rig: &mut Rig, words: &str| {
        let argv: Vec<String> = words.split(' ').map(String::from).collect();
        rig.stack.tc(&argv, rig.now).unwrap();
    };
    // The qdisc lets nothing through for a second, then takes the data.
    let mut rig = Rig::new(false, |_| {});
    tc(&mut rig, "qdisc add dev eth0 root pfifo limit 0");
    assert_eq!(rig.stack.send(rig.conn, b"hello", rig.now), Ok(5));
    assert!(rig.drain().is_empty());
    rig.advance(Duration::from_secs(1));
    assert!(rig.drain().is_empty());
    tc(&mut rig, "qdisc replace dev eth0 root pfifo");
    // The next probe (at most 500 ms on) sends it; unacknowledged, the RTO repeats it.
    let mut got = Vec::new();
    for _ in 0..5 {
        rig.advance(Duration::from_millis(100));
        got.extend(rig.drain().into_iter().filter(|(_, d)| !d.is_empty()));
    }
    assert!(!got.is_empty(), "the probe timer did not retry");
    for (r, d) in &got {
        assert_eq!((r.seq_number, &d[..]), (rig.our_nxt, &b"hello"[..]));
    }

    // Dropped for good: the user timeout (3 s from the first probe) closes it.
    let mut rig = Rig::new(false, |_| {});
    tc(&mut rig, "qdisc add dev eth0 root pfifo limit 0");
    rig.stack
        .setsockopt(
            rig.conn,
            SockOpt::UserTimeout(Duration::from_secs(3)),
            rig.now,
        )
        .unwrap();
    let start = rig.now;
    assert_eq!(rig.stack.send(rig.conn, b"hello", rig.now), Ok(5));
    let mut dead_at = None;
    for _ in 0..50 {
        rig.advance(Duration::from_millis(100));
        assert!(rig.drain().is_empty());
        if rig.stack.tcp_state(rig.conn) != Some(TcpState::Established) {
            dead_at = Some(rig.now - start);
            break;
        }
    }
    let dead_at = dead_at.expect("the user timeout never fired");
    // The first probe after the RTO (at least 200 ms), the abort 3 s later.
    assert!(
        dead_at >= Duration::from_millis(3200) && dead_at <= Duration::from_millis(4100),
        "{dead_at:?}"
    );
    let mut b = [0u8; 4];
    assert_eq!(
        rig.stack
            .recv(rig.conn, &mut b, MsgFlags::default(), rig.now),
        Err(Errno::ETIMEDOUT)
    );
}

/// Without timestamps every ACK of never-retransmitted data is an RTT sample, timed from the
/// oldest segment it acknowledges, not one timed segment per round trip (Linux:
/// `tcp_clean_rtx_queue`'s `first_ackt` → `tcp_ack_update_rtt`).
#[test]
fn every_ack_of_new_data_is_an_rtt_sample_without_timestamps() {
    let mut rig = Rig::new(false, |_| {});
    let start = rig.now;
    let data = vec![3u8; 2920];
    assert_eq!(rig.stack.send(rig.conn, &data, rig.now), Ok(data.len()));
    assert_eq!(rig.drain().len(), 2);
    let srtt = |rig: &Rig| rig.stack.tcp_info(rig.conn).unwrap().rtt_us;
    // The handshake's sample was 0 (answered at once); the first ACK samples 10 ms.
    rig.advance(Duration::from_millis(10));
    rig.send(
        seg(TcpFlags::ACK, rig.peer_nxt, Some(rig.our_nxt + 1460)),
        &[],
    );
    rig.drain();
    let first = srtt(&rig);
    assert_eq!(first, 1250, "srtt = 0 * 7/8 + 10 ms / 8");
    // The second segment, sent with the first, is acknowledged 40 ms after it left: a
    // second sample in the same round trip.
    rig.now = start + Duration::from_millis(40);
    rig.send(
        seg(TcpFlags::ACK, rig.peer_nxt, Some(rig.our_nxt + 2920)),
        &[],
    );
    rig.drain();
    let second = srtt(&rig);
    assert_eq!(second, (1250 * 7 + 40_000) / 8, "{first} -> {second}");
}

/// A zerocopy send makes each user buffer a fragment: an skb holds at most 17, so 18
/// one-byte buffers go out as a pushed 17-byte segment, then the last byte (held by Nagle
/// until the first is acknowledged), pushed too (Linux: `tcp_mark_push` when
/// `sysctl_max_skb_frags` is reached in `tcp_sendmsg_locked`).
#[test]
fn a_zerocopy_send_pushes_an_skb_that_runs_out_of_fragments() {
    let mut rig = Rig::new(false, |_| {});
    let data = [9u8; 18];
    let frags = [1usize; 18];
    assert_eq!(
        rig.stack.send_zerocopy(rig.conn, &data, &frags, rig.now),
        Ok(18)
    );
    let out = rig.drain();
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(out[0].1.len(), 17);
    assert!(out[0].0.flags.contains(TcpFlags::PSH));
    rig.advance(Duration::from_millis(1));
    rig.send(
        seg(TcpFlags::ACK, rig.peer_nxt, Some(rig.our_nxt + 17)),
        &[],
    );
    let out = rig.drain();
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!((out[0].0.seq_number, out[0].1.len()), (rig.our_nxt + 17, 1));
    assert!(out[0].0.flags.contains(TcpFlags::PSH));
    // A copied send of as many buffers is one segment.
    rig.advance(Duration::from_millis(1));
    rig.send(
        seg(TcpFlags::ACK, rig.peer_nxt, Some(rig.our_nxt + 18)),
        &[],
    );
    rig.drain();
    assert_eq!(rig.stack.send(rig.conn, &data, rig.now), Ok(18));
    let out = rig.drain();
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(out[0].1.len(), 18);
}

/// Nagle as Linux runs it, Minshall's variant: with full segments in flight a small write
/// still goes at once, but a second small one waits until the first small one is
/// acknowledged (Linux: `tcp_nagle_check` with `tcp_minshall_check`, `tp->snd_sml`).
#[test]
fn nagle_holds_a_small_segment_only_behind_an_unacknowledged_small_one() {
    let mut rig = Rig::new(false, |_| {});
    let now = rig.now;
    let full = vec![3u8; 2920];
    assert_eq!(rig.stack.send(rig.conn, &full, now), Ok(full.len()));
    let out = rig.drain();
    assert_eq!(out.len(), 2, "two full segments: {out:?}");
    // Full segments unacknowledged, no small one: a small write is sent.
    assert_eq!(rig.stack.send(rig.conn, &[1u8; 100], now), Ok(100));
    let out = rig.drain();
    assert_eq!(out.len(), 1, "the small segment goes at once: {out:?}");
    assert_eq!(out[0].1.len(), 100);
    // Now a small segment is out: the next small write waits for its ACK...
    assert_eq!(rig.stack.send(rig.conn, &[2u8; 50], now), Ok(50));
    assert!(rig.drain().is_empty(), "held behind the small segment");
    // ...not for the full segments before it: their ACK alone releases nothing.
    rig.advance(Duration::from_millis(5));
    let base = rig.our_nxt;
    rig.send(seg(TcpFlags::ACK, rig.peer_nxt, Some(base + 2920)), &[]);
    let out = rig.drain();
    assert!(
        out.iter().all(|(_, d)| d.is_empty()),
        "still held while the small one is out: {out:?}"
    );
    rig.send(seg(TcpFlags::ACK, rig.peer_nxt, Some(base + 3020)), &[]);
    let out = rig.drain();
    let data: Vec<_> = out.iter().filter(|(_, d)| !d.is_empty()).collect();
    assert_eq!(data.len(), 1, "{out:?}");
    assert_eq!((data[0].0.seq_number, data[0].1.len()), (base + 3020, 50));
}
