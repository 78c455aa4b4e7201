//! IPv4 headers (RFC 791) and address prefixes.
//!
//! Linux: `struct iphdr` (include/uapi/linux/ip.h).
//!
//! Options are never interpreted: the header length (IHL) is honoured so that they are
//! skipped, and [`Ipv4Packet::options`] exposes their raw bytes.

use super::checksum;
use super::{Result, WireError};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

/// Length of an IPv4 header without options (IHL 5).
pub const HEADER_LEN: usize = 20;

/// Largest IPv4 header (IHL 15).
pub const MAX_HEADER_LEN: usize = 60;

/// An IP protocol number (Linux: `IPPROTO_*`, include/uapi/linux/in.h).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IpProtocol(pub u8);

impl IpProtocol {
    /// ICMP (`IPPROTO_ICMP`).
    pub const ICMP: IpProtocol = IpProtocol(1);
    /// TCP (`IPPROTO_TCP`).
    pub const TCP: IpProtocol = IpProtocol(6);
    /// UDP (`IPPROTO_UDP`).
    pub const UDP: IpProtocol = IpProtocol(17);
    /// IPv6 hop-by-hop options header (`IPPROTO_HOPOPTS`, `NEXTHDR_HOP`).
    pub const HOPOPTS: IpProtocol = IpProtocol(0);
    /// IPv6 routing header (`IPPROTO_ROUTING`, `NEXTHDR_ROUTING`).
    pub const ROUTING: IpProtocol = IpProtocol(43);
    /// IPv6 fragment header (`IPPROTO_FRAGMENT`, `NEXTHDR_FRAGMENT`).
    pub const FRAGMENT: IpProtocol = IpProtocol(44);
    /// Encapsulating security payload (`IPPROTO_ESP`).
    pub const ESP: IpProtocol = IpProtocol(50);
    /// Authentication header (`IPPROTO_AH`, `NEXTHDR_AUTH`).
    pub const AH: IpProtocol = IpProtocol(51);
    /// ICMP for IPv6 (`IPPROTO_ICMPV6`).
    pub const ICMPV6: IpProtocol = IpProtocol(58);
    /// No next header (`IPPROTO_NONE`, `NEXTHDR_NONE`).
    pub const NONE: IpProtocol = IpProtocol(59);
    /// IPv6 destination options header (`IPPROTO_DSTOPTS`, `NEXTHDR_DEST`).
    pub const DSTOPTS: IpProtocol = IpProtocol(60);
}

impl fmt::Display for IpProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            IpProtocol::ICMP => f.write_str("icmp"),
            IpProtocol::TCP => f.write_str("tcp"),
            IpProtocol::UDP => f.write_str("udp"),
            IpProtocol(n) => write!(f, "{n}"),
        }
    }
}

impl From<u8> for IpProtocol {
    fn from(n: u8) -> Self {
        IpProtocol(n)
    }
}

/// An IPv4 address with a prefix length, e.g. `192.0.2.1/24`.
///
/// Linux: an `ifa_address`/`ifa_prefixlen` pair (`struct in_ifaddr`) or a route's
/// `rtm_dst_len`. `prefix_len` is at most 32; [`Ipv4Cidr::new`] and deserialization enforce it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "Ipv4CidrFields")]
pub struct Ipv4Cidr {
    /// The address (host bits may be set).
    pub addr: Ipv4Addr,
    /// Number of leading network bits, 0..=32.
    pub prefix_len: u8,
}

/// Same shape as [`Ipv4Cidr`], used to validate `prefix_len` when deserializing.
#[derive(Deserialize)]
struct Ipv4CidrFields {
    addr: Ipv4Addr,
    prefix_len: u8,
}

impl TryFrom<Ipv4CidrFields> for Ipv4Cidr {
    type Error = String;
    fn try_from(f: Ipv4CidrFields) -> std::result::Result<Self, String> {
        Ipv4Cidr::new(f.addr, f.prefix_len)
            .ok_or_else(|| format!("prefix length {} is greater than 32", f.prefix_len))
    }
}

impl Ipv4Cidr {
    /// `addr/prefix_len`, or `None` if `prefix_len > 32`.
    pub fn new(addr: Ipv4Addr, prefix_len: u8) -> Option<Ipv4Cidr> {
        if prefix_len > 32 {
            return None;
        }
        Some(Ipv4Cidr { addr, prefix_len })
    }

