//! TCP headers and options (RFC 9293 3.1, RFC 7323, RFC 2018).
//!
//! Linux: `struct tcphdr` (include/uapi/linux/tcp.h), `tcp_parse_options`,
//! `tcp_options_write`.

use super::checksum;
use super::{Result, WireError};
use std::fmt;
use std::net::Ipv4Addr;
use std::ops::{Add, AddAssign, Sub};

/// Header length without options.
pub const HEADER_LEN: usize = 20;
/// Largest header (data offset 15).
pub const MAX_HEADER_LEN: usize = 60;

const KIND_EOL: u8 = 0;
const KIND_NOP: u8 = 1;
const KIND_MSS: u8 = 2;
const KIND_WS: u8 = 3;
const KIND_SACK_PERM: u8 = 4;
const KIND_SACK: u8 = 5;
const KIND_TS: u8 = 8;
/// TCP Fast Open cookie (RFC 7413). Linux: `TCPOPT_FASTOPEN`.
const KIND_FASTOPEN: u8 = 34;
/// Experimental option (RFC 6994); with [`FASTOPEN_MAGIC`] the pre-RFC Fast Open option.
/// Linux: `TCPOPT_EXP`.
const KIND_EXP: u8 = 254;
/// The experiment ID of the pre-RFC Fast Open option. Linux: `TCPOPT_FASTOPEN_MAGIC`.
pub const FASTOPEN_MAGIC: u16 = 0xF989;

/// Shortest and longest Fast Open cookie (RFC 7413 4.1.1). Linux: `TCP_FASTOPEN_COOKIE_MIN`,
/// `TCP_FASTOPEN_COOKIE_MAX`.
pub const FASTOPEN_COOKIE_MIN: usize = 4;
/// Longest Fast Open cookie.
pub const FASTOPEN_COOKIE_MAX: usize = 16;

/// A Fast Open option as carried in a SYN or SYN-ACK: an empty cookie is a cookie request.
/// Linux: `struct tcp_fastopen_cookie` (`len` >= 0, `exp`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct FastOpenCookie {
    /// Cookie bytes; only the first `len` count.
    pub val: [u8; FASTOPEN_COOKIE_MAX],
    /// Cookie length: 0 (a request) or 4..=16, even.
    pub len: u8,
    /// Sent or received as the experimental option (kind 254, magic 0xF989).
    pub exp: bool,
}

impl FastOpenCookie {
    /// A cookie request (an empty Fast Open option).
    pub const fn request(exp: bool) -> FastOpenCookie {
        FastOpenCookie {
            val: [0; FASTOPEN_COOKIE_MAX],
            len: 0,
            exp,
        }
    }

    /// A cookie from bytes; `None` unless the length is valid (even, 4..=16).
    pub fn new(bytes: &[u8], exp: bool) -> Option<FastOpenCookie> {
        let n = bytes.len();
        if !(FASTOPEN_COOKIE_MIN..=FASTOPEN_COOKIE_MAX).contains(&n) || n % 2 == 1 {
            return None;
        }
        let mut val = [0; FASTOPEN_COOKIE_MAX];
        val[..n].copy_from_slice(bytes);
        Some(FastOpenCookie {
            val,
            len: n as u8,
            exp,
        })
    }

    /// The cookie bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.val[..(self.len as usize).min(FASTOPEN_COOKIE_MAX)]
    }

    /// Whether this is a request (no cookie).
    pub fn is_request(&self) -> bool {
        self.len == 0
    }

    /// Option bytes: kind and length (and the magic for the experimental form), the
    /// cookie, padded with NOPs to 4 bytes as Linux pads it (`tcp_options_write`).
    fn wire_len(&self) -> usize {
        let base = if self.exp { 4 } else { 2 };
        (base + self.len as usize).div_ceil(4) * 4
    }
}

/// A sequence number with modulo-2^32 comparison (RFC 9293 3.4). Not a total order: only
/// numbers less than 2^31 apart compare meaningfully.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SeqNumber(pub u32);

impl SeqNumber {
    /// The later of two.
    pub fn max(self, other: SeqNumber) -> SeqNumber {
        if self > other {
            self
        } else {
            other
        }
    }

    /// The earlier of two.
    pub fn min(self, other: SeqNumber) -> SeqNumber {
        if self < other {
            self
        } else {
            other
        }
    }

    /// Add a raw amount.
    pub fn wrapping_add(self, n: u32) -> SeqNumber {
        SeqNumber(self.0.wrapping_add(n))
    }
}

impl Add<usize> for SeqNumber {
    type Output = SeqNumber;
    fn add(self, n: usize) -> SeqNumber {
        SeqNumber(self.0.wrapping_add(n as u32))
    }
}

impl AddAssign<usize> for SeqNumber {
    fn add_assign(&mut self, n: usize) {
        *self = *self + n;
    }
}

impl Sub<usize> for SeqNumber {
    type Output = SeqNumber;
    fn sub(self, n: usize) -> SeqNumber {
        SeqNumber(self.0.wrapping_sub(n as u32))
    }
}

