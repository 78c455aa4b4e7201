//! NAT on top of conntrack: the binding made for a connection's first packet (address and
//! port allocation), the rewrite of every later packet in both directions with incrementally
//! patched checksums (RFC 1624), and the translation of ICMP errors, inner header included.
//!
//! Linux: net/netfilter/nf_nat_core.c (`nf_nat_setup_info`, `get_unique_tuple`,
//! `nf_nat_packet`), nf_nat_proto.c (`nf_nat_ipv4_manip_pkt`, `nf_nat_icmp_reply_translation`,
//! `l4proto_manip_pkt`), xt_MASQUERADE.c / nf_nat_masquerade.c, xt_REDIRECT.c.

use super::conntrack::{Conn, Conntrack, CtRef, Dir, Tuple};
use super::matches::proto;
use super::targets::NatRange;
use crate::wire::checksum::{update16, update32};
use crate::wire::tcp::TcpPacket;
use crate::wire::udp::{self, UdpPacket};
use crate::wire::{icmpv4, ipv4, Icmpv4Packet, Ipv4Addr, Ipv4Packet};

/// Most candidate ports tried before giving up (Linux tries 128 random ones, then fewer;
/// Linnet probes in order from a hashed start, so it tries more).
const MAX_PORT_ATTEMPTS: u32 = 4096;

/// Bytes of a TCP header up to the end of its checksum field: a quoted segment shorter than
/// this has no checksum to follow.
const TCP_CSUM_END: usize = 18;

/// Which end of the tuple a hook rewrites. Linux: `enum nf_nat_manip_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ManipType {
    /// Source (POSTROUTING, INPUT).
    Src = 0,
    /// Destination (PREROUTING, OUTPUT).
    Dst = 1,
}

impl ManipType {
    /// The other one.
    pub fn other(self) -> ManipType {
        match self {
            ManipType::Src => ManipType::Dst,
            ManipType::Dst => ManipType::Src,
        }
    }
}

/// What a NAT target asked for, before interface addresses are filled in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NatAction {
    /// SNAT to a range.
    Snat(NatRange),
    /// DNAT to a range.
    Dnat(NatRange),
    /// SNAT to the output interface's address.
    Masquerade(Option<(u16, u16)>),
    /// DNAT to the input interface's address (or 127.0.0.1 from OUTPUT).
    Redirect(Option<(u16, u16)>),
}

/// Whether packets going `dir` get a `mtype` rewrite on this connection.
/// Linux: `nf_nat_packet`'s status bit test (inverted for the reply direction).
fn manip_applies(c: &Conn, dir: Dir, mtype: ManipType) -> bool {
    match (mtype, dir) {
        (ManipType::Src, Dir::Original) | (ManipType::Dst, Dir::Reply) => c.snat,
        (ManipType::Dst, Dir::Original) | (ManipType::Src, Dir::Reply) => c.dnat,
    }
}

/// Bind the connection's `mtype` end to `range` (or bind it to itself when `None`): choose an
/// address and a port such that the resulting reply tuple is unused, and record it.
/// Returns false when no port is free. Linux: `nf_nat_setup_info` → `get_unique_tuple`.
pub fn nf_nat_setup_info(
    ct: &mut Conntrack,
    r: CtRef,
    range: Option<NatRange>,
    mtype: ManipType,
) -> bool {
    let Some(c) = ct.get(r) else {
        return false;
    };
    // The original tuple as it looks with the manips made so far.
    let Some(cur) = c.tuple[1].invert() else {
        return false;
    };
    let Some(range) = range else {
        if let Some(c) = ct.get_mut(r) {
            c.nat_done[mtype as usize] = true;
        }
        return true;
    };
    let mut new = cur;
    // Address: one of the range, chosen by hashing the other end so a host keeps its address.
    let (lo, hi) = (
        u32::from(range.min_ip),
        u32::from(range.max_ip).max(u32::from(range.min_ip)),
    );
    let other = match mtype {
        ManipType::Src => cur.dst,
        ManipType::Dst => cur.src,
    };
    let ip = Ipv4Addr::from(lo + (hash32(u32::from(other)) % (hi - lo + 1)));
    match mtype {
        ManipType::Src => new.src = ip,
        ManipType::Dst => new.dst = ip,
    }
    let has_ports = matches!(new.proto, proto::TCP | proto::UDP)
        || new.proto == proto::ICMP && mtype == ManipType::Src;
    let port_of = |t: &Tuple| match mtype {
        ManipType::Src => t.sport,
        ManipType::Dst => t.dport,
    };
    let set_port = |t: &mut Tuple, p: u16| match mtype {
        ManipType::Src => t.sport = p,
        ManipType::Dst => t.dport = p,
    };
    let free = |ct: &Conntrack, t: &Tuple| t.invert().is_some_and(|rt| !ct.tuple_taken(&rt));
    let orig_port = port_of(&cur);
    if !has_ports {
        return free(ct, &new) && bind(ct, r, cur, new, mtype);
    }
    // Keep the port when it fits and is free (Linux tries the identity mapping first).
    let in_range = range
        .ports
        .is_none_or(|(a, b)| (a..=b).contains(&orig_port));
    if in_range && free(ct, &new) {
        return bind(ct, r, cur, new, mtype);
    }
    let (plo, phi) = range.ports.unwrap_or(if new.proto == proto::ICMP {
        (0, u16::MAX)
    } else if orig_port < 512 {
        (1, 511)
    } else if orig_port < 1024 {
        (600, 1023)
    } else {
        (1024, u16::MAX)
    });
    let span = u32::from(phi.max(plo) - plo) + 1;
    let start = hash32(
        u32::from(cur.src)
            ^ u32::from(cur.dst).rotate_left(7)
            ^ u32::from(cur.sport) << 16
            ^ u32::from(cur.dport),
    );
    for i in 0..span.min(MAX_PORT_ATTEMPTS) {
        let p = plo + ((start.wrapping_add(i)) % span) as u16;
        set_port(&mut new, p);
        if free(ct, &new) {
            return bind(ct, r, cur, new, mtype);
        }
    }
    false
}

