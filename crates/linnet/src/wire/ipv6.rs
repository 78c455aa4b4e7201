//! IPv6 headers (RFC 8200), address prefixes and the address facts Linux derives from an
//! address (RFC 4291: scope, multicast groups, interface identifiers).
//!
//! Linux: `struct ipv6hdr` (include/uapi/linux/ipv6.h), `ipv6_addr_type`
//! (net/ipv6/addrconf_core.c), `addrconf_addr_solict_mult` and `ipv6_eth_mc_map`
//! (include/net/addrconf.h, include/net/if_inet6.h).
//!
//! Extension headers are read by [`super::ipv6ext`]: this view ends at the fixed 40-byte
//! header and treats everything after it as payload.

use super::ethernet::EthernetAddress;
use super::ipv4::IpProtocol;
use super::{Result, WireError};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::Ipv6Addr;
use std::str::FromStr;

/// Length of the fixed IPv6 header.
pub const HEADER_LEN: usize = 40;

/// The minimum link MTU every IPv6 link must carry (RFC 8200 section 5; Linux:
/// `IPV6_MIN_MTU`). A Packet Too Big below it never lowers a path MTU further.
pub const MIN_MTU: usize = 1280;

mod field {
    pub const VER_TC_FL: std::ops::Range<usize> = 0..4;
    pub const LENGTH: std::ops::Range<usize> = 4..6;
    pub const NEXT_HEADER: usize = 6;
    pub const HOP_LIMIT: usize = 7;
    pub const SRC: std::ops::Range<usize> = 8..24;
    pub const DST: std::ops::Range<usize> = 24..40;
}

/// An IPv6 address with a prefix length, e.g. `2001:db8::1/64`.
///
/// Linux: an `inet6_ifaddr`'s address and `prefix_len`, or a route's `rtm_dst_len`.
/// `prefix_len` is at most 128; [`Ipv6Cidr::new`] and deserialization enforce it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "Ipv6CidrFields")]
pub struct Ipv6Cidr {
    /// The address (host bits may be set).
    pub addr: Ipv6Addr,
    /// Number of leading network bits, 0..=128.
    pub prefix_len: u8,
}

/// Same shape as [`Ipv6Cidr`], used to validate `prefix_len` when deserializing.
#[derive(Deserialize)]
struct Ipv6CidrFields {
    addr: Ipv6Addr,
    prefix_len: u8,
}

impl TryFrom<Ipv6CidrFields> for Ipv6Cidr {
    type Error = String;
    fn try_from(f: Ipv6CidrFields) -> std::result::Result<Self, String> {
        Ipv6Cidr::new(f.addr, f.prefix_len)
            .ok_or_else(|| format!("prefix length {} is greater than 128", f.prefix_len))
    }
}

impl Ipv6Cidr {
    /// `addr/prefix_len`, or `None` if `prefix_len > 128`.
    pub fn new(addr: Ipv6Addr, prefix_len: u8) -> Option<Ipv6Cidr> {
        if prefix_len > 128 {
            return None;
        }
        Some(Ipv6Cidr { addr, prefix_len })
    }

    fn mask_bits(&self) -> u128 {
        let p = u32::from(self.prefix_len.min(128));
        u128::MAX.checked_shl(128 - p).unwrap_or(0)
    }

    /// The prefix as a mask, e.g. ffff:ffff:ffff:ffff:: for /64.
    pub fn netmask(&self) -> Ipv6Addr {
        Ipv6Addr::from(self.mask_bits())
    }

    /// The prefix with host bits cleared, e.g. 2001:db8::/64 for 2001:db8::1/64.
    /// Linux: `ipv6_addr_prefix`.
    pub fn network(&self) -> Ipv6Cidr {
        Ipv6Cidr {
            addr: Ipv6Addr::from(u128::from(self.addr) & self.mask_bits()),
            prefix_len: self.prefix_len,
        }
    }

    /// True if `a` lies within this prefix. Linux: `ipv6_prefix_equal`.
    pub fn contains(&self, a: Ipv6Addr) -> bool {
        let m = self.mask_bits();
        u128::from(a) & m == u128::from(self.addr) & m
    }
}

