//! IPv6 extension headers (RFC 8200 section 4): hop-by-hop and destination options, routing,
//! fragment, and the walk from the fixed header to the upper layer.
//!
//! Linux: `struct ipv6_opt_hdr`, `struct ipv6_rt_hdr`, `struct frag_hdr`
//! (include/uapi/linux/ipv6.h, include/net/ipv6.h); `ipv6_ext_hdr` and `ipv6_skip_exthdr`
//! (net/ipv6/exthdrs_core.c); the option TLV walk of `ip6_parse_tlv` (net/ipv6/exthdrs.c).
//!
//! Every length is checked against the buffer before it is used: a header that claims more
//! bytes than the packet holds is [`WireError::Truncated`], and each step of a walk consumes
//! at least 8 bytes, so a walk over any buffer ends.

use super::ipv4::IpProtocol;
use super::{Result, WireError};

/// Smallest extension header: every options, routing and fragment header is a multiple of 8
/// bytes, at least 8.
pub const MIN_HEADER_LEN: usize = 8;

/// Length of the fragment header.
pub const FRAG_HEADER_LEN: usize = 8;

/// True for the next-header values that name an extension header (or "no next header"), as
/// opposed to an upper layer. Linux: `ipv6_ext_hdr`.
pub fn ipv6_ext_hdr(nh: IpProtocol) -> bool {
    matches!(
        nh,
        IpProtocol::HOPOPTS
            | IpProtocol::ROUTING
            | IpProtocol::FRAGMENT
            | IpProtocol::AH
            | IpProtocol::NONE
            | IpProtocol::DSTOPTS
    )
}

/// Length in bytes of the options or routing header at the start of `b` (at least 2 bytes):
/// `(hdrlen + 1) * 8`. Linux: `ipv6_optlen`.
fn ipv6_optlen(b: &[u8]) -> usize {
    (usize::from(b[1]) + 1) * 8
}

/// Checks that `b` holds the whole options or routing header at its start.
fn check_optlen(b: &[u8]) -> Result<()> {
    if b.len() < MIN_HEADER_LEN || b.len() < ipv6_optlen(b) {
        return Err(WireError::Truncated);
    }
    Ok(())
}

/// Option types of the hop-by-hop and destination options headers (Linux: `IPV6_TLV_*`,
/// include/uapi/linux/in6.h).
pub mod option_type {
    /// One byte of padding (`IPV6_TLV_PAD1`).
    pub const PAD1: u8 = 0;
    /// N bytes of padding (`IPV6_TLV_PADN`).
    pub const PADN: u8 = 1;
    /// Tunnel encapsulation limit, RFC 2473 (`IPV6_TLV_TNL_ENCAP_LIMIT`).
    pub const TNL_ENCAP_LIMIT: u8 = 4;
    /// Router alert, RFC 2711 (`IPV6_TLV_ROUTERALERT`).
    pub const ROUTER_ALERT: u8 = 5;
    /// Jumbo payload, RFC 2675 (`IPV6_TLV_JUMBO`).
    pub const JUMBO: u8 = 0xc2;
}

/// Router alert values (RFC 2711): 0 means the datagram holds an MLD message.
pub const ROUTER_ALERT_MLD: u16 = 0;

/// What a node must do with an option type it does not recognise: the two high-order bits of
/// the type (RFC 8200 section 4.2). Linux: `ip6_tlvopt_unknown`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnknownOption {
    /// 00: skip the option and go on.
    Skip,
    /// 01: discard the packet silently.
    Discard,
    /// 10: discard, and send a Parameter Problem (code 2) pointing at the option type.
    DiscardAndReport,
    /// 11: as 10, but only if the destination is not multicast.
    DiscardAndReportUnlessMulticast,
}

impl UnknownOption {
    /// The action encoded in `option_type`.
    pub fn of(option_type: u8) -> UnknownOption {
        match option_type >> 6 {
            0 => UnknownOption::Skip,
            1 => UnknownOption::Discard,
            2 => UnknownOption::DiscardAndReport,
            _ => UnknownOption::DiscardAndReportUnlessMulticast,
        }
    }
}