fn bind(ct: &mut Conntrack, r: CtRef, cur: Tuple, new: Tuple, mtype: ManipType) -> bool {
    let Some(reply) = new.invert() else {
        return false;
    };
    let Some(c) = ct.get_mut(r) else {
        return false;
    };
    c.tuple[1] = reply;
    c.nat_done[mtype as usize] = true;
    if new != cur {
        match mtype {
            ManipType::Src => c.snat = true,
            ManipType::Dst => c.dnat = true,
        }
    }
    true
}

/// A 32-bit mixer (for address and port choice).
fn hash32(mut x: u32) -> u32 {
    x ^= x >> 16;
    x = x.wrapping_mul(0x7feb_352d);
    x ^= x >> 15;
    x = x.wrapping_mul(0x846c_a68b);
    x ^ (x >> 16)
}

/// Rewrite a packet of connection `c` going `dir` at a hook of type `mtype`, if the binding
/// asks for it. `partial`: the transport checksum is left to the device (`CHECKSUM_PARTIAL`:
/// the field holds only the pseudo-header sum). Linux: `nf_nat_packet` → `nf_nat_manip_pkt`.
pub fn nf_nat_packet(data: &mut [u8], c: &Conn, dir: Dir, mtype: ManipType, partial: bool) {
    if !manip_applies(c, dir, mtype) {
        return;
    }
    if let Some(target) = c.tuple[dir.other() as usize].invert() {
        let csum = if partial {
            L4Csum::Partial
        } else {
            L4Csum::Full
        };
        manip_pkt(data, &target, mtype, csum);
    }
}

/// What the transport checksum of a datagram being rewritten is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum L4Csum {
    /// Complete: it follows every rewritten field.
    Full,
    /// Left to the device (`CHECKSUM_PARTIAL`): the field holds the folded pseudo-header sum,
    /// which follows the addresses only; the device sums the ports itself.
    /// Linux: `inet_proto_csum_replace4` with `pseudohdr` on a `CHECKSUM_PARTIAL` skb.
    Partial,
    /// Not there to follow (an inner header truncated in an ICMP error).
    Absent,
}

