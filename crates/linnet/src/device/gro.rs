//! Generic receive offload: consecutive in-order TCP segments of one flow that arrive in one
//! receive batch are merged into one super-frame before the stack processes them, so TCP/IP
//! runs once per train instead of once per wire frame (and one ACK answers the train).
//! Linux: net/core/gro.c (`napi_gro_receive`, `dev_gro_receive`, `napi_gro_flush`),
//! `inet_gro_receive` (net/ipv4/af_inet.c) and `tcp_gro_receive` (net/ipv4/tcp_offload.c).
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

use crate::buf::{BufPool, CsumState, PacketBuf, LARGE_BUF_SIZE, MAX_HEADER};
use crate::device::netns::NetnsDev;
use crate::stack::Stack;
use crate::time::Instant;
use crate::wire::checksum;
use crate::wire::ethernet::{EtherType, EthernetFrame, HEADER_LEN as ETH_HLEN};
use crate::wire::ipv4::{IpProtocol, Ipv4Packet, HEADER_LEN as IP_HLEN};
use crate::wire::tcp::{TcpFlags, TcpPacket};
use std::net::Ipv4Addr;

/// Trains held at once (Linux: `MAX_GRO_SKBS`, 8).
pub const GRO_MAX_HELD: usize = 8;

/// Largest merged IPv4 datagram (Linux: `GRO_LEGACY_MAX_SIZE`, 65536, less room for a header).
const GRO_MAX_IP_LEN: usize = 65535;

/// The fields of a frame GRO decides by, parsed once.
#[derive(Debug, Clone, Copy)]
struct Seg {
    /// src, dst, sport, dport.
    key: (u32, u32, u16, u16),
    seq: u32,
    ack: u32,
    /// TCP header length (bytes).
    thl: usize,
    /// Payload bytes.
    len: usize,
    psh: bool,
}

/// One train being merged.
#[derive(Debug)]
struct Held {
    buf: PacketBuf,
    seg: Seg,
    /// Sequence number the next segment must carry.
    next_seq: u32,
    /// Payload size of the first segment: the train's `gso_size`.
    mss: usize,
    /// Payload size of the last merged segment (a short one ends the train).
    last_len: usize,
    segs: u16,
}

/// The per-device GRO state: the trains held during one receive batch.
#[derive(Debug, Default)]
pub struct GroList {
    held: Vec<Held>,
    /// Segments merged into an earlier one (a count for `ip -s link`-style reports).
    pub merged: u64,
    /// Trains delivered holding more than one segment.
    pub trains: u64,
    /// Interfaces with GRO off (Linux: `NETIF_F_GRO` cleared, `ethtool -K DEV gro off`).
    off: Vec<u32>,
}

/// The flow of an IPv4 datagram (`ip` from its header, at least 20 bytes; transport header
/// at `ihl`): source, destination, source port, destination port; `None` if the ports are not
/// there.
#[inline]
fn flow_key(ip: &[u8], ihl: usize) -> Option<(u32, u32, u16, u16)> {
    let ports = ip.get(ihl..ihl + 4)?;
    // Unchecked: both callers checked that `ip` holds a 20-byte header (the addresses).
    let iph = Ipv4Packet::new_unchecked(ip);
    // Unchecked: the four port bytes were just taken; TCP and UDP put the ports at the same
    // offsets (Linux: `skb_flow_get_ports` reads them as one word for either).
    let l4 = TcpPacket::new_unchecked(ports);
    Some((
        u32::from(iph.src_addr()),
        u32::from(iph.dst_addr()),
        l4.src_port(),
        l4.dst_port(),
    ))
}

/// What [`gro_parse`] made of a frame.
enum Parsed {
    /// A segment that may merge.
    Seg(Seg),
    /// Not for merging; the stack takes it as it is.
    Other,
    /// A TCP segment with a good IPv4 header whose TCP checksum fails, to destination `dst`.
    BadCsum(Ipv4Addr),
}