/// One option of a hop-by-hop or destination options header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ipv6Option<'a> {
    /// Pad1 (a single zero byte).
    Pad1,
    /// PadN: the number of padding bytes it stands for, type and length included.
    PadN(usize),
    /// Router alert with its 16-bit value (RFC 2711).
    RouterAlert(u16),
    /// Jumbo payload length (RFC 2675).
    Jumbo(u32),
    /// Any other option: its type and data.
    Unknown {
        /// The option type (its high bits say what to do: [`UnknownOption::of`]).
        option_type: u8,
        /// The option's data.
        data: &'a [u8],
    },
}

/// A view of a hop-by-hop or destination options header (RFC 8200 sections 4.3 and 4.6).
///
/// Linux: `struct ipv6_opt_hdr` followed by TLV-encoded options.
#[derive(Debug, Clone)]
pub struct Ipv6OptionsHeader<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Ipv6OptionsHeader<T> {
    /// Wraps `buffer` (which starts at the header and may run on into what follows it),
    /// checking that it holds the whole header ([`WireError::Truncated`] otherwise).
    pub fn new_checked(buffer: T) -> Result<Self> {
        check_optlen(buffer.as_ref())?;
        Ok(Ipv6OptionsHeader { buffer })
    }

    /// The header after this one.
    pub fn next_header(&self) -> IpProtocol {
        IpProtocol(self.buffer.as_ref()[0])
    }

    /// Length of this header in bytes: `(hdrlen + 1) * 8`. Linux: `ipv6_optlen`.
    pub fn header_len(&self) -> usize {
        ipv6_optlen(self.buffer.as_ref())
    }

    /// The options, each with its offset from the start of this header (the pointer a
    /// Parameter Problem names).
    pub fn options(&self) -> Ipv6Options<'_> {
        Ipv6Options {
            bytes: &self.buffer.as_ref()[..self.header_len()],
            pos: 2,
            pad_run: 0,
        }
    }
}

/// The options of an options header, in order, with their offsets from the header's start.
///
/// Follows `ip6_parse_tlv`: an option running past the header is [`WireError::Truncated`];
/// as in Linux, more than 7 bytes of consecutive padding, or a PadN whose bytes are not zero
/// (RFC 4942 section 2.1.9.5), is [`WireError::Malformed`]. The walk stops at the first error.
#[derive(Debug, Clone)]
pub struct Ipv6Options<'a> {
    bytes: &'a [u8],
    pos: usize,
    pad_run: usize,
}

