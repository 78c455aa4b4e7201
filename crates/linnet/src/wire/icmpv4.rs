//! ICMP for IPv4 (RFC 792).
//!
//! Linux: `struct icmphdr` (include/uapi/linux/icmp.h).
//!
//! A packet view covers the whole ICMP message: the caller passes exactly the IPv4 payload,
//! because the checksum covers every byte of the message.

use super::checksum;
use super::{Result, WireError};
use std::fmt;

/// Length of the ICMP header (type, code, checksum and the 4-byte rest-of-header).
pub const HEADER_LEN: usize = 8;

/// Smallest quoted datagram accepted in an error message: an IPv4 header without options and
/// the first 8 bytes of its payload (RFC 792).
pub const MIN_ERROR_DATA_LEN: usize = 28;

/// An ICMP message type (Linux: `ICMP_*`, include/uapi/linux/icmp.h).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Icmpv4Message(pub u8);

impl Icmpv4Message {
    /// Echo reply (`ICMP_ECHOREPLY`).
    pub const ECHO_REPLY: Icmpv4Message = Icmpv4Message(0);
    /// Destination unreachable (`ICMP_DEST_UNREACH`).
    pub const DST_UNREACHABLE: Icmpv4Message = Icmpv4Message(3);
    /// Source quench, deprecated by RFC 6633 (`ICMP_SOURCE_QUENCH`).
    pub const SOURCE_QUENCH: Icmpv4Message = Icmpv4Message(4);
    /// Redirect (`ICMP_REDIRECT`).
    pub const REDIRECT: Icmpv4Message = Icmpv4Message(5);
    /// Echo request (`ICMP_ECHO`).
    pub const ECHO_REQUEST: Icmpv4Message = Icmpv4Message(8);
    /// Time exceeded (`ICMP_TIME_EXCEEDED`).
    pub const TIME_EXCEEDED: Icmpv4Message = Icmpv4Message(11);
    /// Parameter problem (`ICMP_PARAMETERPROB`).
    pub const PARAM_PROBLEM: Icmpv4Message = Icmpv4Message(12);
    /// Timestamp request (`ICMP_TIMESTAMP`).
    pub const TIMESTAMP: Icmpv4Message = Icmpv4Message(13);
    /// Timestamp reply (`ICMP_TIMESTAMPREPLY`).
    pub const TIMESTAMP_REPLY: Icmpv4Message = Icmpv4Message(14);

    /// True for error messages (unreachable, source quench, redirect, time exceeded,
    /// parameter problem), which quote the offending datagram and must never be sent in
    /// response to another error. Linux: `icmp_is_err`.
    pub fn is_error(&self) -> bool {
        matches!(self.0, 3 | 4 | 5 | 11 | 12)
    }
}

impl fmt::Display for Icmpv4Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self.0 {
            0 => "echo reply",
            3 => "destination unreachable",
            4 => "source quench",
            5 => "redirect",
            8 => "echo request",
            11 => "time exceeded",
            12 => "parameter problem",
            13 => "timestamp",
            14 => "timestamp reply",
            n => return write!(f, "type {n}"),
        };
        f.write_str(name)
    }
}

