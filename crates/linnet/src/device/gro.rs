//! Generic receive offload: consecutive in-order TCP segments of one flow that arrive in one
//! receive batch are merged into one super-frame before the stack processes them, so TCP/IP
//! runs once per train instead of once per wire frame (and one ACK answers the train).
//!
//! This file is the core side, Linux's net/core/gro.c: the trains held during a batch, the
//! link header's ethertype to the network protocol's handler (`dev_gro_receive`), appending a
//! frame's payload to a train (`skb_gro_receive`), finishing a train (`napi_gro_complete`)
//! and the batch's end (`napi_gro_flush`). Handing the batch in and what comes out on to the
//! stack is `device/napi.rs`'s (`Stack::receive_batch`, `Stack::napi_gro_receive`). What may merge is the protocols' to say, through
//! the handlers they registered in the stack's offload tables ([`super::offload`]): IPv4's
//! `inet_gro_receive` / `inet_gro_complete` (ip/offload.rs), TCP's `tcp4_gro_receive` /
//! `tcp_gro_receive` / `tcp4_gro_complete` (transport/tcp/offload.rs).
//!
//! What merges, as in Linux: IPv4 without options or fragmentation, same addresses, TOS, TTL
//! and DF bit; TCP with only ACK (and PSH) set, the next sequence number, the same ACK number,
//! identical options (timestamps included) and a payload no larger than the first segment's,
//! every segment but the last being full-sized; the Ethernet headers equal. Each segment's
//! checksums are verified before it merges (a device that verified them says so with
//! `CHECKSUM_UNNECESSARY`); a segment that fails is handed on alone, for the stack to count
//! and drop. A PSH, a segment that does not fit, or the batch's end delivers what is held. The
//! merged frame carries `gso_size` (the segment size) and a partial checksum (the pseudo-header
//! sum), so forwarding re-segments it and a capture shows a valid checksum.
//!
//! Memory is bounded: at most [`GRO_MAX_HELD`] trains per batch, each at most one 64 KiB buffer.

use super::offload::Offloads;
use crate::buf::{BufPool, CsumState, PacketBuf, LARGE_BUF_SIZE, MAX_HEADER};
use crate::device::netns::NetnsDev;
use crate::wire::ethernet::{EtherType, EthernetFrame, HEADER_LEN as ETH_HLEN};

/// Trains held at once (Linux: `MAX_GRO_SKBS`, 8).
pub const GRO_MAX_HELD: usize = 8;

/// Largest merged network datagram (Linux: `GRO_LEGACY_MAX_SIZE`, 65536, less room for a
/// header).
const GRO_MAX_IP_LEN: usize = 65535;

/// What the protocols' `gro_receive` handlers made of one frame. Linux: `struct napi_gro_cb`
/// (`NAPI_GRO_CB(skb)`).
#[derive(Debug, Clone, Copy, Default)]
pub struct NapiGroCb {
    /// Where the network header starts (set by the core: the link header's length).
    pub nhoff: usize,
    /// Where the transport header starts (set by the network protocol).
    pub thoff: usize,
    /// Payload bytes after the transport header (set by the transport protocol; Linux:
    /// `skb_gro_len`).
    pub len: usize,
    /// The flow the frame belongs to, if its headers say: addresses and ports, as the
    /// network protocol reads them (for IPv4 exact; Linux: `skb->hash` and the protocols'
    /// `same_flow` tests).
    pub flow: Option<u128>,
    /// Deliver the frame now, as it is: it must not be held (Linux: `flush`). Set by the core
    /// for a frame already a super-frame.
    pub flush: bool,
    /// The frame was merged into a held train (Linux: `same_flow` on return).
    pub same_flow: bool,
    /// The held train of the frame's flow may not take it: a lower header differs (Linux:
    /// `NAPI_GRO_CB(p)->flush`, set by `inet_gro_receive`).
    pub flush_held: bool,
    /// Its checksums were verified (Linux: `csum_valid`): delivered alone, it is marked
    /// `CHECKSUM_UNNECESSARY`.
    pub csum_valid: bool,
    /// Its transport checksum failed (Linux: `skb_gro_checksum_validate` failing).
    pub csum_bad: bool,
}