/// Rewrite one end of a datagram (data at its IPv4 header) to `target`'s: the address, the
/// port (or ICMP identifier), and the checksums that cover them.
/// Linux: `nf_nat_ipv4_manip_pkt` + `tcp_manip_pkt` / `udp_manip_pkt` / `icmp_manip_pkt`.
fn manip_pkt(d: &mut [u8], target: &Tuple, mtype: ManipType, l4_csum: L4Csum) {
    let len = d.len();
    if len < ipv4::HEADER_LEN {
        return;
    }
    // Unchecked: the 20-byte header is there (checked above) and its length is checked next;
    // not `new_checked`, as an ICMP error may quote a datagram cut short of its total length.
    let mut iph = Ipv4Packet::new_unchecked(&mut d[..]);
    let ihl = iph.header_len();
    if ihl < ipv4::HEADER_LEN || len < ihl {
        return;
    }
    let (old_addr, new_addr) = manip_addr(&mut iph, target, mtype);
    let proto = iph.protocol().0;
    if iph.frag_offset() != 0 {
        return;
    }
    let l4 = &mut d[ihl..];
    let l4_len = l4.len();
    let new_port = match mtype {
        ManipType::Src => target.sport,
        ManipType::Dst => target.dport,
    };
    let csum = |old: u16, old_port: u16| {
        l4_csum_update(
            proto,
            l4_csum,
            old,
            (old_addr, new_addr),
            (old_port, new_port),
        )
    };
    match proto {
        // Unchecked views below: the ports are there (`l4_len >= 4`), the checksum only
        // when the length test before it says so (a quoted datagram may be cut short).
        proto::TCP => {
            if l4_len < 4 {
                return;
            }
            let mut th = TcpPacket::new_unchecked(l4);
            let old_port = match mtype {
                ManipType::Src => th.src_port(),
                ManipType::Dst => th.dst_port(),
            };
            match mtype {
                ManipType::Src => th.set_src_port(new_port),
                ManipType::Dst => th.set_dst_port(new_port),
            }
            if l4_csum == L4Csum::Absent || l4_len < TCP_CSUM_END {
                return;
            }
            if let Some(c) = csum(th.checksum(), old_port) {
                th.set_checksum(c);
            }
        }
        proto::UDP => {
            if l4_len < 4 {
                return;
            }
            let mut uh = UdpPacket::new_unchecked(l4);
            let old_port = match mtype {
                ManipType::Src => uh.src_port(),
                ManipType::Dst => uh.dst_port(),
            };
            match mtype {
                ManipType::Src => uh.set_src_port(new_port),
                ManipType::Dst => uh.set_dst_port(new_port),
            }
            if l4_csum == L4Csum::Absent || l4_len < udp::HEADER_LEN {
                return;
            }
            if let Some(c) = csum(uh.checksum(), old_port) {
                uh.set_checksum(c);
            }
        }
        proto::ICMP => {
            // Queries carry the identifier that stands for a port; errors have none here.
            if l4_len < icmpv4::HEADER_LEN {
                return;
            }
            // Unchecked: the 8-byte header is there (checked above).
            let mut ih = Icmpv4Packet::new_unchecked(l4);
            if super::conntrack::icmp_is_error(ih.msg_type().0) {
                return;
            }
            let old_id = ih.echo_ident();
            ih.set_echo_ident(target.sport);
            if l4_csum == L4Csum::Full {
                ih.set_checksum(update16(ih.checksum(), old_id, target.sport));
            }
        }
        _ => {}
    }
}

/// Rewrite the address `mtype` names in an IPv4 header to `target`'s, patching the header
/// checksum; returns the old and new address (as words, for the transport checksum).
/// Linux: the address half of `nf_nat_ipv4_manip_pkt`.
fn manip_addr(iph: &mut Ipv4Packet<&mut [u8]>, target: &Tuple, mtype: ManipType) -> (u32, u32) {
    let old = u32::from(match mtype {
        ManipType::Src => iph.src_addr(),
        ManipType::Dst => iph.dst_addr(),
    });
    let new = match mtype {
        ManipType::Src => target.src,
        ManipType::Dst => target.dst,
    };
    iph.set_checksum(update32(iph.checksum(), old, u32::from(new)));
    match mtype {
        ManipType::Src => iph.set_src_addr(new),
        ManipType::Dst => iph.set_dst_addr(new),
    }
    (old, u32::from(new))
}

/// The transport checksum `old` of a `proto` datagram after its address and port changed
/// (`(old, new)` each); `None` to leave it as it is (UDP without a checksum).
/// Linux: `inet_proto_csum_replace4` / `inet_proto_csum_replace2` as `tcp_manip_pkt` and
/// `udp_manip_pkt` call them.
fn l4_csum_update(
    proto: u8,
    l4_csum: L4Csum,
    old: u16,
    (old_addr, new_addr): (u32, u32),
    (old_port, new_port): (u16, u16),
) -> Option<u16> {
    if l4_csum == L4Csum::Partial {
        // A sum, not its complement: update the complement and turn it back.
        return Some(!update32(!old, old_addr, new_addr));
    }
    if proto == proto::UDP && old == 0 {
        return None; // No checksum.
    }
    let mut c = update32(old, old_addr, new_addr);
    c = update16(c, old_port, new_port);
    if proto == proto::UDP && c == 0 {
        c = 0xffff;
    }
    Some(c)
}