/// Codes of [`Icmpv4Message::DST_UNREACHABLE`] (Linux: `ICMP_NET_UNREACH` ...).
pub mod dst_unreachable {
    /// Network unreachable (`ICMP_NET_UNREACH`).
    pub const NET: u8 = 0;
    /// Host unreachable (`ICMP_HOST_UNREACH`).
    pub const HOST: u8 = 1;
    /// Protocol unreachable (`ICMP_PROT_UNREACH`).
    pub const PROTOCOL: u8 = 2;
    /// Port unreachable (`ICMP_PORT_UNREACH`).
    pub const PORT: u8 = 3;
    /// Fragmentation needed and DF set; carries the next-hop MTU (`ICMP_FRAG_NEEDED`).
    pub const FRAG_NEEDED: u8 = 4;
    /// Source route failed (`ICMP_SR_FAILED`).
    pub const SR_FAILED: u8 = 5;
    /// Destination network unknown (`ICMP_NET_UNKNOWN`).
    pub const NET_UNKNOWN: u8 = 6;
    /// Destination host unknown (`ICMP_HOST_UNKNOWN`).
    pub const HOST_UNKNOWN: u8 = 7;
    /// Source host isolated (`ICMP_HOST_ISOLATED`).
    pub const HOST_ISOLATED: u8 = 8;
    /// Network administratively prohibited (`ICMP_NET_ANO`).
    pub const NET_PROHIBITED: u8 = 9;
    /// Host administratively prohibited (`ICMP_HOST_ANO`).
    pub const HOST_PROHIBITED: u8 = 10;
    /// Network unreachable for TOS (`ICMP_NET_UNR_TOS`).
    pub const NET_TOS: u8 = 11;
    /// Host unreachable for TOS (`ICMP_HOST_UNR_TOS`).
    pub const HOST_TOS: u8 = 12;
    /// Communication administratively prohibited (`ICMP_PKT_FILTERED`).
    pub const PKT_FILTERED: u8 = 13;
    /// Host precedence violation (`ICMP_PREC_VIOLATION`).
    pub const PREC_VIOLATION: u8 = 14;
    /// Precedence cutoff in effect (`ICMP_PREC_CUTOFF`).
    pub const PREC_CUTOFF: u8 = 15;
}

/// Codes of [`Icmpv4Message::TIME_EXCEEDED`].
pub mod time_exceeded {
    /// TTL exceeded in transit (`ICMP_EXC_TTL`).
    pub const TTL: u8 = 0;
    /// Fragment reassembly time exceeded (`ICMP_EXC_FRAGTIME`).
    pub const REASSEMBLY: u8 = 1;
}

mod field {
    use std::ops::Range;
    pub const TYPE: usize = 0;
    pub const CODE: usize = 1;
    pub const CHECKSUM: Range<usize> = 2..4;
    pub const IDENT: Range<usize> = 4..6;
    pub const SEQ_NO: Range<usize> = 6..8;
    pub const UNUSED: Range<usize> = 4..6;
    pub const MTU: Range<usize> = 6..8;
}

/// A view of an ICMPv4 message over a byte buffer holding exactly the message.
///
/// Linux: `struct icmphdr` (include/uapi/linux/icmp.h).
#[derive(Debug, Clone)]
pub struct Icmpv4Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Icmpv4Packet<T> {
    /// Wraps `buffer` without checking it; getters may panic on a short buffer.
    pub fn new_unchecked(buffer: T) -> Self {
        Icmpv4Packet { buffer }
    }

    /// Wraps `buffer`: [`WireError::Truncated`] if shorter than [`HEADER_LEN`].
    /// The checksum is not checked here.
    pub fn new_checked(buffer: T) -> Result<Self> {
        if buffer.as_ref().len() < HEADER_LEN {
            return Err(WireError::Truncated);
        }
        Ok(Icmpv4Packet { buffer })
    }

