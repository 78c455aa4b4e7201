//! ICMP for IPv6 (RFC 4443), with neighbour discovery ([`super::ndisc`]) and multicast
//! listener discovery ([`super::mld`]) carried inside it.
//!
//! Linux: `struct icmp6hdr` (include/uapi/linux/icmpv6.h).
//!
//! A packet view covers exactly the ICMPv6 message (the upper-layer payload). Unlike ICMPv4,
//! the checksum covers the IPv6 pseudo-header too, so checking and filling it needs the
//! addresses.

use super::checksum;
use super::ipv4::IpProtocol;
use super::ipv6;
use super::mld::MldRepr;
use super::ndisc::NdiscRepr;
use super::{Result, WireError};
use std::fmt;
use std::net::Ipv6Addr;

/// Length of the ICMPv6 header: type, code, checksum and the 4-byte message-specific word.
pub const HEADER_LEN: usize = 8;

/// Most bytes of the offending packet an error message quotes: as much as fits in the
/// minimum MTU (RFC 4443 section 2.4 (c)). Linux: `IPV6_MIN_MTU - sizeof(ipv6hdr) -
/// sizeof(icmp6hdr)` in `icmp6_send`.
pub const MAX_ERROR_DATA_LEN: usize = ipv6::MIN_MTU - ipv6::HEADER_LEN - HEADER_LEN;

/// An ICMPv6 message type (Linux: `ICMPV6_*`, `NDISC_*`, include/uapi/linux/icmpv6.h,
/// include/net/ndisc.h).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Icmpv6Message(pub u8);

impl Icmpv6Message {
    /// Destination unreachable (`ICMPV6_DEST_UNREACH`).
    pub const DST_UNREACHABLE: Icmpv6Message = Icmpv6Message(1);
    /// Packet too big (`ICMPV6_PKT_TOOBIG`).
    pub const PKT_TOO_BIG: Icmpv6Message = Icmpv6Message(2);
    /// Time exceeded (`ICMPV6_TIME_EXCEED`).
    pub const TIME_EXCEEDED: Icmpv6Message = Icmpv6Message(3);
    /// Parameter problem (`ICMPV6_PARAMPROB`).
    pub const PARAM_PROBLEM: Icmpv6Message = Icmpv6Message(4);
    /// Echo request (`ICMPV6_ECHO_REQUEST`).
    pub const ECHO_REQUEST: Icmpv6Message = Icmpv6Message(128);
    /// Echo reply (`ICMPV6_ECHO_REPLY`).
    pub const ECHO_REPLY: Icmpv6Message = Icmpv6Message(129);
    /// Multicast listener query (`ICMPV6_MGM_QUERY`).
    pub const MLD_QUERY: Icmpv6Message = Icmpv6Message(130);
    /// MLDv1 listener report (`ICMPV6_MGM_REPORT`).
    pub const MLD_REPORT: Icmpv6Message = Icmpv6Message(131);
    /// MLDv1 listener done (`ICMPV6_MGM_REDUCTION`).
    pub const MLD_DONE: Icmpv6Message = Icmpv6Message(132);
    /// Router solicitation (`NDISC_ROUTER_SOLICITATION`).
    pub const ROUTER_SOLICIT: Icmpv6Message = Icmpv6Message(133);
    /// Router advertisement (`NDISC_ROUTER_ADVERTISEMENT`).
    pub const ROUTER_ADVERT: Icmpv6Message = Icmpv6Message(134);
    /// Neighbour solicitation (`NDISC_NEIGHBOUR_SOLICITATION`).
    pub const NEIGHBOR_SOLICIT: Icmpv6Message = Icmpv6Message(135);
    /// Neighbour advertisement (`NDISC_NEIGHBOUR_ADVERTISEMENT`).
    pub const NEIGHBOR_ADVERT: Icmpv6Message = Icmpv6Message(136);
    /// Redirect (`NDISC_REDIRECT`).
    pub const REDIRECT: Icmpv6Message = Icmpv6Message(137);
    /// MLDv2 listener report (`ICMPV6_MLD2_REPORT`).
    pub const MLD2_REPORT: Icmpv6Message = Icmpv6Message(143);

    /// True for error messages (types below 128), which quote the offending packet and are
    /// never sent in answer to another error. Linux: `icmpv6_is_err`.
    pub fn is_error(&self) -> bool {
        self.0 < 128
    }

