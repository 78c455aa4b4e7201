//! ICMPv6 (RFC 4443): receiving messages (echo, errors quoting our echo requests, neighbour
//! discovery, MLD queries), answering echo requests, and sending errors about packets we
//! cannot deliver or forward, rate limited as Linux limits them.
//!
//! Linux: net/ipv6/icmp.c (`icmpv6_rcv`, `icmpv6_echo_reply`, `icmp6_send`,
//! `icmpv6_xrlim_allow`, `icmpv6_mask_allow`).

use super::ndisc::NdiscMeta;
use crate::buf::{PacketBuf, MAX_HEADER};
use crate::errno::Errno;
use crate::stack::Stack;
use crate::stats::DropReason;
use crate::time::Instant;
use crate::wire::icmpv6::{Icmpv6Message, Icmpv6Packet, Icmpv6Repr, MAX_ERROR_DATA_LEN};
use crate::wire::ipv6::{ipv6_addr_type, Ipv6AddrKind, Ipv6Scope};
use crate::wire::ipv6ext::ipv6_skip_exthdr;
use crate::wire::mld::MldRepr;
use crate::wire::{IpProtocol, Ipv6Packet, WireError};
use std::net::Ipv6Addr;

/// What ICMPv6 needs from the IPv6 header of a received message.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Icmp6Meta {
    /// Receiving interface.
    pub ifindex: u32,
    /// Source address.
    pub src: Ipv6Addr,
    /// Destination address.
    pub dst: Ipv6Addr,
    /// Hop limit as received.
    pub hop_limit: u8,
}

/// The errno an ICMPv6 error stands for, and whether it is hard (ends a connection, reaches
/// a UDP socket without `IPV6_RECVERR`). Linux: `icmpv6_err_convert` (`tab_unreach`).
pub(crate) fn icmpv6_err_convert(msg_type: u8, code: u8) -> (Errno, bool) {
    use crate::wire::icmpv6::dst_unreachable as du;
    match msg_type {
        1 => match code {
            du::NO_ROUTE => (Errno::ENETUNREACH, false),
            du::ADM_PROHIBITED | du::POLICY_FAIL | du::REJECT_ROUTE => (Errno::EACCES, true),
            du::PORT_UNREACH => (Errno::ECONNREFUSED, true),
            _ => (Errno::EHOSTUNREACH, false),
        },
        2 => (Errno::EMSGSIZE, false),
        4 => (Errno::EPROTO, true),
        _ => (Errno::EHOSTUNREACH, false),
    }
}

impl Stack {
    /// A received ICMPv6 message (`buf`'s data at the ICMPv6 header, trimmed to it).
    /// Linux: `icmpv6_rcv`.
    pub(crate) fn icmpv6_rcv(&mut self, buf: PacketBuf, m: Icmp6Meta, now: Instant) {
        self.ipv6.icmp6.in_msgs += 1;
        let repr = match Icmpv6Packet::new_checked(buf.data())
            .and_then(|p| Icmpv6Repr::parse(&m.src, &m.dst, &p))
        {
            Ok(r) => r,
            Err(e) => {
                self.ipv6.icmp6.in_errors += 1;
                if e == WireError::Checksum {
                    self.ipv6.icmp6.in_csum_errors += 1;
                }
                return self.drop_pkt(buf, DropReason::IcmpCsum);
            }
        };
        let s = &mut self.ipv6.icmp6;
        match repr.msg_type() {
            Icmpv6Message::DST_UNREACHABLE => s.in_dest_unreachs += 1,
            Icmpv6Message::PKT_TOO_BIG => s.in_pkt_too_bigs += 1,
            Icmpv6Message::TIME_EXCEEDED => s.in_time_excds += 1,
            Icmpv6Message::PARAM_PROBLEM => s.in_parm_problems += 1,
            Icmpv6Message::ECHO_REQUEST => s.in_echos += 1,
            Icmpv6Message::ECHO_REPLY => s.in_echo_replies += 1,
            Icmpv6Message::MLD_QUERY => s.in_group_memb_queries += 1,
            Icmpv6Message::ROUTER_SOLICIT => s.in_router_solicits += 1,
            Icmpv6Message::ROUTER_ADVERT => s.in_router_advertisements += 1,
            Icmpv6Message::NEIGHBOR_SOLICIT => s.in_neighbor_solicits += 1,
            Icmpv6Message::NEIGHBOR_ADVERT => s.in_neighbor_advertisements += 1,
            Icmpv6Message::REDIRECT => s.in_redirects += 1,
            Icmpv6Message::MLD2_REPORT => s.in_mldv2_reports += 1,
            _ => {}
        }
        match repr {
            Icmpv6Repr::EchoRequest {
                ident,
                seq_no,
                data,
            } => self.icmpv6_echo_reply(m, ident, seq_no, data, now),
            Icmpv6Repr::EchoReply {
                ident,
                seq_no,
                data,
            } => {
                let bytes = buf.len();
                self.ping6_rcv(ident, seq_no, m, bytes, data, None, now)
            }
            Icmpv6Repr::DstUnreachable { code, data } | Icmpv6Repr::TimeExceeded { code, data } => {
                let t = repr.msg_type().0;
                self.icmpv6_notify(m, t, code, data, buf.len(), now)
            }
            Icmpv6Repr::PacketTooBig { mtu, data } => {
                self.ip6_update_pmtu(data, mtu, now);
                self.icmpv6_notify(m, 2, 0, data, buf.len(), now)
            }
            Icmpv6Repr::ParamProblem { code, data, .. } => {
                self.icmpv6_notify(m, 4, code, data, buf.len(), now)
            }
            Icmpv6Repr::Ndisc(_) => {
                let nm = NdiscMeta {
                    ifindex: m.ifindex,
                    src: m.src,
                    dst: m.dst,
                    hop_limit: m.hop_limit,
                };
                self.ndisc_rcv(buf.data(), nm, now)
            }
            Icmpv6Repr::Mld(MldRepr::Query { .. }) => {
                // Linux: igmp6_event_query (link-local source, hop limit 1 checked there).
                if ipv6_addr_type(&m.src).1 == Ipv6Scope::LinkLocal {
                    self.igmp6_event_query(m.ifindex, now);
                }
            }
            Icmpv6Repr::Mld(_) | Icmpv6Repr::Other { .. } => {}
        }
        self.pool.put(buf);
    }