    /// The wrapped buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn read_u16(&self, r: std::ops::Range<usize>) -> u16 {
        let b = &self.buffer.as_ref()[r];
        u16::from_be_bytes([b[0], b[1]])
    }

    /// Message type.
    pub fn msg_type(&self) -> Icmpv4Message {
        Icmpv4Message(self.buffer.as_ref()[field::TYPE])
    }

    /// Message code.
    pub fn msg_code(&self) -> u8 {
        self.buffer.as_ref()[field::CODE]
    }

    /// Checksum field.
    pub fn checksum(&self) -> u16 {
        self.read_u16(field::CHECKSUM)
    }

    /// Identifier of an echo request or reply (bytes 4..6).
    pub fn echo_ident(&self) -> u16 {
        self.read_u16(field::IDENT)
    }

    /// Sequence number of an echo request or reply (bytes 6..8).
    pub fn echo_seq_no(&self) -> u16 {
        self.read_u16(field::SEQ_NO)
    }

    /// Next-hop MTU of a "fragmentation needed" message (bytes 6..8, RFC 1191).
    pub fn next_hop_mtu(&self) -> u16 {
        self.read_u16(field::MTU)
    }

    /// The rest-of-header word (bytes 4..8) whole: an error's `info` (the MTU of
    /// "fragmentation needed", a parameter problem's pointer in the top byte).
    /// Linux: `icmph->un.gateway`.
    pub fn rest_of_header(&self) -> u32 {
        let b = &self.buffer.as_ref()[4..8];
        u32::from_be_bytes([b[0], b[1], b[2], b[3]])
    }

    /// The bytes after the 8-byte header: echo data, or the quoted datagram of an error.
    pub fn data(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..]
    }

    /// True if the checksum over the whole message verifies.
    pub fn verify_checksum(&self) -> bool {
        checksum::verify(self.buffer.as_ref())
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Icmpv4Packet<&'a T> {
    /// [`Icmpv4Packet::data`] with the lifetime of the underlying buffer.
    pub fn data_ref(&self) -> &'a [u8] {
        &self.buffer.as_ref()[HEADER_LEN..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Icmpv4Packet<T> {
    fn write_u16(&mut self, r: std::ops::Range<usize>, v: u16) {
        self.buffer.as_mut()[r].copy_from_slice(&v.to_be_bytes());
    }

    /// Sets the message type.
    pub fn set_msg_type(&mut self, t: Icmpv4Message) {
        self.buffer.as_mut()[field::TYPE] = t.0;
    }

    /// Sets the message code.
    pub fn set_msg_code(&mut self, code: u8) {
        self.buffer.as_mut()[field::CODE] = code;
    }

    /// Sets the checksum field.
    pub fn set_checksum(&mut self, c: u16) {
        self.write_u16(field::CHECKSUM, c);
    }

    /// Sets the echo identifier (bytes 4..6).
    pub fn set_echo_ident(&mut self, v: u16) {
        self.write_u16(field::IDENT, v);
    }

    /// Sets the echo sequence number (bytes 6..8).
    pub fn set_echo_seq_no(&mut self, v: u16) {
        self.write_u16(field::SEQ_NO, v);
    }

    /// Sets the next-hop MTU (bytes 6..8) and clears the unused bytes 4..6.
    pub fn set_next_hop_mtu(&mut self, mtu: u16) {
        self.write_u16(field::UNUSED, 0);
        self.write_u16(field::MTU, mtu);
    }

    /// Sets the rest-of-header word (bytes 4..8) whole. Linux: `icmph->un.gateway = htonl(info)`
    /// in `__icmp_send`.
    pub fn set_rest_of_header(&mut self, v: u32) {
        self.buffer.as_mut()[4..8].copy_from_slice(&v.to_be_bytes());
    }

    /// Zeroes the rest-of-header bytes 4..8 (unused in time exceeded and most unreachables).
    pub fn clear_rest_of_header(&mut self) {
        self.buffer.as_mut()[4..8].fill(0);
    }

    /// Computes the checksum over the whole buffer and stores it.
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let c = checksum::checksum(self.buffer.as_ref());
        self.set_checksum(c);
    }

    /// The data after the header, writable.
    pub fn data_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[HEADER_LEN..]
    }
}