/// Parse a frame for GRO: [`Parsed::Other`] when it must not merge (not TCP/IPv4, options,
/// fragments, flags other than ACK/PSH, no payload, padding, already a super-frame, a bad
/// IPv4 header checksum), [`Parsed::BadCsum`] for a bad TCP checksum.
fn gro_parse(buf: &PacketBuf) -> Parsed {
    match gro_parse_seg(buf) {
        Ok(seg) => Parsed::Seg(seg),
        Err(Some(dst)) => Parsed::BadCsum(dst),
        Err(None) => Parsed::Other,
    }
}

/// [`gro_parse`]'s work: `Err(Some(dst))` for a bad TCP checksum, `Err(None)` otherwise.
fn gro_parse_seg(buf: &PacketBuf) -> Result<Seg, Option<Ipv4Addr>> {
    if buf.meta.gso_size != 0 {
        return Err(None);
    }
    let d = buf.data();
    if d.len() < ETH_HLEN + 40 {
        return Err(None);
    }
    // Unchecked views: the frame holds an Ethernet, a 20-byte IPv4 and a 20-byte TCP header
    // (the length test above).
    if EthernetFrame::new_unchecked(d).ethertype() != EtherType::IPV4 {
        return Err(None);
    }
    let ip = &d[ETH_HLEN..];
    let iph = Ipv4Packet::new_unchecked(ip);
    // Version 4, no options; protocol TCP; nothing in frag_off but DF (no MF, offset or
    // reserved bit: Linux's inet_gro_receive flushes on `frag_off & ~IP_DF`).
    if iph.version() != 4
        || iph.header_len() != IP_HLEN
        || iph.protocol() != IpProtocol::TCP
        || iph.is_fragment()
        || iph.reserved_flag()
    {
        return Err(None);
    }
    // Ethernet padding (or a truncated frame) takes the normal path.
    if usize::from(iph.total_len()) != ip.len() {
        return Err(None);
    }
    let th = &ip[IP_HLEN..];
    let tcph = TcpPacket::new_unchecked(th);
    let thl = usize::from(tcph.header_len());
    if thl < 20 || thl > th.len() {
        return Err(None);
    }
    // Only ACK, optionally PSH: SYN, FIN, RST, URG, ECE, CWR flush (Linux: tcp_gro_receive).
    let flags = tcph.flags();
    let mut others = flags;
    others.remove(TcpFlags::ACK | TcpFlags::PSH);
    if !others.is_empty() || !flags.contains(TcpFlags::ACK) {
        return Err(None);
    }
    let len = th.len() - thl;
    if len == 0 {
        return Err(None);
    }
    let key = flow_key(ip, IP_HLEN).ok_or(None)?;
    let (src, dst) = (key.0, key.1);
    match buf.meta.csum {
        CsumState::None => {
            // The header is 20 bytes (tested above): a constant length, summed unrolled.
            if !checksum::verify(&ip[..IP_HLEN]) {
                return Err(None);
            }
            let pseudo = checksum::pseudo_header_v4(
                Ipv4Addr::from(src),
                Ipv4Addr::from(dst),
                6,
                th.len() as u16,
            );
            if checksum::fold(checksum::sum(th, pseudo)) != 0xffff {
                return Err(Some(Ipv4Addr::from(dst)));
            }
        }
        CsumState::Unnecessary | CsumState::Partial { .. } => {}
    }
    Ok(Seg {
        key,
        seq: tcph.seq_number().0,
        ack: tcph.ack_number().0,
        thl,
        len,
        psh: flags.contains(TcpFlags::PSH),
    })
}