impl fmt::Display for Ipv6Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix_len)
    }
}

impl FromStr for Ipv6Cidr {
    type Err = String;
    /// Accepts `addr/n` and a bare address (meaning /128), as iproute2 does.
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let (a, p) = super::split_cidr(s);
        let addr: Ipv6Addr = a
            .parse()
            .map_err(|_| format!("invalid IPv6 address \"{a}\" in \"{s}\""))?;
        let prefix_len = super::parse_prefix_len(s, p, 128)?;
        Ok(Ipv6Cidr { addr, prefix_len })
    }
}

/// Address scope (RFC 4291 section 2.7 and 2.5.6; Linux: `IPV6_ADDR_SCOPE_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Ipv6Scope {
    /// Interface-local (multicast scope 1, and the loopback address ::1).
    InterfaceLocal,
    /// Link-local (fe80::/10, multicast scope 2).
    LinkLocal,
    /// Site-local (fec0::/10, deprecated by RFC 3879; multicast scope 5).
    SiteLocal,
    /// Global (everything else, multicast scope 14).
    Global,
}

/// What kind of address an IPv6 address is (Linux: the `IPV6_ADDR_*` bits of
/// `ipv6_addr_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Ipv6AddrKind {
    /// `::` (`IPV6_ADDR_ANY`): no address, e.g. the source of a duplicate address probe.
    Unspecified,
    /// `::1` (`IPV6_ADDR_LOOPBACK`).
    Loopback,
    /// `::ffff:a.b.c.d` (`IPV6_ADDR_MAPPED`): an IPv4 address as an AF_INET6 socket sees it.
    Mapped,
    /// A multicast group, ff00::/8 (`IPV6_ADDR_MULTICAST`).
    Multicast,
    /// Any other address: unicast (`IPV6_ADDR_UNICAST`).
    Unicast,
}

/// Classifies an address the way `ipv6_addr_type` does: its kind and scope.
/// Linux: `__ipv6_addr_type` (net/ipv6/addrconf_core.c).
pub fn ipv6_addr_type(a: &Ipv6Addr) -> (Ipv6AddrKind, Ipv6Scope) {
    let o = a.octets();
    if o[0] == 0xff {
        let scope = match o[1] & 0x0f {
            1 => Ipv6Scope::InterfaceLocal,
            2 => Ipv6Scope::LinkLocal,
            5 => Ipv6Scope::SiteLocal,
            _ => Ipv6Scope::Global,
        };
        return (Ipv6AddrKind::Multicast, scope);
    }
    if o[0] == 0xfe && o[1] & 0xc0 == 0x80 {
        return (Ipv6AddrKind::Unicast, Ipv6Scope::LinkLocal);
    }
    if o[0] == 0xfe && o[1] & 0xc0 == 0xc0 {
        return (Ipv6AddrKind::Unicast, Ipv6Scope::SiteLocal);
    }
    if a.is_unspecified() {
        return (Ipv6AddrKind::Unspecified, Ipv6Scope::Global);
    }
    if a.is_loopback() {
        return (Ipv6AddrKind::Loopback, Ipv6Scope::InterfaceLocal);
    }
    if o[..10] == [0; 10] && o[10] == 0xff && o[11] == 0xff {
        return (Ipv6AddrKind::Mapped, Ipv6Scope::Global);
    }
    (Ipv6AddrKind::Unicast, Ipv6Scope::Global)
}

/// The solicited-node multicast group of `a`: ff02::1:ff00:0/104 with the address's low 24
/// bits (RFC 4291 section 2.7.1). Linux: `addrconf_addr_solict_mult`.
pub fn solicited_node(a: &Ipv6Addr) -> Ipv6Addr {
    let o = a.octets();
    Ipv6Addr::from([
        0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0xff, o[13], o[14], o[15],
    ])
}

/// The Ethernet group address a multicast IPv6 address maps to: 33:33 and the low 32 bits
/// (RFC 2464 section 7). Linux: `ipv6_eth_mc_map`.
pub fn multicast_mac(group: &Ipv6Addr) -> EthernetAddress {
    let o = group.octets();
    EthernetAddress([0x33, 0x33, o[12], o[13], o[14], o[15]])
}