impl<'a> Iterator for Ipv6Options<'a> {
    type Item = Result<(usize, Ipv6Option<'a>)>;

    fn next(&mut self) -> Option<Self::Item> {
        let b = self.bytes;
        let off = self.pos;
        if off >= b.len() {
            return None;
        }
        let fail = |it: &mut Self, e| {
            it.pos = b.len();
            Some(Err(e))
        };
        if b[off] == option_type::PAD1 {
            self.pos += 1;
            self.pad_run += 1;
            if self.pad_run > 7 {
                return fail(self, WireError::Malformed);
            }
            return Some(Ok((off, Ipv6Option::Pad1)));
        }
        if off + 2 > b.len() {
            return fail(self, WireError::Truncated);
        }
        let ty = b[off];
        let len = usize::from(b[off + 1]);
        if off + 2 + len > b.len() {
            return fail(self, WireError::Truncated);
        }
        let data = &b[off + 2..off + 2 + len];
        self.pos = off + 2 + len;
        if ty == option_type::PADN {
            self.pad_run += 2 + len;
            if self.pad_run > 7 || data.iter().any(|&x| x != 0) {
                return fail(self, WireError::Malformed);
            }
            return Some(Ok((off, Ipv6Option::PadN(2 + len))));
        }
        self.pad_run = 0;
        let opt = match (ty, len) {
            (option_type::ROUTER_ALERT, 2) => {
                Ipv6Option::RouterAlert(u16::from_be_bytes([data[0], data[1]]))
            }
            (option_type::JUMBO, 4) => {
                Ipv6Option::Jumbo(u32::from_be_bytes([data[0], data[1], data[2], data[3]]))
            }
            (option_type::ROUTER_ALERT | option_type::JUMBO, _) => {
                return fail(self, WireError::Malformed)
            }
            _ => Ipv6Option::Unknown {
                option_type: ty,
                data,
            },
        };
        Some(Ok((off, opt)))
    }
}

/// Writes a hop-by-hop options header holding one router alert option with `value` (and two
/// bytes of PadN), 8 bytes, into `buf`: what MLD messages carry (RFC 3810 section 5).
/// Linux: the `ra` header built by `mld_newpack`.
pub fn emit_router_alert_hbh(buf: &mut [u8], next_header: IpProtocol, value: u16) {
    let v = value.to_be_bytes();
    buf[..8].copy_from_slice(&[
        next_header.0,
        0,
        option_type::ROUTER_ALERT,
        2,
        v[0],
        v[1],
        option_type::PADN,
        0,
    ]);
}

/// Routing header types (RFC 8200 section 4.4; IANA).
pub mod routing_type {
    /// Type 0, source routing: deprecated by RFC 5095 and refused (`IPV6_SRCRT_TYPE_0`).
    pub const TYPE0: u8 = 0;
    /// Type 2, Mobile IPv6 (`IPV6_SRCRT_TYPE_2`).
    pub const TYPE2: u8 = 2;
    /// Type 3, RPL source route (`IPV6_SRCRT_TYPE_3`).
    pub const RPL: u8 = 3;
    /// Type 4, segment routing (`IPV6_SRCRT_TYPE_4`).
    pub const SRH: u8 = 4;
}

/// A view of a routing header (RFC 8200 section 4.4). Linux: `struct ipv6_rt_hdr`.
#[derive(Debug, Clone)]
pub struct Ipv6RoutingHeader<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Ipv6RoutingHeader<T> {
    /// Wraps `buffer`, checking that it holds the whole header ([`WireError::Truncated`]).
    pub fn new_checked(buffer: T) -> Result<Self> {
        check_optlen(buffer.as_ref())?;
        Ok(Ipv6RoutingHeader { buffer })
    }

    /// The header after this one.
    pub fn next_header(&self) -> IpProtocol {
        IpProtocol(self.buffer.as_ref()[0])
    }

    /// Length of this header in bytes: `(hdrlen + 1) * 8`.
    pub fn header_len(&self) -> usize {
        ipv6_optlen(self.buffer.as_ref())
    }

    /// The routing type ([`routing_type`]).
    pub fn routing_type(&self) -> u8 {
        self.buffer.as_ref()[2]
    }

    /// Segments left: how many listed nodes are still to be visited.
    pub fn segments_left(&self) -> u8 {
        self.buffer.as_ref()[3]
    }

    /// The type-specific data (from byte 4 to the header's end).
    pub fn data(&self) -> &[u8] {
        &self.buffer.as_ref()[4..self.header_len()]
    }
}

/// A view of a fragment header (RFC 8200 section 4.5). Linux: `struct frag_hdr`.
#[derive(Debug, Clone)]
pub struct Ipv6FragHeader<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Ipv6FragHeader<T> {
    /// Wraps `buffer` without checking it; getters panic on fewer than 8 bytes.
    pub fn new_unchecked(buffer: T) -> Self {
        Ipv6FragHeader { buffer }
    }

    /// Wraps `buffer`, checking it holds the 8-byte header ([`WireError::Truncated`]).
    pub fn new_checked(buffer: T) -> Result<Self> {
        if buffer.as_ref().len() < FRAG_HEADER_LEN {
            return Err(WireError::Truncated);
        }
        Ok(Ipv6FragHeader { buffer })
    }

    fn off_word(&self) -> u16 {
        let b = self.buffer.as_ref();
        u16::from_be_bytes([b[2], b[3]])
    }

    /// The header of the fragmentable part (the original datagram's next header).
    pub fn next_header(&self) -> IpProtocol {
        IpProtocol(self.buffer.as_ref()[0])
    }

    /// Fragment offset in bytes (the 13-bit field × 8).
    pub fn frag_offset(&self) -> usize {
        usize::from(self.off_word() & 0xfff8)
    }