/// Whether the frame `new` (parsed as `seg`) continues train `h`: the next bytes, the same
/// headers but for length, identification, checksums, sequence number, window and PSH.
fn can_merge(h: &Held, seg: &Seg, new: &PacketBuf) -> bool {
    if seg.seq != h.next_seq
        || seg.ack != h.seg.ack
        || seg.thl != h.seg.thl
        || seg.len > h.mss
        || h.last_len != h.mss
        || h.seg.psh
    {
        return false;
    }
    let (a, b) = (h.buf.data(), new.data());
    if a.len() - ETH_HLEN + seg.len > GRO_MAX_IP_LEN
        || a.len() + seg.len > LARGE_BUF_SIZE - MAX_HEADER
    {
        return false;
    }
    // Unchecked: both frames were parsed by `gro_parse` (20-byte IPv4 header, TCP header of
    // `seg.thl` bytes, equal in both by the test above).
    let (ia, ib) = (
        Ipv4Packet::new_unchecked(&a[ETH_HLEN..]),
        Ipv4Packet::new_unchecked(&b[ETH_HLEN..]),
    );
    let (ta, tb) = (
        TcpPacket::new_unchecked(&a[ETH_HLEN + IP_HLEN..]),
        TcpPacket::new_unchecked(&b[ETH_HLEN + IP_HLEN..]),
    );
    // Ethernet header; IPv4 TOS, DF, TTL (Linux: inet_gro_receive's flush conditions);
    // TCP options byte for byte.
    a[..ETH_HLEN] == b[..ETH_HLEN]
        && ia.tos() == ib.tos()
        && ia.dont_frag() == ib.dont_frag()
        && ia.ttl() == ib.ttl()
        && ta.options() == tb.options()
}

/// Append `new`'s payload to train `h`, moving the train into a 64 KiB buffer first if
/// its own has no room. Linux: `skb_gro_receive`.
fn gro_append(pool: &mut BufPool, h: &mut Held, seg: &Seg, new: &PacketBuf) {
    let hdrs = ETH_HLEN + IP_HLEN + seg.thl;
    let payload = &new.data()[hdrs..];
    if h.buf.tailroom() < payload.len() {
        let mut big = pool.get_sized(LARGE_BUF_SIZE - MAX_HEADER, MAX_HEADER);
        big.meta = h.buf.meta;
        big.extend_from_slice(h.buf.data());
        let old = std::mem::replace(&mut h.buf, big);
        pool.put(old);
    }
    h.buf.extend_from_slice(payload);
    // The newest window and PSH travel with the train.
    // Unchecked: both frames were parsed by `gro_parse` (TCP header at `th`).
    let th = ETH_HLEN + IP_HLEN;
    let nt = TcpPacket::new_unchecked(&new.data()[th..]);
    let mut ht = TcpPacket::new_unchecked(&mut h.buf.data_mut()[th..]);
    ht.set_window_len(nt.window_len());
    if nt.flags().contains(TcpFlags::PSH) {
        let mut f = ht.flags();
        f.insert(TcpFlags::PSH);
        ht.set_flags(f);
    }
    h.next_seq = h.next_seq.wrapping_add(seg.len as u32);
    h.last_len = seg.len;
    h.segs += 1;
}

impl Stack {
    /// Receive a batch of frames read from one device in one go (Linux: one NAPI poll):
    /// TCP segments go through GRO, and whatever is held is delivered at the end. Frames
    /// that do not merge are delivered in arrival order relative to their own flow.
    pub fn receive_batch(
        &mut self,
        ifindex: u32,
        frames: impl IntoIterator<Item = PacketBuf>,
        now: Instant,
    ) {
        if self.dev.gro.off.contains(&ifindex) {
            // Linux: `napi_gro_receive` on a device without `NETIF_F_GRO` is
            // `netif_receive_skb`, one frame at a time.
            for f in frames {
                self.receive(ifindex, f, now);
            }
            return;
        }
        for f in frames {
            self.napi_gro_receive(ifindex, f, now);
        }
        self.napi_gro_flush(ifindex, now);
    }

