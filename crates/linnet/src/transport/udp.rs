//! UDP receive. Until UDP sockets arrive there is no listener, so every valid datagram is
//! answered with ICMP port unreachable, exactly as Linux does for a port nobody has bound.
//!
//! Linux: net/ipv4/udp.c (`udp_rcv`, `__udp4_lib_rcv`).

use crate::buf::PacketBuf;
use crate::ip::IpMeta;
use crate::stack::Stack;
use crate::stats::DropReason;
use crate::time::Instant;
use crate::wire::checksum;
use crate::wire::icmpv4::dst_unreachable;
use crate::wire::{Icmpv4Message, IpProtocol};

/// UDP header length.
pub const HEADER_LEN: usize = 8;

impl Stack {
    /// Validate a UDP datagram (data at the UDP header) and find its socket.
    /// Linux: `__udp4_lib_rcv`.
    pub(crate) fn udp_rcv(&mut self, mut buf: PacketBuf, ip: &IpMeta, now: Instant) {
        let data = buf.data();
        if data.len() < HEADER_LEN {
            self.udp_stats.in_errors += 1;
            return self.drop_pkt(buf, DropReason::PktTooSmall);
        }
        let ulen = u16::from_be_bytes([data[4], data[5]]) as usize;
        if ulen < HEADER_LEN || ulen > data.len() {
            self.udp_stats.in_errors += 1;
            return self.drop_pkt(buf, DropReason::PktTooSmall);
        }
        buf.trim(ulen);
        let data = buf.data();
        let csum = u16::from_be_bytes([data[6], data[7]]);
        if csum != 0 {
            let pseudo = checksum::pseudo_header_v4(ip.src, ip.dst, IpProtocol::UDP.0, ulen as u16);
            if checksum::fold(checksum::sum(data, pseudo)) != 0xffff {
                self.udp_stats.in_csum_errors += 1;
                self.udp_stats.in_errors += 1;
                return self.drop_pkt(buf, DropReason::UdpCsum);
            }
        }
        // No socket is bound to any port yet.
        self.udp_stats.no_ports += 1;
        if !ip.broadcast {
            self.icmp_send_error(
                &buf,
                Icmpv4Message::DST_UNREACHABLE,
                dst_unreachable::PORT,
                0,
                now,
            );
        }
        self.drop_pkt(buf, DropReason::NoSocket)
    }
}