    /// True for the neighbour discovery messages (133-137). Linux: the `NDISC_*` cases of
    /// `icmpv6_rcv` that go to `ndisc_rcv`.
    pub fn is_ndisc(&self) -> bool {
        (133..=137).contains(&self.0)
    }
}

impl fmt::Display for Icmpv6Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self.0 {
            1 => "destination unreachable",
            2 => "packet too big",
            3 => "time exceeded",
            4 => "parameter problem",
            128 => "echo request",
            129 => "echo reply",
            130 => "multicast listener query",
            131 => "multicast listener report",
            132 => "multicast listener done",
            133 => "router solicitation",
            134 => "router advertisement",
            135 => "neighbor solicitation",
            136 => "neighbor advertisement",
            137 => "redirect",
            143 => "multicast listener report v2",
            n => return write!(f, "type {n}"),
        };
        f.write_str(name)
    }
}

/// Codes of [`Icmpv6Message::DST_UNREACHABLE`] (Linux: `ICMPV6_NOROUTE` ...).
pub mod dst_unreachable {
    /// No route to destination (`ICMPV6_NOROUTE`).
    pub const NO_ROUTE: u8 = 0;
    /// Communication administratively prohibited (`ICMPV6_ADM_PROHIBITED`).
    pub const ADM_PROHIBITED: u8 = 1;
    /// Beyond the scope of the source address (`ICMPV6_NOT_NEIGHBOUR`).
    pub const BEYOND_SCOPE: u8 = 2;
    /// Address unreachable (`ICMPV6_ADDR_UNREACH`).
    pub const ADDR_UNREACH: u8 = 3;
    /// Port unreachable (`ICMPV6_PORT_UNREACH`).
    pub const PORT_UNREACH: u8 = 4;
    /// Source address failed ingress/egress policy (`ICMPV6_POLICY_FAIL`).
    pub const POLICY_FAIL: u8 = 5;
    /// Reject route to destination (`ICMPV6_REJECT_ROUTE`).
    pub const REJECT_ROUTE: u8 = 6;
}

/// Codes of [`Icmpv6Message::TIME_EXCEEDED`].
pub mod time_exceeded {
    /// Hop limit exceeded in transit (`ICMPV6_EXC_HOPLIMIT`).
    pub const HOP_LIMIT: u8 = 0;
    /// Fragment reassembly time exceeded (`ICMPV6_EXC_FRAGTIME`).
    pub const FRAG_TIME: u8 = 1;
}

/// Codes of [`Icmpv6Message::PARAM_PROBLEM`].
pub mod param_problem {
    /// Erroneous header field (`ICMPV6_HDR_FIELD`).
    pub const HDR_FIELD: u8 = 0;
    /// Unrecognised next header (`ICMPV6_UNK_NEXTHDR`).
    pub const UNK_NEXTHDR: u8 = 1;
    /// Unrecognised IPv6 option (`ICMPV6_UNK_OPTION`).
    pub const UNK_OPTION: u8 = 2;
    /// First fragment has an incomplete header chain, RFC 7112 (`ICMPV6_HDR_INCOMP`).
    pub const HDR_INCOMPLETE: u8 = 3;
}

mod field {
    use std::ops::Range;
    pub const TYPE: usize = 0;
    pub const CODE: usize = 1;
    pub const CHECKSUM: Range<usize> = 2..4;
    pub const WORD: Range<usize> = 4..8;
}

/// A view of an ICMPv6 message over a byte buffer holding exactly the message.
///
/// Linux: `struct icmp6hdr`.
#[derive(Debug, Clone)]
pub struct Icmpv6Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Icmpv6Packet<T> {
    /// Wraps `buffer` without checking it; getters may panic on a short buffer.
    pub fn new_unchecked(buffer: T) -> Self {
        Icmpv6Packet { buffer }
    }

    /// Wraps `buffer`: [`WireError::Truncated`] if shorter than the 4 bytes every message
    /// has (type, code, checksum). Readers of the message-specific word check for
    /// [`HEADER_LEN`] themselves ([`Icmpv6Repr::parse`] does).
    pub fn new_checked(buffer: T) -> Result<Self> {
        if buffer.as_ref().len() < 4 {
            return Err(WireError::Truncated);
        }
        Ok(Icmpv6Packet { buffer })
    }