    /// Turn GRO on or off for interface `ifindex` (on by default). Linux: `ethtool -K DEV gro
    /// on|off` (`NETIF_F_GRO` in `dev->features`).
    pub fn set_gro(&mut self, ifindex: u32, on: bool) {
        self.dev.gro.off.retain(|&i| i != ifindex);
        if !on {
            self.dev.gro.off.push(ifindex);
        }
    }

    /// Offer one frame to GRO: merged into a held train, held as a new train, or delivered.
    /// Linux: `napi_gro_receive` → `dev_gro_receive`.
    pub fn napi_gro_receive(&mut self, ifindex: u32, buf: PacketBuf, now: Instant) {
        let seg = match gro_parse(&buf) {
            Parsed::Seg(seg) => seg,
            Parsed::BadCsum(dst) if self.is_local_addr(dst) => {
                // A corrupted segment for us: its checksum was just summed, so it is counted
                // and dropped here, costing no second sum, no IP and TCP processing, and no
                // early delivery of its flow's train (a corrupted segment costs no more than
                // a lost one). Linux: `tcp_v4_rcv`'s csum_error (TCPInCsumErrors, InErrs),
                // reached with the sum GRO already took (`skb_gro_checksum_validate`).
                self.ipv4.ip_stats.in_receives += 1;
                self.tcp.stats.in_segs += 1;
                self.tcp.stats.in_csum_errors += 1;
                self.tcp.stats.in_errs += 1;
                return self.drop_pkt(buf, crate::stats::DropReason::TcpCsum);
            }
            Parsed::BadCsum(_) | Parsed::Other => {
                // Not mergeable: deliver what is held of the same flow first, so a FIN or
                // a segment being forwarded does not overtake the data before it.
                self.gro_flush_flow(ifindex, &buf, now);
                return self.receive(ifindex, buf, now);
            }
        };
        if let Some(i) = self.dev.gro.held.iter().position(|h| h.seg.key == seg.key) {
            if can_merge(&self.dev.gro.held[i], &seg, &buf) {
                gro_append(&mut self.pool, &mut self.dev.gro.held[i], &seg, &buf);
                self.pool.put(buf);
                self.dev.gro.merged += 1;
                if seg.psh {
                    let h = self.dev.gro.held.remove(i);
                    self.gro_complete(ifindex, h, now);
                }
                return;
            }
            let h = self.dev.gro.held.remove(i);
            self.gro_complete(ifindex, h, now);
        }
        if self.dev.gro.held.len() >= GRO_MAX_HELD {
            let oldest = self.dev.gro.held.remove(0);
            self.gro_complete(ifindex, oldest, now);
        }
        if seg.psh {
            // A PSH segment ends its train; alone, it needs no holding.
            let mut buf = buf;
            if buf.meta.csum == CsumState::None {
                buf.meta.csum = CsumState::Unnecessary; // verified by gro_parse
            }
            return self.receive(ifindex, buf, now);
        }
        self.dev.gro.held.push(Held {
            next_seq: seg.seq.wrapping_add(seg.len as u32),
            mss: seg.len,
            last_len: seg.len,
            segs: 1,
            buf,
            seg,
        });
    }

    /// Deliver every held train. Linux: `napi_gro_flush`.
    pub fn napi_gro_flush(&mut self, ifindex: u32, now: Instant) {
        while !self.dev.gro.held.is_empty() {
            let h = self.dev.gro.held.remove(0);
            self.gro_complete(ifindex, h, now);
        }
    }

    /// Deliver the train (if any) of the flow `buf` belongs to.
    fn gro_flush_flow(&mut self, ifindex: u32, buf: &PacketBuf, now: Instant) {
        if self.dev.gro.held.is_empty() {
            return;
        }
        let d = buf.data();
        // Unchecked views: the length test holds an Ethernet and a 20-byte IPv4 header.
        if d.len() < ETH_HLEN + 24 || EthernetFrame::new_unchecked(d).ethertype() != EtherType::IPV4
        {
            return;
        }
        let ip = &d[ETH_HLEN..];
        let Some(key) = flow_key(ip, Ipv4Packet::new_unchecked(ip).header_len()) else {
            return;
        };
        if let Some(i) = self.dev.gro.held.iter().position(|h| h.seg.key == key) {
            let h = self.dev.gro.held.remove(i);
            self.gro_complete(ifindex, h, now);
        }
    }