    fn mask_bits(&self) -> u32 {
        let p = u32::from(self.prefix_len.min(32));
        u32::MAX.checked_shl(32 - p).unwrap_or(0)
    }

    /// The netmask, e.g. 255.255.255.0 for /24. Linux: `inet_make_mask`.
    pub fn netmask(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.mask_bits())
    }

    /// The prefix with host bits cleared, e.g. 192.0.2.0/24 for 192.0.2.1/24.
    pub fn network(&self) -> Ipv4Cidr {
        Ipv4Cidr {
            addr: Ipv4Addr::from(u32::from(self.addr) & self.mask_bits()),
            prefix_len: self.prefix_len,
        }
    }

    /// The directed broadcast address, or `None` for /31 (RFC 3021) and /32 which have none.
    pub fn broadcast(&self) -> Option<Ipv4Addr> {
        if self.prefix_len >= 31 {
            return None;
        }
        Some(Ipv4Addr::from(u32::from(self.addr) | !self.mask_bits()))
    }

    /// True if `a` lies within this prefix. Linux: `inet_ifa_match`.
    pub fn contains(&self, a: Ipv4Addr) -> bool {
        let m = self.mask_bits();
        u32::from(a) & m == u32::from(self.addr) & m
    }
}

impl fmt::Display for Ipv4Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix_len)
    }
}

impl FromStr for Ipv4Cidr {
    type Err = String;
    /// Accepts `a.b.c.d/n` and a bare `a.b.c.d` (meaning /32).
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let (a, p) = super::split_cidr(s);
        let addr: Ipv4Addr = a
            .parse()
            .map_err(|_| format!("invalid IPv4 address \"{a}\" in \"{s}\""))?;
        let prefix_len = super::parse_prefix_len(s, p, 32)?;
        Ok(Ipv4Cidr { addr, prefix_len })
    }
}

mod field {
    pub const VER_IHL: usize = 0;
    pub const TOS: usize = 1;
    pub const LENGTH: std::ops::Range<usize> = 2..4;
    pub const IDENT: std::ops::Range<usize> = 4..6;
    pub const FLG_OFF: std::ops::Range<usize> = 6..8;
    pub const TTL: usize = 8;
    pub const PROTOCOL: usize = 9;
    pub const CHECKSUM: std::ops::Range<usize> = 10..12;
    pub const SRC: std::ops::Range<usize> = 12..16;
    pub const DST: std::ops::Range<usize> = 16..20;
}

const FLAG_DF: u16 = 0x4000;
const FLAG_MF: u16 = 0x2000;
const OFFSET_MASK: u16 = 0x1fff;

/// A view of an IPv4 packet over a byte buffer.
///
/// Linux: `struct iphdr` (include/uapi/linux/ip.h).
///
/// The buffer may be longer than the packet's total length (e.g. Ethernet padding): the
/// payload ends at `total_len`, not at the end of the buffer.
#[derive(Debug, Clone)]
pub struct Ipv4Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Ipv4Packet<T> {
    /// Wraps `buffer` without checking it; getters may panic on a short or malformed buffer.
    pub fn new_unchecked(buffer: T) -> Self {
        Ipv4Packet { buffer }
    }