impl Sub<SeqNumber> for SeqNumber {
    type Output = i32;
    /// The signed distance `self - other`.
    fn sub(self, other: SeqNumber) -> i32 {
        self.0.wrapping_sub(other.0) as i32
    }
}

impl PartialOrd for SeqNumber {
    fn partial_cmp(&self, other: &SeqNumber) -> Option<std::cmp::Ordering> {
        Some((*self - *other).cmp(&0))
    }
}

impl fmt::Display for SeqNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// TCP control bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TcpFlags(pub u8);

impl TcpFlags {
    /// FIN.
    pub const FIN: TcpFlags = TcpFlags(0x01);
    /// SYN.
    pub const SYN: TcpFlags = TcpFlags(0x02);
    /// RST.
    pub const RST: TcpFlags = TcpFlags(0x04);
    /// PSH.
    pub const PSH: TcpFlags = TcpFlags(0x08);
    /// ACK.
    pub const ACK: TcpFlags = TcpFlags(0x10);
    /// URG.
    pub const URG: TcpFlags = TcpFlags(0x20);
    /// ECE.
    pub const ECE: TcpFlags = TcpFlags(0x40);
    /// CWR.
    pub const CWR: TcpFlags = TcpFlags(0x80);

    /// All bits of `f` set.
    pub fn contains(self, f: TcpFlags) -> bool {
        self.0 & f.0 == f.0
    }

    /// Any bit of `f` set.
    pub fn intersects(self, f: TcpFlags) -> bool {
        self.0 & f.0 != 0
    }

    /// Set bits.
    pub fn insert(&mut self, f: TcpFlags) {
        self.0 |= f.0;
    }

    /// Clear bits.
    pub fn remove(&mut self, f: TcpFlags) {
        self.0 &= !f.0;
    }

    /// No bit set.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl std::ops::BitOr for TcpFlags {
    type Output = TcpFlags;
    fn bitor(self, rhs: TcpFlags) -> TcpFlags {
        TcpFlags(self.0 | rhs.0)
    }
}

impl fmt::Display for TcpFlags {
    /// As tcpdump prints them: `[S.]`, `[P.]`, `[F.]`, `[R]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[")?;
        for (bit, c) in [
            (TcpFlags::SYN, 'S'),
            (TcpFlags::FIN, 'F'),
            (TcpFlags::PSH, 'P'),
            (TcpFlags::RST, 'R'),
            (TcpFlags::URG, 'U'),
            (TcpFlags::ECE, 'E'),
            (TcpFlags::CWR, 'W'),
        ] {
            if self.contains(bit) {
                write!(f, "{c}")?;
            }
        }
        if self.contains(TcpFlags::ACK) {
            f.write_str(".")?;
        }
        f.write_str("]")
    }
}

/// A view of a TCP segment (header and payload).
#[derive(Debug, Clone)]
pub struct TcpPacket<T: AsRef<[u8]>> {
    buf: T,
}

impl<T: AsRef<[u8]>> TcpPacket<T> {
    /// Wrap without checks (accessors may panic on short buffers).
    pub fn new_unchecked(buf: T) -> TcpPacket<T> {
        TcpPacket { buf }
    }

    /// Wrap after checking that the header fits.
    pub fn new_checked(buf: T) -> Result<TcpPacket<T>> {
        let len = buf.as_ref().len();
        if len < HEADER_LEN {
            return Err(WireError::Truncated);
        }
        let p = TcpPacket { buf };
        let hl = p.header_len() as usize;
        if hl < HEADER_LEN {
            return Err(WireError::Malformed);
        }
        if hl > len {
            return Err(WireError::Truncated);
        }
        Ok(p)
    }

    /// The underlying buffer.
    pub fn into_inner(self) -> T {
        self.buf
    }

    fn b(&self) -> &[u8] {
        self.buf.as_ref()
    }

    fn u16_at(&self, i: usize) -> u16 {
        u16::from_be_bytes([self.b()[i], self.b()[i + 1]])
    }

    fn u32_at(&self, i: usize) -> u32 {
        u32::from_be_bytes([
            self.b()[i],
            self.b()[i + 1],
            self.b()[i + 2],
            self.b()[i + 3],
        ])
    }