/// The parsed form of an ICMPv4 message, borrowing its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Icmpv4Repr<'a> {
    /// Echo request (type 8).
    EchoRequest {
        /// Identifier.
        ident: u16,
        /// Sequence number.
        seq_no: u16,
        /// Echo data.
        data: &'a [u8],
    },
    /// Echo reply (type 0).
    EchoReply {
        /// Identifier.
        ident: u16,
        /// Sequence number.
        seq_no: u16,
        /// Echo data.
        data: &'a [u8],
    },
    /// Destination unreachable (type 3).
    DstUnreachable {
        /// One of [`dst_unreachable`].
        code: u8,
        /// Next-hop MTU (bytes 6..8), meaningful for [`dst_unreachable::FRAG_NEEDED`] and
        /// zero otherwise.
        next_hop_mtu: u16,
        /// The quoted datagram: its IPv4 header and at least 8 bytes of payload.
        data: &'a [u8],
    },
    /// Time exceeded (type 11).
    TimeExceeded {
        /// One of [`time_exceeded`].
        code: u8,
        /// The quoted datagram: its IPv4 header and at least 8 bytes of payload.
        data: &'a [u8],
    },
    /// Any other message, carried by type and code only.
    Other {
        /// Message type.
        msg_type: u8,
        /// Message code.
        code: u8,
    },
}

impl<'a> Icmpv4Repr<'a> {
    /// Reads a message, verifying its checksum over the whole buffer
    /// ([`WireError::Checksum`]). Echo messages are recognised whatever their code (as Linux
    /// does); unreachable and time exceeded need at least [`MIN_ERROR_DATA_LEN`] bytes of
    /// quoted datagram ([`WireError::Malformed`]); everything else becomes
    /// [`Icmpv4Repr::Other`].
    pub fn parse<T: AsRef<[u8]> + ?Sized>(packet: &Icmpv4Packet<&'a T>) -> Result<Icmpv4Repr<'a>> {
        if packet.buffer.as_ref().len() < HEADER_LEN {
            return Err(WireError::Truncated);
        }
        if !packet.verify_checksum() {
            return Err(WireError::Checksum);
        }
        let data = packet.data_ref();
        let code = packet.msg_code();
        Ok(match packet.msg_type() {
            Icmpv4Message::ECHO_REQUEST => Icmpv4Repr::EchoRequest {
                ident: packet.echo_ident(),
                seq_no: packet.echo_seq_no(),
                data,
            },
            Icmpv4Message::ECHO_REPLY => Icmpv4Repr::EchoReply {
                ident: packet.echo_ident(),
                seq_no: packet.echo_seq_no(),
                data,
            },
            Icmpv4Message::DST_UNREACHABLE => {
                if data.len() < MIN_ERROR_DATA_LEN {
                    return Err(WireError::Malformed);
                }
                Icmpv4Repr::DstUnreachable {
                    code,
                    next_hop_mtu: packet.next_hop_mtu(),
                    data,
                }
            }
            Icmpv4Message::TIME_EXCEEDED => {
                if data.len() < MIN_ERROR_DATA_LEN {
                    return Err(WireError::Malformed);
                }
                Icmpv4Repr::TimeExceeded { code, data }
            }
            Icmpv4Message(msg_type) => Icmpv4Repr::Other { msg_type, code },
        })
    }

    /// The message type this representation emits.
    pub fn msg_type(&self) -> Icmpv4Message {
        match *self {
            Icmpv4Repr::EchoRequest { .. } => Icmpv4Message::ECHO_REQUEST,
            Icmpv4Repr::EchoReply { .. } => Icmpv4Message::ECHO_REPLY,
            Icmpv4Repr::DstUnreachable { .. } => Icmpv4Message::DST_UNREACHABLE,
            Icmpv4Repr::TimeExceeded { .. } => Icmpv4Message::TIME_EXCEEDED,
            Icmpv4Repr::Other { msg_type, .. } => Icmpv4Message(msg_type),
        }
    }

    fn data(&self) -> &'a [u8] {
        match *self {
            Icmpv4Repr::EchoRequest { data, .. }
            | Icmpv4Repr::EchoReply { data, .. }
            | Icmpv4Repr::DstUnreachable { data, .. }
            | Icmpv4Repr::TimeExceeded { data, .. } => data,
            Icmpv4Repr::Other { .. } => &[],
        }
    }