    /// The M (more fragments) flag.
    pub fn more_frags(&self) -> bool {
        self.off_word() & 1 != 0
    }

    /// The identification shared by all fragments of one datagram.
    pub fn ident(&self) -> u32 {
        let b = self.buffer.as_ref();
        u32::from_be_bytes([b[4], b[5], b[6], b[7]])
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv6FragHeader<T> {
    /// Writes the whole header: next header, offset (bytes, a multiple of 8), M flag, ident.
    pub fn set(&mut self, next_header: IpProtocol, frag_offset: usize, more: bool, ident: u32) {
        let w = (frag_offset as u16 & 0xfff8) | u16::from(more);
        let b = self.buffer.as_mut();
        b[0] = next_header.0;
        b[1] = 0;
        b[2..4].copy_from_slice(&w.to_be_bytes());
        b[4..8].copy_from_slice(&ident.to_be_bytes());
    }
}

/// A fragment header met on the walk to the upper layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FragInfo {
    /// Where the fragment header starts, from the start of the IPv6 payload.
    pub header_offset: usize,
    /// Fragment offset in bytes.
    pub frag_offset: usize,
    /// More fragments follow.
    pub more: bool,
    /// Identification.
    pub ident: u32,
}

/// Where the walk over the extension headers ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExtHeaders {
    /// The first header that is not an extension header: the upper layer, or
    /// [`IpProtocol::NONE`] ("no next header"), or the fragmentable part's first header of a
    /// non-first fragment (whose headers are elsewhere).
    pub protocol: IpProtocol,
    /// Where that header starts, from the start of the IPv6 payload.
    pub offset: usize,
    /// The fragment header, if one was met.
    pub frag: Option<FragInfo>,
}

/// Walks the extension headers of an IPv6 payload starting with next header `first`, to the
/// upper layer. Linux: `ipv6_skip_exthdr`.
///
/// As in Linux, the walk stops at a fragment header of a non-first fragment (the rest of the
/// chain travels in the first fragment) and at "no next header"; an authentication header's
/// length is counted in 4-byte units (`ipv6_authlen`). [`WireError::Truncated`] if a header
/// runs past `payload`.
pub fn ipv6_skip_exthdr(payload: &[u8], first: IpProtocol) -> Result<ExtHeaders> {
    let mut nh = first;
    let mut off = 0usize;
    let mut frag = None;
    while ipv6_ext_hdr(nh) && nh != IpProtocol::NONE {
        let rest = payload.get(off..).unwrap_or(&[]);
        if rest.len() < MIN_HEADER_LEN {
            return Err(WireError::Truncated);
        }
        let len = match nh {
            IpProtocol::FRAGMENT => {
                let f = Ipv6FragHeader::new_unchecked(rest);
                frag = Some(FragInfo {
                    header_offset: off,
                    frag_offset: f.frag_offset(),
                    more: f.more_frags(),
                    ident: f.ident(),
                });
                if f.frag_offset() != 0 {
                    return Ok(ExtHeaders {
                        protocol: f.next_header(),
                        offset: off + FRAG_HEADER_LEN,
                        frag,
                    });
                }
                FRAG_HEADER_LEN
            }
            IpProtocol::AH => (usize::from(rest[1]) + 2) * 4,
            _ => ipv6_optlen(rest),
        };
        if rest.len() < len {
            return Err(WireError::Truncated);
        }
        nh = IpProtocol(rest[0]);
        off += len;
    }
    Ok(ExtHeaders {
        protocol: nh,
        offset: off,
        frag,
    })
}

#[cfg(test)]
mod tests {
    use super::super::captures::*;
    use super::super::ipv6::{Ipv6Packet, HEADER_LEN};
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn mld_report_router_alert() {
        let f = from_hex(MLD2_REPORT6);
        let p = Ipv6Packet::new_checked(&f[..]).unwrap();
        assert_eq!(p.next_header(), IpProtocol::HOPOPTS);
        let h = Ipv6OptionsHeader::new_checked(p.payload()).unwrap();
        assert_eq!((h.next_header(), h.header_len()), (IpProtocol::ICMPV6, 8));
        let opts: Vec<_> = h.options().collect::<Result<_>>().unwrap();
        assert_eq!(
            opts,
            vec![
                (2, Ipv6Option::RouterAlert(ROUTER_ALERT_MLD)),
                (6, Ipv6Option::PadN(2))
            ]
        );
        let w = ipv6_skip_exthdr(p.payload(), p.next_header()).unwrap();
        assert_eq!(
            (w.protocol, w.offset, w.frag),
            (IpProtocol::ICMPV6, 8, None)
        );
        let mut ours = [0u8; 8];
        emit_router_alert_hbh(&mut ours, IpProtocol::ICMPV6, ROUTER_ALERT_MLD);
        assert_eq!(&ours[..], &p.payload()[..8], "the header Linux sends");
    }

