//! Generic segmentation offload, the core side: the limits of a super-packet, the entry that
//! hands it to its network protocol for segmenting in software, and the check whether its
//! segments fit a path.
//!
//! Linux: net/core/gso.c (`skb_mac_gso_segment`, `skb_gso_validate_network_len`) and
//! `GSO_MAX_SIZE`/`GSO_MAX_SEGS` (include/linux/netdevice.h). The protocols' halves
//! (IPv4's `inet_gso_segment`, TCP's `tcp4_gso_segment`) are reached through the handlers
//! they registered in the stack's [`Offloads`] tables, as Linux reaches them through
//! `packet_offload` and `inet_offloads`.

use super::offload::Offloads;
use crate::buf::{BufPool, Meta, PacketBuf};
use crate::wire::tcp::tcp_all_headers_v4;
use crate::wire::EtherType;

/// Largest GSO super-packet at the network layer (an IPv4 datagram). Linux: `GSO_MAX_SIZE`
/// as limited by the 16-bit IPv4 total length.
pub const GSO_MAX_SIZE: usize = 65535;

/// Most segments one super-packet may be split into (bounds the work one bad frame can cause).
/// Linux: `GSO_MAX_SEGS` (65535); Linnet accepts far fewer.
pub const GSO_MAX_SEGS: usize = 1024;

/// How software GSO fills the checksums of the segments it makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SegCsum {
    /// Compute each segment's TCP checksum in full.
    Full,
    /// Leave each partial (pseudo-header sum) for a device with checksum offload.
    Partial,
}

/// Why a super-packet could not be segmented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GsoError {
    /// Not a well-formed TCP/IPv4 packet (or an IPv4 fragment), or a protocol with no
    /// segmentation handler registered.
    Malformed,
    /// `gso_size` zero, or so small the packet would make more than [`GSO_MAX_SEGS`].
    BadSize,
}

/// What the segments of a super-packet are made with: payload bytes per segment, how their
/// checksums are filled, the metadata they inherit (GSO and checksum state are set per
/// segment) and the headroom of their buffers.
#[derive(Debug, Clone, Copy)]
pub struct GsoParams {
    /// Payload bytes per segment (`skb_shinfo(skb)->gso_size`).
    pub gso_size: usize,
    /// How each segment's transport checksum is filled.
    pub csum: SegCsum,
    /// Metadata copied onto each segment.
    pub meta: Meta,
    /// Headroom of each segment's buffer.
    pub headroom: usize,
}

/// Split a TCP/IPv4 super-packet (`l2` bytes of link header, copied onto each segment, then
/// the IPv4 header) into segments of `gso_size` payload bytes: sequence numbers advance, the
/// IPv4 identification increments, FIN and PSH stay on the last segment only and CWR on the
/// first; IPv4 lengths and checksums are rewritten. New buffers come from `pool` with
/// `headroom` and the metadata `meta` (GSO and checksum state set per `csum`), appended to
/// `out`. Returns how many were made. The packet goes to the handler its network protocol
/// registered in `offloads` (the protocol read from the IP version, as the link header may
/// be absent). Linux: `skb_mac_gso_segment` → `inet_gso_segment` → `tcp4_gso_segment`.
#[allow(clippy::too_many_arguments)]
pub fn skb_gso_segment(
    offloads: &Offloads,
    pkt: &[u8],
    l2: usize,
    gso_size: usize,
    csum: SegCsum,
    meta: Meta,
    pool: &mut BufPool,
    headroom: usize,
    out: &mut Vec<PacketBuf>,
) -> Result<usize, GsoError> {
    let params = GsoParams {
        gso_size,
        csum,
        meta,
        headroom,
    };
    // Linux: `skb_network_protocol`.
    let ty = match pkt.get(l2).map(|b| b >> 4) {
        Some(4) => EtherType::IPV4,
        Some(6) => EtherType::IPV6,
        _ => return Err(GsoError::Malformed),
    };
    match offloads.packet_offload(ty) {
        Some(po) => (po.gso_segment)(offloads, pkt, l2, &params, pool, out),
        None => Err(GsoError::Malformed),
    }
}

