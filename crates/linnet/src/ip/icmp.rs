//! ICMP: answering echo requests, delivering replies and errors, sending errors.
//!
//! Linux: net/ipv4/icmp.c (`icmp_rcv`, `icmp_echo`, `icmp_unreach`, `__icmp_send`).

use super::output::IpSendParams;
use super::IpMeta;
use crate::buf::{PacketBuf, MAX_HEADER};
use crate::stack::Stack;
use crate::stats::DropReason;
use crate::time::Instant;
use crate::wire::checksum;
use crate::wire::{Icmpv4Message, Icmpv4Packet, IpProtocol, Ipv4Addr, Ipv4Packet};

/// Largest ICMP error datagram, as RFC 1812 4.3.2.3 and Linux use (576 bytes).
const ICMP_ERROR_MAX: usize = 576;

/// The IPv4 header quoted in an ICMP error. The quote is usually cut short of the datagram's
/// total length, so only the header itself is checked.
fn quoted_header(quoted: &[u8]) -> Option<Ipv4Packet<&[u8]>> {
    if quoted.len() < crate::wire::ipv4::HEADER_LEN {
        return None;
    }
    let p = Ipv4Packet::new_unchecked(quoted);
    (p.version() == 4 && p.header_len() >= 20 && p.header_len() <= quoted.len()).then_some(p)
}

impl Stack {
    /// Receive an ICMP message (data at the ICMP header). Linux: `icmp_rcv`.
    pub(crate) fn icmp_rcv(&mut self, mut buf: PacketBuf, ip: &IpMeta, now: Instant) {
        self.ipv4.icmp_stats.in_msgs += 1;
        self.obs.trace_icmp_rcv(&buf);
        let Ok(pkt) = Icmpv4Packet::new_checked(buf.data()) else {
            self.ipv4.icmp_stats.in_errors += 1;
            return self.drop_pkt(buf, DropReason::IcmpCsum);
        };
        if !pkt.verify_checksum() {
            self.ipv4.icmp_stats.in_csum_errors += 1;
            self.ipv4.icmp_stats.in_errors += 1;
            return self.drop_pkt(buf, DropReason::IcmpCsum);
        }
        match pkt.msg_type() {
            Icmpv4Message::ECHO_REQUEST => {
                self.ipv4.icmp_stats.in_echos += 1;
                if ip.broadcast && self.config.icmp_echo_ignore_broadcasts {
                    return self.drop_pkt(buf, DropReason::IcmpIgnored);
                }
                self.icmp_echo(buf, ip, now)
            }
            Icmpv4Message::ECHO_REPLY => {
                self.ipv4.icmp_stats.in_echo_reps += 1;
                let (ident, seq) = (pkt.echo_ident(), pkt.echo_seq_no());
                let len = buf.len();
                let sent = pkt.data().get(..8).map(|b| {
                    Instant::from_micros(u64::from_be_bytes(b.try_into().expect("8 bytes")))
                });
                self.pings.ping_rcv(ident, seq, ip, len, sent, None, now);
                self.pool.put(buf);
            }
            t @ (Icmpv4Message::DST_UNREACHABLE | Icmpv4Message::TIME_EXCEEDED) => {
                if t == Icmpv4Message::DST_UNREACHABLE {
                    self.ipv4.icmp_stats.in_dest_unreachs += 1;
                } else {
                    self.ipv4.icmp_stats.in_time_excds += 1;
                }
                let code = pkt.msg_code();
                // RFC 1191: "fragmentation needed" carries the next hop's MTU.
                let info = if t == Icmpv4Message::DST_UNREACHABLE
                    && code == crate::wire::icmpv4::dst_unreachable::FRAG_NEEDED
                {
                    u32::from(pkt.next_hop_mtu())
                } else {
                    0
                };
                self.icmp_unreach(t.0, code, info, pkt.data(), ip, now);
                let _ = &mut buf;
                self.pool.put(buf);
            }
            _ => self.drop_pkt(buf, DropReason::IcmpIgnored),
        }
    }

