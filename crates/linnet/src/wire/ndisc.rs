//! Neighbour discovery messages and options (RFC 4861): router solicitation and
//! advertisement, neighbour solicitation and advertisement, redirect.
//!
//! Linux: `struct nd_msg`, `struct rs_msg`, `struct ra_msg`, `struct rd_msg`,
//! `struct nd_opt_hdr`, `struct prefix_info` (include/net/ndisc.h, include/net/addrconf.h);
//! the checks of `ndisc_rcv` and `ndisc_parse_options` (net/ipv6/ndisc.c).
//!
//! These messages travel inside ICMPv6: [`NdiscRepr::parse`] and [`NdiscRepr::emit`] take
//! the whole ICMPv6 message; the checksum is [`super::icmpv6`]'s. Link-layer address options
//! are read for Ethernet (6-byte addresses, one 8-byte unit), the only link Linnet has.

use super::ethernet::EthernetAddress;
use super::icmpv6::Icmpv6Message;
use super::{Result, WireError};
use std::net::Ipv6Addr;

/// Option types (Linux: `ND_OPT_*`, include/net/ndisc.h).
pub mod option_type {
    /// Source link-layer address (`ND_OPT_SOURCE_LL_ADDR`).
    pub const SOURCE_LL_ADDR: u8 = 1;
    /// Target link-layer address (`ND_OPT_TARGET_LL_ADDR`).
    pub const TARGET_LL_ADDR: u8 = 2;
    /// Prefix information (`ND_OPT_PREFIX_INFO`).
    pub const PREFIX_INFO: u8 = 3;
    /// Redirected header (`ND_OPT_REDIRECT_HDR`).
    pub const REDIRECT_HDR: u8 = 4;
    /// MTU (`ND_OPT_MTU`).
    pub const MTU: u8 = 5;
    /// Nonce, RFC 3971 / RFC 7527 (`ND_OPT_NONCE`).
    pub const NONCE: u8 = 14;
    /// Route information, RFC 4191 (`ND_OPT_ROUTE_INFO`).
    pub const ROUTE_INFO: u8 = 24;
    /// Recursive DNS servers, RFC 8106 (`ND_OPT_RDNSS`).
    pub const RDNSS: u8 = 25;
}

/// Router advertisement flag: addresses are available from DHCPv6 ("managed").
pub const RA_FLAG_MANAGED: u8 = 0x80;
/// Router advertisement flag: other configuration is available from DHCPv6.
pub const RA_FLAG_OTHER: u8 = 0x40;
/// Neighbour advertisement flag: the sender is a router.
pub const NA_FLAG_ROUTER: u8 = 0x80;
/// Neighbour advertisement flag: sent in answer to a solicitation.
pub const NA_FLAG_SOLICITED: u8 = 0x40;
/// Neighbour advertisement flag: override an existing cache entry.
pub const NA_FLAG_OVERRIDE: u8 = 0x20;
/// Prefix information flag: the prefix is on-link (L).
pub const PREFIX_FLAG_ON_LINK: u8 = 0x80;
/// Prefix information flag: usable for stateless address autoconfiguration (A).
pub const PREFIX_FLAG_AUTONOMOUS: u8 = 0x40;

/// A prefix information option (RFC 4861 section 4.6.2). Linux: `struct prefix_info`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrefixInfo {
    /// Number of leading bits of `prefix` that are valid.
    pub prefix_len: u8,
    /// [`PREFIX_FLAG_ON_LINK`] and [`PREFIX_FLAG_AUTONOMOUS`] (other bits as received).
    pub flags: u8,
    /// Valid lifetime in seconds (0xffffffff: infinite).
    pub valid_lifetime: u32,
    /// Preferred lifetime in seconds (0xffffffff: infinite).
    pub preferred_lifetime: u32,
    /// The prefix.
    pub prefix: Ipv6Addr,
}