    /// The wrapped buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Message type.
    pub fn msg_type(&self) -> Icmpv6Message {
        Icmpv6Message(self.buffer.as_ref()[field::TYPE])
    }

    /// Message code.
    pub fn msg_code(&self) -> u8 {
        self.buffer.as_ref()[field::CODE]
    }

    /// Checksum field.
    pub fn checksum(&self) -> u16 {
        let b = &self.buffer.as_ref()[field::CHECKSUM];
        u16::from_be_bytes([b[0], b[1]])
    }

    /// The message-specific word (bytes 4..8): the MTU of a packet too big, the pointer of a
    /// parameter problem, identifier and sequence of an echo, flags of an advertisement.
    pub fn word(&self) -> u32 {
        let b = &self.buffer.as_ref()[field::WORD];
        u32::from_be_bytes([b[0], b[1], b[2], b[3]])
    }

    /// Echo identifier (bytes 4..6).
    pub fn echo_ident(&self) -> u16 {
        (self.word() >> 16) as u16
    }

    /// Echo sequence number (bytes 6..8).
    pub fn echo_seq_no(&self) -> u16 {
        self.word() as u16
    }

    /// Everything after the 8-byte header.
    pub fn data(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..]
    }

    /// True if the checksum over the pseudo-header (`src`, `dst`) and the whole message
    /// verifies. Linux: `csum_ipv6_magic` in `icmpv6_rcv`.
    pub fn verify_checksum(&self, src: &Ipv6Addr, dst: &Ipv6Addr) -> bool {
        let b = self.buffer.as_ref();
        let ph = checksum::pseudo_header_v6(src, dst, IpProtocol::ICMPV6.0, b.len() as u32);
        checksum::fold(checksum::sum(b, ph)) == 0xffff
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Icmpv6Packet<&'a T> {
    /// [`Icmpv6Packet::data`] with the lifetime of the underlying buffer.
    pub fn data_ref(&self) -> &'a [u8] {
        &self.buffer.as_ref()[HEADER_LEN..]
    }

    /// The whole message with the lifetime of the underlying buffer.
    pub fn bytes_ref(&self) -> &'a [u8] {
        self.buffer.as_ref()
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Icmpv6Packet<T> {
    /// Sets the message type.
    pub fn set_msg_type(&mut self, t: Icmpv6Message) {
        self.buffer.as_mut()[field::TYPE] = t.0;
    }

    /// Sets the message code.
    pub fn set_msg_code(&mut self, code: u8) {
        self.buffer.as_mut()[field::CODE] = code;
    }

    /// Sets the checksum field.
    pub fn set_checksum(&mut self, c: u16) {
        self.buffer.as_mut()[field::CHECKSUM].copy_from_slice(&c.to_be_bytes());
    }

    /// Sets the message-specific word (bytes 4..8).
    pub fn set_word(&mut self, v: u32) {
        self.buffer.as_mut()[field::WORD].copy_from_slice(&v.to_be_bytes());
    }

    /// Computes the checksum over the pseudo-header and the whole buffer and stores it.
    /// Linux: `icmpv6_push_pending_frames`' `csum_ipv6_magic`.
    pub fn fill_checksum(&mut self, src: &Ipv6Addr, dst: &Ipv6Addr) {
        self.set_checksum(0);
        let b = self.buffer.as_ref();
        let ph = checksum::pseudo_header_v6(src, dst, IpProtocol::ICMPV6.0, b.len() as u32);
        let c = !checksum::fold(checksum::sum(b, ph));
        self.set_checksum(c);
    }

    /// The data after the 8-byte header, writable.
    pub fn data_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[HEADER_LEN..]
    }
}