/// One train being merged: its frame so far and what the core keeps of it. Linux: an skb on
/// `napi->gro_hash[].list` with its `NAPI_GRO_CB`.
#[derive(Debug)]
pub struct GroSkb {
    /// The first frame with the payload of every later one appended.
    pub buf: PacketBuf,
    /// Its flow ([`NapiGroCb::flow`]).
    pub flow: u128,
    /// Its ethertype: whose `gro_complete` finishes it.
    pub ty: EtherType,
    /// Where its network header starts.
    pub nhoff: usize,
    /// Where its transport header starts.
    pub thoff: usize,
    /// Payload size of the first segment: the train's `gso_size` (Linux: set on the held skb
    /// by `dev_gro_receive`).
    pub gso_size: usize,
    /// Payload size of the last merged segment (a short one ends the train).
    pub last_len: usize,
    /// Segments merged into it (Linux: `count`).
    pub count: u16,
}

/// What the core did with a frame ([`GroList::dev_gro_receive`]). Linux: `enum gro_result`.
#[derive(Debug)]
pub enum GroResult {
    /// Merged into a held train (Linux: `GRO_MERGED_FREE`).
    Merged,
    /// Held as a new train (Linux: `GRO_HELD`).
    Held,
    /// To be delivered as it is (Linux: `GRO_NORMAL`).
    Normal(PacketBuf),
    /// Its transport checksum failed; `pp` is its flow's held train, to be completed before
    /// the frame if it is delivered rather than dropped.
    CsumBad(PacketBuf, Option<usize>),
}

/// The per-device GRO state: the trains held during one receive batch.
#[derive(Debug, Default)]
pub struct GroList {
    held: Vec<GroSkb>,
    /// Trains completed, in order, waiting to be delivered (at most two per frame).
    done: Vec<PacketBuf>,
    /// Segments merged into an earlier one (a count for `ip -s link`-style reports).
    pub merged: u64,
    /// Trains delivered holding more than one segment.
    pub trains: u64,
    /// Interfaces with GRO off (Linux: `NETIF_F_GRO` cleared, `ethtool -K DEV gro off`).
    off: Vec<u32>,
}

/// Append the payload of `skb` (from `off`, `len` bytes) to train `p`, moving the train into
/// a 64 KiB buffer first if its own has no room; refused (`false`) if the train would grow
/// past a 64 KiB datagram. Linux: `skb_gro_receive` (`-E2BIG`).
pub fn skb_gro_receive(pool: &mut BufPool, p: &mut GroSkb, skb: &PacketBuf, off: usize) -> bool {
    let payload = &skb.data()[off..];
    let len = p.buf.len();
    if len - p.nhoff + payload.len() > GRO_MAX_IP_LEN
        || len + payload.len() > LARGE_BUF_SIZE - MAX_HEADER
    {
        return false;
    }
    if p.buf.tailroom() < payload.len() {
        let mut big = pool.get_sized(LARGE_BUF_SIZE - MAX_HEADER, MAX_HEADER);
        big.meta = p.buf.meta;
        big.extend_from_slice(p.buf.data());
        let old = std::mem::replace(&mut p.buf, big);
        pool.put(old);
    }
    p.buf.extend_from_slice(payload);
    true
}

