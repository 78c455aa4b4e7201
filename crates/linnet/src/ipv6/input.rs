//! IPv6 receive: header checks, the hop-by-hop options, the routing decision (local,
//! multicast group, forward), the extension header walk and delivery to ICMPv6.
//!
//! Linux: net/ipv6/ip6_input.c (`ipv6_rcv` / `ip6_rcv_core`, `ip6_rcv_finish`,
//! `ip6_input`, `ip6_input_finish`, `ip6_mc_input`) and net/ipv6/exthdrs.c
//! (`ipv6_parse_hopopts`, `ipv6_destopt_rcv`, `ipv6_rthdr_rcv`, `ip6_parse_tlv`).

use super::icmp::Icmp6Meta;
use crate::buf::PacketBuf;
use crate::stack::{Stack, LOOPBACK_IFINDEX};
use crate::stats::DropReason;
use crate::time::Instant;
use crate::wire::icmpv6::{param_problem, Icmpv6Message};
use crate::wire::ipv6::{ipv6_addr_type, Ipv6Scope, HEADER_LEN};
use crate::wire::ipv6ext::{Ipv6Option, Ipv6OptionsHeader, Ipv6RoutingHeader, UnknownOption};
use crate::wire::{IpProtocol, Ipv6Packet};

/// What an upper layer (UDP) needs from the IPv6 header of a datagram delivered to it.
/// Linux: `ipv6_hdr(skb)` with `inet6_skb_parm` (`IP6CB`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ip6Meta {
    /// Source address.
    pub src: std::net::Ipv6Addr,
    /// Destination address.
    pub dst: std::net::Ipv6Addr,
    /// Receiving interface (the scope of a link-local sender).
    pub ifindex: u32,
    /// Offset of the upper-layer header from the IPv6 header (40 plus extension headers).
    pub l4_off: usize,
}

/// Why an options header stops a datagram. Linux: the outcomes of `ip6_parse_tlv`.
enum TlvVerdict {
    /// Every option understood or skippable.
    Ok,
    /// Discard silently.
    Discard,
    /// Discard and send a parameter problem (unknown option) pointing at this offset
    /// from the start of the IPv6 header.
    Report(u32),
}

/// Walks the options of a hop-by-hop or destination options header at `hdr_off` (from the
/// IPv6 header's start) and applies RFC 8200 section 4.2's rule for unknown ones.
/// Linux: `ip6_parse_tlv` → `ip6_tlvopt_unknown`.
fn ip6_parse_tlv(hdr: &[u8], hdr_off: usize, dst_multicast: bool) -> TlvVerdict {
    let Ok(h) = Ipv6OptionsHeader::new_checked(hdr) else {
        return TlvVerdict::Discard;
    };
    for o in h.options() {
        let Ok((off, opt)) = o else {
            return TlvVerdict::Discard;
        };
        if let Ipv6Option::Unknown { option_type, .. } = opt {
            let ptr = (hdr_off + off) as u32;
            match UnknownOption::of(option_type) {
                UnknownOption::Skip => {}
                UnknownOption::Discard => return TlvVerdict::Discard,
                UnknownOption::DiscardAndReport => return TlvVerdict::Report(ptr),
                UnknownOption::DiscardAndReportUnlessMulticast => {
                    return if dst_multicast {
                        TlvVerdict::Discard
                    } else {
                        TlvVerdict::Report(ptr)
                    };
                }
            }
        }
    }
    TlvVerdict::Ok
}

impl Stack {
    /// Count a rejected options header, and answer it with a parameter problem when its
    /// verdict asks for one; true when the datagram must be dropped. Linux: the bad exit
    /// of `ip6_parse_tlv` (`ip6_tlvopt_unknown`'s `icmpv6_param_prob`, `Ip6InHdrErrors`).
    fn ip6_tlv_rejects(&mut self, buf: &PacketBuf, verdict: TlvVerdict, now: Instant) -> bool {
        if let TlvVerdict::Ok = verdict {
            return false;
        }
        self.ipv6.stats.in_hdr_errors += 1;
        if let TlvVerdict::Report(ptr) = verdict {
            let c = param_problem::UNK_OPTION;
            self.icmp6_send(buf, Icmpv6Message::PARAM_PROBLEM, c, ptr, now);
        }
        true
    }