    /// Source port.
    pub fn src_port(&self) -> u16 {
        self.u16_at(0)
    }
    /// Destination port.
    pub fn dst_port(&self) -> u16 {
        self.u16_at(2)
    }
    /// Sequence number.
    pub fn seq_number(&self) -> SeqNumber {
        SeqNumber(self.u32_at(4))
    }
    /// Acknowledgment number.
    pub fn ack_number(&self) -> SeqNumber {
        SeqNumber(self.u32_at(8))
    }
    /// Header length in bytes (data offset × 4).
    pub fn header_len(&self) -> u8 {
        (self.b()[12] >> 4) * 4
    }
    /// Control bits.
    pub fn flags(&self) -> TcpFlags {
        TcpFlags(self.b()[13])
    }
    /// Window field (unscaled).
    pub fn window_len(&self) -> u16 {
        self.u16_at(14)
    }
    /// Checksum field.
    pub fn checksum(&self) -> u16 {
        self.u16_at(16)
    }
    /// Urgent pointer.
    pub fn urgent_at(&self) -> u16 {
        self.u16_at(18)
    }
    /// Option bytes.
    pub fn options(&self) -> &[u8] {
        &self.b()[HEADER_LEN..self.header_len() as usize]
    }
    /// Payload bytes.
    pub fn payload(&self) -> &[u8] {
        &self.b()[self.header_len() as usize..]
    }
    /// Sequence space the segment occupies (payload + SYN + FIN).
    pub fn segment_len(&self) -> usize {
        let f = self.flags();
        self.payload().len()
            + usize::from(f.contains(TcpFlags::SYN))
            + usize::from(f.contains(TcpFlags::FIN))
    }
    /// Whether the checksum (with the IPv4 pseudo-header) verifies over the whole buffer.
    pub fn verify_checksum(&self, src: Ipv4Addr, dst: Ipv4Addr) -> bool {
        let b = self.b();
        let pseudo = checksum::pseudo_header_v4(src, dst, 6, b.len() as u16);
        checksum::fold(checksum::sum(b, pseudo)) == 0xffff
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> TcpPacket<T> {
    fn bm(&mut self) -> &mut [u8] {
        self.buf.as_mut()
    }
    /// Set the source port.
    pub fn set_src_port(&mut self, v: u16) {
        self.bm()[0..2].copy_from_slice(&v.to_be_bytes());
    }
    /// Set the destination port.
    pub fn set_dst_port(&mut self, v: u16) {
        self.bm()[2..4].copy_from_slice(&v.to_be_bytes());
    }
    /// Set the sequence number.
    pub fn set_seq_number(&mut self, v: SeqNumber) {
        self.bm()[4..8].copy_from_slice(&v.0.to_be_bytes());
    }
    /// Set the acknowledgment number.
    pub fn set_ack_number(&mut self, v: SeqNumber) {
        self.bm()[8..12].copy_from_slice(&v.0.to_be_bytes());
    }
    /// Set the header length (bytes, a multiple of 4).
    pub fn set_header_len(&mut self, len: u8) {
        self.bm()[12] = (len / 4) << 4;
    }
    /// Set the flags.
    pub fn set_flags(&mut self, f: TcpFlags) {
        self.bm()[13] = f.0;
    }
    /// Set the window field.
    pub fn set_window_len(&mut self, v: u16) {
        self.bm()[14..16].copy_from_slice(&v.to_be_bytes());
    }
    /// Set the checksum field.
    pub fn set_checksum(&mut self, v: u16) {
        self.bm()[16..18].copy_from_slice(&v.to_be_bytes());
    }
    /// Set the urgent pointer.
    pub fn set_urgent_at(&mut self, v: u16) {
        self.bm()[18..20].copy_from_slice(&v.to_be_bytes());
    }
    /// The payload, writable.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let hl = self.header_len() as usize;
        &mut self.bm()[hl..]
    }
    /// Compute and store the checksum over the whole buffer.
    pub fn fill_checksum(&mut self, src: Ipv4Addr, dst: Ipv4Addr) {
        self.set_checksum(0);
        let b = self.buf.as_ref();
        let pseudo = checksum::pseudo_header_v4(src, dst, 6, b.len() as u16);
        let c = !checksum::fold(checksum::sum(b, pseudo));
        self.set_checksum(c);
    }
}

/// Put the pseudo-header sum for a TCP segment (`seg`: header and payload) into its checksum
/// field, leaving the rest to a device or [`crate::device::xmit::skb_checksum_help`]. Linux: `tcp_v4_send_check`
/// with `CHECKSUM_PARTIAL` (`__tcp_v4_send_check`).
pub fn tcp_csum_partial(seg: &mut [u8], src: Ipv4Addr, dst: Ipv4Addr) {
    if seg.len() < 18 {
        return;
    }
    let pseudo = checksum::pseudo_header_v4(src, dst, 6, seg.len() as u16);
    // Unchecked: the checksum field (bytes 16..18) is inside `seg` (tested above).
    TcpPacket::new_unchecked(seg).set_checksum(checksum::fold(pseudo));
}

/// Length of the IPv4 and TCP headers at the start of `ip`, if it holds a TCP/IPv4 packet
/// whose two headers are whole in the buffer (the total length is not checked).
/// Linux: `skb_tcp_all_headers` (counted from the network header).
pub fn tcp_all_headers_v4(ip: &[u8]) -> Option<usize> {
    if ip.len() < super::ipv4::HEADER_LEN {
        return None;
    }
    let iph = super::Ipv4Packet::new_unchecked(ip);
    if iph.version() != 4 || iph.protocol() != super::IpProtocol::TCP {
        return None;
    }
    let ihl = iph.header_len();
    let thl = usize::from(TcpPacket::new_unchecked(ip.get(ihl..ihl + HEADER_LEN)?).header_len());
    (ihl >= super::ipv4::HEADER_LEN && thl >= HEADER_LEN && ihl + thl <= ip.len())
        .then_some(ihl + thl)
}

/// One TCP option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcpOption<'a> {
    /// End of option list.
    EndOfList,
    /// Padding.
    NoOperation,
    /// Maximum segment size.
    MaxSegmentSize(u16),
    /// Window scale shift.
    WindowScale(u8),
    /// SACK permitted.
    SackPermitted,
    /// SACK blocks (left, right edges).
    SackRange([Option<(u32, u32)>; 4]),
    /// Timestamps.
    Timestamp {
        /// TSval.
        tsval: u32,
        /// TSecr.
        tsecr: u32,
    },
    /// Fast Open cookie or cookie request (kind 34, or kind 254 with magic 0xF989); `None`
    /// when the cookie length is invalid (Linux then ignores it: `foc->len = -1`).
    FastOpen(Option<FastOpenCookie>),
    /// Anything else.
    Unknown {
        /// Kind.
        kind: u8,
        /// Data after kind and length.
        data: &'a [u8],
    },
}