    /// An error quoting a datagram: if it was one of our echo requests, its socket hears of
    /// it. Linux: `icmpv6_notify` → the protocol's `err_handler` (`ping_err`).
    fn icmpv6_notify(
        &mut self,
        m: Icmp6Meta,
        msg_type: u8,
        code: u8,
        quoted: &[u8],
        bytes: usize,
        now: Instant,
    ) {
        let Ok(ip) = Ipv6Packet::new_checked(quoted).or_else(|_| {
            // The quote may be cut: read the fixed header and what follows.
            if quoted.len() >= 40 && quoted[0] >> 4 == 6 {
                Ok(Ipv6Packet::new_unchecked(quoted))
            } else {
                Err(WireError::Truncated)
            }
        }) else {
            return;
        };
        let rest = &quoted[40..];
        let Ok(ext) = ipv6_skip_exthdr(rest, ip.next_header()) else {
            return;
        };
        if ext.protocol == IpProtocol::UDP && rest.len() >= ext.offset + 4 {
            // Without IPV6_RECVERR only hard errors reach a (connected) socket.
            let (err, fatal) = icmpv6_err_convert(msg_type, code);
            if fatal {
                let l4 = &rest[ext.offset..];
                self.udpv6_err(ip.src_addr(), ip.dst_addr(), l4, err);
            }
            return;
        }
        if ext.protocol != IpProtocol::ICMPV6 || rest.len() < ext.offset + 8 {
            return;
        }
        let icmp = &rest[ext.offset..];
        if icmp[0] != Icmpv6Message::ECHO_REQUEST.0 {
            return;
        }
        let ident = u16::from_be_bytes([icmp[4], icmp[5]]);
        let seq = u16::from_be_bytes([icmp[6], icmp[7]]);
        self.ping6_rcv(ident, seq, m, bytes, &[], Some((msg_type, code)), now);
    }

    /// Answer an echo request from the address it was sent to (or, for a group, our best
    /// source), out of the interface it came in on. Linux: `icmpv6_echo_reply`.
    fn icmpv6_echo_reply(
        &mut self,
        m: Icmp6Meta,
        ident: u16,
        seq_no: u16,
        data: &[u8],
        now: Instant,
    ) {
        let (kind, _) = ipv6_addr_type(&m.src);
        if kind != Ipv6AddrKind::Unicast && kind != Ipv6AddrKind::Loopback {
            return;
        }
        let Ok(rt) = self.ip6_route_output(&m.src, Some(m.ifindex)) else {
            self.ipv6.icmp6.out_errors += 1;
            return;
        };
        let src = if m.dst.is_multicast() {
            match self.ipv6_dev_get_saddr(m.ifindex, &m.src) {
                Some(a) => a,
                None => return,
            }
        } else {
            m.dst
        };
        let reply = Icmpv6Repr::EchoReply {
            ident,
            seq_no,
            data,
        };
        let len = reply.buffer_len();
        let mut buf = if MAX_HEADER + len <= self.pool.buf_size() {
            self.pool.get(MAX_HEADER)
        } else {
            PacketBuf::with_headroom(MAX_HEADER + len, MAX_HEADER)
        };
        reply.emit(&src, &m.src, buf.put(len));
        self.ipv6.icmp6.out_msgs += 1;
        self.ipv6.icmp6.out_echo_replies += 1;
        let p = super::output::Ip6SendParams {
            src,
            dst: m.src,
            next_header: IpProtocol::ICMPV6,
            hop_limit: self.ipv6.hop_limit,
        };
        if self.ip6_xmit(buf, p, rt, now).is_err() {
            self.ipv6.icmp6.out_errors += 1;
        }
    }