/// Whether each segment of a GSO super-packet (data at its IPv4 header) fits `mtu`; true for
/// a packet that is not GSO and fits as it is. Linux: `skb_gso_validate_network_len`.
pub fn skb_gso_validate_network_len(buf: &PacketBuf, mtu: usize) -> bool {
    if buf.meta.gso_size == 0 {
        return buf.len() <= mtu;
    }
    match tcp_all_headers_v4(buf.data()) {
        Some(h) => h + usize::from(buf.meta.gso_size) <= mtu,
        None => false,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::buf::CsumState;
    use crate::device::xmit::skb_checksum_help;
    use crate::wire::checksum;
    use crate::wire::ethernet::HEADER_LEN as ETH_HLEN;
    use crate::wire::ipv4::Ipv4Packet;
    use crate::wire::tcp::tcp_csum_partial;
    use crate::wire::tcp::{SeqNumber, TcpFlags, TcpPacket};
    use std::net::Ipv4Addr;

    /// The tables a stack registers at construction (IPv4 and TCP).
    pub(crate) fn offloads() -> Offloads {
        let mut o = Offloads::default();
        crate::transport::offload::tcpv4_offload_init(&mut o).expect("a fresh table");
        crate::ip::offload::ipv4_offload_init(&mut o);
        o
    }

    pub(crate) const SRC: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
    pub(crate) const DST: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);

    /// An Ethernet + IPv4 + TCP (with a 12-byte timestamp option) frame carrying `payload`.
    pub(crate) fn frame(payload: &[u8], flags: TcpFlags, partial: bool) -> Vec<u8> {
        let thl = 32;
        let tot = 20 + thl + payload.len();
        let mut f = vec![0u8; ETH_HLEN + tot];
        f[0..6].copy_from_slice(&[2, 0, 0, 0, 0, 2]);
        f[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 1]);
        f[12..14].copy_from_slice(&[0x08, 0x00]);
        let ip = &mut f[ETH_HLEN..];
        ip[0] = 0x45;
        ip[2..4].copy_from_slice(&(tot as u16).to_be_bytes());
        ip[4..6].copy_from_slice(&0xfffeu16.to_be_bytes());
        ip[6] = 0x40; // DF
        ip[8] = 64;
        ip[9] = 6;
        ip[12..16].copy_from_slice(&SRC.octets());
        ip[16..20].copy_from_slice(&DST.octets());
        let c = checksum::checksum(&ip[..20]);
        ip[10..12].copy_from_slice(&c.to_be_bytes());
        let th = &mut ip[20..];
        th[0..2].copy_from_slice(&40000u16.to_be_bytes());
        th[2..4].copy_from_slice(&5201u16.to_be_bytes());
        th[4..8].copy_from_slice(&0xffff_f000u32.to_be_bytes());
        th[8..12].copy_from_slice(&7u32.to_be_bytes());
        th[12] = (thl as u8 / 4) << 4;
        th[13] = flags.0;
        th[14..16].copy_from_slice(&1000u16.to_be_bytes());
        th[20..32].copy_from_slice(&[1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2]);
        th[thl..].copy_from_slice(payload);
        if partial {
            tcp_csum_partial(th, SRC, DST);
        } else {
            TcpPacket::new_unchecked(&mut th[..]).fill_checksum(SRC, DST);
        }
        f
    }

    pub(crate) fn payload(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 7 + i / 251) as u8).collect()
    }

    fn segment(n: usize, flags: TcpFlags, mss: usize, csum: SegCsum) -> (Vec<u8>, Vec<PacketBuf>) {
        let data = payload(n);
        let f = frame(&data, flags, true);
        let mut pool = BufPool::default();
        let mut out = Vec::new();
        let meta = Meta {
            ifindex: 3,
            gso_size: mss as u16,
            ..Default::default()
        };
        let o = offloads();
        let k =
            skb_gso_segment(&o, &f, ETH_HLEN, mss, csum, meta, &mut pool, 64, &mut out).unwrap();
        assert_eq!(k, out.len());
        (data, out)
    }

    #[test]
    fn software_gso_makes_correct_segments() {
        let mss = 1448;
        let n = 10 * mss + 517;
        let flags = TcpFlags::ACK | TcpFlags::PSH | TcpFlags::FIN | TcpFlags::CWR;
        let (data, segs) = segment(n, flags, mss, SegCsum::Full);
        assert_eq!(segs.len(), 11);
        let mut joined = Vec::new();
        for (i, s) in segs.iter().enumerate() {
            assert_eq!(s.headroom(), 64);
            assert_eq!((s.meta.ifindex, s.meta.gso_size), (3, 0));
            assert_eq!(s.meta.csum, CsumState::None);
            let d = s.data();
            assert_eq!(
                &d[..14],
                &frame(&[], flags, true)[..14],
                "link header copied"
            );
            let ip = Ipv4Packet::new_checked(&d[ETH_HLEN..]).unwrap();
            assert!(ip.verify_checksum(), "segment {i}: IPv4 checksum");
            assert_eq!(
                ip.ident(),
                0xfffeu16.wrapping_add(i as u16),
                "ident increments"
            );
            assert!(ip.dont_frag());
            let want = if i == 10 { 517 } else { mss };
            assert_eq!(usize::from(ip.total_len()), 20 + 32 + want);
            let tcp = TcpPacket::new_checked(ip.payload()).unwrap();
            assert!(tcp.verify_checksum(SRC, DST), "segment {i}: TCP checksum");
            assert_eq!(
                tcp.seq_number(),
                SeqNumber(0xffff_f000u32.wrapping_add((i * mss) as u32)),
                "sequence numbers advance (and wrap)"
            );
            let f = tcp.flags();
            assert!(f.contains(TcpFlags::ACK));
            assert_eq!(f.contains(TcpFlags::FIN), i == 10, "FIN only on the last");
            assert_eq!(f.contains(TcpFlags::PSH), i == 10, "PSH only on the last");
            assert_eq!(f.contains(TcpFlags::CWR), i == 0, "CWR only on the first");
            assert_eq!(tcp.options().len(), 12, "options copied");
            joined.extend_from_slice(tcp.payload());
        }
        assert_eq!(joined, data);
    }

    #[test]
    fn software_gso_can_leave_checksums_partial() {
        let (_, segs) = segment(3000, TcpFlags::ACK, 1000, SegCsum::Partial);
        assert_eq!(segs.len(), 3);
        for mut s in segs {
            let CsumState::Partial { start, offset } = s.meta.csum else {
                panic!("not partial: {:?}", s.meta.csum);
            };
            assert_eq!((start, offset), (20, 16));
            let d = &mut s.data_mut()[ETH_HLEN..];
            assert!(!TcpPacket::new_unchecked(&d[20..]).verify_checksum(SRC, DST));
            assert!(skb_checksum_help(d, 20, 16));
            assert!(TcpPacket::new_unchecked(&d[20..]).verify_checksum(SRC, DST));
        }
    }

    #[test]
    fn software_gso_refuses_bad_input_without_panicking() {
        let f = frame(&payload(3000), TcpFlags::ACK, true);
        let mut pool = BufPool::default();
        let mut out = Vec::new();
        let m = Meta::default();
        let o = offloads();
        let mut go = |p: &[u8], l2: usize, mss: usize| {
            skb_gso_segment(&o, p, l2, mss, SegCsum::Full, m, &mut pool, 0, &mut out)
        };
        assert_eq!(go(&f, ETH_HLEN, 0), Err(GsoError::BadSize));
        assert_eq!(go(&f, ETH_HLEN, 2), Err(GsoError::BadSize));
        for cut in 0..70 {
            assert!(go(&f[..cut], ETH_HLEN, 1448).is_err(), "cut at {cut}");
        }
        // Total length beyond the frame.
        assert_eq!(
            go(&f[..f.len() - 1], ETH_HLEN, 1448),
            Err(GsoError::Malformed)
        );
        let mut frag = f.clone();
        frag[ETH_HLEN + 6] = 0x20; // MF
        assert_eq!(go(&frag, ETH_HLEN, 1448), Err(GsoError::Malformed));
        let mut udp = f.clone();
        udp[ETH_HLEN + 9] = 17;
        assert_eq!(go(&udp, ETH_HLEN, 1448), Err(GsoError::Malformed));
        // The network-layer form (no link header) works as well.
        assert_eq!(go(&f[ETH_HLEN..], 0, 1448), Ok(3));
        assert_eq!(out.len(), 3, "failed attempts appended nothing");
    }

    #[test]
    fn software_gso_needs_the_registered_handlers() {
        let f = frame(&payload(3000), TcpFlags::ACK, true);
        let mut pool = BufPool::default();
        let mut out = Vec::new();
        let m = Meta::default();
        let mut go = |o: &Offloads| {
            skb_gso_segment(
                o,
                &f,
                ETH_HLEN,
                1448,
                SegCsum::Full,
                m,
                &mut pool,
                0,
                &mut out,
            )
        };
        assert_eq!(go(&Offloads::default()), Err(GsoError::Malformed));
        let mut ip_only = Offloads::default();
        crate::ip::offload::ipv4_offload_init(&mut ip_only);
        assert_eq!(go(&ip_only), Err(GsoError::Malformed), "no TCP handler");
        assert_eq!(go(&offloads()), Ok(3));
        assert_eq!(out.len(), 3);
    }

    #[test]
    fn gso_mtu_validation_checks_each_segment() {
        let f = frame(&payload(5000), TcpFlags::ACK, true);
        let mut b = PacketBuf::from_slice(&f[ETH_HLEN..], 0);
        assert!(!skb_gso_validate_network_len(&b, 1500));
        b.meta.gso_size = 1448;
        assert!(skb_gso_validate_network_len(&b, 1500));
        assert!(!skb_gso_validate_network_len(&b, 1499));
    }
}