/// Iterator over an options area; stops at EOL and after the first error.
#[derive(Debug, Clone)]
pub struct TcpOptions<'a> {
    rest: &'a [u8],
}

impl<'a> TcpOptions<'a> {
    /// Iterate `options`.
    pub fn new(options: &'a [u8]) -> TcpOptions<'a> {
        TcpOptions { rest: options }
    }
}

impl<'a> Iterator for TcpOptions<'a> {
    type Item = Result<TcpOption<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        let (&kind, tail) = self.rest.split_first()?;
        match kind {
            KIND_EOL => {
                self.rest = &[];
                return Some(Ok(TcpOption::EndOfList));
            }
            KIND_NOP => {
                self.rest = tail;
                return Some(Ok(TcpOption::NoOperation));
            }
            _ => {}
        }
        let bad = |s: &mut Self| {
            s.rest = &[];
            Some(Err(WireError::Malformed))
        };
        let Some(&len) = tail.first() else {
            return bad(self);
        };
        let len = len as usize;
        if len < 2 || len > self.rest.len() {
            return bad(self);
        }
        let data = &self.rest[2..len];
        self.rest = &self.rest[len..];
        let be32 = |d: &[u8]| u32::from_be_bytes([d[0], d[1], d[2], d[3]]);
        let opt = match kind {
            KIND_MSS if len == 4 => {
                TcpOption::MaxSegmentSize(u16::from_be_bytes([data[0], data[1]]))
            }
            KIND_WS if len == 3 => TcpOption::WindowScale(data[0]),
            KIND_SACK_PERM if len == 2 => TcpOption::SackPermitted,
            KIND_TS if len == 10 => TcpOption::Timestamp {
                tsval: be32(&data[0..4]),
                tsecr: be32(&data[4..8]),
            },
            KIND_SACK if (10..=34).contains(&len) && (len - 2).is_multiple_of(8) => {
                let mut blocks = [None; 4];
                for (i, c) in data.chunks_exact(8).enumerate() {
                    blocks[i] = Some((be32(&c[0..4]), be32(&c[4..8])));
                }
                TcpOption::SackRange(blocks)
            }
            KIND_MSS | KIND_WS | KIND_SACK_PERM | KIND_TS | KIND_SACK => return bad(self),
            // Linux: `tcp_parse_fastopen_option`: an empty option asks for a cookie, a
            // cookie of bad length is ignored.
            KIND_FASTOPEN => TcpOption::FastOpen(fastopen_cookie(data, false)),
            KIND_EXP
                if data.len() >= 2 && u16::from_be_bytes([data[0], data[1]]) == FASTOPEN_MAGIC =>
            {
                TcpOption::FastOpen(fastopen_cookie(&data[2..], true))
            }
            _ => TcpOption::Unknown { kind, data },
        };
        Some(Ok(opt))
    }
}

/// The cookie of a Fast Open option's data: empty is a request.
fn fastopen_cookie(data: &[u8], exp: bool) -> Option<FastOpenCookie> {
    if data.is_empty() {
        Some(FastOpenCookie::request(exp))
    } else {
        FastOpenCookie::new(data, exp)
    }
}

/// A parsed or to-be-emitted TCP header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpRepr {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Control bits.
    pub flags: TcpFlags,
    /// Sequence number.
    pub seq_number: SeqNumber,
    /// Acknowledgment number (present iff ACK is set).
    pub ack_number: Option<SeqNumber>,
    /// Window field (unscaled).
    pub window_len: u16,
    /// MSS option.
    pub max_seg_size: Option<u16>,
    /// Window scale option.
    pub window_scale: Option<u8>,
    /// SACK-permitted option.
    pub sack_permitted: bool,
    /// SACK blocks.
    pub sack_ranges: [Option<(SeqNumber, SeqNumber)>; 4],
    /// Timestamps (TSval, TSecr).
    pub timestamp: Option<(u32, u32)>,
    /// Fast Open option (RFC 7413), in SYN and SYN-ACK segments only.
    pub fastopen: Option<FastOpenCookie>,
    /// Payload length.
    pub payload_len: usize,
}