/// The parsed form of an ICMPv6 message, borrowing its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Icmpv6Repr<'a> {
    /// Destination unreachable (type 1).
    DstUnreachable {
        /// One of [`dst_unreachable`].
        code: u8,
        /// As much of the offending packet as fits, its IPv6 header first.
        data: &'a [u8],
    },
    /// Packet too big (type 2).
    PacketTooBig {
        /// The MTU of the next-hop link.
        mtu: u32,
        /// As much of the offending packet as fits, its IPv6 header first.
        data: &'a [u8],
    },
    /// Time exceeded (type 3).
    TimeExceeded {
        /// One of [`time_exceeded`].
        code: u8,
        /// As much of the offending packet as fits, its IPv6 header first.
        data: &'a [u8],
    },
    /// Parameter problem (type 4).
    ParamProblem {
        /// One of [`param_problem`].
        code: u8,
        /// Offset of the erroneous byte within the offending packet.
        pointer: u32,
        /// As much of the offending packet as fits, its IPv6 header first.
        data: &'a [u8],
    },
    /// Echo request (type 128).
    EchoRequest {
        /// Identifier.
        ident: u16,
        /// Sequence number.
        seq_no: u16,
        /// Echo data.
        data: &'a [u8],
    },
    /// Echo reply (type 129).
    EchoReply {
        /// Identifier.
        ident: u16,
        /// Sequence number.
        seq_no: u16,
        /// Echo data.
        data: &'a [u8],
    },
    /// A neighbour discovery message (types 133-137).
    Ndisc(NdiscRepr<'a>),
    /// A multicast listener discovery message (types 130-132, 143).
    Mld(MldRepr<'a>),
    /// Any other message: type, code and the data after the 8-byte header (an unknown
    /// error type still quotes a packet, which Linux hands to the upper layer).
    Other {
        /// Message type.
        msg_type: u8,
        /// Message code.
        code: u8,
        /// The data after the header.
        data: &'a [u8],
    },
}

impl<'a> Icmpv6Repr<'a> {
    /// Reads a message sent from `src` to `dst`, verifying its checksum
    /// ([`WireError::Checksum`]; Linux counts `ICMP6_MIB_CSUMERRORS`).
    ///
    /// Error messages must quote at least an IPv6 header ([`WireError::Malformed`]; Linux:
    /// the `pskb_may_pull(skb, sizeof(struct ipv6hdr))` of `icmpv6_notify`). Neighbour
    /// discovery and MLD messages are parsed by [`NdiscRepr::parse`] and [`MldRepr::parse`];
    /// types nobody handles become [`Icmpv6Repr::Other`].
    pub fn parse<T: AsRef<[u8]> + ?Sized>(
        src: &Ipv6Addr,
        dst: &Ipv6Addr,
        packet: &Icmpv6Packet<&'a T>,
    ) -> Result<Icmpv6Repr<'a>> {
        let bytes = packet.bytes_ref();
        if bytes.len() < HEADER_LEN {
            return Err(WireError::Truncated);
        }
        if !packet.verify_checksum(src, dst) {
            return Err(WireError::Checksum);
        }
        let t = packet.msg_type();
        let code = packet.msg_code();
        let data = packet.data_ref();
        if t.is_error() && data.len() < ipv6::HEADER_LEN {
            return Err(WireError::Malformed);
        }
        Ok(match t {
            Icmpv6Message::DST_UNREACHABLE => Icmpv6Repr::DstUnreachable { code, data },
            Icmpv6Message::PKT_TOO_BIG => Icmpv6Repr::PacketTooBig {
                mtu: packet.word(),
                data,
            },
            Icmpv6Message::TIME_EXCEEDED => Icmpv6Repr::TimeExceeded { code, data },
            Icmpv6Message::PARAM_PROBLEM => Icmpv6Repr::ParamProblem {
                code,
                pointer: packet.word(),
                data,
            },
            Icmpv6Message::ECHO_REQUEST => Icmpv6Repr::EchoRequest {
                ident: packet.echo_ident(),
                seq_no: packet.echo_seq_no(),
                data,
            },
            Icmpv6Message::ECHO_REPLY => Icmpv6Repr::EchoReply {
                ident: packet.echo_ident(),
                seq_no: packet.echo_seq_no(),
                data,
            },
            t if t.is_ndisc() => Icmpv6Repr::Ndisc(NdiscRepr::parse(bytes)?),
            Icmpv6Message::MLD_QUERY
            | Icmpv6Message::MLD_REPORT
            | Icmpv6Message::MLD_DONE
            | Icmpv6Message::MLD2_REPORT => Icmpv6Repr::Mld(MldRepr::parse(bytes)?),
            Icmpv6Message(msg_type) => Icmpv6Repr::Other {
                msg_type,
                code,
                data,
            },
        })
    }

    /// The message type this representation emits.
    pub fn msg_type(&self) -> Icmpv6Message {
        match *self {
            Icmpv6Repr::DstUnreachable { .. } => Icmpv6Message::DST_UNREACHABLE,
            Icmpv6Repr::PacketTooBig { .. } => Icmpv6Message::PKT_TOO_BIG,
            Icmpv6Repr::TimeExceeded { .. } => Icmpv6Message::TIME_EXCEEDED,
            Icmpv6Repr::ParamProblem { .. } => Icmpv6Message::PARAM_PROBLEM,
            Icmpv6Repr::EchoRequest { .. } => Icmpv6Message::ECHO_REQUEST,
            Icmpv6Repr::EchoReply { .. } => Icmpv6Message::ECHO_REPLY,
            Icmpv6Repr::Ndisc(n) => n.msg_type(),
            Icmpv6Repr::Mld(m) => m.msg_type(),
            Icmpv6Repr::Other { msg_type, .. } => Icmpv6Message(msg_type),
        }
    }

    fn header_and_data(&self) -> (u8, u32, &'a [u8]) {
        match *self {
            Icmpv6Repr::DstUnreachable { code, data } | Icmpv6Repr::TimeExceeded { code, data } => {
                (code, 0, data)
            }
            Icmpv6Repr::PacketTooBig { mtu, data } => (0, mtu, data),
            Icmpv6Repr::ParamProblem {
                code,
                pointer,
                data,
            } => (code, pointer, data),
            Icmpv6Repr::EchoRequest {
                ident,
                seq_no,
                data,
            }
            | Icmpv6Repr::EchoReply {
                ident,
                seq_no,
                data,
            } => (0, u32::from(ident) << 16 | u32::from(seq_no), data),
            Icmpv6Repr::Other { code, data, .. } => (code, 0, data),
            Icmpv6Repr::Ndisc(_) | Icmpv6Repr::Mld(_) => (0, 0, &[]),
        }
    }

    /// Length of the message [`Icmpv6Repr::emit`] writes.
    pub fn buffer_len(&self) -> usize {
        match self {
            Icmpv6Repr::Ndisc(n) => n.buffer_len(),
            Icmpv6Repr::Mld(m) => m.buffer_len(),
            _ => HEADER_LEN + self.header_and_data().2.len(),
        }
    }

    /// Writes the message, checksum included (over the pseudo-header of `src` → `dst`), into
    /// the first [`buffer_len`](Icmpv6Repr::buffer_len) bytes of `buf`. Error data longer than
    /// [`MAX_ERROR_DATA_LEN`] is the caller's to cut (Linux: `icmp6_send`).
    pub fn emit(&self, src: &Ipv6Addr, dst: &Ipv6Addr, buf: &mut [u8]) {
        let len = self.buffer_len();
        let buf = &mut buf[..len];
        match self {
            Icmpv6Repr::Ndisc(n) => n.emit(buf),
            Icmpv6Repr::Mld(m) => m.emit(buf),
            _ => {
                let (code, word, data) = self.header_and_data();
                let mut p = Icmpv6Packet::new_unchecked(&mut *buf);
                p.set_msg_type(self.msg_type());
                p.set_msg_code(code);
                p.set_word(word);
                p.data_mut().copy_from_slice(data);
            }
        }
        Icmpv6Packet::new_unchecked(buf).fill_checksum(src, dst);
    }
}

