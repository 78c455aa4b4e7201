//! TCP's part of the offloads: the pseudo-header sum a device or the core finishes, the size
//! of the super-segments TCP builds for a TSO device, and segmenting a super-segment in
//! software.
//!
//! Linux: `__tcp_v4_send_check` (net/ipv4/tcp_ipv4.c), `tcp_xmit_size_goal`
//! (net/ipv4/tcp.c), `tcp4_gso_segment` / `tcp_gso_segment` (net/ipv4/tcp_offload.c).

use crate::buf::{BufPool, CsumState, PacketBuf};
use crate::device::features::NetdevFeatures;
use crate::device::gso::{GsoError, GsoParams, SegCsum, GSO_MAX_SEGS, GSO_MAX_SIZE};
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