/// The modified EUI-64 interface identifier of a 48-bit MAC: ff:fe in the middle and the
/// universal/local bit inverted (RFC 4291 appendix A). Linux: `addrconf_ifid_eui48`.
pub fn eui64_interface_id(mac: EthernetAddress) -> [u8; 8] {
    let m = mac.0;
    [m[0] ^ 0x02, m[1], m[2], 0xff, 0xfe, m[3], m[4], m[5]]
}

/// The link-local address fe80::/64 with interface identifier `iid` (RFC 4862 section 5.3).
/// Linux: `addrconf_addr_gen` for the link-local prefix.
pub fn link_local(iid: [u8; 8]) -> Ipv6Addr {
    let mut o = [0u8; 16];
    o[0] = 0xfe;
    o[1] = 0x80;
    o[8..].copy_from_slice(&iid);
    Ipv6Addr::from(o)
}

/// All-nodes link-local multicast, ff02::1 (Linux: `in6addr_linklocal_allnodes`).
pub const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
/// All-routers link-local multicast, ff02::2 (Linux: `in6addr_linklocal_allrouters`).
pub const ALL_ROUTERS: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 2);
/// All MLDv2-capable routers, ff02::16, where MLDv2 reports go (RFC 3810 section 5.2.14).
pub const ALL_MLDV2_ROUTERS: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x16);

/// A view of an IPv6 packet over a byte buffer.
///
/// Linux: `struct ipv6hdr` (include/uapi/linux/ipv6.h).
///
/// The buffer may be longer than the packet (Ethernet padding): the payload ends at
/// `40 + payload_len`. Jumbograms (RFC 2675, payload length 0 with a Jumbo option) are not
/// supported: a zero payload length means an empty payload.
#[derive(Debug, Clone)]
pub struct Ipv6Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Ipv6Packet<T> {
    /// Wraps `buffer` without checking it; getters may panic on a short buffer.
    pub fn new_unchecked(buffer: T) -> Self {
        Ipv6Packet { buffer }
    }

    /// Wraps `buffer`, checking that it holds the fixed header and the payload length.
    ///
    /// [`WireError::Truncated`] if the buffer is shorter than 40 bytes or than
    /// `40 + payload_len` (Linux: `IPSTATS_MIB_INTRUNCATEDPKTS`); [`WireError::Malformed`] if
    /// the version is not 6 (Linux: `IPSTATS_MIB_INHDRERRORS`).
    pub fn new_checked(buffer: T) -> Result<Self> {
        let p = Ipv6Packet { buffer };
        p.check()?;
        Ok(p)
    }

    /// The checks of [`Ipv6Packet::new_checked`] on an already wrapped buffer.
    pub fn check(&self) -> Result<()> {
        let b = self.buffer.as_ref();
        if b.len() < HEADER_LEN {
            return Err(WireError::Truncated);
        }
        if self.version() != 6 {
            return Err(WireError::Malformed);
        }
        if b.len() < HEADER_LEN + usize::from(self.payload_len()) {
            return Err(WireError::Truncated);
        }
        Ok(())
    }