/// One neighbour discovery option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NdiscOption<'a> {
    /// Source link-layer address.
    SourceLinkLayerAddr(EthernetAddress),
    /// Target link-layer address.
    TargetLinkLayerAddr(EthernetAddress),
    /// Prefix information.
    PrefixInfo(PrefixInfo),
    /// Redirected header: as much of the redirected packet as fits.
    RedirectedHeader(&'a [u8]),
    /// Link MTU.
    Mtu(u32),
    /// Any other option: its type and the bytes after type and length.
    Unknown {
        /// Option type.
        option_type: u8,
        /// Option data.
        data: &'a [u8],
    },
}

impl NdiscOption<'_> {
    /// Bytes [`NdiscOption::emit`] writes (a multiple of 8).
    pub fn buffer_len(&self) -> usize {
        match self {
            NdiscOption::SourceLinkLayerAddr(_)
            | NdiscOption::TargetLinkLayerAddr(_)
            | NdiscOption::Mtu(_) => 8,
            NdiscOption::PrefixInfo(_) => 32,
            NdiscOption::RedirectedHeader(d) => 8 + (d.len() & !7),
            NdiscOption::Unknown { data, .. } => (2 + data.len()).div_ceil(8) * 8,
        }
    }

    /// Writes the option into the first [`buffer_len`](NdiscOption::buffer_len) bytes of
    /// `buf`, padding with zeros. A redirected header is cut to a multiple of 8 bytes, as
    /// `ndisc_send_redirect` cuts it. Returns the bytes written.
    pub fn emit(&self, buf: &mut [u8]) -> usize {
        let len = self.buffer_len();
        let b = &mut buf[..len];
        b.fill(0);
        b[1] = (len / 8) as u8;
        match *self {
            NdiscOption::SourceLinkLayerAddr(mac) | NdiscOption::TargetLinkLayerAddr(mac) => {
                b[0] = if matches!(self, NdiscOption::SourceLinkLayerAddr(_)) {
                    option_type::SOURCE_LL_ADDR
                } else {
                    option_type::TARGET_LL_ADDR
                };
                b[2..8].copy_from_slice(&mac.0);
            }
            NdiscOption::PrefixInfo(p) => {
                b[0] = option_type::PREFIX_INFO;
                b[2] = p.prefix_len;
                b[3] = p.flags;
                b[4..8].copy_from_slice(&p.valid_lifetime.to_be_bytes());
                b[8..12].copy_from_slice(&p.preferred_lifetime.to_be_bytes());
                b[16..32].copy_from_slice(&p.prefix.octets());
            }
            NdiscOption::RedirectedHeader(d) => {
                b[0] = option_type::REDIRECT_HDR;
                b[8..].copy_from_slice(&d[..len - 8]);
            }
            NdiscOption::Mtu(mtu) => {
                b[0] = option_type::MTU;
                b[4..8].copy_from_slice(&mtu.to_be_bytes());
            }
            NdiscOption::Unknown { option_type, data } => {
                b[0] = option_type;
                b[2..2 + data.len()].copy_from_slice(data);
            }
        }
        len
    }
}

/// The options of a neighbour discovery message, in order.
///
/// Follows `ndisc_parse_options`: an option of length zero or running past the message is
/// [`WireError::Malformed`] (RFC 4861 section 4.6: such a message is silently discarded); a
/// link-layer address option that is not one unit long, a prefix information option that is
/// not four, or an MTU option that is not one, is [`WireError::Malformed`] too (Linux:
/// "invalid link-layer address length", `addrconf_prefix_rcv`'s length check).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NdiscOptions<'a> {
    bytes: &'a [u8],
}

impl<'a> NdiscOptions<'a> {
    /// The options in `bytes` (not yet checked: iterating checks them).
    pub fn new(bytes: &'a [u8]) -> NdiscOptions<'a> {
        NdiscOptions { bytes }
    }

    /// The raw option bytes.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// Checks every option ([`WireError::Malformed`] at the first bad one).
    pub fn check(&self) -> Result<()> {
        self.iter().try_for_each(|o| o.map(|_| ()))
    }

    /// The options in order.
    pub fn iter(&self) -> NdiscOptionIter<'a> {
        NdiscOptionIter { rest: self.bytes }
    }

    /// The first source link-layer address option, if any (Linux keeps the first of
    /// duplicates).
    pub fn source_lladdr(&self) -> Option<EthernetAddress> {
        self.iter().find_map(|o| match o {
            Ok(NdiscOption::SourceLinkLayerAddr(m)) => Some(m),
            _ => None,
        })
    }

