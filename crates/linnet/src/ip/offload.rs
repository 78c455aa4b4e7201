//! IPv4's part of the offloads: splitting a TCP/IPv4 super-packet (the transport protocol
//! makes the segments, IPv4 then fixes each one's header), sending a super-packet whose
//! segments may not fit the path, and its part of receive merging (GRO): which frames may
//! merge as far as IPv4 is concerned, and the header of a merged train.
//!
//! Linux: `inet_gso_segment`, `inet_gro_receive`, `inet_gro_complete` (net/ipv4/af_inet.c),
//! `ip_finish_output_gso` (net/ipv4/ip_output.c).

use crate::buf::{BufPool, PacketBuf};
use crate::device::gro::{GroSkb, NapiGroCb};
use crate::device::gso::{
    skb_gso_segment, skb_gso_validate_network_len, GsoError, GsoParams, SegCsum,
};
use crate::device::offload::{Offloads, PacketOffload};
use crate::errno::Errno;
use crate::ip::output::NextHop;
use crate::stack::Stack;
use crate::stats::DropReason;
use crate::time::Instant;
use crate::wire::checksum;
use crate::wire::ipv4::HEADER_LEN;
use crate::wire::{EtherType, Ipv4Packet};

/// Register IPv4's offload handlers for `ETH_P_IP`. Linux: `ipv4_offload_init`
/// (`dev_add_offload(&ip_packet_offload)`; TCP's own, `tcpv4_offload_init`, is registered
/// by the stack beside it).
pub fn ipv4_offload_init(offloads: &mut Offloads) {
    offloads.dev_add_offload(PacketOffload {
        ty: EtherType::IPV4,
        gso_segment: inet_gso_segment,
        gro_receive: Some(inet_gro_receive),
        gro_complete: Some(inet_gro_complete),
    });
}

/// The flow of an IPv4 datagram (`ip` from its header, at least 20 bytes; transport header
/// at `ihl`): source, destination, source port, destination port, in one word; `None` if the
/// ports are not there. Linux: the flow dissector's `skb_get_hash` (exact here, not hashed).
#[inline]
fn inet_gro_flow(ip: &[u8], ihl: usize) -> Option<u128> {
    let ports = ip.get(ihl..ihl + 4)?;
    // Unchecked: the caller checked that `ip` holds a 20-byte header (the addresses).
    let iph = Ipv4Packet::new_unchecked(ip);
    // TCP and UDP put the ports at the same offsets (Linux: `skb_flow_get_ports` reads them
    // as one word for either).
    let ports = u32::from_be_bytes([ports[0], ports[1], ports[2], ports[3]]);
    Some(
        u128::from(u32::from(iph.src_addr())) << 64
            | u128::from(u32::from(iph.dst_addr())) << 32
            | u128::from(ports),
    )
}

/// IPv4's GRO receive handler: put the frame in its flow (addresses and ports) and find that
/// flow's train; a datagram that may merge (version 4, no options, TCP, not a fragment, no
/// reserved flag, no padding, a good header checksum) goes on to its protocol's handler,
/// with the held train barred from taking it if the link header, TOS, DF or TTL differ.
/// Anything else is delivered as it is, after its flow's train. Linux: `inet_gro_receive`.
pub fn inet_gro_receive(
    offloads: &Offloads,
    head: &mut [GroSkb],
    skb: &PacketBuf,
    cb: &mut NapiGroCb,
    pool: &mut BufPool,
) -> Option<usize> {
    let d = skb.data();
    let nh = cb.nhoff;
    if d.len() < nh + HEADER_LEN + 4 {
        cb.flush = true;
        return None;
    }
    let ip = &d[nh..];
    // Unchecked: the length test above holds a 20-byte header.
    let iph = Ipv4Packet::new_unchecked(ip);
    let Some(flow) = inet_gro_flow(ip, iph.header_len()) else {
        cb.flush = true;
        return None;
    };
    cb.flow = Some(flow);
    let pp = head.iter().position(|p| p.flow == flow);
    // Version 4, no options, nothing in frag_off but DF (no MF, offset or reserved bit:
    // Linux flushes on `frag_off & ~IP_DF`); Ethernet padding or a truncated frame takes
    // the normal path. Room for a 20-byte TCP header is its handler's to check, but the
    // shortest frame that can merge is tested here once.
    if cb.flush
        || d.len() < nh + HEADER_LEN + 20
        || iph.version() != 4
        || iph.header_len() != HEADER_LEN
        || iph.is_fragment()
        || iph.reserved_flag()
        || usize::from(iph.total_len()) != ip.len()
    {
        cb.flush = true;
        return pp;
    }
    let Some(gro_receive) = offloads
        .inet_offload(iph.protocol())
        .and_then(|o| o.gro_receive)
    else {
        cb.flush = true;
        return pp;
    };
    // The header is 20 bytes (tested above): a constant length, summed unrolled.
    if skb.meta.csum == crate::buf::CsumState::None && !checksum::verify(&ip[..HEADER_LEN]) {
        cb.flush = true;
        return pp;
    }
    cb.thoff = nh + HEADER_LEN;
    if let Some(i) = pp {
        let a = head[i].buf.data();
        // Unchecked: a held train was taken by this handler (a 20-byte header).
        let ia = Ipv4Packet::new_unchecked(&a[nh..]);
        // The link header (Linux: the core's `compare_ether_header`), TOS, DF, TTL.
        cb.flush_held = a[..nh] != d[..nh]
            || ia.tos() != iph.tos()
            || ia.dont_frag() != iph.dont_frag()
            || ia.ttl() != iph.ttl();
    }
    gro_receive(head, pp, skb, cb, pool)
}

/// IPv4's GRO complete handler: the merged datagram's total length and header checksum,
/// then its protocol's handler. Linux: `inet_gro_complete`.
pub fn inet_gro_complete(offloads: &Offloads, skb: &mut PacketBuf, nhoff: usize) {
    let d = skb.data_mut();
    let len = d.len() - nhoff;
    // Unchecked: taken by `inet_gro_receive` (a 20-byte header) and only grown since.
    let mut iph = Ipv4Packet::new_unchecked(&mut d[nhoff..]);
    iph.set_total_len(len as u16);
    iph.fill_checksum();
    let proto = iph.protocol();
    if let Some(complete) = offloads.inet_offload(proto).and_then(|o| o.gro_complete) {
        complete(skb, nhoff, nhoff + HEADER_LEN);
    }
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
