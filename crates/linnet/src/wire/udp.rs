//! UDP headers (RFC 768). Linux: `struct udphdr`.

use super::checksum;
use super::{Result, WireError};
use std::net::{Ipv4Addr, Ipv6Addr};

/// Header length.
pub const HEADER_LEN: usize = 8;

/// A view of a UDP datagram.
#[derive(Debug, Clone)]
pub struct UdpPacket<T: AsRef<[u8]>> {
    buf: T,
}

impl<T: AsRef<[u8]>> UdpPacket<T> {
    /// Wrap without checks: accessors may panic on a buffer shorter than the header, and
    /// [`UdpPacket::payload`] on one shorter than the length field.
    pub fn new_unchecked(buf: T) -> UdpPacket<T> {
        UdpPacket { buf }
    }

    /// Wrap after checking the header and the length field (trailing bytes are allowed).
    pub fn new_checked(buf: T) -> Result<UdpPacket<T>> {
        let b = buf.as_ref();
        if b.len() < HEADER_LEN {
            return Err(WireError::Truncated);
        }
        let len = u16::from_be_bytes([b[4], b[5]]) as usize;
        if len < HEADER_LEN {
            return Err(WireError::Malformed);
        }
        if len > b.len() {
            return Err(WireError::Truncated);
        }
        Ok(UdpPacket { buf })
    }

    fn u16_at(&self, i: usize) -> u16 {
        let b = self.buf.as_ref();
        u16::from_be_bytes([b[i], b[i + 1]])
    }

    /// Source port.
    pub fn src_port(&self) -> u16 {
        self.u16_at(0)
    }
    /// Destination port.
    pub fn dst_port(&self) -> u16 {
        self.u16_at(2)
    }
    /// Length field (header + payload).
    pub fn len(&self) -> u16 {
        self.u16_at(4)
    }
    /// Whether the length field says there is no payload.
    pub fn is_empty(&self) -> bool {
        self.len() as usize == HEADER_LEN
    }
    /// Checksum field (0: none).
    pub fn checksum(&self) -> u16 {
        self.u16_at(6)
    }
    /// Payload, up to the length field.
    pub fn payload(&self) -> &[u8] {
        &self.buf.as_ref()[HEADER_LEN..self.len() as usize]
    }
    /// Whether the checksum verifies (a zero checksum means none and verifies).
    pub fn verify_checksum(&self, src: Ipv4Addr, dst: Ipv4Addr) -> bool {
        if self.checksum() == 0 {
            return true;
        }
        let d = &self.buf.as_ref()[..self.len() as usize];
        let pseudo = checksum::pseudo_header_v4(src, dst, 17, d.len() as u16);
        checksum::fold(checksum::sum(d, pseudo)) == 0xffff
    }

    /// Whether the checksum verifies over the IPv6 pseudo-header. A zero checksum is an
    /// error over IPv6 (RFC 8200 section 8.1). Linux: `udp6_csum_init` refusing
    /// `uh->check == 0`.
    pub fn verify_checksum_v6(&self, src: &Ipv6Addr, dst: &Ipv6Addr) -> bool {
        if self.checksum() == 0 {
            return false;
        }
        let d = &self.buf.as_ref()[..self.len() as usize];
        let pseudo = checksum::pseudo_header_v6(src, dst, 17, d.len() as u32);
        checksum::fold(checksum::sum(d, pseudo)) == 0xffff
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> UdpPacket<T> {
    fn set_u16_at(&mut self, i: usize, v: u16) {
        self.buf.as_mut()[i..i + 2].copy_from_slice(&v.to_be_bytes());
    }

    /// Set the source port.
    pub fn set_src_port(&mut self, v: u16) {
        self.set_u16_at(0, v);
    }
    /// Set the destination port.
    pub fn set_dst_port(&mut self, v: u16) {
        self.set_u16_at(2, v);
    }
    /// Set the length field (header + payload).
    pub fn set_len(&mut self, v: u16) {
        self.set_u16_at(4, v);
    }
    /// Set the checksum field (0: none).
    pub fn set_checksum(&mut self, v: u16) {
        self.set_u16_at(6, v);
    }
}

/// A UDP header to emit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UdpRepr {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Payload length.
    pub payload_len: usize,
}

impl UdpRepr {
    /// Write header and checksum into `datagram` (header + payload already in place);
    /// a computed checksum of 0 is sent as 0xffff (RFC 768).
    pub fn emit_datagram(&self, datagram: &mut [u8], src: Ipv4Addr, dst: Ipv4Addr) {
        let len = (HEADER_LEN + self.payload_len) as u16;
        let mut p = UdpPacket::new_unchecked(&mut datagram[..]);
        p.set_src_port(self.src_port);
        p.set_dst_port(self.dst_port);
        p.set_len(len);
        p.set_checksum(0);
        let pseudo = checksum::pseudo_header_v4(src, dst, 17, len);
        let mut c = !checksum::fold(checksum::sum(&datagram[..len as usize], pseudo));
        if c == 0 {
            c = 0xffff;
        }
        UdpPacket::new_unchecked(datagram).set_checksum(c);
    }