    /// Finish a train and hand it to the stack: IPv4 length and checksum rewritten, the TCP
    /// checksum left partial (pseudo-header sum), `gso_size` set. Linux: `napi_gro_complete`
    /// → `inet_gro_complete` → `tcp_gro_complete`.
    fn gro_complete(&mut self, ifindex: u32, mut h: Held, now: Instant) {
        if h.segs > 1 {
            self.dev.gro.trains += 1;
            let d = h.buf.data_mut();
            let ip_len = d.len() - ETH_HLEN;
            let ip = &mut d[ETH_HLEN..];
            // Unchecked: parsed by `gro_parse` (a 20-byte header) and only grown since.
            let mut iph = Ipv4Packet::new_unchecked(&mut ip[..]);
            iph.set_total_len(ip_len as u16);
            iph.fill_checksum();
            let (src, dst) = (Ipv4Addr::from(h.seg.key.0), Ipv4Addr::from(h.seg.key.1));
            crate::wire::tcp::tcp_csum_partial(&mut ip[IP_HLEN..], src, dst);
            h.buf.meta.csum = CsumState::Partial {
                start: 20,
                offset: 16,
            };
            h.buf.meta.gso_size = h.mss as u16;
        } else {
            // Verified (or vouched for by the device) when it was parsed.
            if h.buf.meta.csum == CsumState::None {
                h.buf.meta.csum = CsumState::Unnecessary;
            }
        }
        self.receive(ifindex, h.buf, now);
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
    use crate::wire::tcp::SeqNumber;
    use crate::wire::{EthernetAddress, Ipv4Repr};

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
        let (mut s, i) = stack();
        let mut bad = seg(ISN, 1448, ACK, 7);
        let mut ip = Ipv4Packet::new_unchecked(&mut bad.data_mut()[ETH_HLEN..]);
        ip.set_dst_addr(Ipv4Addr::new(198, 51, 100, 9));
        ip.fill_checksum();
        assert!(matches!(gro_parse(&bad), Parsed::BadCsum(_)));
        s.receive_batch(i, vec![bad], Instant::ZERO);
        assert_eq!(s.snmp().tcp.in_csum_errors, 0);
        assert_eq!(s.drops().get(crate::stats::DropReason::TcpCsum), 0);
    }

    #[test]
    fn a_merged_frame_is_well_formed() {
        let mut h = Held {
            buf: seg(ISN, 1448, ACK, 7),
            seg: gro_parse_seg(&seg(ISN, 1448, ACK, 7)).unwrap(),
            next_seq: ISN.wrapping_add(1448),
            mss: 1448,
            last_len: 1448,
            segs: 1,
        };
        let (mut s, i) = stack();
        for k in 1..5u32 {
            let f = seg(ISN.wrapping_add(k * 1448), 1448, ACK, 7);
            let p = gro_parse_seg(&f).unwrap();
            assert!(can_merge(&h, &p, &f));
            gro_append(&mut s.pool, &mut h, &p, &f);
        }
        assert_eq!(h.buf.len(), ETH_HLEN + 52 + 5 * 1448);
        // Payload bytes run on in sequence-number order.
        let pl = &h.buf.data()[ETH_HLEN + 52..];
        assert!(pl
            .iter()
            .enumerate()
            .all(|(k, &b)| b == (ISN as usize + k) as u8));
        s.gro_complete(i, h, Instant::ZERO);
        assert_eq!(in_segs(&s), 1);
        assert_eq!(s.snmp().tcp.in_csum_errors, 0);
    }
}