    /// Wraps `buffer`, checking that the header and total lengths are consistent with it.
    ///
    /// [`WireError::Truncated`] if the buffer is shorter than 20 bytes, the header length or
    /// the total length; [`WireError::Malformed`] if the version is not 4, IHL is below 5 or
    /// the total length is below the header length. The checksum is not checked here.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let p = Ipv4Packet { buffer };
        p.check()?;
        Ok(p)
    }

    /// The checks of [`Ipv4Packet::new_checked`] on an already wrapped buffer.
    pub fn check(&self) -> Result<()> {
        let b = self.buffer.as_ref();
        if b.len() < HEADER_LEN {
            return Err(WireError::Truncated);
        }
        if self.version() != 4 {
            return Err(WireError::Malformed);
        }
        let hl = self.header_len();
        if hl < HEADER_LEN {
            return Err(WireError::Malformed);
        }
        if b.len() < hl {
            return Err(WireError::Truncated);
        }
        let tl = usize::from(self.total_len());
        if tl < hl {
            return Err(WireError::Malformed);
        }
        if b.len() < tl {
            return Err(WireError::Truncated);
        }
        Ok(())
    }

    /// The wrapped buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// IP version (4).
    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[field::VER_IHL] >> 4
    }

    /// Header length in bytes (IHL × 4).
    pub fn header_len(&self) -> usize {
        usize::from(self.buffer.as_ref()[field::VER_IHL] & 0x0f) * 4
    }

    /// The whole type-of-service byte (DSCP and ECN).
    pub fn tos(&self) -> u8 {
        self.buffer.as_ref()[field::TOS]
    }

    /// Differentiated services code point (upper 6 bits of the TOS byte).
    pub fn dscp(&self) -> u8 {
        self.tos() >> 2
    }

    /// Explicit congestion notification (lower 2 bits of the TOS byte).
    pub fn ecn(&self) -> u8 {
        self.tos() & 0x03
    }

    /// Total length of header plus payload, in bytes.
    pub fn total_len(&self) -> u16 {
        self.read_u16(field::LENGTH)
    }

    /// Identification.
    pub fn ident(&self) -> u16 {
        self.read_u16(field::IDENT)
    }

    /// The don't-fragment flag (Linux: `IP_DF`).
    pub fn dont_frag(&self) -> bool {
        self.read_u16(field::FLG_OFF) & FLAG_DF != 0
    }

    /// The more-fragments flag (Linux: `IP_MF`).
    pub fn more_frags(&self) -> bool {
        self.read_u16(field::FLG_OFF) & FLAG_MF != 0
    }

    /// The reserved ("evil") flag bit, which senders must leave clear (Linux: `IP_CE`, the
    /// 0x8000 of `frag_off`).
    pub fn reserved_flag(&self) -> bool {
        self.read_u16(field::FLG_OFF) & 0x8000 != 0
    }

    /// Fragment offset in bytes (the 13-bit field × 8).
    pub fn frag_offset(&self) -> usize {
        usize::from(self.read_u16(field::FLG_OFF) & OFFSET_MASK) * 8
    }

    /// True if this is a fragment: more-fragments set or a non-zero offset
    /// (Linux: `ip_is_fragment`).
    pub fn is_fragment(&self) -> bool {
        self.read_u16(field::FLG_OFF) & (FLAG_MF | OFFSET_MASK) != 0
    }

    /// Time to live.
    pub fn ttl(&self) -> u8 {
        self.buffer.as_ref()[field::TTL]
    }

    /// Payload protocol.
    pub fn protocol(&self) -> IpProtocol {
        IpProtocol(self.buffer.as_ref()[field::PROTOCOL])
    }

    /// Header checksum field.
    pub fn checksum(&self) -> u16 {
        self.read_u16(field::CHECKSUM)
    }

    /// Source address.
    pub fn src_addr(&self) -> Ipv4Addr {
        let b = &self.buffer.as_ref()[field::SRC];
        Ipv4Addr::new(b[0], b[1], b[2], b[3])
    }

    /// Destination address.
    pub fn dst_addr(&self) -> Ipv4Addr {
        let b = &self.buffer.as_ref()[field::DST];
        Ipv4Addr::new(b[0], b[1], b[2], b[3])
    }

    /// The raw option bytes (bytes 20 up to the header length); never interpreted.
    pub fn options(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..self.header_len()]
    }

    /// The header, options included.
    pub fn header(&self) -> &[u8] {
        &self.buffer.as_ref()[..self.header_len()]
    }

    /// The payload: from the end of the header up to the total length (trailing link-layer
    /// padding excluded).
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[self.header_len()..usize::from(self.total_len())]
    }

    /// True if the header checksum verifies. Linux: `ip_fast_csum(iph, iph->ihl) == 0`.
    pub fn verify_checksum(&self) -> bool {
        checksum::verify(self.header())
    }

    fn read_u16(&self, r: std::ops::Range<usize>) -> u16 {
        let b = &self.buffer.as_ref()[r];
        u16::from_be_bytes([b[0], b[1]])
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv4Packet<T> {
    fn write_u16(&mut self, r: std::ops::Range<usize>, v: u16) {
        self.buffer.as_mut()[r].copy_from_slice(&v.to_be_bytes());
    }

    /// Sets the version nibble.
    pub fn set_version(&mut self, v: u8) {
        let b = &mut self.buffer.as_mut()[field::VER_IHL];
        *b = (*b & 0x0f) | (v << 4);
    }

    /// Sets the header length in bytes (stored as IHL = `len / 4`; `len` should be a multiple
    /// of 4 between 20 and 60).
    pub fn set_header_len(&mut self, len: usize) {
        let b = &mut self.buffer.as_mut()[field::VER_IHL];
        *b = (*b & 0xf0) | ((len / 4) as u8 & 0x0f);
    }

    /// Sets the whole type-of-service byte.
    pub fn set_tos(&mut self, tos: u8) {
        self.buffer.as_mut()[field::TOS] = tos;
    }

    /// Sets DSCP (6 bits) and ECN (2 bits).
    pub fn set_dscp_ecn(&mut self, dscp: u8, ecn: u8) {
        self.set_tos((dscp << 2) | (ecn & 0x03));
    }

    /// Sets the total length.
    pub fn set_total_len(&mut self, len: u16) {
        self.write_u16(field::LENGTH, len);
    }

    /// Sets the identification.
    pub fn set_ident(&mut self, id: u16) {
        self.write_u16(field::IDENT, id);
    }

    /// Sets the flags and the fragment offset (in bytes; should be a multiple of 8).
    pub fn set_flags_frag(&mut self, dont_frag: bool, more_frags: bool, frag_offset: usize) {
        let mut v = ((frag_offset / 8) as u16) & OFFSET_MASK;
        if dont_frag {
            v |= FLAG_DF;
        }
        if more_frags {
            v |= FLAG_MF;
        }
        self.write_u16(field::FLG_OFF, v);
    }

    /// Sets the time to live.
    pub fn set_ttl(&mut self, ttl: u8) {
        self.buffer.as_mut()[field::TTL] = ttl;
    }

    /// Sets the payload protocol.
    pub fn set_protocol(&mut self, p: IpProtocol) {
        self.buffer.as_mut()[field::PROTOCOL] = p.0;
    }

    /// Sets the checksum field.
    pub fn set_checksum(&mut self, c: u16) {
        self.write_u16(field::CHECKSUM, c);
    }

    /// Sets the source address.
    pub fn set_src_addr(&mut self, a: Ipv4Addr) {
        self.buffer.as_mut()[field::SRC].copy_from_slice(&a.octets());
    }

    /// Sets the destination address.
    pub fn set_dst_addr(&mut self, a: Ipv4Addr) {
        self.buffer.as_mut()[field::DST].copy_from_slice(&a.octets());
    }

    /// Computes the header checksum over `header_len` bytes and stores it.
    /// Linux: `ip_send_check`.
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let c = checksum::checksum(self.header());
        self.set_checksum(c);
    }

    /// Decrements the TTL and patches the checksum incrementally (RFC 1624).
    /// Linux: `ip_decrease_ttl`. Returns the new TTL.
    pub fn decrease_ttl(&mut self) -> u8 {
        let old_word = self.read_u16(field::TTL..field::PROTOCOL + 1);
        let ttl = self.ttl().wrapping_sub(1);
        self.set_ttl(ttl);
        let new_word = self.read_u16(field::TTL..field::PROTOCOL + 1);
        let c = checksum::update16(self.checksum(), old_word, new_word);
        self.set_checksum(c);
        ttl
    }

    /// Sets ECN to CE (congestion experienced) and patches the checksum incrementally
    /// (RFC 1624). Linux: the `IP_ECN_set_ce` rewrite, without its ECN-capable test (the
    /// caller makes it: a Not-ECT packet must not be marked).
    pub fn set_ecn_ce(&mut self) {
        let old_word = self.read_u16(field::VER_IHL..field::TOS + 1);
        let tos = self.tos() | 0x03;
        self.set_tos(tos);
        let new_word = self.read_u16(field::VER_IHL..field::TOS + 1);
        let c = checksum::update16(self.checksum(), old_word, new_word);
        self.set_checksum(c);
    }

    /// The options, writable.
    pub fn options_mut(&mut self) -> &mut [u8] {
        let hl = self.header_len();
        &mut self.buffer.as_mut()[HEADER_LEN..hl]
    }

    /// The payload (header end to total length), writable.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let hl = self.header_len();
        let tl = usize::from(self.total_len());
        &mut self.buffer.as_mut()[hl..tl]
    }
}

