//! IPv4's part of generic segmentation offload: splitting a TCP/IPv4 super-packet (the
//! transport protocol makes the segments, IPv4 then fixes each one's header) and sending a
//! super-packet whose segments may not fit the path.
//!
//! Linux: `inet_gso_segment` (net/ipv4/af_inet.c), `ip_finish_output_gso`
//! (net/ipv4/ip_output.c).

use crate::buf::{BufPool, PacketBuf};
use crate::device::gso::{
    skb_gso_segment, skb_gso_validate_network_len, GsoError, GsoParams, SegCsum,
};
use crate::device::offload::{Offloads, PacketOffload};
use crate::errno::Errno;
use crate::ip::output::NextHop;
use crate::stack::Stack;
use crate::stats::DropReason;
use crate::time::Instant;
use crate::wire::ipv4::HEADER_LEN;
use crate::wire::{EtherType, Ipv4Packet};

/// Register IPv4's offload handlers for `ETH_P_IP`. Linux: `ipv4_offload_init`
/// (`dev_add_offload(&ip_packet_offload)`; TCP's own, `tcpv4_offload_init`, is registered
/// by the stack beside it).
pub fn ipv4_offload_init(offloads: &mut Offloads) {
    offloads.dev_add_offload(PacketOffload {
        ty: EtherType::IPV4,
        gso_segment: inet_gso_segment,
    });
}

/// Segment the IPv4 super-packet whose header starts at `nhoff`: check the header (whole,
/// not a fragment), have the handler its protocol registered in `offloads` make the
/// segments, then give each its IPv4 total length, an identification counting up from the
/// super-packet's, and a fresh header checksum. Returns how many segments were appended to
/// `out`. Linux: `inet_gso_segment`.
pub fn inet_gso_segment(
    offloads: &Offloads,
    pkt: &[u8],
    nhoff: usize,
    params: &GsoParams,
    pool: &mut BufPool,
    out: &mut Vec<PacketBuf>,
) -> Result<usize, GsoError> {
    let ip = pkt.get(nhoff..).ok_or(GsoError::Malformed)?;
    if ip.len() < HEADER_LEN {
        return Err(GsoError::Malformed);
    }
    let iph = Ipv4Packet::new_unchecked(ip);
    let ihl = iph.header_len();
    let total = usize::from(iph.total_len());
    if iph.version() != 4
        || ihl < HEADER_LEN
        || total > ip.len()
        || total < ihl
        || iph.is_fragment()
    {
        return Err(GsoError::Malformed);
    }
    let ops = offloads
        .inet_offload(iph.protocol())
        .ok_or(GsoError::Malformed)?;
    let ident = iph.ident();
    let first = out.len();
    let n = (ops.gso_segment)(pkt, nhoff, nhoff + ihl, nhoff + total, params, pool, out)?;
    for (i, seg) in out[first..].iter_mut().enumerate() {
        let len = seg.len() - nhoff;
        let mut iph = Ipv4Packet::new_unchecked(&mut seg.data_mut()[nhoff..]);
        iph.set_total_len(len as u16);
        iph.set_ident(ident.wrapping_add(i as u16));
        iph.fill_checksum();
    }
    Ok(n)
}

impl Stack {
    /// Send a GSO super-packet (data at its IPv4 header) on towards `hop`: whole when its
    /// segments fit `mtu`, else segmented in software and each segment sent (fragmented, or
    /// refused with ICMP fragmentation needed when DF is set). Linux: `ip_finish_output_gso`.
    pub(crate) fn ip_finish_output_gso(
        &mut self,
        buf: PacketBuf,
        hop: NextHop,
        mtu: usize,
        now: Instant,
    ) -> Result<(), Errno> {
        if skb_gso_validate_network_len(&buf, mtu) {
            return self.ip_finish_output2(buf, hop, now);
        }
        let mut segs = std::mem::take(&mut self.dev.gso_scratch);
        segs.clear();
        let headroom = buf.headroom();
        let r = skb_gso_segment(
            &self.dev.offloads,
            buf.data(),
            0,
            usize::from(buf.meta.gso_size),
            SegCsum::Full,
            buf.meta,
            &mut self.pool,
            headroom,
            &mut segs,
        );
        if r.is_err() {
            self.dev.gso_scratch = segs;
            self.ipv4.ip_stats.out_discards += 1;
            self.drop_pkt(buf, DropReason::PktTooSmall);
            return Err(Errno::EINVAL);
        }
        self.pool.put(buf);
        let mut res = Ok(());
        for mut s in segs.drain(..) {
            s.reset_network_header();
            let r = if s.len() > mtu {
                self.ip_fragment(s, hop, mtu, now)
            } else {
                self.ip_finish_output2(s, hop, now)
            };
            if res.is_ok() {
                res = r;
            }
        }
        self.dev.gso_scratch = segs;
        res
    }
}
