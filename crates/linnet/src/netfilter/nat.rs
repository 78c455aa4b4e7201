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
use crate::wire::checksum::{self, update16, update32};
use crate::wire::Ipv4Addr;

/// Most candidate ports tried before giving up (Linux tries 128 random ones, then fewer;
/// Linnet probes in order from a hashed start, so it tries more).
const MAX_PORT_ATTEMPTS: u32 = 4096;

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
    if d.len() < 20 {
        return;
    }
    let ihl = usize::from(d[0] & 0x0f) * 4;
    if ihl < 20 || d.len() < ihl {
        return;
    }
    let (addr_off, new_addr) = match mtype {
        ManipType::Src => (12, target.src),
        ManipType::Dst => (16, target.dst),
    };
    let old_addr = u32::from_be_bytes([
        d[addr_off],
        d[addr_off + 1],
        d[addr_off + 2],
        d[addr_off + 3],
    ]);
    let new_addr = u32::from(new_addr);
    let frag_off = u16::from_be_bytes([d[6], d[7]]) & 0x1fff;
    let proto = d[9];
    let ip_csum = u16::from_be_bytes([d[10], d[11]]);
    d[10..12].copy_from_slice(&update32(ip_csum, old_addr, new_addr).to_be_bytes());
    d[addr_off..addr_off + 4].copy_from_slice(&new_addr.to_be_bytes());
    if frag_off != 0 {
        return;
    }
    let l4 = &mut d[ihl..];
    let (port_off, new_port) = match mtype {
        ManipType::Src => (0, target.sport),
        ManipType::Dst => (2, target.dport),
    };
    match proto {
        proto::TCP | proto::UDP => {
            if l4.len() < 4 {
                return;
            }
            let old_port = u16::from_be_bytes([l4[port_off], l4[port_off + 1]]);
            l4[port_off..port_off + 2].copy_from_slice(&new_port.to_be_bytes());
            let csum_off = if proto == proto::TCP { 16 } else { 6 };
            if l4_csum == L4Csum::Absent || l4.len() < csum_off + 2 {
                return;
            }
            let old = u16::from_be_bytes([l4[csum_off], l4[csum_off + 1]]);
            if l4_csum == L4Csum::Partial {
                // A sum, not its complement: update the complement and turn it back.
                let c = !update32(!old, old_addr, new_addr);
                l4[csum_off..csum_off + 2].copy_from_slice(&c.to_be_bytes());
                return;
            }
            if proto == proto::UDP && old == 0 {
                return; // No checksum.
            }
            let mut c = update32(old, old_addr, new_addr);
            c = update16(c, old_port, new_port);
            if proto == proto::UDP && c == 0 {
                c = 0xffff;
            }
            l4[csum_off..csum_off + 2].copy_from_slice(&c.to_be_bytes());
        }
        proto::ICMP => {
            // Queries carry the identifier that stands for a port; errors have none here.
            if l4.len() < 8 || super::conntrack::icmp_is_error(l4[0]) {
                return;
            }
            let old_id = u16::from_be_bytes([l4[4], l4[5]]);
            l4[4..6].copy_from_slice(&target.sport.to_be_bytes());
            if l4_csum == L4Csum::Full {
                let old = u16::from_be_bytes([l4[2], l4[3]]);
                l4[2..4].copy_from_slice(&update16(old, old_id, target.sport).to_be_bytes());
            }
        }
        _ => {}
    }
}

/// Translate an ICMP error (data at the outer IPv4 header) RELATED to connection `c`: make
/// the quoted datagram look as its sender sent it, and the outer header look like a reply to
/// what that sender sent. Linux: `nf_nat_icmp_reply_translation`.
pub fn nf_nat_icmp_reply_translation(d: &mut [u8], c: &Conn, dir: Dir, mtype: ManipType) {
    if !manip_applies(c, dir, mtype) || d.len() < 20 {
        return;
    }
    let ihl = usize::from(d[0] & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([d[2], d[3]])).min(d.len());
    if total < ihl + 8 + 20 {
        return;
    }
    // The inner datagram went the other way: the opposite manip, to the other tuple.
    {
        let inner = &mut d[ihl + 8..total];
        let inner_ihl = usize::from(inner[0] & 0x0f) * 4;
        let l4_len = inner.len().saturating_sub(inner_ihl);
        let full = match inner[9] {
            proto::TCP => l4_len >= 18,
            proto::UDP => l4_len >= 8,
            _ => l4_len >= 8,
        };
        let csum = if full { L4Csum::Full } else { L4Csum::Absent };
        manip_pkt(inner, &c.tuple[dir.other() as usize], mtype.other(), csum);
    }
    // The ICMP checksum covers the inner header: recompute it.
    {
        let icmp = &mut d[ihl..total];
        icmp[2] = 0;
        icmp[3] = 0;
        let cs = checksum::checksum(icmp);
        icmp[2..4].copy_from_slice(&cs.to_be_bytes());
    }
    // The outer header: addresses only.
    if let Some(target) = c.tuple[dir.other() as usize].invert() {
        let (off, new) = match mtype {
            ManipType::Src => (12, target.src),
            ManipType::Dst => (16, target.dst),
        };
        let old = u32::from_be_bytes([d[off], d[off + 1], d[off + 2], d[off + 3]]);
        let new = u32::from(new);
        let ip_csum = u16::from_be_bytes([d[10], d[11]]);
        d[10..12].copy_from_slice(&update32(ip_csum, old, new).to_be_bytes());
        d[off..off + 4].copy_from_slice(&new.to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::super::conntrack::Conntrack;
    use super::super::matches::PktInfo;
    use super::*;
    use crate::time::Instant;
    use crate::wire::{IpProtocol, Ipv4Packet, Ipv4Repr};

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
        assert_eq!(u16::from_be_bytes([out[26], out[27]]), want);
        assert_eq!(
            u16::from_be_bytes([out[20], out[21]]),
            40000,
            "port rewritten"
        );
        // What the device then does gives the checksum of the rewritten datagram.
        assert!(crate::device::offload::skb_checksum_help(&mut out, 20, 6));
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