    /// A datagram arrived with EtherType 0x86DD (data at the IPv6 header). Checks as
    /// `ip6_rcv_core`: a whole header of version 6, no multicast source, no loopback
    /// address from the wire, no multicast destination of interface-local or reserved
    /// scope, a payload length within the frame (the frame is cut to it); then the
    /// hop-by-hop options. Linux: `ipv6_rcv` → `ip6_rcv_core` (→ `ipv6_parse_hopopts`).
    pub(crate) fn ipv6_rcv(&mut self, mut buf: PacketBuf, now: Instant) {
        if self.config.disable_ipv6 {
            // Linux: SKB_DROP_REASON_IPV6DISABLED; here as before IPv6 existed.
            return self.drop_pkt(buf, DropReason::UnhandledProto);
        }
        self.ipv6.stats.in_receives += 1;
        let ifindex = buf.meta.ifindex;
        if buf.len() < HEADER_LEN {
            self.ipv6.stats.in_hdr_errors += 1;
            return self.drop_pkt(buf, DropReason::PktTooSmall);
        }
        let p = Ipv6Packet::new_unchecked(buf.data());
        if p.version() != 6 {
            self.ipv6.stats.in_hdr_errors += 1;
            return self.drop_pkt(buf, DropReason::IpInhdr);
        }
        let (src, dst) = (p.src_addr(), p.dst_addr());
        let plen = usize::from(p.payload_len());
        let first_nh = p.next_header();
        let from_wire = ifindex != LOOPBACK_IFINDEX;
        if src.is_multicast() || (from_wire && (src.is_loopback() || dst.is_loopback())) {
            // Linux: "RFC4291 2.5.3 / 2.7": counted as header errors.
            self.ipv6.stats.in_hdr_errors += 1;
            return self.drop_pkt(buf, DropReason::IpInvalidSource);
        }
        if dst.is_multicast() {
            let scope = dst.octets()[1] & 0x0f;
            if scope == 0 || (from_wire && scope == 1) {
                self.ipv6.stats.in_hdr_errors += 1;
                return self.drop_pkt(buf, DropReason::IpInvalidDest);
            }
        }
        if HEADER_LEN + plen > buf.len() {
            self.ipv6.stats.in_truncated_pkts += 1;
            return self.drop_pkt(buf, DropReason::PktTooSmall);
        }
        buf.trim(HEADER_LEN + plen);
        if first_nh == IpProtocol::HOPOPTS {
            let v = ip6_parse_tlv(&buf.data()[HEADER_LEN..], HEADER_LEN, dst.is_multicast());
            if self.ip6_tlv_rejects(&buf, v, now) {
                return self.drop_pkt(buf, DropReason::IpInhdr);
            }
        }
        self.ip6_rcv_finish(buf, now)
    }

    /// The routing decision: for one of our addresses (weak host model) or a group the
    /// interface joined, deliver; else forward if forwarding is on, or drop.
    /// Linux: `ip6_rcv_finish` → `ip6_route_input` → `ip6_input` / `ip6_mc_input` /
    /// `ip6_forward`.
    fn ip6_rcv_finish(&mut self, buf: PacketBuf, now: Instant) {
        let ifindex = buf.meta.ifindex;
        let dst = Ipv6Packet::new_unchecked(buf.data()).dst_addr();
        if dst.is_multicast() {
            self.ipv6.stats.in_mcast_pkts += 1;
            if self.ipv6.ipv6_chk_mcast_addr(ifindex, &dst) {
                return self.ip6_input(buf, now);
            }
            // A group this interface did not join (a NIC would have filtered it).
            return self.drop_pkt(buf, DropReason::OtherHost);
        }
        let local = if ifindex == LOOPBACK_IFINDEX {
            dst.is_loopback() || self.ipv6.ipv6_chk_addr(&dst)
        } else {
            // ::1 never from the wire (checked above); a link-local address only on its link.
            let (_, scope) = ipv6_addr_type(&dst);
            if scope == Ipv6Scope::LinkLocal {
                self.ipv6
                    .devs
                    .get(&ifindex)
                    .is_some_and(|d| d.ipv6_chk_addr(&dst))
            } else {
                self.ipv6.ipv6_chk_addr(&dst)
            }
        };
        if local {
            return self.ip6_input(buf, now);
        }
        if self.ipv6.forwarding {
            return self.ip6_forward(buf, now);
        }
        self.ipv6.stats.in_addr_errors += 1;
        self.drop_pkt(buf, DropReason::IpNotForUs)
    }