    /// Answer an echo request in place: the request's buffer becomes the reply, so the
    /// payload is never copied. Linux: `icmp_echo` → `icmp_reply`.
    fn icmp_echo(&mut self, mut buf: PacketBuf, ip: &IpMeta, now: Instant) {
        {
            let mut pkt = Icmpv4Packet::new_unchecked(buf.data_mut());
            let old = pkt.checksum();
            pkt.set_msg_type(Icmpv4Message::ECHO_REPLY);
            // Only the type byte changed: update the checksum incrementally (RFC 1624).
            let code = pkt.msg_code() as u16;
            pkt.set_checksum(checksum::update16(
                old,
                ((Icmpv4Message::ECHO_REQUEST.0 as u16) << 8) | code,
                ((Icmpv4Message::ECHO_REPLY.0 as u16) << 8) | code,
            ));
        }
        // Reply from the address the request was sent to, when it is ours (not a broadcast).
        let src = (!ip.broadcast).then_some(ip.dst);
        let p = IpSendParams {
            src,
            dst: ip.src,
            protocol: IpProtocol::ICMP,
            ttl: None,
            tos: ip.tos,
            dont_frag: false,
        };
        self.ipv4.icmp_stats.out_msgs += 1;
        self.ipv4.icmp_stats.out_echo_reps += 1;
        if self.ip_send(buf, p, now).is_err() {
            self.ipv4.icmp_stats.out_errors += 1;
        }
    }

    /// An ICMP error arrived quoting one of our datagrams: tell the socket that sent it.
    /// "Fragmentation needed" (`info` is the next-hop MTU) lowers the path MTU to the quoted
    /// destination: for TCP once `tcp_v4_err` has matched the segment to a connection, for UDP
    /// and ping when the quoted datagram came from one of our addresses.
    /// Linux: `icmp_unreach` → the protocol's `err_handler` (`ping_err`, `udp_err`, `tcp_v4_err`),
    /// which call `ipv4_sk_update_pmtu` / `tcp_v4_mtu_reduced`.
    fn icmp_unreach(
        &mut self,
        msg_type: u8,
        code: u8,
        info: u32,
        quoted: &[u8],
        ip: &IpMeta,
        now: Instant,
    ) {
        let Some(inner) = quoted_header(quoted) else {
            return self.count_drop(DropReason::IcmpCsum);
        };
        let ihl = inner.header_len();
        let Some(l4) = quoted.get(ihl..) else { return };
        let frag_needed = msg_type == Icmpv4Message::DST_UNREACHABLE.0
            && code == crate::wire::icmpv4::dst_unreachable::FRAG_NEEDED;
        if frag_needed
            && inner.protocol() != IpProtocol::TCP
            && self.is_local_addr(inner.src_addr())
        {
            self.ip_rt_update_pmtu(inner.dst_addr(), info, now);
        }
        // Unchecked: read only after the 8-byte header was found quoted.
        let quoted_icmp = Icmpv4Packet::new_unchecked(l4);
        if inner.protocol() == IpProtocol::ICMP
            && l4.len() >= 8
            && quoted_icmp.msg_type() == Icmpv4Message::ECHO_REQUEST
        {
            let (ident, seq) = (quoted_icmp.echo_ident(), quoted_icmp.echo_seq_no());
            self.pings
                .ping_rcv(ident, seq, ip, 0, None, Some((msg_type, code)), now);
        } else if inner.protocol() == IpProtocol::UDP || inner.protocol() == IpProtocol::TCP {
            let err = icmp_err_convert(msg_type, code);
            let (src, dst) = (inner.src_addr(), inner.dst_addr());
            if inner.protocol() == IpProtocol::UDP {
                if let Some(e) = err {
                    self.udp_err(src, dst, l4, e);
                }
            } else {
                self.tcp_v4_err(src, dst, l4, msg_type, code, info, err, now);
            }
        }
    }