/// The parsed form of an IPv4 header (options dropped).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Repr {
    /// Source address.
    pub src_addr: Ipv4Addr,
    /// Destination address.
    pub dst_addr: Ipv4Addr,
    /// Payload protocol.
    pub protocol: IpProtocol,
    /// Payload length in bytes (total length minus header length).
    pub payload_len: usize,
    /// Time to live.
    pub ttl: u8,
    /// Type of service byte (DSCP and ECN).
    pub tos: u8,
    /// Identification.
    pub ident: u16,
    /// Don't-fragment flag.
    pub dont_frag: bool,
}

impl Ipv4Repr {
    /// Reads the header of a packet, re-running the length checks and verifying the header
    /// checksum ([`WireError::Checksum`] if it fails). Fragments are accepted; the
    /// more-fragments flag and offset are not represented and must be read from the packet.
    pub fn parse<T: AsRef<[u8]>>(packet: &Ipv4Packet<T>) -> Result<Ipv4Repr> {
        packet.check()?;
        if !packet.verify_checksum() {
            return Err(WireError::Checksum);
        }
        Ok(Ipv4Repr {
            src_addr: packet.src_addr(),
            dst_addr: packet.dst_addr(),
            protocol: packet.protocol(),
            payload_len: usize::from(packet.total_len()) - packet.header_len(),
            ttl: packet.ttl(),
            tos: packet.tos(),
            ident: packet.ident(),
            dont_frag: packet.dont_frag(),
        })
    }