    /// The first target link-layer address option, if any.
    pub fn target_lladdr(&self) -> Option<EthernetAddress> {
        self.iter().find_map(|o| match o {
            Ok(NdiscOption::TargetLinkLayerAddr(m)) => Some(m),
            _ => None,
        })
    }

    /// The first MTU option, if any.
    pub fn mtu(&self) -> Option<u32> {
        self.iter().find_map(|o| match o {
            Ok(NdiscOption::Mtu(m)) => Some(m),
            _ => None,
        })
    }

    /// Every prefix information option.
    pub fn prefixes(&self) -> impl Iterator<Item = PrefixInfo> + 'a {
        self.iter().filter_map(|o| match o {
            Ok(NdiscOption::PrefixInfo(p)) => Some(p),
            _ => None,
        })
    }
}

/// Iterator over [`NdiscOptions`].
#[derive(Debug, Clone)]
pub struct NdiscOptionIter<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for NdiscOptionIter<'a> {
    type Item = Result<NdiscOption<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        let b = self.rest;
        if b.is_empty() {
            return None;
        }
        let bad = |it: &mut Self| {
            it.rest = &[];
            Some(Err(WireError::Malformed))
        };
        if b.len() < 2 {
            return bad(self);
        }
        let len = usize::from(b[1]) * 8;
        if len == 0 || len > b.len() {
            return bad(self);
        }
        let (opt, rest) = b.split_at(len);
        self.rest = rest;
        let one_unit = len == 8;
        Some(Ok(match opt[0] {
            option_type::SOURCE_LL_ADDR if one_unit => {
                NdiscOption::SourceLinkLayerAddr(EthernetAddress::from_bytes(&opt[2..8]))
            }
            option_type::TARGET_LL_ADDR if one_unit => {
                NdiscOption::TargetLinkLayerAddr(EthernetAddress::from_bytes(&opt[2..8]))
            }
            option_type::MTU if one_unit => {
                NdiscOption::Mtu(u32::from_be_bytes([opt[4], opt[5], opt[6], opt[7]]))
            }
            option_type::PREFIX_INFO if len == 32 => {
                let u32_at =
                    |i: usize| u32::from_be_bytes([opt[i], opt[i + 1], opt[i + 2], opt[i + 3]]);
                let mut prefix = [0u8; 16];
                prefix.copy_from_slice(&opt[16..32]);
                NdiscOption::PrefixInfo(PrefixInfo {
                    prefix_len: opt[2],
                    flags: opt[3],
                    valid_lifetime: u32_at(4),
                    preferred_lifetime: u32_at(8),
                    prefix: Ipv6Addr::from(prefix),
                })
            }
            option_type::REDIRECT_HDR => NdiscOption::RedirectedHeader(&opt[8..]),
            option_type::SOURCE_LL_ADDR
            | option_type::TARGET_LL_ADDR
            | option_type::MTU
            | option_type::PREFIX_INFO => return bad(self),
            t => NdiscOption::Unknown {
                option_type: t,
                data: &opt[2..],
            },
        }))
    }
}

/// The parsed form of a neighbour discovery message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NdiscRepr<'a> {
    /// Router solicitation (type 133).
    RouterSolicit {
        /// The source link-layer address option.
        lladdr: Option<EthernetAddress>,
    },
    /// Router advertisement (type 134).
    RouterAdvert {
        /// Hop limit hosts should use (0: unspecified).
        hop_limit: u8,
        /// [`RA_FLAG_MANAGED`], [`RA_FLAG_OTHER`] and the other flag bits as received.
        flags: u8,
        /// Lifetime as a default router, seconds (0: not a default router).
        router_lifetime: u16,
        /// Reachable time, milliseconds (0: unspecified).
        reachable_time: u32,
        /// Retransmission timer, milliseconds (0: unspecified).
        retrans_time: u32,
        /// The options (source link-layer address, MTU, prefixes, ...), already checked.
        options: NdiscOptions<'a>,
    },
    /// Neighbour solicitation (type 135).
    NeighborSolicit {
        /// The address being resolved or checked for duplicates.
        target: Ipv6Addr,
        /// The source link-layer address option (absent in a DAD probe).
        lladdr: Option<EthernetAddress>,
    },
    /// Neighbour advertisement (type 136).
    NeighborAdvert {
        /// [`NA_FLAG_ROUTER`], [`NA_FLAG_SOLICITED`], [`NA_FLAG_OVERRIDE`].
        flags: u8,
        /// The address advertised.
        target: Ipv6Addr,
        /// The target link-layer address option.
        lladdr: Option<EthernetAddress>,
    },
    /// Redirect (type 137).
    Redirect {
        /// A better first hop for `dest` (or `dest` itself when it is on-link).
        target: Ipv6Addr,
        /// The destination being redirected.
        dest: Ipv6Addr,
        /// The target link-layer address option.
        lladdr: Option<EthernetAddress>,
        /// The redirected header option's data.
        redirected: Option<&'a [u8]>,
    },
}