    #[test]
    fn last_fragment_walk() {
        let f = from_hex(FRAG6_LAST);
        let p = Ipv6Packet::new_checked(&f[..]).unwrap();
        assert_eq!(p.next_header(), IpProtocol::FRAGMENT);
        let fh = Ipv6FragHeader::new_checked(p.payload()).unwrap();
        assert_eq!(fh.next_header(), IpProtocol::UDP);
        assert_eq!(fh.frag_offset(), 2896);
        assert!(!fh.more_frags());
        assert_eq!(fh.ident(), 0x2dcc_9e84);
        let w = ipv6_skip_exthdr(p.payload(), p.next_header()).unwrap();
        assert_eq!((w.protocol, w.offset), (IpProtocol::UDP, 8));
        let fi = w.frag.unwrap();
        assert_eq!(
            (fi.header_offset, fi.frag_offset, fi.more),
            (0, 2896, false)
        );
        // The 3072-byte datagram plus the 8-byte UDP header ends at the last fragment's end.
        assert_eq!(2896 + p.payload().len() - FRAG_HEADER_LEN, 3072 + 8);
        let mut b = [0u8; 8];
        Ipv6FragHeader::new_unchecked(&mut b[..]).set(IpProtocol::UDP, 2896, false, 0x2dcc_9e84);
        assert_eq!(&b[..], &p.payload()[..8]);
    }

    #[test]
    fn walk_through_a_chain() {
        // hop-by-hop (8) -> destination options (16) -> routing (8) -> AH (12) -> TCP.
        let mut b = vec![0u8; 8 + 16 + 8 + 12 + 20];
        emit_router_alert_hbh(&mut b[..8], IpProtocol::DSTOPTS, 0);
        b[8] = IpProtocol::ROUTING.0;
        b[9] = 1;
        b[10] = option_type::PADN;
        b[11] = 4; // 6 bytes of padding, then 8 bytes of an unknown skip-type option
        b[16] = 0x1e;
        b[17] = 6;
        b[24] = IpProtocol::AH.0;
        b[25] = 0;
        b[26] = routing_type::SRH;
        b[32] = IpProtocol::TCP.0;
        b[33] = 1; // (1 + 2) * 4 = 12 bytes
        let w = ipv6_skip_exthdr(&b, IpProtocol::HOPOPTS).unwrap();
        assert_eq!((w.protocol, w.offset, w.frag), (IpProtocol::TCP, 44, None));
        let d = Ipv6OptionsHeader::new_checked(&b[8..]).unwrap();
        let opts: Vec<_> = d.options().collect::<Result<_>>().unwrap();
        assert_eq!(opts[0], (2, Ipv6Option::PadN(6)));
        assert!(
            matches!(opts[1], (8, Ipv6Option::Unknown { option_type: 0x1e, data }) if data.len() == 6)
        );
        assert_eq!(UnknownOption::of(0x1e), UnknownOption::Skip);
        assert_eq!(UnknownOption::of(0x5e), UnknownOption::Discard);
        assert_eq!(UnknownOption::of(0x9e), UnknownOption::DiscardAndReport);
        assert_eq!(
            UnknownOption::of(0xde),
            UnknownOption::DiscardAndReportUnlessMulticast
        );
        let r = Ipv6RoutingHeader::new_checked(&b[24..]).unwrap();
        assert_eq!(
            (r.routing_type(), r.segments_left(), r.header_len()),
            (4, 0, 8)
        );
        // Cut anywhere inside the chain: truncated, never a panic.
        for cut in 0..44 {
            assert_eq!(
                ipv6_skip_exthdr(&b[..cut], IpProtocol::HOPOPTS),
                Err(WireError::Truncated),
                "cut at {cut}"
            );
        }
        // "No next header" ends the walk where it is.
        let w = ipv6_skip_exthdr(&[], IpProtocol::NONE).unwrap();
        assert_eq!((w.protocol, w.offset), (IpProtocol::NONE, 0));
    }