impl GroList {
    /// Offer one frame to GRO: its ethertype's handler merges it into a held train, or it is
    /// held as a new train, or handed back to be delivered. Trains completed on the way wait
    /// in order for [`GroList::take_done`]. Linux: `dev_gro_receive`.
    pub fn dev_gro_receive(
        &mut self,
        offloads: &Offloads,
        pool: &mut BufPool,
        skb: PacketBuf,
    ) -> GroResult {
        let d = skb.data();
        if d.len() < ETH_HLEN {
            return GroResult::Normal(skb);
        }
        // Unchecked: the length test above holds the Ethernet header.
        let ty = EthernetFrame::new_unchecked(d).ethertype();
        let Some(po) = offloads.packet_offload(ty) else {
            return GroResult::Normal(skb);
        };
        let Some(gro_receive) = po.gro_receive else {
            return GroResult::Normal(skb);
        };
        let mut cb = NapiGroCb {
            nhoff: ETH_HLEN,
            // Already a super-frame: not merged again (Linux: `skb_is_gso`).
            flush: skb.meta.gso_size != 0,
            ..NapiGroCb::default()
        };
        let pp = gro_receive(offloads, &mut self.held, &skb, &mut cb, pool);
        if cb.csum_bad {
            return GroResult::CsumBad(skb, pp);
        }
        if cb.same_flow {
            pool.put(skb);
            self.merged += 1;
            if let Some(i) = pp {
                self.napi_gro_complete(offloads, i);
            }
            return GroResult::Merged;
        }
        if let Some(i) = pp {
            self.napi_gro_complete(offloads, i);
        }
        // A segment its protocol took (checked, and in a flow) makes room for a train of its
        // own even when it is delivered alone (a PSH): the oldest train goes first. (Linux
        // makes room only for a frame it holds.)
        if cb.csum_valid && cb.flow.is_some() && self.held.len() >= GRO_MAX_HELD {
            self.napi_gro_complete(offloads, 0);
        }
        let Some(flow) = cb.flow.filter(|_| !cb.flush) else {
            let mut skb = skb;
            if cb.csum_valid && skb.meta.csum == CsumState::None {
                skb.meta.csum = CsumState::Unnecessary;
            }
            return GroResult::Normal(skb);
        };
        self.held.push(GroSkb {
            buf: skb,
            flow,
            ty,
            nhoff: cb.nhoff,
            thoff: cb.thoff,
            gso_size: cb.len,
            last_len: cb.len,
            count: 1,
        });
        GroResult::Held
    }

    /// Finish held train `i` and queue it for delivery: a merged one gets its headers fixed by
    /// its protocols' `gro_complete` and its `gso_size`; a single segment goes as it came,
    /// verified. Linux: `napi_gro_complete`.
    pub fn napi_gro_complete(&mut self, offloads: &Offloads, i: usize) {
        let mut p = self.held.remove(i);
        if p.count > 1 {
            self.trains += 1;
            if let Some(complete) = offloads.packet_offload(p.ty).and_then(|po| po.gro_complete) {
                complete(offloads, &mut p.buf, p.nhoff);
            }
            p.buf.meta.gso_size = p.gso_size as u16;
        } else if p.buf.meta.csum == CsumState::None {
            // Verified (or vouched for by the device) when its protocol took it.
            p.buf.meta.csum = CsumState::Unnecessary;
        }
        self.done.push(p.buf);
    }

    /// Turn GRO on or off for interface `ifindex` (`Stack::set_gro`).
    pub fn set_gro(&mut self, ifindex: u32, on: bool) {
        self.off.retain(|&i| i != ifindex);
        if !on {
            self.off.push(ifindex);
        }
    }

    /// Complete every held train, oldest first. Linux: `napi_gro_flush`.
    pub fn napi_gro_flush(&mut self, offloads: &Offloads) {
        while !self.held.is_empty() {
            self.napi_gro_complete(offloads, 0);
        }
    }

    /// Whether GRO is off for interface `ifindex`.
    pub(crate) fn is_off(&self, ifindex: u32) -> bool {
        self.off.contains(&ifindex)
    }

    /// Whether trains completed on the way wait for delivery.
    pub(crate) fn has_done(&self) -> bool {
        !self.done.is_empty()
    }

    /// The completed trains, in order, to deliver (the list is handed back with
    /// [`GroList::put_done`] to keep its capacity).
    pub(crate) fn take_done(&mut self) -> Vec<PacketBuf> {
        std::mem::take(&mut self.done)
    }