    /// Length of the header [`Ipv4Repr::emit`] writes: always [`HEADER_LEN`] (no options).
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Writes a 20-byte header (version 4, IHL 5, total length `20 + payload_len`, no
    /// fragmentation, checksum filled) into the first [`HEADER_LEN`] bytes of `buf`.
    ///
    /// `buf` is the header region only and must be at least [`HEADER_LEN`] bytes long; bytes
    /// past the header are not touched. `payload_len` must not exceed `65535 - 20`.
    pub fn emit(&self, buf: &mut [u8]) {
        let mut p = Ipv4Packet::new_unchecked(&mut buf[..HEADER_LEN]);
        p.set_version(4);
        p.set_header_len(HEADER_LEN);
        p.set_tos(self.tos);
        p.set_total_len((HEADER_LEN + self.payload_len) as u16);
        p.set_ident(self.ident);
        p.set_flags_frag(self.dont_frag, false, 0);
        p.set_ttl(self.ttl);
        p.set_protocol(self.protocol);
        p.set_src_addr(self.src_addr);
        p.set_dst_addr(self.dst_addr);
        p.fill_checksum();
    }
}

#[cfg(test)]
mod tests {
    use super::super::captures::*;
    use super::*;
    use proptest::prelude::*;

    const A1: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
    const A2: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);

    #[test]
    fn echo_request_fields() {
        let p = Ipv4Packet::new_checked(&ECHO_REQUEST[..]).unwrap();
        assert_eq!(p.version(), 4);
        assert_eq!(p.header_len(), 20);
        assert_eq!(p.dscp(), 0);
        assert_eq!(p.ecn(), 0);
        assert_eq!(p.total_len(), 60);
        assert_eq!(p.ident(), 0x2669);
        assert!(p.dont_frag());
        assert!(!p.more_frags());
        assert_eq!(p.frag_offset(), 0);
        assert!(!p.is_fragment());
        assert_eq!(p.ttl(), 64);
        assert_eq!(p.protocol(), IpProtocol::ICMP);
        assert_eq!(p.checksum(), 0x9054);
        assert_eq!(p.src_addr(), A1);
        assert_eq!(p.dst_addr(), A2);
        assert!(p.options().is_empty());
        assert_eq!(p.header(), &ECHO_REQUEST[..20]);
        assert_eq!(p.payload(), &ECHO_REQUEST[20..]);
        assert!(p.verify_checksum());
    }

    #[test]
    fn captured_packets_round_trip() {
        for pkt in [
            &ECHO_REQUEST[..],
            &ECHO_REPLY[..],
            &UDP_CLOSED[..],
            &PORT_UNREACH[..],
        ] {
            let p = Ipv4Packet::new_checked(pkt).unwrap();
            let r = Ipv4Repr::parse(&p).unwrap();
            assert_eq!(r.payload_len, pkt.len() - 20);
            let mut out = vec![0u8; r.buffer_len() + r.payload_len];
            r.emit(&mut out);
            out[20..].copy_from_slice(p.payload());
            assert_eq!(out, pkt);
        }
    }