impl TcpRepr {
    /// Parse a segment; checks the checksum when asked. Linux: `tcp_v4_rcv`'s header checks
    /// and `tcp_parse_options`.
    pub fn parse(
        p: &TcpPacket<&[u8]>,
        src: Ipv4Addr,
        dst: Ipv4Addr,
        check_checksum: bool,
    ) -> Result<TcpRepr> {
        if p.src_port() == 0 || p.dst_port() == 0 {
            return Err(WireError::Malformed);
        }
        if check_checksum && !p.verify_checksum(src, dst) {
            return Err(WireError::Checksum);
        }
        let flags = p.flags();
        let mut r = TcpRepr {
            src_port: p.src_port(),
            dst_port: p.dst_port(),
            flags,
            seq_number: p.seq_number(),
            ack_number: if flags.contains(TcpFlags::ACK) {
                Some(p.ack_number())
            } else {
                None
            },
            window_len: p.window_len(),
            max_seg_size: None,
            window_scale: None,
            sack_permitted: false,
            sack_ranges: [None; 4],
            timestamp: None,
            fastopen: None,
            payload_len: p.payload().len(),
        };
        let opts = p.options();
        // The common case in an established connection: only a timestamp, laid out as Linux
        // and Linnet write it (NOP, NOP, kind 8, length 10). Read it in place; the walk
        // below gives the same result for these bytes. Linux: `tcp_parse_aligned_timestamp`.
        if let [1, 1, 8, 10, a0, a1, a2, a3, b0, b1, b2, b3] = *opts {
            r.timestamp = Some((
                u32::from_be_bytes([a0, a1, a2, a3]),
                u32::from_be_bytes([b0, b1, b2, b3]),
            ));
            return Ok(r);
        }
        for opt in TcpOptions::new(opts) {
            match opt? {
                TcpOption::MaxSegmentSize(m) => r.max_seg_size = Some(m),
                TcpOption::WindowScale(w) => r.window_scale = Some(w),
                TcpOption::SackPermitted => r.sack_permitted = true,
                TcpOption::SackRange(b) => {
                    for (slot, blk) in r.sack_ranges.iter_mut().zip(b) {
                        *slot = blk.map(|(l, rr)| (SeqNumber(l), SeqNumber(rr)));
                    }
                }
                TcpOption::Timestamp { tsval, tsecr } => r.timestamp = Some((tsval, tsecr)),
                // Valid only in a SYN or SYN-ACK (Linux: `tcp_parse_fastopen_option`).
                TcpOption::FastOpen(Some(c)) if flags.contains(TcpFlags::SYN) => {
                    r.fastopen = Some(c)
                }
                _ => {}
            }
        }
        Ok(r)
    }

    /// Sequence space occupied.
    pub fn segment_len(&self) -> usize {
        self.payload_len
            + usize::from(self.flags.contains(TcpFlags::SYN))
            + usize::from(self.flags.contains(TcpFlags::FIN))
    }

    fn syn(&self) -> bool {
        self.flags.contains(TcpFlags::SYN)
    }

    /// SACK blocks that fit with the other options.
    fn sack_count(&self) -> usize {
        if self.syn() {
            return 0;
        }
        let n = self.sack_ranges.iter().take_while(|b| b.is_some()).count();
        let max = if self.timestamp.is_some() { 3 } else { 4 };
        n.min(max)
    }

    fn options_len(&self) -> usize {
        let mut n = 0;
        if self.syn() {
            if self.max_seg_size.is_some() {
                n += 4;
            }
            n += match (self.sack_permitted, self.timestamp.is_some()) {
                (true, true) => 12,
                (false, true) => 12,
                (true, false) => 4,
                (false, false) => 0,
            };
            if self.window_scale.is_some() {
                n += 4;
            }
            if let Some(c) = &self.fastopen {
                n += c.wire_len();
            }
        } else {
            if self.timestamp.is_some() {
                n += 12;
            }
            let s = self.sack_count();
            if s > 0 {
                n += 4 + 8 * s;
            }
        }
        n
    }

    /// Header length with options (padded to 4 bytes).
    pub fn header_len(&self) -> usize {
        HEADER_LEN + self.options_len()
    }