    #[test]
    fn non_first_fragment_stops_the_walk() {
        let mut b = [0u8; 16];
        Ipv6FragHeader::new_unchecked(&mut b[..]).set(IpProtocol::DSTOPTS, 1448, true, 7);
        let w = ipv6_skip_exthdr(&b, IpProtocol::FRAGMENT).unwrap();
        assert_eq!((w.protocol, w.offset), (IpProtocol::DSTOPTS, 8));
        assert_eq!(w.frag.unwrap().frag_offset, 1448);
        assert!(w.frag.unwrap().more);
    }

    fn walk(h: &[u8]) -> Result<usize> {
        let hdr = Ipv6OptionsHeader::new_checked(h).unwrap();
        hdr.options().collect::<Result<Vec<_>>>().map(|v| v.len())
    }

    #[test]
    fn bad_padding_and_overruns() {
        // Eight Pad1 in a row: more than 7 bytes of padding (Linux: `ip6_parse_tlv` bad).
        let mut h = [0u8; 16];
        h[0] = IpProtocol::TCP.0;
        h[1] = 1;
        let r = walk(&h);
        assert_eq!(r.unwrap_err(), WireError::Malformed);
        // PadN with a non-zero byte.
        let h = [6, 0, 1, 4, 0, 0, 1, 0];
        let r = walk(&h);
        assert_eq!(r.unwrap_err(), WireError::Malformed);
        // An option longer than the header.
        let h = [6, 0, 0x1e, 9, 0, 0, 0, 0];
        let r = walk(&h);
        assert_eq!(r.unwrap_err(), WireError::Truncated);
        // A router alert of the wrong length.
        let h = [6, 0, 5, 3, 0, 0, 0, 1];
        let r = walk(&h);
        assert_eq!(r.unwrap_err(), WireError::Malformed);
        // A header claiming more than the buffer holds.
        assert!(Ipv6OptionsHeader::new_checked(&[6u8, 1, 1, 4, 0, 0, 0, 0][..]).is_err());
        assert!(Ipv6RoutingHeader::new_checked(&[6u8, 2, 0, 1, 0, 0, 0, 0][..]).is_err());
        assert!(Ipv6FragHeader::new_checked(&[6u8, 0, 0][..]).is_err());
    }

    proptest! {
        #[test]
        fn arbitrary_chains_never_panic(b in proptest::collection::vec(any::<u8>(), 0..200),
                                         first in any::<u8>()) {
            if let Ok(w) = ipv6_skip_exthdr(&b, IpProtocol(first)) {
                prop_assert!(w.offset <= b.len());
            }
            if let Ok(h) = Ipv6OptionsHeader::new_checked(&b[..]) {
                for (off, _) in h.options().flatten() {
                    prop_assert!(off < h.header_len());
                }
            }
            if let Ok(r) = Ipv6RoutingHeader::new_checked(&b[..]) {
                let _ = (r.routing_type(), r.segments_left(), r.data().len());
            }
        }
    }

    #[test]
    fn payload_offsets_match_the_fixed_header() {
        let f = from_hex(ECHO6_REQUEST);
        let p = Ipv6Packet::new_checked(&f[..]).unwrap();
        let w = ipv6_skip_exthdr(p.payload(), p.next_header()).unwrap();
        assert_eq!((w.protocol, w.offset), (IpProtocol::ICMPV6, 0));
        assert_eq!(f.len(), HEADER_LEN + p.payload().len());
    }
}