#[cfg(test)]
mod tests {
    use super::super::captures::*;
    use super::super::ipv6::Ipv6Packet;
    use super::*;
    use proptest::prelude::*;

    fn split(hex: &str) -> (Ipv6Addr, Ipv6Addr, Vec<u8>) {
        let f = from_hex(hex);
        let p = Ipv6Packet::new_checked(&f[..]).unwrap();
        (p.src_addr(), p.dst_addr(), p.payload().to_vec())
    }

    #[test]
    fn echo_request_and_reply_from_linux() {
        let (s, d, m) = split(ECHO6_REQUEST);
        let p = Icmpv6Packet::new_checked(&m[..]).unwrap();
        let r = Icmpv6Repr::parse(&s, &d, &p).unwrap();
        let data: Vec<u8> = (0x10..0x30).collect();
        assert_eq!(
            r,
            Icmpv6Repr::EchoRequest {
                ident: 0x1234,
                seq_no: 1,
                data: &data
            }
        );
        let mut out = vec![0u8; r.buffer_len()];
        r.emit(&s, &d, &mut out);
        assert_eq!(out, m, "emit reproduces Linux's bytes, checksum included");

        let (s2, d2, reply) = split(ECHO6_REPLY);
        let answer = Icmpv6Repr::EchoReply {
            ident: 0x1234,
            seq_no: 1,
            data: &data,
        };
        let mut out = vec![0u8; answer.buffer_len()];
        answer.emit(&s2, &d2, &mut out);
        assert_eq!(out, reply, "our reply is Linux's reply");
    }