/// Translate an ICMP error (data at the outer IPv4 header) RELATED to connection `c`: make
/// the quoted datagram look as its sender sent it, and the outer header look like a reply to
/// what that sender sent. Linux: `nf_nat_icmp_reply_translation`.
pub fn nf_nat_icmp_reply_translation(d: &mut [u8], c: &Conn, dir: Dir, mtype: ManipType) {
    if !manip_applies(c, dir, mtype) || d.len() < ipv4::HEADER_LEN {
        return;
    }
    // Unchecked: the 20-byte header is there (checked above); the total length is capped at
    // the buffer's and tested below.
    let iph = Ipv4Packet::new_unchecked(&d[..]);
    let ihl = iph.header_len();
    let total = usize::from(iph.total_len()).min(d.len());
    if total < ihl + icmpv4::HEADER_LEN + ipv4::HEADER_LEN {
        return;
    }
    // The inner datagram went the other way: the opposite manip, to the other tuple.
    {
        let inner = &mut d[ihl + icmpv4::HEADER_LEN..total];
        // Unchecked: at least 20 bytes quoted (the test above); `manip_pkt` checks the rest.
        let inner_iph = Ipv4Packet::new_unchecked(&inner[..]);
        let inner_ihl = inner_iph.header_len();
        let l4_len = inner.len().saturating_sub(inner_ihl);
        let full = match inner_iph.protocol().0 {
            proto::TCP => l4_len >= TCP_CSUM_END,
            proto::UDP => l4_len >= udp::HEADER_LEN,
            _ => l4_len >= 8,
        };
        let csum = if full { L4Csum::Full } else { L4Csum::Absent };
        manip_pkt(inner, &c.tuple[dir.other() as usize], mtype.other(), csum);
    }
    // The ICMP checksum covers the inner header: recompute it (over the whole message).
    Icmpv4Packet::new_unchecked(&mut d[ihl..total]).fill_checksum();
    // The outer header: addresses only.
    if let Some(target) = c.tuple[dir.other() as usize].invert() {
        manip_addr(&mut Ipv4Packet::new_unchecked(&mut d[..]), &target, mtype);
    }
}

#[cfg(test)]
mod tests {
    use super::super::conntrack::Conntrack;
    use super::super::matches::PktInfo;
    use super::*;
    use crate::time::Instant;
    use crate::wire::checksum;
    use crate::wire::{IpProtocol, Ipv4Repr};

    fn udp(src: Ipv4Addr, dst: Ipv4Addr, sport: u16, dport: u16) -> Vec<u8> {
        let mut d = vec![0u8; 20 + 8 + 4];
        Ipv4Repr {
            src_addr: src,
            dst_addr: dst,
            protocol: IpProtocol::UDP,
            payload_len: 12,
            ttl: 64,
            tos: 0,
            ident: 1,
            dont_frag: false,
        }
        .emit(&mut d[..20]);
        d[20..22].copy_from_slice(&sport.to_be_bytes());
        d[22..24].copy_from_slice(&dport.to_be_bytes());
        d[24..26].copy_from_slice(&12u16.to_be_bytes());
        d[28..32].copy_from_slice(b"ping");
        fill_udp(&mut d);
        d
    }

    fn fill_udp(d: &mut [u8]) {
        d[26] = 0;
        d[27] = 0;
        let p = Ipv4Packet::new_unchecked(&d[..]);
        let ph = checksum::pseudo_header_v4(p.src_addr(), p.dst_addr(), 17, 12);
        let c = !checksum::fold(checksum::sum(&d[20..], ph));
        d[26..28].copy_from_slice(&c.to_be_bytes());
    }