    /// Send an ICMPv6 error about `offending` (its IPv6 header at the data start) to its
    /// source. Not about a packet from `::` or a group, not to a multicast destination but
    /// for Packet Too Big and an unknown option (RFC 4443 section 2.4 e), never about an
    /// ICMPv6 error; errors but Packet Too Big are rate limited per destination.
    /// Linux: `icmp6_send`.
    pub(crate) fn icmp6_send(
        &mut self,
        offending: &PacketBuf,
        msg_type: Icmpv6Message,
        code: u8,
        info: u32,
        now: Instant,
    ) {
        let Ok(ip) = Ipv6Packet::new_checked(offending.data()) else {
            return;
        };
        let (osrc, odst) = (ip.src_addr(), ip.dst_addr());
        let (skind, _) = ipv6_addr_type(&osrc);
        if skind != Ipv6AddrKind::Unicast && skind != Ipv6AddrKind::Loopback {
            return;
        }
        let option_problem = msg_type == Icmpv6Message::PARAM_PROBLEM
            && code == crate::wire::icmpv6::param_problem::UNK_OPTION;
        if odst.is_multicast() && msg_type != Icmpv6Message::PKT_TOO_BIG && !option_problem {
            return;
        }
        if let Ok(ext) = ipv6_skip_exthdr(ip.payload(), ip.next_header()) {
            if ext.protocol == IpProtocol::ICMPV6 {
                let p = ip.payload();
                // An error (type < 128), or a redirect, is never answered with an error.
                match p.get(ext.offset) {
                    Some(&t) if t < 128 || t == Icmpv6Message::REDIRECT.0 => return,
                    None => return,
                    _ => {}
                }
            }
        }
        let ifindex = offending.meta.ifindex;
        if msg_type != Icmpv6Message::PKT_TOO_BIG && !self.ipv6.icmpv6_xrlim_allow(&osrc, now) {
            self.ipv6.icmp6.out_rate_limit_host += 1;
            return;
        }
        let Ok(rt) = self.ip6_route_output(&osrc, Some(ifindex)) else {
            self.ipv6.icmp6.out_errors += 1;
            return;
        };
        let src = if !odst.is_multicast() && self.ipv6.ipv6_chk_addr(&odst) {
            odst
        } else {
            match self.ipv6_dev_get_saddr(rt.ifindex, &osrc) {
                Some(a) => a,
                None => return,
            }
        };
        let quoted = &offending.data()[..offending.len().min(MAX_ERROR_DATA_LEN)];
        let repr = match msg_type {
            Icmpv6Message::PKT_TOO_BIG => Icmpv6Repr::PacketTooBig {
                mtu: info,
                data: quoted,
            },
            Icmpv6Message::TIME_EXCEEDED => Icmpv6Repr::TimeExceeded { code, data: quoted },
            Icmpv6Message::PARAM_PROBLEM => Icmpv6Repr::ParamProblem {
                code,
                pointer: info,
                data: quoted,
            },
            _ => Icmpv6Repr::DstUnreachable { code, data: quoted },
        };
        let len = repr.buffer_len();
        let mut buf = self.pool.get(MAX_HEADER);
        repr.emit(&src, &osrc, buf.put(len));
        let s = &mut self.ipv6.icmp6;
        s.out_msgs += 1;
        match msg_type {
            Icmpv6Message::PKT_TOO_BIG => s.out_pkt_too_bigs += 1,
            Icmpv6Message::TIME_EXCEEDED => s.out_time_excds += 1,
            Icmpv6Message::PARAM_PROBLEM => s.out_parm_problems += 1,
            _ => s.out_dest_unreachs += 1,
        }
        let p = super::output::Ip6SendParams {
            src,
            dst: osrc,
            next_header: IpProtocol::ICMPV6,
            hop_limit: self.ipv6.hop_limit,
        };
        if self.ip6_xmit(buf, p, rt, now).is_err() {
            self.ipv6.icmp6.out_errors += 1;
        }
    }
}