    /// Length of the message [`Icmpv4Repr::emit`] writes: header plus data.
    pub fn buffer_len(&self) -> usize {
        HEADER_LEN + self.data().len()
    }

    /// Writes the message (header, data, checksum) into the first
    /// [`buffer_len`](Icmpv4Repr::buffer_len) bytes of `buf`, which must be at least that
    /// long; the checksum covers exactly those bytes. [`Icmpv4Repr::Other`] is written as a
    /// bare header with a zero rest-of-header.
    pub fn emit(&self, buf: &mut [u8]) {
        let len = self.buffer_len();
        let mut p = Icmpv4Packet::new_unchecked(&mut buf[..len]);
        p.set_msg_type(self.msg_type());
        match *self {
            Icmpv4Repr::EchoRequest { ident, seq_no, .. }
            | Icmpv4Repr::EchoReply { ident, seq_no, .. } => {
                p.set_msg_code(0);
                p.set_echo_ident(ident);
                p.set_echo_seq_no(seq_no);
            }
            Icmpv4Repr::DstUnreachable {
                code, next_hop_mtu, ..
            } => {
                p.set_msg_code(code);
                p.set_next_hop_mtu(next_hop_mtu);
            }
            Icmpv4Repr::TimeExceeded { code, .. } | Icmpv4Repr::Other { code, .. } => {
                p.set_msg_code(code);
                p.clear_rest_of_header();
            }
        }
        p.data_mut().copy_from_slice(self.data());
        p.fill_checksum();
    }
}

#[cfg(test)]
mod tests {
    use super::super::captures::*;
    use super::super::ipv4::{IpProtocol, Ipv4Packet, Ipv4Repr};
    use super::*;
    use proptest::prelude::*;

    fn icmp_of(ip: &[u8]) -> &[u8] {
        let p = Ipv4Packet::new_checked(ip).unwrap();
        let hl = p.header_len();
        &ip[hl..usize::from(p.total_len())]
    }

    #[test]
    fn rest_of_header_word() {
        let mut b = [0u8; 8];
        let mut p = Icmpv4Packet::new_unchecked(&mut b[..]);
        p.set_msg_type(Icmpv4Message::DST_UNREACHABLE);
        p.set_msg_code(dst_unreachable::FRAG_NEEDED);
        p.set_rest_of_header(1400);
        assert_eq!((p.next_hop_mtu(), p.rest_of_header()), (1400, 1400));
        p.set_rest_of_header(0x1400_0000); // A parameter problem pointing at byte 20.
        assert_eq!(b[4..8], [20, 0, 0, 0]);
        assert_eq!(
            Icmpv4Packet::new_unchecked(&b[..]).rest_of_header(),
            0x1400_0000
        );
    }

    #[test]
    fn echo_request_and_reply() {
        let req = icmp_of(&ECHO_REQUEST);
        let p = Icmpv4Packet::new_checked(req).unwrap();
        assert_eq!(p.msg_type(), Icmpv4Message::ECHO_REQUEST);
        assert_eq!(p.msg_code(), 0);
        assert_eq!(p.checksum(), 0xf3c8);
        assert_eq!(p.echo_ident(), 0x1234);
        assert_eq!(p.echo_seq_no(), 1);
        assert_eq!(p.data(), &(0x10..=0x2f).collect::<Vec<u8>>()[..]);
        assert!(p.verify_checksum());
        let r = Icmpv4Repr::parse(&p).unwrap();
        assert_eq!(
            r,
            Icmpv4Repr::EchoRequest {
                ident: 0x1234,
                seq_no: 1,
                data: &req[8..]
            }
        );
        let mut out = vec![0u8; r.buffer_len()];
        r.emit(&mut out);
        assert_eq!(out, req);

        let rep = icmp_of(&ECHO_REPLY);
        let p = Icmpv4Packet::new_checked(rep).unwrap();
        assert_eq!(p.msg_type(), Icmpv4Message::ECHO_REPLY);
        let r = Icmpv4Repr::parse(&p).unwrap();
        assert_eq!(
            r,
            Icmpv4Repr::EchoReply {
                ident: 0x1234,
                seq_no: 1,
                data: &req[8..]
            }
        );
        let mut out = vec![0u8; r.buffer_len()];
        r.emit(&mut out);
        assert_eq!(out, rep);
    }