    /// Send an ICMP error about `offending` (whose network header is recorded) back to its
    /// source, unless the rules forbid it: never about an ICMP error, a broadcast, a
    /// non-first fragment or a non-unicast source; at most `icmp_msgs_per_sec`, and per
    /// destination at most what `icmp_ratelimit` allows.
    /// Linux: `__icmp_send`.
    pub(crate) fn icmp_send_error(
        &mut self,
        offending: &PacketBuf,
        msg_type: Icmpv4Message,
        code: u8,
        info: u32,
        now: Instant,
    ) {
        let Some(net) = offending.network_header() else {
            return;
        };
        let Ok(inner) = Ipv4Packet::new_checked(net) else {
            return;
        };
        let (src, dst) = (inner.src_addr(), inner.dst_addr());
        if inner.frag_offset() != 0
            || src.is_unspecified()
            || src.is_multicast()
            || self.dev.is_broadcast_addr(src)
            || dst.is_multicast()
            || self.dev.is_broadcast_addr(dst)
        {
            return;
        }
        let ihl = inner.header_len();
        if inner.protocol() == IpProtocol::ICMP {
            // Never an error about an error (RFC 1122 3.2.2).
            match net.get(ihl) {
                Some(&t) if !Icmpv4Message(t).is_error() => {}
                _ => return,
            }
        }
        // Path MTU discovery is never rate limited (Linux: icmpv4_mask_allow).
        let pmtu = msg_type == Icmpv4Message::DST_UNREACHABLE
            && code == crate::wire::icmpv4::dst_unreachable::FRAG_NEEDED;
        if !pmtu
            && !self
                .ipv4
                .icmpv4_xrlim_allow(&self.dev, msg_type, code, src, now)
        {
            return;
        }
        if !pmtu && !self.ipv4.icmp_rate.allow(now) {
            self.ipv4.icmp_stats.out_rate_limit_global += 1;
            return;
        }
        let quote_len = (inner.total_len() as usize)
            .min(net.len())
            .min(ICMP_ERROR_MAX - 20 - 8);
        // Reply from our address the packet was sent to, if it was ours.
        let our_src: Option<Ipv4Addr> = self.is_local_addr(dst).then_some(dst);
        let mut buf = self.pool.get(MAX_HEADER);
        let Some(body) = buf.try_put(8 + quote_len) else {
            return self.pool.put(buf);
        };
        // Unchecked: `try_put` gave the 8-byte header and the quote, zeroed.
        let mut icmph = Icmpv4Packet::new_unchecked(body);
        icmph.set_msg_type(msg_type);
        icmph.set_msg_code(code);
        icmph.set_rest_of_header(info);
        icmph.data_mut().copy_from_slice(&net[..quote_len]);
        icmph.fill_checksum();
        self.ipv4.icmp_stats.out_msgs += 1;
        if msg_type == Icmpv4Message::DST_UNREACHABLE {
            self.ipv4.icmp_stats.out_dest_unreachs += 1;
        } else if msg_type == Icmpv4Message::TIME_EXCEEDED {
            self.ipv4.icmp_stats.out_time_excds += 1;
        }
        let p = IpSendParams {
            src: our_src,
            dst: src,
            protocol: IpProtocol::ICMP,
            ttl: None,
            tos: 0xc0, // IPTOS_PREC_INTERNETCONTROL, as Linux sends errors.
            dont_frag: false,
        };
        if self.ip_send(buf, p, now).is_err() {
            self.ipv4.icmp_stats.out_errors += 1;
        }
    }
}

/// The errno an ICMP error stands for, if it is fatal for a connection attempt.
/// Linux: `icmp_err_convert` (port unreachable → ECONNREFUSED, others → EHOSTUNREACH...).
pub(crate) fn icmp_err_convert(msg_type: u8, code: u8) -> Option<crate::errno::Errno> {
    use crate::errno::Errno;
    use crate::wire::icmpv4::dst_unreachable;
    if msg_type != Icmpv4Message::DST_UNREACHABLE.0 {
        return None;
    }
    Some(match code {
        dst_unreachable::NET => Errno::ENETUNREACH,
        dst_unreachable::PORT | dst_unreachable::PROTOCOL => Errno::ECONNREFUSED,
        dst_unreachable::FRAG_NEEDED => return None,
        _ => Errno::EHOSTUNREACH,
    })
}