    #[test]
    fn echo_reply_and_port_unreachable_reprs() {
        let r = Ipv4Repr::parse(&Ipv4Packet::new_checked(&ECHO_REPLY[..]).unwrap()).unwrap();
        assert_eq!(
            r,
            Ipv4Repr {
                src_addr: A2,
                dst_addr: A1,
                protocol: IpProtocol::ICMP,
                payload_len: 40,
                ttl: 64,
                tos: 0,
                ident: 0x04a5,
                dont_frag: false,
            }
        );
        let p = Ipv4Packet::new_checked(&PORT_UNREACH[..]).unwrap();
        // Linux sends ICMP errors with TOS 0xc0 (DSCP CS6, "internetwork control").
        assert_eq!(p.dscp(), 0x30);
        assert_eq!(p.ecn(), 0);
        let r = Ipv4Repr::parse(&p).unwrap();
        assert_eq!(r.tos, 0xc0);
        assert_eq!(r.protocol, IpProtocol::ICMP);
        assert_eq!(r.payload_len, 54);
        let u = Ipv4Repr::parse(&Ipv4Packet::new_checked(&UDP_CLOSED[..]).unwrap()).unwrap();
        assert_eq!(u.protocol, IpProtocol::UDP);
        assert!(u.dont_frag);
        assert_eq!(u.payload_len, 26);
    }

    #[test]
    fn options_are_skipped() {
        for pkt in [&RR_ECHO_REQUEST[..], &RR_ECHO_REPLY[..]] {
            let p = Ipv4Packet::new_checked(pkt).unwrap();
            assert_eq!(p.header_len(), 60);
            assert_eq!(p.total_len(), 77);
            assert!(p.verify_checksum());
            let opts = p.options();
            assert_eq!(opts.len(), 40);
            // Record route (type 7, length 39), then an end-of-list/NOP pad byte.
            assert_eq!(&opts[..2], &[7, 39]);
            assert_eq!(p.payload().len(), 17);
            assert_eq!(
                &p.payload()[..2],
                &[8 * u8::from(pkt == &RR_ECHO_REQUEST[..]), 0]
            );
            assert!(p.payload().ends_with(b"linnet-rr"));
            let r = Ipv4Repr::parse(&p).unwrap();
            assert_eq!(r.payload_len, 17);
        }
        let p = Ipv4Packet::new_checked(&RR_ECHO_REPLY[..]).unwrap();
        // Pointer 16: Linux recorded three addresses on the way out and back.
        assert_eq!(p.options()[2], 16);
        assert_eq!(&p.options()[3..7], &A1.octets());
        assert_eq!(&p.options()[7..11], &A2.octets());
    }

    #[test]
    fn payload_stops_at_total_len() {
        // Short IPv4 packets arrive with Ethernet padding (frames are at least 60 bytes).
        let mut padded = UDP_CLOSED.to_vec();
        padded.extend_from_slice(&[0xee; 14]);
        let p = Ipv4Packet::new_checked(&padded[..]).unwrap();
        assert_eq!(p.payload(), &UDP_CLOSED[20..]);
        assert_eq!(Ipv4Repr::parse(&p).unwrap().payload_len, 26);
    }

    #[test]
    fn malformed_inputs() {
        for n in 0..ECHO_REQUEST.len() {
            assert_eq!(
                Ipv4Packet::new_checked(&ECHO_REQUEST[..n]).unwrap_err(),
                WireError::Truncated,
                "len {n}"
            );
        }
        for n in 20..RR_ECHO_REQUEST.len() {
            assert_eq!(
                Ipv4Packet::new_checked(&RR_ECHO_REQUEST[..n]).unwrap_err(),
                WireError::Truncated,
                "len {n}"
            );
        }
        let bad = |f: &dyn Fn(&mut [u8])| {
            let mut b = ECHO_REQUEST;
            f(&mut b);
            Ipv4Packet::new_checked(&b[..]).map(|_| ())
        };
        assert_eq!(bad(&|b| b[0] = 0x65), Err(WireError::Malformed));
        assert_eq!(bad(&|b| b[0] = 0x44), Err(WireError::Malformed));
        assert_eq!(bad(&|b| b[0] = 0x40), Err(WireError::Malformed));
        assert_eq!(bad(&|b| b[3] = 61), Err(WireError::Truncated));
        assert_eq!(bad(&|b| b[3] = 19), Err(WireError::Malformed));
        assert_eq!(bad(&|b| b[0] = 0x46), Ok(()));
        let ihl15_short_total = |b: &mut [u8]| {
            b[0] = 0x4f;
            b[3] = 59;
        };
        assert_eq!(bad(&ihl15_short_total), Err(WireError::Malformed));
        let mut b = ECHO_REQUEST;
        b[0] = 0x4f; // IHL 15 in a 60-byte buffer with total length 60: header but no payload.
        let p = Ipv4Packet::new_checked(&b[..]).unwrap();
        assert!(p.payload().is_empty());
        let mut b = ECHO_REQUEST;
        b[8] = 63;
        let p = Ipv4Packet::new_checked(&b[..]).unwrap();
        assert!(!p.verify_checksum());
        assert_eq!(Ipv4Repr::parse(&p), Err(WireError::Checksum));
        // parse re-checks lengths on an unchecked view.
        let p = Ipv4Packet::new_unchecked(&ECHO_REQUEST[..30]);
        assert_eq!(Ipv4Repr::parse(&p), Err(WireError::Truncated));
    }