    #[test]
    fn echo_with_ip_options() {
        for (ip, t) in [
            (&RR_ECHO_REQUEST[..], Icmpv4Message::ECHO_REQUEST),
            (&RR_ECHO_REPLY[..], Icmpv4Message::ECHO_REPLY),
        ] {
            let icmp = icmp_of(ip);
            let p = Icmpv4Packet::new_checked(icmp).unwrap();
            assert_eq!(p.msg_type(), t);
            assert_eq!(p.echo_seq_no(), 2);
            assert_eq!(p.data(), b"linnet-rr");
            let r = Icmpv4Repr::parse(&p).unwrap();
            let mut out = vec![0u8; r.buffer_len()];
            r.emit(&mut out);
            assert_eq!(out, icmp);
        }
    }

    #[test]
    fn port_unreachable() {
        let icmp = icmp_of(&PORT_UNREACH);
        let p = Icmpv4Packet::new_checked(icmp).unwrap();
        assert_eq!(p.msg_type(), Icmpv4Message::DST_UNREACHABLE);
        assert!(p.msg_type().is_error());
        assert_eq!(p.msg_code(), dst_unreachable::PORT);
        assert_eq!(p.checksum(), 0x512f);
        assert_eq!(p.next_hop_mtu(), 0);
        assert!(p.verify_checksum());
        // Linux quotes the whole offending datagram when it fits.
        assert_eq!(p.data(), &UDP_CLOSED[..]);
        let r = Icmpv4Repr::parse(&p).unwrap();
        assert_eq!(
            r,
            Icmpv4Repr::DstUnreachable {
                code: dst_unreachable::PORT,
                next_hop_mtu: 0,
                data: &UDP_CLOSED[..]
            }
        );
        let mut out = vec![0u8; r.buffer_len()];
        r.emit(&mut out);
        assert_eq!(out, icmp);
        // The whole IPv4 packet rebuilds from its two reprs.
        let ip = Ipv4Repr::parse(&Ipv4Packet::new_checked(&PORT_UNREACH[..]).unwrap()).unwrap();
        assert_eq!(ip.protocol, IpProtocol::ICMP);
        let mut whole = vec![0u8; ip.buffer_len() + r.buffer_len()];
        ip.emit(&mut whole);
        r.emit(&mut whole[20..]);
        assert_eq!(whole, PORT_UNREACH);
    }

    #[test]
    fn errors_and_others() {
        // Frag needed with an MTU, and time exceeded, quoting 28 bytes.
        let quote = &UDP_CLOSED[..28];
        for r in [
            Icmpv4Repr::DstUnreachable {
                code: dst_unreachable::FRAG_NEEDED,
                next_hop_mtu: 1400,
                data: quote,
            },
            Icmpv4Repr::TimeExceeded {
                code: time_exceeded::TTL,
                data: quote,
            },
            Icmpv4Repr::Other {
                msg_type: 13,
                code: 0,
            },
        ] {
            let mut out = vec![0xffu8; r.buffer_len()];
            r.emit(&mut out);
            let p = Icmpv4Packet::new_checked(&out[..]).unwrap();
            assert!(p.verify_checksum());
            assert_eq!(Icmpv4Repr::parse(&p).unwrap(), r);
            assert_eq!(p.msg_type(), r.msg_type());
        }
        let mut out = [0u8; 36];
        Icmpv4Repr::DstUnreachable {
            code: 4,
            next_hop_mtu: 1400,
            data: quote,
        }
        .emit(&mut out);
        assert_eq!(&out[4..8], &[0, 0, 0x05, 0x78]);
        assert_eq!(
            Icmpv4Packet::new_checked(&out[..]).unwrap().next_hop_mtu(),
            1400
        );
        for t in [3u8, 4, 5, 11, 12] {
            assert!(Icmpv4Message(t).is_error());
        }
        for t in [0u8, 8, 13, 14, 9] {
            assert!(!Icmpv4Message(t).is_error());
        }
        assert_eq!(Icmpv4Message::TIME_EXCEEDED.to_string(), "time exceeded");
        assert_eq!(Icmpv4Message(42).to_string(), "type 42");
    }