    /// The wrapped buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn read_u16(&self, r: std::ops::Range<usize>) -> u16 {
        let b = &self.buffer.as_ref()[r];
        u16::from_be_bytes([b[0], b[1]])
    }

    fn first_word(&self) -> u32 {
        let b = &self.buffer.as_ref()[field::VER_TC_FL];
        u32::from_be_bytes([b[0], b[1], b[2], b[3]])
    }

    /// IP version (6).
    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[0] >> 4
    }

    /// The traffic class byte (DSCP and ECN), as IPv4's TOS byte.
    pub fn traffic_class(&self) -> u8 {
        (self.first_word() >> 20) as u8
    }

    /// Explicit congestion notification (the low 2 bits of the traffic class).
    pub fn ecn(&self) -> u8 {
        self.traffic_class() & 0x03
    }

    /// The 20-bit flow label (RFC 6437).
    pub fn flow_label(&self) -> u32 {
        self.first_word() & 0x000f_ffff
    }

    /// Payload length in bytes: everything after the fixed header, extension headers
    /// included.
    pub fn payload_len(&self) -> u16 {
        self.read_u16(field::LENGTH)
    }

    /// The header following the fixed header: an extension header or the upper layer.
    pub fn next_header(&self) -> IpProtocol {
        IpProtocol(self.buffer.as_ref()[field::NEXT_HEADER])
    }

    /// Hop limit.
    pub fn hop_limit(&self) -> u8 {
        self.buffer.as_ref()[field::HOP_LIMIT]
    }

    /// Source address.
    pub fn src_addr(&self) -> Ipv6Addr {
        let mut o = [0u8; 16];
        o.copy_from_slice(&self.buffer.as_ref()[field::SRC]);
        Ipv6Addr::from(o)
    }

    /// Destination address.
    pub fn dst_addr(&self) -> Ipv6Addr {
        let mut o = [0u8; 16];
        o.copy_from_slice(&self.buffer.as_ref()[field::DST]);
        Ipv6Addr::from(o)
    }

    /// The fixed header.
    pub fn header(&self) -> &[u8] {
        &self.buffer.as_ref()[..HEADER_LEN]
    }

    /// The payload: extension headers and upper layer, up to the payload length (trailing
    /// link-layer padding excluded).
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..HEADER_LEN + usize::from(self.payload_len())]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv6Packet<T> {
    fn write_first_word(&mut self, v: u32) {
        self.buffer.as_mut()[field::VER_TC_FL].copy_from_slice(&v.to_be_bytes());
    }

    /// Sets version, traffic class and flow label at once (the first 32-bit word).
    pub fn set_version_tc_flow(&mut self, version: u8, traffic_class: u8, flow_label: u32) {
        self.write_first_word(
            u32::from(version & 0x0f) << 28
                | u32::from(traffic_class) << 20
                | (flow_label & 0x000f_ffff),
        );
    }

    /// Sets the traffic class byte, keeping version and flow label.
    pub fn set_traffic_class(&mut self, tc: u8) {
        let w = self.first_word() & 0xf00f_ffff;
        self.write_first_word(w | u32::from(tc) << 20);
    }

    /// Sets ECN to CE (congestion experienced). IPv6 has no header checksum to patch.
    /// Linux: `IP6_ECN_set_ce`, without its ECN-capable test (the caller makes it).
    pub fn set_ecn_ce(&mut self) {
        let tc = self.traffic_class() | 0x03;
        self.set_traffic_class(tc);
    }

    /// Sets the payload length.
    pub fn set_payload_len(&mut self, len: u16) {
        self.buffer.as_mut()[field::LENGTH].copy_from_slice(&len.to_be_bytes());
    }

    /// Sets the next header.
    pub fn set_next_header(&mut self, p: IpProtocol) {
        self.buffer.as_mut()[field::NEXT_HEADER] = p.0;
    }

    /// Sets the hop limit.
    pub fn set_hop_limit(&mut self, h: u8) {
        self.buffer.as_mut()[field::HOP_LIMIT] = h;
    }

    /// Sets the source address.
    pub fn set_src_addr(&mut self, a: Ipv6Addr) {
        self.buffer.as_mut()[field::SRC].copy_from_slice(&a.octets());
    }

    /// Sets the destination address.
    pub fn set_dst_addr(&mut self, a: Ipv6Addr) {
        self.buffer.as_mut()[field::DST].copy_from_slice(&a.octets());
    }

    /// The payload (after the fixed header, up to the payload length), writable.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let end = HEADER_LEN + usize::from(self.payload_len());
        &mut self.buffer.as_mut()[HEADER_LEN..end]
    }
}

/// The parsed form of a fixed IPv6 header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv6Repr {
    /// Source address.
    pub src_addr: Ipv6Addr,
    /// Destination address.
    pub dst_addr: Ipv6Addr,
    /// The header after the fixed one (extension header or upper layer).
    pub next_header: IpProtocol,
    /// Payload length in bytes (extension headers included).
    pub payload_len: usize,
    /// Hop limit.
    pub hop_limit: u8,
    /// Traffic class (DSCP and ECN).
    pub traffic_class: u8,
    /// Flow label (20 bits).
    pub flow_label: u32,
}