    /// [`UdpRepr::emit_datagram`] over the IPv6 pseudo-header (a computed 0 is sent as
    /// 0xffff, as a zero checksum is refused over IPv6). Linux: `udp6_hwcsum_outgoing` /
    /// `csum_ipv6_magic` in `udp_v6_send_skb`.
    pub fn emit_datagram_v6(&self, datagram: &mut [u8], src: &Ipv6Addr, dst: &Ipv6Addr) {
        let len = HEADER_LEN + self.payload_len;
        let mut p = UdpPacket::new_unchecked(&mut datagram[..]);
        p.set_src_port(self.src_port);
        p.set_dst_port(self.dst_port);
        // A jumbogram's length field would be 0; Linnet sends none (callers cap at 65535).
        p.set_len(len as u16);
        p.set_checksum(0);
        let pseudo = checksum::pseudo_header_v6(src, dst, 17, len as u32);
        let mut c = !checksum::fold(checksum::sum(&datagram[..len], pseudo));
        if c == 0 {
            c = 0xffff;
        }
        UdpPacket::new_unchecked(datagram).set_checksum(c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_errors() {
        let (s, d) = (Ipv4Addr::new(192, 0, 2, 1), Ipv4Addr::new(192, 0, 2, 2));
        let mut dg = vec![0u8; 8 + 5];
        dg[8..].copy_from_slice(b"hello");
        UdpRepr {
            src_port: 1,
            dst_port: 2,
            payload_len: 5,
        }
        .emit_datagram(&mut dg, s, d);
        let p = UdpPacket::new_checked(&dg[..]).unwrap();
        assert!(p.verify_checksum(s, d));
        assert_eq!(p.payload(), b"hello");
        dg[9] ^= 1;
        assert!(!UdpPacket::new_checked(&dg[..])
            .unwrap()
            .verify_checksum(s, d));
        assert_eq!(
            UdpPacket::new_checked(&[0u8; 7][..]).err(),
            Some(WireError::Truncated)
        );
        assert_eq!(
            UdpPacket::new_checked(&[0, 1, 0, 2, 0, 4, 0, 0][..]).err(),
            Some(WireError::Malformed)
        );
        assert_eq!(
            UdpPacket::new_checked(&[0, 1, 0, 2, 0, 40, 0, 0][..]).err(),
            Some(WireError::Truncated)
        );
    }

    #[test]
    fn unchecked_view_and_setters() {
        let mut b = [0u8; 12];
        let mut p = UdpPacket::new_unchecked(&mut b[..]);
        p.set_src_port(53);
        p.set_dst_port(40000);
        p.set_len(12);
        p.set_checksum(0xbeef);
        assert_eq!(b[..8], [0, 53, 0x9c, 0x40, 0, 12, 0xbe, 0xef]);
        let p = UdpPacket::new_unchecked(&b[..]);
        assert_eq!((p.src_port(), p.dst_port(), p.len()), (53, 40000, 12));
        assert_eq!(p.checksum(), 0xbeef);
        assert_eq!(p.payload(), &[0; 4]);
        // The unchecked view reads the ports of a 4-byte quote (an ICMP error's).
        let q = UdpPacket::new_unchecked(&b[..4]);
        assert_eq!((q.src_port(), q.dst_port()), (53, 40000));
    }
}