    #[test]
    fn malformed() {
        let icmp = icmp_of(&PORT_UNREACH);
        for n in 0..HEADER_LEN {
            assert_eq!(
                Icmpv4Packet::new_checked(&icmp[..n]).unwrap_err(),
                WireError::Truncated
            );
            assert_eq!(
                Icmpv4Repr::parse(&Icmpv4Packet::new_unchecked(&icmp[..n])).unwrap_err(),
                WireError::Truncated
            );
        }
        // Truncating breaks the checksum first.
        let p = Icmpv4Packet::new_checked(&icmp[..20]).unwrap();
        assert_eq!(Icmpv4Repr::parse(&p).unwrap_err(), WireError::Checksum);
        // A correctly checksummed error quoting too little is malformed.
        for (t, len) in [(3u8, 27usize), (11, 20), (3, 0)] {
            let mut b = vec![0u8; HEADER_LEN + len];
            let mut p = Icmpv4Packet::new_unchecked(&mut b[..]);
            p.set_msg_type(Icmpv4Message(t));
            p.fill_checksum();
            let p = Icmpv4Packet::new_checked(&b[..]).unwrap();
            assert_eq!(Icmpv4Repr::parse(&p).unwrap_err(), WireError::Malformed);
        }
        let mut b = icmp.to_vec();
        b[9] ^= 1;
        let p = Icmpv4Packet::new_checked(&b[..]).unwrap();
        assert!(!p.verify_checksum());
        assert_eq!(Icmpv4Repr::parse(&p).unwrap_err(), WireError::Checksum);
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..64), t in 0u8..16) {
            let mut data = data;
            if data.len() >= HEADER_LEN {
                data[0] = t;
                let mut p = Icmpv4Packet::new_unchecked(&mut data[..]);
                p.fill_checksum();
            }
            if let Ok(p) = Icmpv4Packet::new_checked(&data[..]) {
                let _ = (p.msg_type(), p.msg_code(), p.checksum(), p.echo_ident());
                let _ = (p.echo_seq_no(), p.next_hop_mtu(), p.data(), p.verify_checksum());
                if let Ok(r) = Icmpv4Repr::parse(&p) {
                    let mut out = vec![0u8; r.buffer_len()];
                    r.emit(&mut out);
                }
            }
            let _ = Icmpv4Repr::parse(&Icmpv4Packet::new_unchecked(&data[..]));
        }

        #[test]
        fn echo_round_trip(reply in any::<bool>(), ident in any::<u16>(), seq_no in any::<u16>(),
                           data in proptest::collection::vec(any::<u8>(), 0..100)) {
            let r = if reply {
                Icmpv4Repr::EchoReply { ident, seq_no, data: &data }
            } else {
                Icmpv4Repr::EchoRequest { ident, seq_no, data: &data }
            };
            let mut buf = vec![0u8; r.buffer_len()];
            r.emit(&mut buf);
            let p = Icmpv4Packet::new_checked(&buf[..]).unwrap();
            prop_assert!(p.verify_checksum());
            prop_assert_eq!(Icmpv4Repr::parse(&p).unwrap(), r);
        }
    }
}