    /// Write the header (checksum zero) into `h`, which must be `header_len()` bytes.
    /// Options are laid out as Linux lays them out (`tcp_options_write`).
    pub fn emit(&self, h: &mut [u8]) {
        let hl = self.header_len();
        let h = &mut h[..hl];
        h[0..2].copy_from_slice(&self.src_port.to_be_bytes());
        h[2..4].copy_from_slice(&self.dst_port.to_be_bytes());
        h[4..8].copy_from_slice(&self.seq_number.0.to_be_bytes());
        h[8..12].copy_from_slice(&self.ack_number.unwrap_or_default().0.to_be_bytes());
        h[12] = ((hl / 4) as u8) << 4;
        let mut flags = self.flags;
        if self.ack_number.is_some() {
            flags.insert(TcpFlags::ACK);
        }
        h[13] = flags.0;
        h[14..16].copy_from_slice(&self.window_len.to_be_bytes());
        h[16..20].fill(0);
        let mut o = HEADER_LEN;
        let mut put = |h: &mut [u8], bytes: &[u8]| {
            h[o..o + bytes.len()].copy_from_slice(bytes);
            o += bytes.len();
        };
        if self.syn() {
            if let Some(m) = self.max_seg_size {
                let m = m.to_be_bytes();
                put(h, &[KIND_MSS, 4, m[0], m[1]]);
            }
            match (self.sack_permitted, self.timestamp) {
                (true, Some((v, e))) => {
                    put(h, &[KIND_SACK_PERM, 2, KIND_TS, 10]);
                    put(h, &v.to_be_bytes());
                    put(h, &e.to_be_bytes());
                }
                (false, Some((v, e))) => {
                    put(h, &[KIND_NOP, KIND_NOP, KIND_TS, 10]);
                    put(h, &v.to_be_bytes());
                    put(h, &e.to_be_bytes());
                }
                (true, None) => put(h, &[KIND_NOP, KIND_NOP, KIND_SACK_PERM, 2]),
                (false, None) => {}
            }
            if let Some(w) = self.window_scale {
                put(h, &[KIND_NOP, KIND_WS, 3, w]);
            }
            if let Some(c) = &self.fastopen {
                let len = c.len as usize;
                if c.exp {
                    let m = FASTOPEN_MAGIC.to_be_bytes();
                    put(h, &[KIND_EXP, (4 + len) as u8, m[0], m[1]]);
                } else {
                    put(h, &[KIND_FASTOPEN, (2 + len) as u8]);
                }
                put(h, c.bytes());
                let pad = c.wire_len() - len - if c.exp { 4 } else { 2 };
                put(h, &[KIND_NOP, KIND_NOP, KIND_NOP][..pad]);
            }
        } else {
            if let Some((v, e)) = self.timestamp {
                put(h, &[KIND_NOP, KIND_NOP, KIND_TS, 10]);
                put(h, &v.to_be_bytes());
                put(h, &e.to_be_bytes());
            }
            let s = self.sack_count();
            if s > 0 {
                put(h, &[KIND_NOP, KIND_NOP, KIND_SACK, (2 + 8 * s) as u8]);
                for (l, r) in self.sack_ranges.iter().take(s).flatten() {
                    put(h, &l.0.to_be_bytes());
                    put(h, &r.0.to_be_bytes());
                }
            }
        }
    }