fn addr_at(b: &[u8], at: usize) -> Ipv6Addr {
    let mut o = [0u8; 16];
    o.copy_from_slice(&b[at..at + 16]);
    Ipv6Addr::from(o)
}

impl<'a> NdiscRepr<'a> {
    /// Reads a neighbour discovery message: `msg` is the whole ICMPv6 message (its checksum
    /// already verified).
    ///
    /// [`WireError::Truncated`] below the message's fixed length (RS 8, RA 16, NS and NA 24,
    /// redirect 40 bytes); [`WireError::Malformed`] for a non-zero code (Linux: "invalid
    /// ICMPv6 code"), a multicast target in NS/NA (Linux: "multicast target address"), a bad
    /// option ([`NdiscOptions`]), or a type that is not neighbour discovery. The checks that
    /// need the IPv6 header (hop limit 255, an unspecified source without a link-layer
    /// option) are the receiver's.
    pub fn parse(msg: &'a [u8]) -> Result<NdiscRepr<'a>> {
        if msg.len() < 4 {
            return Err(WireError::Truncated);
        }
        let t = Icmpv6Message(msg[0]);
        let fixed = match t {
            Icmpv6Message::ROUTER_SOLICIT => 8,
            Icmpv6Message::ROUTER_ADVERT => 16,
            Icmpv6Message::NEIGHBOR_SOLICIT | Icmpv6Message::NEIGHBOR_ADVERT => 24,
            Icmpv6Message::REDIRECT => 40,
            _ => return Err(WireError::Malformed),
        };
        if msg.len() < fixed {
            return Err(WireError::Truncated);
        }
        if msg[1] != 0 {
            return Err(WireError::Malformed);
        }
        let options = NdiscOptions::new(&msg[fixed..]);
        options.check()?;
        let repr = match t {
            Icmpv6Message::ROUTER_SOLICIT => NdiscRepr::RouterSolicit {
                lladdr: options.source_lladdr(),
            },
            Icmpv6Message::ROUTER_ADVERT => NdiscRepr::RouterAdvert {
                hop_limit: msg[4],
                flags: msg[5],
                router_lifetime: u16::from_be_bytes([msg[6], msg[7]]),
                reachable_time: u32::from_be_bytes([msg[8], msg[9], msg[10], msg[11]]),
                retrans_time: u32::from_be_bytes([msg[12], msg[13], msg[14], msg[15]]),
                options,
            },
            Icmpv6Message::NEIGHBOR_SOLICIT | Icmpv6Message::NEIGHBOR_ADVERT => {
                let target = addr_at(msg, 8);
                if target.is_multicast() {
                    return Err(WireError::Malformed);
                }
                if t == Icmpv6Message::NEIGHBOR_SOLICIT {
                    NdiscRepr::NeighborSolicit {
                        target,
                        lladdr: options.source_lladdr(),
                    }
                } else {
                    NdiscRepr::NeighborAdvert {
                        flags: msg[4] & (NA_FLAG_ROUTER | NA_FLAG_SOLICITED | NA_FLAG_OVERRIDE),
                        target,
                        lladdr: options.target_lladdr(),
                    }
                }
            }
            _ => NdiscRepr::Redirect {
                target: addr_at(msg, 8),
                dest: addr_at(msg, 24),
                lladdr: options.target_lladdr(),
                redirected: options.iter().find_map(|o| match o {
                    Ok(NdiscOption::RedirectedHeader(d)) => Some(d),
                    _ => None,
                }),
            },
        };
        Ok(repr)
    }

    /// The ICMPv6 message type.
    pub fn msg_type(&self) -> Icmpv6Message {
        match self {
            NdiscRepr::RouterSolicit { .. } => Icmpv6Message::ROUTER_SOLICIT,
            NdiscRepr::RouterAdvert { .. } => Icmpv6Message::ROUTER_ADVERT,
            NdiscRepr::NeighborSolicit { .. } => Icmpv6Message::NEIGHBOR_SOLICIT,
            NdiscRepr::NeighborAdvert { .. } => Icmpv6Message::NEIGHBOR_ADVERT,
            NdiscRepr::Redirect { .. } => Icmpv6Message::REDIRECT,
        }
    }

    fn fixed_len(&self) -> usize {
        match self {
            NdiscRepr::RouterSolicit { .. } => 8,
            NdiscRepr::RouterAdvert { .. } => 16,
            NdiscRepr::NeighborSolicit { .. } | NdiscRepr::NeighborAdvert { .. } => 24,
            NdiscRepr::Redirect { .. } => 40,
        }
    }

    fn lladdr_option(&self) -> Option<NdiscOption<'a>> {
        match *self {
            NdiscRepr::RouterSolicit { lladdr } | NdiscRepr::NeighborSolicit { lladdr, .. } => {
                lladdr.map(NdiscOption::SourceLinkLayerAddr)
            }
            NdiscRepr::NeighborAdvert { lladdr, .. } | NdiscRepr::Redirect { lladdr, .. } => {
                lladdr.map(NdiscOption::TargetLinkLayerAddr)
            }
            NdiscRepr::RouterAdvert { .. } => None,
        }
    }

