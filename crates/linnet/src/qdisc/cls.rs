//! Classifiers: map a packet to a class id. `u32`-style matches on IPv4 source/destination,
//! protocol, TOS and ports, and `fw` on the firewall mark.
//!
//! Linux: `tcf_classify` (net/sched/cls_api.c), `u32_classify` (cls_u32.c), `fw_classify`
//! (cls_fw.c). Packets in a qdisc start at their Ethernet header.

use crate::buf::PacketBuf;
use crate::wire::ethernet::HEADER_LEN as ETH_HLEN;
use crate::wire::tcp::TcpPacket;
use crate::wire::{ipv4, EtherType, EthernetFrame, Ipv4Packet};
use serde::{Deserialize, Serialize};

/// The IPv4 header of a frame queued for transmit (Ethernet first), if it carries one: at
/// least 20 bytes with version 4 (the header length is not checked).
pub fn ipv4_header(buf: &PacketBuf) -> Option<&[u8]> {
    let d = buf.data();
    if d.len() < ETH_HLEN + ipv4::HEADER_LEN {
        return None;
    }
    // Unchecked views: the length test above covers the Ethernet and a 20-byte IPv4 header.
    if EthernetFrame::new_unchecked(d).ethertype() != EtherType::IPV4 {
        return None;
    }
    let ip = &d[ETH_HLEN..];
    (Ipv4Packet::new_unchecked(ip).version() == 4).then_some(ip)
}

/// The transport ports of an unfragmented (or first-fragment) TCP/UDP/SCTP packet; `ip` is
/// an IPv4 header of at least 20 bytes, as [`ipv4_header`] returns.
pub fn ports(ip: &[u8]) -> Option<(u16, u16)> {
    // Unchecked: 20 bytes are there (the caller's promise); the header length is checked here.
    let iph = Ipv4Packet::new_unchecked(ip);
    let ihl = iph.header_len();
    if iph.frag_offset() != 0
        || !matches!(iph.protocol().0, 6 | 17 | 132)
        || ip.len() < ihl + 4
        || ihl < ipv4::HEADER_LEN
    {
        return None;
    }
    // Unchecked: the four port bytes are there (tested above); TCP, UDP and SCTP put the
    // ports at the same offsets (Linux: `skb_flow_get_ports` reads them as one word).
    let l4 = TcpPacket::new_unchecked(&ip[ihl..ihl + 4]);
    Some((l4.src_port(), l4.dst_port()))
}

/// The packet's priority (0–15) from its TOS, as Linux sets `skb->priority` for IP traffic.
/// Linux: `rt_tos2priority` (`ip_tos2prio`, net/ipv4/route.c).
pub fn tos_priority(buf: &PacketBuf) -> u8 {
    const IP_TOS2PRIO: [u8; 16] = [0, 0, 0, 0, 2, 2, 2, 2, 6, 6, 6, 6, 4, 4, 4, 4];
    match ipv4_header(buf) {
        // Unchecked: `ipv4_header` returns 20 bytes at least.
        Some(ip) => IP_TOS2PRIO[((Ipv4Packet::new_unchecked(ip).tos() & 0x1e) >> 1) as usize],
        None => 0,
    }
}

/// One `u32 match ip ...` selector: the field masked must equal the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum U32Key {
    /// `match ip src ADDR/LEN`.
    Src {
        /// Address bits.
        addr: u32,
        /// Mask.
        mask: u32,
    },
    /// `match ip dst ADDR/LEN`.
    Dst {
        /// Address bits.
        addr: u32,
        /// Mask.
        mask: u32,
    },
    /// `match ip sport PORT MASK`.
    Sport {
        /// Port.
        port: u16,
        /// Mask.
        mask: u16,
    },
    /// `match ip dport PORT MASK`.
    Dport {
        /// Port.
        port: u16,
        /// Mask.
        mask: u16,
    },
    /// `match ip protocol N MASK`.
    Protocol {
        /// Protocol number.
        proto: u8,
        /// Mask.
        mask: u8,
    },
    /// `match ip tos N MASK`.
    Tos {
        /// TOS bits.
        tos: u8,
        /// Mask.
        mask: u8,
    },
}

impl U32Key {
    fn matches(&self, ip: &[u8]) -> bool {
        // Unchecked: `ip` is what `ipv4_header` returned (20 bytes at least).
        let iph = Ipv4Packet::new_unchecked(ip);
        match *self {
            U32Key::Src { addr, mask } => u32::from(iph.src_addr()) & mask == addr & mask,
            U32Key::Dst { addr, mask } => u32::from(iph.dst_addr()) & mask == addr & mask,
            U32Key::Protocol { proto, mask } => iph.protocol().0 & mask == proto & mask,
            U32Key::Tos { tos, mask } => iph.tos() & mask == tos & mask,
            U32Key::Sport { port, mask } => ports(ip).is_some_and(|(s, _)| s & mask == port & mask),
            U32Key::Dport { port, mask } => ports(ip).is_some_and(|(_, d)| d & mask == port & mask),
        }
    }
}