impl Ipv6Repr {
    /// Reads the fixed header, re-running the checks of [`Ipv6Packet::new_checked`].
    pub fn parse<T: AsRef<[u8]>>(packet: &Ipv6Packet<T>) -> Result<Ipv6Repr> {
        packet.check()?;
        Ok(Ipv6Repr {
            src_addr: packet.src_addr(),
            dst_addr: packet.dst_addr(),
            next_header: packet.next_header(),
            payload_len: usize::from(packet.payload_len()),
            hop_limit: packet.hop_limit(),
            traffic_class: packet.traffic_class(),
            flow_label: packet.flow_label(),
        })
    }

    /// Length of the header [`Ipv6Repr::emit`] writes: always [`HEADER_LEN`].
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Writes the 40-byte fixed header into the first [`HEADER_LEN`] bytes of `buf` (which
    /// must be at least that long); bytes past it are not touched. `payload_len` must not
    /// exceed 65535. Linux: the header fill of `ip6_xmit`.
    pub fn emit(&self, buf: &mut [u8]) {
        let mut p = Ipv6Packet::new_unchecked(&mut buf[..HEADER_LEN]);
        p.set_version_tc_flow(6, self.traffic_class, self.flow_label);
        p.set_payload_len(self.payload_len as u16);
        p.set_next_header(self.next_header);
        p.set_hop_limit(self.hop_limit);
        p.set_src_addr(self.src_addr);
        p.set_dst_addr(self.dst_addr);
    }
}

#[cfg(test)]
mod tests {
    use super::super::captures::*;
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn echo_request_header_fields() {
        let req = from_hex(ECHO6_REQUEST);
        let p = Ipv6Packet::new_checked(&req[..]).unwrap();
        assert_eq!(p.version(), 6);
        assert_eq!(p.payload_len() as usize, req.len() - HEADER_LEN);
        assert_eq!(p.next_header(), IpProtocol::ICMPV6);
        assert_eq!(p.hop_limit(), 64);
        assert_eq!(p.src_addr(), "2001:db8::1".parse::<Ipv6Addr>().unwrap());
        assert_eq!(p.dst_addr(), "2001:db8::2".parse::<Ipv6Addr>().unwrap());
        let r = Ipv6Repr::parse(&p).unwrap();
        let mut out = [0u8; HEADER_LEN];
        r.emit(&mut out);
        assert_eq!(
            &out[..],
            &req[..HEADER_LEN],
            "emit reproduces Linux's header"
        );
    }

    #[test]
    fn checks_version_and_lengths() {
        let mut b = from_hex(ECHO6_REQUEST);
        assert_eq!(
            Ipv6Packet::new_checked(&b[..39]).unwrap_err(),
            WireError::Truncated
        );
        assert_eq!(
            Ipv6Packet::new_checked(&b[..b.len() - 1]).unwrap_err(),
            WireError::Truncated,
            "payload length beyond the buffer"
        );
        b[0] = 0x45;
        assert_eq!(
            Ipv6Packet::new_checked(&b[..]).unwrap_err(),
            WireError::Malformed
        );
        // Padding after the payload is not payload.
        let req = from_hex(ECHO6_REQUEST);
        let mut padded = req.clone();
        padded.extend_from_slice(&[0xee; 6]);
        let p = Ipv6Packet::new_checked(&padded[..]).unwrap();
        assert_eq!(p.payload(), &req[HEADER_LEN..]);
    }

    #[test]
    fn traffic_class_flow_label_and_ce() {
        let mut b = [0u8; HEADER_LEN];
        let mut p = Ipv6Packet::new_unchecked(&mut b[..]);
        p.set_version_tc_flow(6, 0xb9, 0xabcde);
        assert_eq!(
            (p.version(), p.traffic_class(), p.flow_label()),
            (6, 0xb9, 0xabcde)
        );
        p.set_ecn_ce();
        assert_eq!(
            (p.traffic_class(), p.ecn(), p.flow_label()),
            (0xbb, 3, 0xabcde)
        );
        assert_eq!(b[..4], [0x6b, 0xba, 0xbc, 0xde]);
    }