    #[test]
    fn port_unreachable_from_linux() {
        let (s, d, m) = split(PORT_UNREACH6);
        assert_eq!(m.len(), ipv6::MIN_MTU - ipv6::HEADER_LEN);
        let p = Icmpv6Packet::new_checked(&m[..]).unwrap();
        match Icmpv6Repr::parse(&s, &d, &p).unwrap() {
            Icmpv6Repr::DstUnreachable { code, data } => {
                assert_eq!(code, dst_unreachable::PORT_UNREACH);
                assert_eq!(
                    data.len(),
                    MAX_ERROR_DATA_LEN,
                    "Linux fills the minimum MTU"
                );
                let q = Ipv6Packet::new_unchecked(data);
                assert_eq!(
                    q.src_addr(),
                    d,
                    "the quoted packet came from the error's target"
                );
                assert_eq!(
                    q.next_header(),
                    IpProtocol::UDP,
                    "reassembled: no fragment header"
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn checksum_covers_the_pseudo_header() {
        let (s, d, mut m) = split(ECHO6_REQUEST);
        let p = Icmpv6Packet::new_checked(&m[..]).unwrap();
        assert!(p.verify_checksum(&s, &d));
        let other: Ipv6Addr = "2001:db8::3".parse().unwrap();
        assert!(!p.verify_checksum(&s, &other), "another destination");
        assert_eq!(
            Icmpv6Repr::parse(&s, &other, &p).unwrap_err(),
            WireError::Checksum
        );
        m[20] ^= 1;
        let p = Icmpv6Packet::new_checked(&m[..]).unwrap();
        assert_eq!(
            Icmpv6Repr::parse(&s, &d, &p).unwrap_err(),
            WireError::Checksum
        );
    }

    #[test]
    fn errors_must_quote_a_header() {
        let (s, d): (Ipv6Addr, Ipv6Addr) = (
            "2001:db8::1".parse().unwrap(),
            "2001:db8::2".parse().unwrap(),
        );
        let quoted = [0x60u8; 39];
        let r = Icmpv6Repr::PacketTooBig {
            mtu: 1280,
            data: &quoted,
        };
        let mut b = vec![0u8; r.buffer_len()];
        r.emit(&s, &d, &mut b);
        let p = Icmpv6Packet::new_checked(&b[..]).unwrap();
        assert_eq!(
            Icmpv6Repr::parse(&s, &d, &p).unwrap_err(),
            WireError::Malformed
        );
        let quoted = [0x60u8; 48];
        let r = Icmpv6Repr::ParamProblem {
            code: param_problem::UNK_OPTION,
            pointer: 42,
            data: &quoted,
        };
        let mut b = vec![0u8; r.buffer_len()];
        r.emit(&s, &d, &mut b);
        let p = Icmpv6Packet::new_checked(&b[..]).unwrap();
        assert_eq!(Icmpv6Repr::parse(&s, &d, &p).unwrap(), r);
        assert_eq!(&b[4..8], &[0, 0, 0, 42]);
    }

    proptest! {
        #[test]
        fn arbitrary_messages_never_panic(mut b in proptest::collection::vec(any::<u8>(), 0..160),
                                          ty in any::<u8>()) {
            let s: Ipv6Addr = "fe80::1".parse().unwrap();
            let d: Ipv6Addr = "ff02::1".parse().unwrap();
            if b.len() >= 4 {
                // Make most inputs pass the checksum so the parsers behind it run.
                b[0] = ty;
                Icmpv6Packet::new_unchecked(&mut b[..]).fill_checksum(&s, &d);
            }
            if let Ok(p) = Icmpv6Packet::new_checked(&b[..]) {
                if let Ok(r) = Icmpv6Repr::parse(&s, &d, &p) {
                    // What was parsed emits to something that parses back the same.
                    let mut out = vec![0u8; r.buffer_len()];
                    r.emit(&s, &d, &mut out);
                    let q = Icmpv6Packet::new_checked(&out[..]).unwrap();
                    prop_assert_eq!(Icmpv6Repr::parse(&s, &d, &q).unwrap(), r);
                }
            }
        }
    }
}