/// What a filter matches on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum FilterKind {
    /// `u32`: every selector must match (an empty list matches all IPv4).
    U32(Vec<U32Key>),
    /// `fw`: `(mark & mask) == handle`.
    Fw {
        /// The mark to match.
        handle: u32,
        /// Mask applied to the packet's mark.
        mask: u32,
    },
}

/// One filter: attached to a qdisc, it sends matching packets to `classid`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Filter {
    /// Priority (`pref`): lower is tried first.
    pub prio: u32,
    /// Match.
    pub kind: FilterKind,
    /// The class a match goes to.
    pub classid: u32,
}

impl Filter {
    /// Whether the filter matches the packet. Linux: `u32_classify` / `fw_classify`.
    pub fn matches(&self, buf: &PacketBuf) -> bool {
        match &self.kind {
            FilterKind::Fw { handle, mask } => buf.meta.mark & mask == *handle,
            FilterKind::U32(keys) => match ipv4_header(buf) {
                Some(ip) => keys.iter().all(|k| k.matches(ip)),
                None => false,
            },
        }
    }
}

/// The class of the first matching filter, trying lower `prio` first (the list is kept
/// sorted). Linux: `tcf_classify`.
pub fn classify(filters: &[Filter], buf: &PacketBuf) -> Option<u32> {
    filters.iter().find(|f| f.matches(buf)).map(|f| f.classid)
}

/// Insert keeping the list sorted by priority (stable for equal priorities).
pub fn insert_sorted(filters: &mut Vec<Filter>, f: Filter) {
    let pos = filters.partition_point(|g| g.prio <= f.prio);
    filters.insert(pos, f);
}

/// Build an Ethernet + IPv4 + (TCP/UDP) frame for tests.
#[cfg(test)]
pub(crate) fn test_frame(
    src: [u8; 4],
    dst: [u8; 4],
    proto: u8,
    sport: u16,
    dport: u16,
    tos: u8,
    len: usize,
) -> PacketBuf {
    let mut f = vec![0u8; len.max(ETH_HLEN + 28)];
    EthernetFrame::new_unchecked(&mut f[..]).set_ethertype(EtherType::IPV4);
    let ip = &mut f[ETH_HLEN..];
    let tot = ip.len();
    crate::wire::Ipv4Repr {
        src_addr: src.into(),
        dst_addr: dst.into(),
        protocol: crate::wire::IpProtocol(proto),
        payload_len: tot - ipv4::HEADER_LEN,
        ttl: 64,
        tos,
        ident: 0,
        dont_frag: false,
    }
    .emit(&mut ip[..ipv4::HEADER_LEN]);
    // The ports at the same offsets for TCP and UDP.
    let mut l4 = crate::wire::udp::UdpPacket::new_unchecked(&mut ip[ipv4::HEADER_LEN..]);
    l4.set_src_port(sport);
    l4.set_dst_port(dport);
    PacketBuf::from_slice(&f, 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn u32_and_fw_filters_classify() {
        let mut list = Vec::new();
        let u32 = |prio, keys, classid| Filter {
            prio,
            kind: FilterKind::U32(keys),
            classid,
        };
        // `prio 2 u32 match ip dport 5001 0xffff flowid 1:10`.
        let dport = U32Key::Dport {
            port: 5001,
            mask: 0xffff,
        };
        insert_sorted(&mut list, u32(2, vec![dport], 0x10010));
        // `prio 1 u32 match ip src 192.0.2.0/24 match ip protocol 17 0xff flowid 1:20`.
        let src = U32Key::Src {
            addr: 0xc000_0200,
            mask: 0xffff_ff00,
        };
        let udp = U32Key::Protocol {
            proto: 17,
            mask: 0xff,
        };
        insert_sorted(&mut list, u32(1, vec![src, udp], 0x10020));
        // `prio 3 handle 6 fw classid 1:30`.
        let fw = Filter {
            prio: 3,
            kind: FilterKind::Fw {
                handle: 6,
                mask: u32::MAX,
            },
            classid: 0x10030,
        };
        insert_sorted(&mut list, fw);
        let tcp = test_frame([192, 0, 2, 1], [198, 51, 100, 1], 6, 40000, 5001, 0, 100);
        let udp = test_frame([192, 0, 2, 1], [198, 51, 100, 1], 17, 40000, 5001, 0, 100);
        let mut other = test_frame([203, 0, 113, 1], [198, 51, 100, 1], 6, 1, 2, 0, 100);
        assert_eq!(classify(&list, &tcp), Some(0x10010));
        assert_eq!(classify(&list, &udp), Some(0x10020), "prio 1 wins");
        assert_eq!(classify(&list, &other), None);
        other.meta.mark = 6;
        assert_eq!(classify(&list, &other), Some(0x10030));
        assert_eq!(list[0].classid, 0x10020);
    }

    #[test]
    fn tos_maps_to_priority() {
        let lowdelay = test_frame([1; 4], [2; 4], 6, 1, 2, 0x10, 60);
        let bulk = test_frame([1; 4], [2; 4], 6, 1, 2, 0x08, 60);
        let be = test_frame([1; 4], [2; 4], 6, 1, 2, 0, 60);
        assert_eq!(tos_priority(&lowdelay), 6);
        assert_eq!(tos_priority(&bulk), 2);
        assert_eq!(tos_priority(&be), 0);
    }
}