    #[test]
    fn address_facts() {
        let a = |s: &str| s.parse::<Ipv6Addr>().unwrap();
        use Ipv6AddrKind::*;
        use Ipv6Scope::*;
        assert_eq!(ipv6_addr_type(&a("::")), (Unspecified, Global));
        assert_eq!(ipv6_addr_type(&a("::1")), (Loopback, InterfaceLocal));
        assert_eq!(ipv6_addr_type(&a("::ffff:192.0.2.1")), (Mapped, Global));
        assert_eq!(ipv6_addr_type(&a("fe80::1")), (Unicast, LinkLocal));
        assert_eq!(ipv6_addr_type(&a("febf::1")), (Unicast, LinkLocal));
        assert_eq!(ipv6_addr_type(&a("fec0::1")), (Unicast, SiteLocal));
        assert_eq!(ipv6_addr_type(&a("2001:db8::1")), (Unicast, Global));
        assert_eq!(ipv6_addr_type(&a("ff02::1")), (Multicast, LinkLocal));
        assert_eq!(ipv6_addr_type(&a("ff01::1")), (Multicast, InterfaceLocal));
        assert_eq!(ipv6_addr_type(&a("ff0e::1")), (Multicast, Global));
        assert_eq!(
            solicited_node(&a("2001:db8::12:3456:789a")),
            a("ff02::1:ff56:789a")
        );
        assert_eq!(
            multicast_mac(&a("ff02::1:ff56:789a")),
            EthernetAddress([0x33, 0x33, 0xff, 0x56, 0x78, 0x9a])
        );
        // RFC 4291 appendix A: 02:00:00:00:0a:01 → 0000:00ff:fe00:0a01.
        let iid = eui64_interface_id(EthernetAddress([0x02, 0, 0, 0, 0x0a, 0x01]));
        assert_eq!(link_local(iid), a("fe80::ff:fe00:a01"));
    }

    #[test]
    fn cidr_parse_and_match() {
        let c: Ipv6Cidr = "2001:db8:1::5/48".parse().unwrap();
        assert_eq!(c.network().to_string(), "2001:db8:1::/48");
        assert_eq!(c.netmask(), "ffff:ffff:ffff::".parse::<Ipv6Addr>().unwrap());
        assert!(c.contains("2001:db8:1:ffff::9".parse().unwrap()));
        assert!(!c.contains("2001:db8:2::".parse().unwrap()));
        let host: Ipv6Cidr = "2001:db8::2".parse().unwrap();
        assert_eq!(host.prefix_len, 128);
        let any: Ipv6Cidr = "::/0".parse().unwrap();
        assert!(any.contains("2001:db8::2".parse().unwrap()));
        for bad in [
            "2001:db8::/129",
            "2001:db8::/",
            "2001:db8::/1x",
            "192.0.2.1/24",
            "x/64",
        ] {
            assert!(bad.parse::<Ipv6Cidr>().is_err(), "{bad} must be refused");
        }
        assert!(serde_json::from_str::<Ipv6Cidr>(r#"{"addr":"::","prefix_len":129}"#).is_err());
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..120)) {
            if let Ok(p) = Ipv6Packet::new_checked(&b[..]) {
                let r = Ipv6Repr::parse(&p).unwrap();
                prop_assert_eq!(r.payload_len, p.payload().len());
                let _ = (p.flow_label(), p.traffic_class(), p.src_addr(), p.dst_addr());
            }
        }

        #[test]
        fn repr_round_trips(tc in any::<u8>(), fl in 0u32..0x10_0000, hl in any::<u8>(),
                            nh in any::<u8>(), len in 0usize..200,
                            s in any::<u128>(), d in any::<u128>()) {
            let r = Ipv6Repr {
                src_addr: Ipv6Addr::from(s), dst_addr: Ipv6Addr::from(d),
                next_header: IpProtocol(nh), payload_len: len, hop_limit: hl,
                traffic_class: tc, flow_label: fl,
            };
            let mut b = vec![0u8; HEADER_LEN + len];
            r.emit(&mut b);
            let p = Ipv6Packet::new_checked(&b[..]).unwrap();
            prop_assert_eq!(Ipv6Repr::parse(&p).unwrap(), r);
        }
    }
}