    /// Local delivery: walk the extension headers after the hop-by-hop options (destination
    /// options checked, a routing header with segments left refused as RFC 5095 and 8200
    /// say, fragments reassembled) to the upper layer, and hand it ICMPv6.
    /// An unknown upper layer gets a parameter problem (unknown next header).
    /// Linux: `ip6_input` → `ip6_input_finish` → `ip6_protocol_deliver_rcu`.
    fn ip6_input(&mut self, mut buf: PacketBuf, now: Instant) {
        let p = Ipv6Packet::new_unchecked(buf.data());
        let (src, dst, hop_limit) = (p.src_addr(), p.dst_addr(), p.hop_limit());
        let mut nh = p.next_header();
        // Offset (from the IPv6 header) of the field naming `nh`, and of the header itself.
        let mut nh_field = 6usize;
        let mut off = HEADER_LEN;
        let mut first = true;
        // Each extension header is at least 8 bytes, so this ends within the datagram.
        loop {
            let rest = &buf.data()[off..];
            let hlen = match nh {
                IpProtocol::HOPOPTS if first => {
                    // Already parsed by ipv6_rcv.
                    Ipv6OptionsHeader::new_checked(rest).map(|h| h.header_len())
                }
                IpProtocol::DSTOPTS => {
                    let v = ip6_parse_tlv(rest, off, dst.is_multicast());
                    if self.ip6_tlv_rejects(&buf, v, now) {
                        return self.drop_pkt(buf, DropReason::IpInhdr);
                    }
                    Ipv6OptionsHeader::new_checked(rest).map(|h| h.header_len())
                }
                IpProtocol::ROUTING => match Ipv6RoutingHeader::new_checked(rest) {
                    Ok(rh) if rh.segments_left() > 0 => {
                        // No routing type is supported (type 0 is deprecated by RFC 5095):
                        // point at the routing type. Linux: ipv6_rthdr_rcv's `unknown_rh`.
                        self.ipv6.stats.in_hdr_errors += 1;
                        let ptr = (off + 2) as u32;
                        let c = param_problem::HDR_FIELD;
                        self.icmp6_send(&buf, Icmpv6Message::PARAM_PROBLEM, c, ptr, now);
                        return self.drop_pkt(buf, DropReason::IpInhdr);
                    }
                    r => r.map(|rh| rh.header_len()),
                },
                IpProtocol::FRAGMENT => {
                    // Queued until whole; the walk goes on in the whole datagram where the
                    // fragment header was (Linux: `ipv6_frag_rcv` returning 1).
                    let Some((whole, at, next)) = self.ipv6_frag_rcv(buf, nh_field, off, now)
                    else {
                        return;
                    };
                    buf = whole;
                    nh = IpProtocol(buf.data()[at]);
                    nh_field = at;
                    off = next;
                    first = false;
                    continue;
                }
                IpProtocol::ICMPV6 => {
                    self.ipv6.stats.in_delivers += 1;
                    buf.pull(off);
                    let m = Icmp6Meta {
                        ifindex: buf.meta.ifindex,
                        src,
                        dst,
                        hop_limit,
                    };
                    return self.icmpv6_rcv(buf, m, now);
                }
                IpProtocol::UDP => {
                    self.ipv6.stats.in_delivers += 1;
                    buf.pull(off);
                    let m = Ip6Meta {
                        src,
                        dst,
                        ifindex: buf.meta.ifindex,
                        l4_off: off,
                    };
                    return self.udpv6_rcv(buf, m, now);
                }
                IpProtocol::NONE => {
                    self.ipv6.stats.in_delivers += 1;
                    return self.pool.put(buf);
                }
                _ => {
                    // Linux: ICMPV6_UNK_NEXTHDR at the field naming it (also for a
                    // hop-by-hop header that is not first).
                    self.ipv6.stats.in_unknown_protos += 1;
                    let ptr = nh_field as u32;
                    let c = param_problem::UNK_NEXTHDR;
                    self.icmp6_send(&buf, Icmpv6Message::PARAM_PROBLEM, c, ptr, now);
                    return self.drop_pkt(buf, DropReason::IpNoproto);
                }
            };
            let Ok(hlen) = hlen else {
                self.ipv6.stats.in_hdr_errors += 1;
                return self.drop_pkt(buf, DropReason::IpInhdr);
            };
            nh = IpProtocol(buf.data()[off]);
            nh_field = off;
            off += hlen;
            first = false;
        }
    }
}