    /// Hand back the (drained) list [`GroList::take_done`] gave.
    pub(crate) fn put_done(&mut self, done: Vec<PacketBuf>) {
        debug_assert!(done.is_empty());
        self.done = done;
    }
}

impl NetnsDev {
    /// Whether GRO is on for interface `ifindex`.
    #[cfg(test)]
    pub(crate) fn gro_enabled(&self, ifindex: u32) -> bool {
        !self.gro.off.contains(&ifindex)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stack::Stack;
    use crate::time::Instant;
    use crate::wire::ipv4::{IpProtocol, Ipv4Packet, HEADER_LEN as IP_HLEN};
    use crate::wire::tcp::{SeqNumber, TcpFlags, TcpPacket};
    use crate::wire::{EthernetAddress, Ipv4Repr};
    use std::net::Ipv4Addr;

    const SRC: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
    const DST: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
    const ISN: u32 = 0xffff_f000; // wraps during a train

    /// A stack at DST (no socket: each TCP segment delivered is counted in `in_segs`).
    fn stack() -> (Stack, u32) {
        let mut s = Stack::default();
        let mac = EthernetAddress([2, 0, 0, 0, 0, 2]);
        let i = s.add_interface("eth0", mac, 1500);
        s.add_addr(i, "192.0.2.2/24".parse().unwrap(), Instant::ZERO)
            .unwrap();
        s.set_link_up(i, true, Instant::ZERO).unwrap();
        (s, i)
    }

    /// Ethernet + IPv4 + TCP (timestamps) with `len` payload bytes at `seq`.
    fn seg(seq: u32, len: usize, flags: u8, ack: u32) -> PacketBuf {
        let thl = 32;
        let tot = 20 + thl + len;
        let mut f = vec![0u8; ETH_HLEN + tot];
        let mut eth = EthernetFrame::new_unchecked(&mut f[..]);
        eth.set_dst_addr(EthernetAddress([2, 0, 0, 0, 0, 2]));
        eth.set_src_addr(EthernetAddress([2, 0, 0, 0, 0, 1]));
        eth.set_ethertype(EtherType::IPV4);
        let ip = &mut f[ETH_HLEN..];
        Ipv4Repr {
            src_addr: SRC,
            dst_addr: DST,
            protocol: IpProtocol::TCP,
            payload_len: thl + len,
            ttl: 64,
            tos: 0,
            ident: 0,
            dont_frag: true,
        }
        .emit(&mut ip[..IP_HLEN]);
        let mut th = TcpPacket::new_unchecked(&mut ip[IP_HLEN..]);
        th.set_src_port(40000);
        th.set_dst_port(5201);
        th.set_seq_number(SeqNumber(seq));
        th.set_ack_number(SeqNumber(ack));
        th.set_header_len(thl as u8);
        th.set_flags(TcpFlags(flags));
        th.set_window_len(1000);
        let th = &mut ip[IP_HLEN..];
        th[20..32].copy_from_slice(&[1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2]);
        for (i, b) in th[thl..].iter_mut().enumerate() {
            *b = (seq as usize + i) as u8;
        }
        TcpPacket::new_unchecked(&mut th[..]).fill_checksum(SRC, DST);
        PacketBuf::from_slice(&f, MAX_HEADER)
    }

    const ACK: u8 = 0x10;
    const PSH: u8 = 0x08;

    fn in_segs(s: &Stack) -> u64 {
        s.snmp().tcp.in_segs
    }

    #[test]
    fn a_train_of_full_segments_is_delivered_once() {
        let (mut s, i) = stack();
        let frames = (0..20u32).map(|k| seg(ISN.wrapping_add(k * 1448), 1448, ACK, 7));
        s.receive_batch(i, frames, Instant::ZERO);
        assert_eq!(in_segs(&s), 1, "20 segments merged into one");
        assert_eq!((s.dev.gro.merged, s.dev.gro.trains), (19, 1));
    }

    #[test]
    fn with_gro_off_each_segment_is_delivered_alone() {
        let (mut s, i) = stack();
        s.set_gro(i, false);
        assert!(!s.dev.gro_enabled(i));
        let frames = (0..20u32).map(|k| seg(ISN.wrapping_add(k * 1448), 1448, ACK, 7));
        s.receive_batch(i, frames, Instant::ZERO);
        assert_eq!(in_segs(&s), 20, "no merging");
        assert_eq!((s.dev.gro.merged, s.dev.gro.trains), (0, 0));
        s.set_gro(i, true);
        let frames = (20..40u32).map(|k| seg(ISN.wrapping_add(k * 1448), 1448, ACK, 7));
        s.receive_batch(i, frames, Instant::ZERO);
        assert_eq!(in_segs(&s), 21, "on again: one train");
    }

    #[test]
    fn the_64k_limit_psh_and_a_short_segment_end_a_train() {
        let (mut s, i) = stack();
        // 50 full segments: 45 fit a 64 KiB datagram, the rest start a second train.
        let frames = (0..50u32).map(|k| seg(ISN.wrapping_add(k * 1448), 1448, ACK, 7));
        s.receive_batch(i, frames, Instant::ZERO);
        assert_eq!(in_segs(&s), 2);
        // PSH delivers the train it ends; a short segment ends a train too.
        let (mut s, i) = stack();
        let mut v: Vec<_> = (0..3u32)
            .map(|k| seg(ISN.wrapping_add(k * 1448), 1448, ACK, 7))
            .collect();
        v.push(seg(ISN.wrapping_add(3 * 1448), 1448, ACK | PSH, 7));
        v.push(seg(ISN.wrapping_add(4 * 1448), 100, ACK, 7));
        v.push(seg(ISN.wrapping_add(4 * 1448 + 100), 1448, ACK, 7));
        s.receive_batch(i, v, Instant::ZERO);
        // [0..3 + PSH], [short], [next]: the short one merges into nothing after it.
        assert_eq!(in_segs(&s), 3);
    }

    #[test]
    fn gaps_other_acks_and_flags_do_not_merge() {
        let (mut s, i) = stack();
        let v = vec![
            seg(ISN, 1448, ACK, 7),
            seg(ISN.wrapping_add(2 * 1448), 1448, ACK, 7), // a hole before it
            seg(ISN.wrapping_add(3 * 1448), 1448, ACK, 8), // another ACK number
            seg(ISN.wrapping_add(4 * 1448), 1448, ACK | 0x01, 8), // FIN
        ];
        s.receive_batch(i, v, Instant::ZERO);
        assert_eq!(in_segs(&s), 4);
        assert_eq!(s.dev.gro.merged, 0);
    }

    #[test]
    fn a_segment_with_the_reserved_ip_flag_is_not_merged() {
        // Linux's inet_gro_receive flushes on anything in frag_off but DF.
        let (mut s, i) = stack();
        let mut odd = seg(ISN.wrapping_add(1448), 1448, ACK, 7);
        let ip = &mut odd.data_mut()[ETH_HLEN..ETH_HLEN + IP_HLEN];
        ip[6] |= 0x80;
        Ipv4Packet::new_unchecked(&mut ip[..]).fill_checksum();
        let v = vec![
            seg(ISN, 1448, ACK, 7),
            odd,
            seg(ISN.wrapping_add(2 * 1448), 1448, ACK, 7),
        ];
        s.receive_batch(i, v, Instant::ZERO);
        assert_eq!(
            s.dev.gro.merged, 0,
            "the odd one neither joins nor holds a train"
        );
        assert_eq!(in_segs(&s), 3);
    }

    #[test]
    fn a_corrupt_segment_is_not_merged_and_is_counted_by_tcp() {
        let (mut s, i) = stack();
        let mut bad = seg(ISN.wrapping_add(1448), 1448, ACK, 7);
        let n = bad.len();
        bad.data_mut()[n - 1] ^= 0xff;
        let v = vec![
            seg(ISN, 1448, ACK, 7),
            bad,
            seg(ISN.wrapping_add(2 * 1448), 1448, ACK, 7),
        ];
        s.receive_batch(i, v, Instant::ZERO);
        let t = s.snmp().tcp;
        assert_eq!(
            (t.in_csum_errors, t.in_errs),
            (1, 1),
            "the bad segment was counted and dropped"
        );
        assert_eq!(t.in_segs, 3, "nothing merged across it");
        // Dropped where its sum was taken: no IP processing, no second sum.
        assert_eq!(s.drops().get(crate::stats::DropReason::TcpCsum), 1);
        assert_eq!(s.snmp().ip.in_delivers, 2);
    }

    #[test]
    fn a_corrupt_segment_for_another_host_is_passed_on() {
        // A router does not judge TCP checksums: the segment goes on as it is (and, here
        // with forwarding off, is dropped by IP, not counted by TCP).
        let bad = || {
            let mut bad = seg(ISN, 1448, ACK, 7);
            let mut ip = Ipv4Packet::new_unchecked(&mut bad.data_mut()[ETH_HLEN..]);
            ip.set_dst_addr(Ipv4Addr::new(198, 51, 100, 9));
            ip.fill_checksum();
            bad
        };
        let (mut s, i) = stack();
        let r = s
            .dev
            .gro
            .dev_gro_receive(&s.dev.offloads, &mut s.pool, bad());
        assert!(matches!(r, GroResult::CsumBad(_, None)));
        s.receive_batch(i, vec![bad()], Instant::ZERO);
        assert_eq!(s.snmp().tcp.in_csum_errors, 0);
        assert_eq!(s.drops().get(crate::stats::DropReason::TcpCsum), 0);
    }

    #[test]
    fn a_segment_of_a_ninth_flow_makes_room_even_when_delivered_alone() {
        let (mut s, i) = stack();
        let of_flow = |port: u16, flags: u8| {
            let mut f = seg(ISN, 1448, flags, 7);
            let mut th = TcpPacket::new_unchecked(&mut f.data_mut()[ETH_HLEN + IP_HLEN..]);
            th.set_src_port(port);
            th.fill_checksum(SRC, DST);
            f
        };
        for k in 0..GRO_MAX_HELD as u16 {
            s.napi_gro_receive(i, of_flow(40000 + k, ACK), Instant::ZERO);
        }
        assert_eq!((s.dev.gro.held.len(), in_segs(&s)), (GRO_MAX_HELD, 0));
        // A PSH of another flow: the oldest train goes, then the PSH, alone.
        s.napi_gro_receive(i, of_flow(50000, ACK | PSH), Instant::ZERO);
        assert_eq!((s.dev.gro.held.len(), in_segs(&s)), (GRO_MAX_HELD - 1, 2));
        // One that cannot merge (a FIN) makes no room: only its own flow's train would go.
        s.napi_gro_receive(i, of_flow(50001, ACK | 0x01), Instant::ZERO);
        assert_eq!((s.dev.gro.held.len(), in_segs(&s)), (GRO_MAX_HELD - 1, 3));
    }

    #[test]
    fn a_merged_frame_is_well_formed() {
        let (mut s, i) = stack();
        for k in 0..5u32 {
            let f = seg(ISN.wrapping_add(k * 1448), 1448, ACK, 7);
            let r = s.dev.gro.dev_gro_receive(&s.dev.offloads, &mut s.pool, f);
            assert!(matches!(
                (k, r),
                (0, GroResult::Held) | (1.., GroResult::Merged)
            ));
        }
        let h = &s.dev.gro.held[0];
        assert_eq!((h.count, h.gso_size), (5, 1448));
        assert_eq!(h.buf.len(), ETH_HLEN + 52 + 5 * 1448);
        // Payload bytes run on in sequence-number order.
        let pl = &h.buf.data()[ETH_HLEN + 52..];
        assert!(pl
            .iter()
            .enumerate()
            .all(|(k, &b)| b == (ISN as usize + k) as u8));
        s.napi_gro_flush(i, Instant::ZERO);
        assert_eq!(in_segs(&s), 1);
        assert_eq!(s.snmp().tcp.in_csum_errors, 0);
    }
}