    /// Emit the header into the front of `segment` (payload already after `header_len()`
    /// bytes) and fill the checksum over the whole segment.
    pub fn emit_segment(&self, segment: &mut [u8], src: Ipv4Addr, dst: Ipv4Addr) {
        self.emit(segment);
        TcpPacket::new_unchecked(segment).fill_checksum(src, dst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const S: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
    const D: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);

    fn base() -> TcpRepr {
        TcpRepr {
            src_port: 40000,
            dst_port: 80,
            flags: TcpFlags::SYN,
            seq_number: SeqNumber(1000),
            ack_number: None,
            window_len: 64240,
            max_seg_size: Some(1460),
            window_scale: Some(7),
            sack_permitted: true,
            sack_ranges: [None; 4],
            timestamp: Some((123, 0)),
            fastopen: None,
            payload_len: 0,
        }
    }

    fn round_trip(r: &TcpRepr, payload: &[u8]) -> TcpRepr {
        let hl = r.header_len();
        let mut seg = vec![0u8; hl + payload.len()];
        seg[hl..].copy_from_slice(payload);
        r.emit_segment(&mut seg, S, D);
        let p = TcpPacket::new_checked(&seg[..]).unwrap();
        assert!(p.verify_checksum(S, D));
        TcpRepr::parse(&p, S, D, true).unwrap()
    }

    #[test]
    fn linux_layout_lengths() {
        let syn = base();
        assert_eq!(syn.header_len(), 40);
        assert_eq!(round_trip(&syn, &[]), syn);
        let mut ack = base();
        ack.flags = TcpFlags::ACK;
        ack.ack_number = Some(SeqNumber(5));
        ack.max_seg_size = None;
        ack.window_scale = None;
        ack.sack_permitted = false;
        assert_eq!(ack.header_len(), 32);
        ack.sack_ranges[0] = Some((SeqNumber(10), SeqNumber(20)));
        assert_eq!(ack.header_len(), 44);
        ack.sack_ranges[1] = Some((SeqNumber(30), SeqNumber(40)));
        ack.sack_ranges[2] = Some((SeqNumber(50), SeqNumber(60)));
        assert_eq!(ack.header_len(), 60);
        ack.payload_len = 3;
        assert_eq!(round_trip(&ack, b"abc"), ack);
        ack.timestamp = None;
        ack.sack_ranges[3] = Some((SeqNumber(70), SeqNumber(80)));
        assert_eq!(ack.header_len(), 56);
        assert_eq!(round_trip(&ack, b"abc"), ack);
    }

    #[test]
    fn malformed_options_are_errors() {
        for opts in [
            &[2u8, 0, 0, 0][..],
            &[2, 1],
            &[8, 12, 0, 0],
            &[2, 3, 5, 0],
            &[5, 6, 0, 0, 0, 0],
            &[3],
        ] {
            let mut seg = vec![0u8; 20 + opts.len().div_ceil(4) * 4];
            seg[20..20 + opts.len()].copy_from_slice(opts);
            let r = TcpRepr {
                flags: TcpFlags::ACK,
                ack_number: Some(SeqNumber(1)),
                max_seg_size: None,
                window_scale: None,
                sack_permitted: false,
                timestamp: None,
                ..base()
            };
            r.emit(&mut seg[..20]);
            seg[12] = ((seg.len() / 4) as u8) << 4;
            TcpPacket::new_unchecked(&mut seg[..]).fill_checksum(S, D);
            let p = TcpPacket::new_checked(&seg[..]).unwrap();
            assert_eq!(
                TcpRepr::parse(&p, S, D, true),
                Err(WireError::Malformed),
                "{opts:?}"
            );
        }
        assert_eq!(
            TcpPacket::new_checked(&[0u8; 19][..]).err(),
            Some(WireError::Truncated)
        );
        let mut h = [0u8; 20];
        h[12] = 0x40;
        assert_eq!(
            TcpPacket::new_checked(&h[..]).err(),
            Some(WireError::Malformed)
        );
        h[12] = 0x60;
        assert_eq!(
            TcpPacket::new_checked(&h[..]).err(),
            Some(WireError::Truncated)
        );
    }

    #[test]
    fn bad_checksum() {
        let r = base();
        let mut seg = vec![0u8; r.header_len()];
        r.emit_segment(&mut seg, S, D);
        seg[5] ^= 1;
        let p = TcpPacket::new_checked(&seg[..]).unwrap();
        assert_eq!(TcpRepr::parse(&p, S, D, true), Err(WireError::Checksum));
    }

    #[test]
    fn aligned_timestamp_read_in_place_matches_the_walk() {
        // An established-connection segment: the options are NOP NOP TS (the fast path).
        let r = TcpRepr {
            flags: TcpFlags::ACK | TcpFlags::PSH,
            ack_number: Some(SeqNumber(77)),
            max_seg_size: None,
            window_scale: None,
            sack_permitted: false,
            timestamp: Some((0x0102_0304, 0xa0b0_c0d0)),
            payload_len: 3,
            ..base()
        };
        let mut seg = vec![0u8; r.header_len() + 3];
        r.emit(&mut seg[..r.header_len()]);
        assert_eq!(&seg[20..24], &[1, 1, 8, 10]);
        let fast = TcpRepr::parse(&TcpPacket::new_checked(&seg[..]).unwrap(), S, D, false).unwrap();
        assert_eq!(fast, r);
        // The same option after the timestamp instead of before it takes the walk.
        let mut moved = seg.clone();
        moved[20..30].copy_from_slice(&seg[22..32]);
        moved[30..32].copy_from_slice(&[1, 1]);
        let walked =
            TcpRepr::parse(&TcpPacket::new_checked(&moved[..]).unwrap(), S, D, false).unwrap();
        assert_eq!(walked, fast);
        // A timestamp of the wrong length is still an error, not a fast-path hit.
        let mut bad = seg.clone();
        bad[23] = 9;
        assert!(TcpRepr::parse(&TcpPacket::new_checked(&bad[..]).unwrap(), S, D, false).is_err());
    }

    #[test]
    fn seq_wraps() {
        let a = SeqNumber(u32::MAX - 5);
        let b = a + 10;
        assert_eq!(b.0, 4);
        assert!(a < b);
        assert_eq!(b - a, 10);
        assert_eq!(a - b, -10);
        assert_eq!(a.max(b), b);
        assert_eq!(format!("{}", TcpFlags::SYN | TcpFlags::ACK), "[S.]");
    }

    fn syn_opts(r: &TcpRepr) -> Vec<u8> {
        let mut seg = vec![0u8; r.header_len()];
        r.emit(&mut seg);
        seg[20..].to_vec()
    }

    fn parse_opts(flags: TcpFlags, opts: &[u8]) -> Result<TcpRepr> {
        let mut seg = vec![0u8; 20 + opts.len().div_ceil(4) * 4];
        seg[20..20 + opts.len()].copy_from_slice(opts);
        let r = TcpRepr {
            flags,
            max_seg_size: None,
            window_scale: None,
            sack_permitted: false,
            timestamp: None,
            ..base()
        };
        r.emit(&mut seg[..20]);
        seg[12] = ((seg.len() / 4) as u8) << 4;
        TcpRepr::parse(&TcpPacket::new_checked(&seg[..]).unwrap(), S, D, false)
    }

    #[test]
    fn fastopen_options_are_laid_out_as_linux_writes_them() {
        // client/nonblocking-sendto.pkt: <mss 1460,nop,nop,sackOK,nop,wscale 8,FO,nop,nop>
        let mut syn = TcpRepr {
            max_seg_size: Some(1460),
            window_scale: Some(8),
            timestamp: None,
            fastopen: Some(FastOpenCookie::request(false)),
            ..base()
        };
        assert_eq!(
            syn_opts(&syn),
            [2, 4, 5, 180, 1, 1, 4, 2, 1, 3, 3, 8, 34, 2, 1, 1]
        );
        assert_eq!(round_trip(&syn, &[]), syn);
        // ... FO abcd1234,nop,nop (length 6, padded) and FO 12345678ffff (length 8).
        syn.fastopen = FastOpenCookie::new(&[0xab, 0xcd, 0x12, 0x34], false);
        assert_eq!(syn_opts(&syn)[12..], [34, 6, 0xab, 0xcd, 0x12, 0x34, 1, 1]);
        syn.payload_len = 4;
        assert_eq!(round_trip(&syn, b"data"), syn);
        syn.payload_len = 0;
        syn.fastopen = FastOpenCookie::new(&[0x12, 0x34, 0x56, 0x78, 0xff, 0xff], false);
        assert_eq!(syn_opts(&syn).len(), 20);
        assert_eq!(round_trip(&syn, &[]), syn);
        // server/simple1.pkt: <mss 1460,sackOK,TS val 10000 ecr 1,nop,wscale 8,FOEXP 00ab...>
        let cookie = [0x00, 0xab, 0xaa, 0xab, 0xe8, 0xe9, 0x54, 0xc2];
        let synack = TcpRepr {
            flags: TcpFlags::SYN | TcpFlags::ACK,
            ack_number: Some(SeqNumber(1)),
            window_scale: Some(8),
            timestamp: Some((10000, 1)),
            fastopen: FastOpenCookie::new(&cookie, true),
            ..base()
        };
        let o = syn_opts(&synack);
        assert_eq!(o.len(), 32);
        assert_eq!(o[20..24], [254, 12, 0xf9, 0x89]);
        assert_eq!(o[24..], cookie);
        assert_eq!(round_trip(&synack, &[]), synack);
        // The longest cookie with every other SYN option still fits in 40 bytes.
        let full = TcpRepr {
            fastopen: FastOpenCookie::new(&[7; 16], true),
            ..base()
        };
        assert_eq!(full.header_len(), 60);
        assert_eq!(round_trip(&full, &[]), full);
    }

    #[test]
    fn fastopen_parse_takes_packetdrill_orders_and_ignores_bad_cookies() {
        // server/simple1.pkt's SYN: <mss 1012,FOEXP,sackOK,TS val 1 ecr 0,nop,wscale 7>
        let opts = [
            2, 4, 3, 244, 254, 4, 0xf9, 0x89, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7,
        ];
        let r = parse_opts(TcpFlags::SYN, &opts).unwrap();
        assert_eq!(r.fastopen, Some(FastOpenCookie::request(true)));
        assert_eq!((r.max_seg_size, r.window_scale), (Some(1012), Some(7)));
        // Only in SYNs.
        assert_eq!(parse_opts(TcpFlags::ACK, &opts).unwrap().fastopen, None);
        // Odd or too long cookies, or another experiment, are ignored, not errors.
        for bad in [
            &[34, 5, 1, 2, 3][..],
            &[
                34, 20, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18,
            ],
            &[34, 4, 1, 2],
            &[254, 8, 0x12, 0x34, 1, 2, 3, 4],
            &[254, 3, 0xf9],
        ] {
            let r = parse_opts(TcpFlags::SYN, bad).unwrap();
            assert_eq!(r.fastopen, None, "{bad:?}");
        }
        // A length running past the options is malformed, as for every option.
        assert!(parse_opts(TcpFlags::SYN, &[34, 12, 1, 2]).is_err());
    }

    proptest! {
        #[test]
        fn fastopen_cookies_round_trip(
            bytes in proptest::collection::vec(any::<u8>(), 0..=16),
            exp in any::<bool>(),
        ) {
            let c = if bytes.is_empty() {
                Some(FastOpenCookie::request(exp))
            } else {
                FastOpenCookie::new(&bytes, exp)
            };
            prop_assert_eq!(c.is_some(), bytes.is_empty() || (bytes.len() >= 4 && bytes.len() % 2 == 0));
            let syn = TcpRepr { fastopen: c, ..base() };
            prop_assert!(syn.header_len() <= MAX_HEADER_LEN);
            prop_assert_eq!(round_trip(&syn, &[]), syn);
        }

        #[test]
        fn random_syn_options_never_panic(opts in proptest::collection::vec(any::<u8>(), 0..40)) {
            if let Ok(r) = parse_opts(TcpFlags::SYN, &opts) {
                if let Some(c) = r.fastopen {
                    prop_assert!(c.len == 0 || (4..=16).contains(&c.len) && c.len % 2 == 0);
                }
            }
        }

        #[test]
        fn random_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..80)) {
            if let Ok(p) = TcpPacket::new_checked(&data[..]) {
                let _ = TcpRepr::parse(&p, S, D, false);
                let _ = TcpRepr::parse(&p, S, D, true);
                for o in TcpOptions::new(p.options()) {
                    let _ = o;
                }
                let _ = p.segment_len();
            }
        }
    }
}