    const L: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
    const R: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);
    const S: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 2);

    #[test]
    fn a_partial_checksum_follows_the_addresses_only() {
        // The sender left the UDP checksum to the device: the field holds the folded
        // pseudo-header sum. After SNAT and DNAT the device's sum must still come out right.
        let mut ct = Conntrack::default();
        let t = Instant::ZERO;
        let mut out = udp(L, S, 5000, 53);
        let ph = checksum::pseudo_header_v4(L, S, 17, 12);
        out[26..28].copy_from_slice(&checksum::fold(ph).to_be_bytes());
        let r = ct
            .nf_conntrack_in(&PktInfo::parse(&out).unwrap(), &out, t)
            .unwrap();
        let range = NatRange {
            min_ip: R,
            max_ip: R,
            ports: Some((40000, 40000)),
        };
        assert!(nf_nat_setup_info(&mut ct, r, Some(range), ManipType::Src));
        nf_nat_packet(&mut out, ct.get(r).unwrap(), r.dir, ManipType::Src, true);
        let want = checksum::fold(checksum::pseudo_header_v4(R, S, 17, 12));
        let uh = UdpPacket::new_checked(&out[20..]).unwrap();
        assert_eq!(uh.checksum(), want);
        assert_eq!(uh.src_port(), 40000, "port rewritten");
        // What the device then does gives the checksum of the rewritten datagram.
        assert!(crate::device::xmit::skb_checksum_help(&mut out, 20, 6));
        let mut expect = udp(R, S, 40000, 53);
        fill_udp(&mut expect);
        assert_eq!(out, expect);
    }

    #[test]
    fn snat_rewrites_both_ways_with_valid_checksums() {
        let mut ct = Conntrack::default();
        let t = Instant::ZERO;
        let mut out = udp(L, S, 5000, 53);
        let r = ct
            .nf_conntrack_in(&PktInfo::parse(&out).unwrap(), &out, t)
            .unwrap();
        let range = NatRange {
            min_ip: R,
            max_ip: R,
            ports: None,
        };
        assert!(nf_nat_setup_info(&mut ct, r, Some(range), ManipType::Src));
        nf_nat_packet(&mut out, ct.get(r).unwrap(), r.dir, ManipType::Src, false);
        ct.confirm(r);
        let mut expect = udp(R, S, 5000, 53);
        fill_udp(&mut expect);
        assert_eq!(
            out, expect,
            "source rewritten, port kept, checksums as recomputed"
        );
        // The reply comes back to R:5000 and is rewritten to L:5000.
        let mut back = udp(S, R, 53, 5000);
        let r2 = ct
            .nf_conntrack_in(&PktInfo::parse(&back).unwrap(), &back, t)
            .unwrap();
        assert_eq!(r2.dir, Dir::Reply);
        nf_nat_packet(
            &mut back,
            ct.get(r2).unwrap(),
            r2.dir,
            ManipType::Dst,
            false,
        );
        assert_eq!(back, udp(S, L, 53, 5000));
        // A second host using the same source port gets another port.
        let other = udp(Ipv4Addr::new(192, 0, 2, 3), S, 5000, 53);
        let r3 = ct
            .nf_conntrack_in(&PktInfo::parse(&other).unwrap(), &other, t)
            .unwrap();
        assert!(nf_nat_setup_info(&mut ct, r3, Some(range), ManipType::Src));
        let rep = ct.get(r3).unwrap().tuple[1];
        assert_eq!(rep.dst, R);
        assert_ne!(rep.dport, 5000);
        assert!(rep.dport >= 1024);
    }

    #[test]
    fn icmp_error_inner_header_is_translated_back() {
        let mut ct = Conntrack::default();
        let t = Instant::ZERO;
        let mut out = udp(L, S, 5000, 53);
        let r = ct
            .nf_conntrack_in(&PktInfo::parse(&out).unwrap(), &out, t)
            .unwrap();
        let range = NatRange {
            min_ip: R,
            max_ip: R,
            ports: Some((7000, 7000)),
        };
        assert!(nf_nat_setup_info(&mut ct, r, Some(range), ManipType::Src));
        nf_nat_packet(&mut out, ct.get(r).unwrap(), r.dir, ManipType::Src, false);
        ct.confirm(r);
        assert_eq!(out, udp(R, S, 7000, 53));
        // S answers port unreachable, quoting what it got.
        let mut err = vec![0u8; 20 + 8];
        Ipv4Repr {
            src_addr: S,
            dst_addr: R,
            protocol: IpProtocol::ICMP,
            payload_len: 8 + out.len(),
            ttl: 64,
            tos: 0,
            ident: 9,
            dont_frag: false,
        }
        .emit(&mut err[..20]);
        err[20] = 3;
        err[21] = 3;
        err.extend_from_slice(&out);
        let cs = checksum::checksum(&err[20..]);
        err[22..24].copy_from_slice(&cs.to_be_bytes());
        let p = PktInfo::parse(&err).unwrap();
        let re = ct.nf_conntrack_in(&p, &err, t).unwrap();
        assert_eq!(re.info, super::super::conntrack::CtInfo::Related);
        assert_eq!(re.dir, Dir::Reply);
        nf_nat_icmp_reply_translation(&mut err, ct.get(re).unwrap(), re.dir, ManipType::Dst);
        let ip = Ipv4Packet::new_checked(&err[..]).unwrap();
        assert_eq!(ip.dst_addr(), L);
        assert!(ip.verify_checksum());
        assert!(checksum::verify(&err[20..]), "ICMP checksum");
        assert_eq!(&err[28..], &udp(L, S, 5000, 53)[..], "the datagram L sent");
    }
}
