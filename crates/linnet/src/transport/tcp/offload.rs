//! TCP's part of the offloads: the pseudo-header sum a device or the core finishes, the size
//! of the super-segments TCP builds for a TSO device, segmenting a super-segment in
//! software, and merging received segments (GRO).
//!
//! Linux: `__tcp_v4_send_check` (net/ipv4/tcp_ipv4.c), `tcp_xmit_size_goal`
//! (net/ipv4/tcp.c), `tcp4_gso_segment` / `tcp_gso_segment`, `tcp4_gro_receive` /
//! `tcp_gro_receive`, `tcp4_gro_complete` (net/ipv4/tcp_offload.c).

use crate::buf::{BufPool, CsumState, PacketBuf};
use crate::device::features::NetdevFeatures;
use crate::device::gro::{skb_gro_receive, GroSkb, NapiGroCb};
use crate::device::gso::{GsoError, GsoParams, SegCsum, GSO_MAX_SEGS, GSO_MAX_SIZE};
use crate::wire::checksum;
use crate::wire::ipv4::Ipv4Packet;
pub use crate::wire::tcp::tcp_csum_partial;
use crate::wire::tcp::{TcpFlags, TcpPacket, HEADER_LEN};

/// Offset of the checksum in a TCP header.
const TCP_CSUM_OFFSET: u16 = 16;

/// Split the TCP/IPv4 super-segment at `thoff..end` of `pkt` (IPv4 header at `nhoff`, every
/// header before `thoff` copied onto each segment as it is) into segments of
/// `params.gso_size` payload bytes: sequence numbers advance, FIN and PSH stay on the last
/// segment only and CWR on the first, and each checksum is filled per `params.csum`. The
/// IPv4 headers are left to the caller ([`crate::ip::offload::inet_gso_segment`]). Returns
/// how many segments were appended to `out`. Linux: `tcp4_gso_segment` → `tcp_gso_segment`.
pub fn tcp4_gso_segment(
    pkt: &[u8],
    nhoff: usize,
    thoff: usize,
    end: usize,
    params: &GsoParams,
    pool: &mut BufPool,
    out: &mut Vec<PacketBuf>,
) -> Result<usize, GsoError> {
    let seg = pkt.get(thoff..end).ok_or(GsoError::Malformed)?;
    if seg.len() < HEADER_LEN {
        return Err(GsoError::Malformed);
    }
    let th = TcpPacket::new_unchecked(seg);
    let thl = usize::from(th.header_len());
    if thl < HEADER_LEN || thl > seg.len() {
        return Err(GsoError::Malformed);
    }
    let hdrs = thoff + thl;
    let payload = &pkt[hdrs..end];
    let gso_size = params.gso_size;
    if gso_size == 0 || payload.len().div_ceil(gso_size) > GSO_MAX_SEGS {
        return Err(GsoError::BadSize);
    }
    let iph = Ipv4Packet::new_unchecked(&pkt[nhoff..]);
    let (src, dst) = (iph.src_addr(), iph.dst_addr());
    let seq = th.seq_number();
    let flags = th.flags();
    let nsegs = payload.len().div_ceil(gso_size).max(1);
    let mut seg_meta = params.meta;
    seg_meta.gso_size = 0;
    seg_meta.csum = match params.csum {
        SegCsum::Full => CsumState::None,
        SegCsum::Partial => CsumState::Partial {
            start: (thoff - nhoff) as u16,
            offset: TCP_CSUM_OFFSET,
        },
    };
    for i in 0..nsegs {
        let chunk_start = i * gso_size;
        let chunk = &payload[chunk_start..(chunk_start + gso_size).min(payload.len())];
        let len = hdrs + chunk.len();
        let mut b = pool.get_sized(len, params.headroom);
        b.meta = seg_meta;
        let Some(d) = b.try_put(len) else {
            pool.put(b);
            return Err(GsoError::BadSize);
        };
        d[..hdrs].copy_from_slice(&pkt[..hdrs]);
        d[hdrs..].copy_from_slice(chunk);
        // Sequence number, flags, checksum.
        let mut th = TcpPacket::new_unchecked(&mut d[thoff..]);
        th.set_seq_number(seq.wrapping_add(chunk_start as u32));
        let mut f = flags;
        if i + 1 < nsegs {
            f.remove(TcpFlags::FIN);
            f.remove(TcpFlags::PSH);
        }
        if i > 0 {
            f.remove(TcpFlags::CWR);
        }
        th.set_flags(f);
        match params.csum {
            SegCsum::Partial => tcp_csum_partial(th.into_inner(), src, dst),
            SegCsum::Full => th.fill_checksum(src, dst),
        }
        out.push(b);
    }
    Ok(nsegs)
}