    #[test]
    fn setters_and_fragments() {
        let mut b = [0u8; 40];
        let mut p = Ipv4Packet::new_unchecked(&mut b[..]);
        p.set_version(4);
        p.set_header_len(24);
        p.set_dscp_ecn(46, 1);
        p.set_total_len(40);
        p.set_ident(7);
        p.set_flags_frag(false, true, 1480);
        p.set_ttl(2);
        p.set_protocol(IpProtocol::UDP);
        p.set_src_addr(A1);
        p.set_dst_addr(A2);
        p.options_mut().copy_from_slice(&[1, 1, 1, 0]);
        p.payload_mut().fill(0xaa);
        p.fill_checksum();
        let p = Ipv4Packet::new_checked(&b[..]).unwrap();
        assert_eq!((p.dscp(), p.ecn(), p.tos()), (46, 1, 46 << 2 | 1));
        assert!(p.more_frags() && !p.dont_frag() && p.is_fragment());
        assert_eq!(p.frag_offset(), 1480);
        assert_eq!(p.header_len(), 24);
        assert_eq!(p.options(), &[1, 1, 1, 0]);
        assert_eq!(p.payload(), &[0xaa; 16]);
        assert!(p.verify_checksum());
        // Fragments parse at this level.
        let r = Ipv4Repr::parse(&p).unwrap();
        assert_eq!(r.payload_len, 16);
        let mut b2 = b;
        let mut q = Ipv4Packet::new_unchecked(&mut b2[..]);
        q.set_flags_frag(false, false, 8);
        q.fill_checksum();
        assert!(q.is_fragment());
        assert_eq!(q.decrease_ttl(), 1);
        assert!(q.verify_checksum());
    }

    #[test]
    fn set_ecn_ce_keeps_the_checksum() {
        for ecn in [1u8, 2, 3] {
            let mut b = ECHO_REQUEST;
            let mut p = Ipv4Packet::new_unchecked(&mut b[..]);
            p.set_dscp_ecn(10, ecn);
            p.fill_checksum();
            p.set_ecn_ce();
            assert_eq!((p.dscp(), p.ecn()), (10, 3), "from ECN {ecn}");
            assert!(p.verify_checksum(), "from ECN {ecn}");
            assert_eq!(p.version(), 4);
            assert_eq!(p.header_len(), 20);
        }
    }

    #[test]
    fn protocol_display() {
        assert_eq!(IpProtocol::ICMP.to_string(), "icmp");
        assert_eq!(IpProtocol::TCP.to_string(), "tcp");
        assert_eq!(IpProtocol::UDP.to_string(), "udp");
        assert_eq!(IpProtocol(47).to_string(), "47");
    }