    /// Length of the whole ICMPv6 message [`NdiscRepr::emit`] writes.
    pub fn buffer_len(&self) -> usize {
        let opts = match *self {
            NdiscRepr::RouterAdvert { options, .. } => options.as_bytes().len(),
            NdiscRepr::Redirect { redirected, .. } => {
                redirected.map_or(0, |d| NdiscOption::RedirectedHeader(d).buffer_len())
                    + self.lladdr_option().map_or(0, |o| o.buffer_len())
            }
            _ => self.lladdr_option().map_or(0, |o| o.buffer_len()),
        };
        self.fixed_len() + opts
    }

    /// Writes the whole ICMPv6 message into the first [`buffer_len`](NdiscRepr::buffer_len)
    /// bytes of `buf`, with a zero checksum for the ICMPv6 layer to fill. Linux:
    /// `ndisc_send_ns`, `ndisc_send_na`, `ndisc_send_rs`, `ndisc_send_redirect` (message
    /// body and options).
    pub fn emit(&self, buf: &mut [u8]) {
        let len = self.buffer_len();
        let b = &mut buf[..len];
        b[..self.fixed_len()].fill(0);
        b[0] = self.msg_type().0;
        match *self {
            NdiscRepr::RouterSolicit { .. } => {}
            NdiscRepr::RouterAdvert {
                hop_limit,
                flags,
                router_lifetime,
                reachable_time,
                retrans_time,
                options,
            } => {
                b[4] = hop_limit;
                b[5] = flags;
                b[6..8].copy_from_slice(&router_lifetime.to_be_bytes());
                b[8..12].copy_from_slice(&reachable_time.to_be_bytes());
                b[12..16].copy_from_slice(&retrans_time.to_be_bytes());
                b[16..].copy_from_slice(options.as_bytes());
                return;
            }
            NdiscRepr::NeighborSolicit { target, .. } => {
                b[8..24].copy_from_slice(&target.octets());
            }
            NdiscRepr::NeighborAdvert { flags, target, .. } => {
                b[4] = flags;
                b[8..24].copy_from_slice(&target.octets());
            }
            NdiscRepr::Redirect { target, dest, .. } => {
                b[8..24].copy_from_slice(&target.octets());
                b[24..40].copy_from_slice(&dest.octets());
            }
        }
        let mut at = self.fixed_len();
        if let Some(o) = self.lladdr_option() {
            at += o.emit(&mut b[at..]);
        }
        if let NdiscRepr::Redirect {
            redirected: Some(d),
            ..
        } = *self
        {
            NdiscOption::RedirectedHeader(d).emit(&mut b[at..]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::captures::*;
    use super::super::icmpv6::{Icmpv6Packet, Icmpv6Repr};
    use super::super::ipv6::{solicited_node, Ipv6Packet};
    use super::*;
    use proptest::prelude::*;

    const MAC_A: EthernetAddress = EthernetAddress([2, 0, 0, 0, 0x0a, 0x01]);
    const MAC_B: EthernetAddress = EthernetAddress([2, 0, 0, 0, 0x0b, 0x02]);

    fn parse_capture(hex: &str) -> (Vec<u8>, NdiscRepr<'static>) {
        let f: &'static [u8] = Box::leak(from_hex(hex).into_boxed_slice());
        let p = Ipv6Packet::new_checked(f).unwrap();
        assert_eq!(
            p.hop_limit(),
            255,
            "neighbour discovery is sent with hop limit 255"
        );
        let (s, d) = (p.src_addr(), p.dst_addr());
        let msg: &'static [u8] = &f[40..40 + p.payload_len() as usize];
        let icmp = Icmpv6Packet::new_checked(msg).unwrap();
        match Icmpv6Repr::parse(&s, &d, &icmp).unwrap() {
            Icmpv6Repr::Ndisc(n) => {
                // Ours, emitted from the parsed form, is byte for byte Linux's.
                let r = Icmpv6Repr::Ndisc(n);
                let mut out = vec![0u8; r.buffer_len()];
                r.emit(&s, &d, &mut out);
                (out, n)
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn solicitation_and_advertisement_from_linux() {
        let (ours, ns) = parse_capture(NS6_SOLICIT);
        let target: Ipv6Addr = "2001:db8::2".parse().unwrap();
        assert_eq!(
            ns,
            NdiscRepr::NeighborSolicit {
                target,
                lladdr: Some(MAC_A)
            }
        );
        assert_eq!(ours, from_hex(NS6_SOLICIT)[40..]);
        let f = from_hex(NS6_SOLICIT);
        assert_eq!(
            Ipv6Packet::new_checked(&f[..]).unwrap().dst_addr(),
            solicited_node(&target)
        );

        let (ours, na) = parse_capture(NA6_SOLICITED);
        assert_eq!(
            na,
            NdiscRepr::NeighborAdvert {
                flags: NA_FLAG_SOLICITED | NA_FLAG_OVERRIDE,
                target,
                lladdr: Some(MAC_B)
            }
        );
        assert_eq!(ours, from_hex(NA6_SOLICITED)[40..]);
    }

    #[test]
    fn dad_probe_and_router_solicitation_from_linux() {
        let (ours, ns) = parse_capture(NS6_DAD);
        assert_eq!(
            ns,
            NdiscRepr::NeighborSolicit {
                target: "2001:db8::1".parse().unwrap(),
                lladdr: None
            }
        );
        // Linux adds a nonce option (RFC 7527) that a plain DAD probe does not need.
        assert_eq!(ours.len(), 24);
        let f = from_hex(NS6_DAD);
        let p = Ipv6Packet::new_checked(&f[..]).unwrap();
        assert!(p.src_addr().is_unspecified());
        let opts: Vec<_> = NdiscOptions::new(&p.payload()[24..]).iter().collect();
        assert!(matches!(
            opts[..],
            [Ok(NdiscOption::Unknown { option_type: option_type::NONCE, data })] if data.len() == 6
        ));

        let (ours, rs) = parse_capture(RS6);
        assert_eq!(
            rs,
            NdiscRepr::RouterSolicit {
                lladdr: Some(MAC_A)
            }
        );
        assert_eq!(ours, from_hex(RS6)[40..]);
    }

    #[test]
    fn router_advertisement_round_trip() {
        let mut opts = [0u8; 8 + 8 + 32];
        let mut at = NdiscOption::SourceLinkLayerAddr(MAC_B).emit(&mut opts);
        at += NdiscOption::Mtu(1500).emit(&mut opts[at..]);
        let pi = PrefixInfo {
            prefix_len: 64,
            flags: PREFIX_FLAG_ON_LINK | PREFIX_FLAG_AUTONOMOUS,
            valid_lifetime: 2_592_000,
            preferred_lifetime: 604_800,
            prefix: "2001:db8:1::".parse().unwrap(),
        };
        at += NdiscOption::PrefixInfo(pi).emit(&mut opts[at..]);
        assert_eq!(at, opts.len());
        let ra = NdiscRepr::RouterAdvert {
            hop_limit: 64,
            flags: RA_FLAG_OTHER,
            router_lifetime: 1800,
            reachable_time: 0,
            retrans_time: 0,
            options: NdiscOptions::new(&opts),
        };
        let mut b = vec![0u8; ra.buffer_len()];
        ra.emit(&mut b);
        let back = NdiscRepr::parse(&b).unwrap();
        assert_eq!(back, ra);
        let NdiscRepr::RouterAdvert { options, .. } = back else {
            unreachable!()
        };
        assert_eq!(options.source_lladdr(), Some(MAC_B));
        assert_eq!(options.mtu(), Some(1500));
        assert_eq!(options.prefixes().collect::<Vec<_>>(), vec![pi]);
    }

    #[test]
    fn redirect_round_trip_cuts_to_eight() {
        let pkt = [0x60u8; 53];
        let r = NdiscRepr::Redirect {
            target: "fe80::1".parse().unwrap(),
            dest: "2001:db8:5::9".parse().unwrap(),
            lladdr: Some(MAC_A),
            redirected: Some(&pkt),
        };
        let mut b = vec![0u8; r.buffer_len()];
        assert_eq!(b.len(), 40 + 8 + 8 + 48);
        r.emit(&mut b);
        match NdiscRepr::parse(&b).unwrap() {
            NdiscRepr::Redirect {
                redirected: Some(d),
                lladdr,
                ..
            } => {
                assert_eq!(d, &pkt[..48]);
                assert_eq!(lladdr, Some(MAC_A));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn refuses_what_linux_refuses() {
        let (_, ns) = parse_capture(NS6_SOLICIT);
        let mut b = vec![0u8; ns.buffer_len()];
        ns.emit(&mut b);
        let mut bad = b.clone();
        bad[1] = 1; // code
        assert_eq!(NdiscRepr::parse(&bad), Err(WireError::Malformed));
        let mut bad = b.clone();
        bad[25] = 0; // option length zero
        assert_eq!(NdiscRepr::parse(&bad), Err(WireError::Malformed));
        let mut bad = b.clone();
        bad[25] = 2; // option longer than the message
        assert_eq!(NdiscRepr::parse(&bad), Err(WireError::Malformed));
        let mut bad = b.clone();
        bad[8] = 0xff; // multicast target
        assert_eq!(NdiscRepr::parse(&bad), Err(WireError::Malformed));
        assert_eq!(NdiscRepr::parse(&b[..23]), Err(WireError::Truncated));
        // A link-layer address option two units long (not Ethernet's).
        let mut long = b[..24].to_vec();
        long.extend_from_slice(&[1, 2, 2, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(NdiscRepr::parse(&long), Err(WireError::Malformed));
        // Not neighbour discovery at all.
        assert_eq!(
            NdiscRepr::parse(&[128, 0, 0, 0, 0, 0, 0, 0]),
            Err(WireError::Malformed)
        );
    }

    proptest! {
        #[test]
        fn arbitrary_messages_never_panic(mut b in proptest::collection::vec(any::<u8>(), 0..120),
                                          ty in 133u8..=137) {
            if !b.is_empty() {
                b[0] = ty;
            }
            if b.len() > 1 {
                b[1] = 0;
            }
            if let Ok(r) = NdiscRepr::parse(&b) {
                let mut out = vec![0u8; r.buffer_len()];
                r.emit(&mut out);
                prop_assert_eq!(NdiscRepr::parse(&out).unwrap(), r);
            }
        }
    }
}