/// TCP/IPv4's GRO receive handler: a segment that may merge (a whole header, only ACK and
/// perhaps PSH set, some payload) has its checksum verified against the IPv4 pseudo-header,
/// unless the device did, and goes on to [`tcp_gro_receive`]; one that fails is flagged
/// `csum_bad`, anything else delivered as it is. Linux: `tcp4_gro_receive`.
pub fn tcp4_gro_receive(
    head: &mut [GroSkb],
    pp: Option<usize>,
    skb: &PacketBuf,
    cb: &mut NapiGroCb,
    pool: &mut BufPool,
) -> Option<usize> {
    let d = skb.data();
    let Some(th) = d.get(cb.thoff..).filter(|th| th.len() >= HEADER_LEN) else {
        cb.flush = true;
        return pp;
    };
    // Unchecked: the header's 20 bytes were just tested.
    let tcph = TcpPacket::new_unchecked(th);
    let thl = usize::from(tcph.header_len());
    // Only ACK, optionally PSH: SYN, FIN, RST, URG, ECE, CWR flush (Linux: tcp_gro_receive).
    let flags = tcph.flags();
    let mut others = flags;
    others.remove(TcpFlags::ACK | TcpFlags::PSH);
    if thl < HEADER_LEN
        || thl > th.len()
        || !others.is_empty()
        || !flags.contains(TcpFlags::ACK)
        || th.len() == thl
    {
        cb.flush = true;
        return pp;
    }
    if skb.meta.csum == CsumState::None {
        // Unchecked: IPv4 took the frame (a 20-byte header at `nhoff`).
        let iph = Ipv4Packet::new_unchecked(&d[cb.nhoff..]);
        let pseudo = checksum::pseudo_header_v4(iph.src_addr(), iph.dst_addr(), 6, th.len() as u16);
        if checksum::fold(checksum::sum(th, pseudo)) != 0xffff {
            cb.csum_bad = true;
            cb.flush = true;
            return pp;
        }
    }
    cb.csum_valid = true;
    cb.len = th.len() - thl;
    tcp_gro_receive(head, pp, skb, cb, pool)
}

/// Merge a checked TCP segment into its flow's train `pp` if it continues it: the next
/// sequence number, the same ACK number and options, a payload no larger than the first
/// segment's after only full-sized ones, nothing below barring it (`cb.flush_held`), room
/// left. The newest window and PSH travel with the train; a PSH ends it (returned for
/// completion). A segment that does not continue the train ends it; then, with PSH, it is
/// delivered alone, else held as a new train. Linux: `tcp_gro_receive`.
pub fn tcp_gro_receive(
    head: &mut [GroSkb],
    pp: Option<usize>,
    skb: &PacketBuf,
    cb: &mut NapiGroCb,
    pool: &mut BufPool,
) -> Option<usize> {
    let d = skb.data();
    // Unchecked: `tcp4_gro_receive` checked the header.
    let th = TcpPacket::new_unchecked(&d[cb.thoff..]);
    let psh = th.flags().contains(TcpFlags::PSH);
    if let Some(i) = pp {
        let p = &mut head[i];
        let a = p.buf.data();
        // Unchecked: the held train was checked alike when it was taken.
        let th2 = TcpPacket::new_unchecked(&a[p.thoff..]);
        let thl = usize::from(th2.header_len());
        let next_seq = th2
            .seq_number()
            .0
            .wrapping_add((a.len() - p.thoff - thl) as u32);
        let hdrs = cb.thoff + thl;
        let continues = !cb.flush_held
            && th.seq_number().0 == next_seq
            && th.ack_number() == th2.ack_number()
            && usize::from(th.header_len()) == thl
            && cb.len <= p.gso_size
            && p.last_len == p.gso_size
            && !th2.flags().contains(TcpFlags::PSH)
            && th.options() == th2.options();
        if continues && skb_gro_receive(pool, p, skb, hdrs) {
            let mut th2 = TcpPacket::new_unchecked(&mut p.buf.data_mut()[p.thoff..]);
            th2.set_window_len(th.window_len());
            if psh {
                let mut f = th2.flags();
                f.insert(TcpFlags::PSH);
                th2.set_flags(f);
            }
            p.last_len = cb.len;
            p.count += 1;
            cb.same_flow = true;
            return psh.then_some(i);
        }
    }
    // A PSH segment ends its train; alone, it needs no holding.
    cb.flush |= psh;
    pp
}

/// TCP/IPv4's GRO complete handler: the merged segment's checksum left partial (the
/// pseudo-header sum), for whoever passes it on to finish. Linux: `tcp4_gro_complete`.
pub fn tcp4_gro_complete(skb: &mut PacketBuf, nhoff: usize, thoff: usize) {
    let d = skb.data_mut();
    // Unchecked: taken by `tcp4_gro_receive` (IPv4 header at `nhoff`, TCP at `thoff`).
    let iph = Ipv4Packet::new_unchecked(&d[nhoff..]);
    let (src, dst) = (iph.src_addr(), iph.dst_addr());
    tcp_csum_partial(&mut d[thoff..], src, dst);
    skb.meta.csum = CsumState::Partial {
        start: (thoff - nhoff) as u16,
        offset: TCP_CSUM_OFFSET,
    };
}

/// The most TCP payload bytes to put in one segment for a connection whose route has `caps`:
/// the MSS, or for a TSO device as many whole MSS-sized segments as fit a 64 KiB datagram
/// (with room for the largest IPv4 and TCP headers). Linux: `tcp_send_mss` →
/// `tcp_xmit_size_goal` (with `sk_gso_max_size`).
pub fn tcp_xmit_size_goal(caps: NetdevFeatures, mss: usize) -> usize {
    let mss = mss.max(1);
    if !caps.tso {
        return mss;
    }
    let max = GSO_MAX_SIZE - 20 - 60;
    (max / mss).max(1) * mss
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_goal_is_whole_segments_under_64k() {
        let none = NetdevFeatures::default();
        assert_eq!(tcp_xmit_size_goal(none, 1448), 1448);
        let g = tcp_xmit_size_goal(NetdevFeatures::VNET, 1448);
        assert_eq!(g % 1448, 0);
        assert!(g + 20 + 60 <= GSO_MAX_SIZE && g + 1448 + 80 > GSO_MAX_SIZE);
        assert_eq!(tcp_xmit_size_goal(NetdevFeatures::VNET, 65000), 65000);
        assert_eq!(
            tcp_xmit_size_goal(NetdevFeatures::VNET, 0),
            GSO_MAX_SIZE - 80
        );
    }
}