    #[test]
    fn cidr() {
        let c: Ipv4Cidr = "192.0.2.77/24".parse().unwrap();
        assert_eq!(c.addr, Ipv4Addr::new(192, 0, 2, 77));
        assert_eq!(c.prefix_len, 24);
        assert_eq!(c.netmask(), Ipv4Addr::new(255, 255, 255, 0));
        assert_eq!(c.network().to_string(), "192.0.2.0/24");
        assert_eq!(c.broadcast(), Some(Ipv4Addr::new(192, 0, 2, 255)));
        assert!(c.contains(A1));
        assert!(!c.contains(Ipv4Addr::new(192, 0, 3, 1)));
        assert_eq!(c.to_string(), "192.0.2.77/24");
        let h: Ipv4Cidr = "192.0.2.1".parse().unwrap();
        assert_eq!(h.prefix_len, 32);
        assert_eq!(h.broadcast(), None);
        assert!(h.contains(A1) && !h.contains(A2));
        assert_eq!(h.netmask(), Ipv4Addr::new(255, 255, 255, 255));
        let p2p = Ipv4Cidr::new(A1, 31).unwrap();
        assert_eq!(p2p.broadcast(), None);
        assert!(p2p.contains(Ipv4Addr::new(192, 0, 2, 0)));
        let all = Ipv4Cidr::new(A1, 0).unwrap();
        assert_eq!(all.netmask(), Ipv4Addr::UNSPECIFIED);
        assert_eq!(all.network().addr, Ipv4Addr::UNSPECIFIED);
        assert_eq!(all.broadcast(), Some(Ipv4Addr::BROADCAST));
        assert!(all.contains(Ipv4Addr::new(8, 8, 8, 8)));
        assert!(Ipv4Cidr::new(A1, 33).is_none());
        assert_eq!(
            Ipv4Cidr::new(A1, 25).unwrap().netmask().to_string(),
            "255.255.255.128"
        );
        for bad in [
            "",
            "192.0.2/24",
            "192.0.2.1/33",
            "192.0.2.1/",
            "192.0.2.1/+1",
            "x/1",
        ] {
            let e = bad.parse::<Ipv4Cidr>().unwrap_err();
            assert!(e.contains(&format!("\"{bad}\"")), "{e}");
        }
    }

    #[test]
    fn cidr_serde() {
        let c = Ipv4Cidr::new(A1, 24).unwrap();
        let j = serde_json::to_string(&c).unwrap();
        assert_eq!(serde_json::from_str::<Ipv4Cidr>(&j).unwrap(), c);
        assert!(
            serde_json::from_str::<Ipv4Cidr>(r#"{"addr":"192.0.2.1","prefix_len":40}"#).is_err()
        );
    }

    fn exercise<T: AsRef<[u8]>>(p: &Ipv4Packet<T>) {
        let _ = (
            p.version(),
            p.header_len(),
            p.dscp(),
            p.ecn(),
            p.total_len(),
        );
        let _ = (p.ident(), p.dont_frag(), p.more_frags(), p.frag_offset());
        let _ = (p.is_fragment(), p.ttl(), p.protocol(), p.checksum());
        let _ = (
            p.src_addr(),
            p.dst_addr(),
            p.options(),
            p.payload(),
            p.header(),
        );
        let _ = p.verify_checksum();
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..100)) {
            if let Ok(p) = Ipv4Packet::new_checked(&data[..]) {
                exercise(&p);
                let _ = Ipv4Repr::parse(&p);
            }
            let _ = Ipv4Repr::parse(&Ipv4Packet::new_unchecked(&data[..]));
        }

        #[test]
        fn plausible_headers_never_panic(
            ihl in 0u8..16, tl in 0u16..120, mut data in proptest::collection::vec(any::<u8>(), 0..100)
        ) {
            if data.len() >= 4 {
                data[0] = 0x40 | ihl;
                data[2..4].copy_from_slice(&tl.to_be_bytes());
            }
            if let Ok(p) = Ipv4Packet::new_checked(&data[..]) {
                exercise(&p);
                prop_assert!(p.payload().len() + p.header_len() == usize::from(p.total_len()));
            }
        }

        #[test]
        fn repr_round_trip(
            src in any::<u32>(), dst in any::<u32>(), proto in any::<u8>(),
            payload_len in 0usize..200, ttl in any::<u8>(), tos in any::<u8>(),
            ident in any::<u16>(), dont_frag in any::<bool>(),
        ) {
            let r = Ipv4Repr {
                src_addr: Ipv4Addr::from(src),
                dst_addr: Ipv4Addr::from(dst),
                protocol: IpProtocol(proto),
                payload_len, ttl, tos, ident, dont_frag,
            };
            let mut buf = vec![0u8; r.buffer_len() + payload_len];
            r.emit(&mut buf);
            let p = Ipv4Packet::new_checked(&buf[..]).unwrap();
            prop_assert!(p.verify_checksum());
            prop_assert!(!p.is_fragment());
            prop_assert_eq!(Ipv4Repr::parse(&p).unwrap(), r);
        }
    }
}
