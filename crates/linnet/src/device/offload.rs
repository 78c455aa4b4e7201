//! Offloads: the virtio-net header that TAP (`IFF_VNET_HDR`) and packet sockets
//! (`PACKET_VNET_HDR`) put in front of each frame, checksum completion, and software GSO.
//!
//! Linux: `struct virtio_net_hdr` (include/uapi/linux/virtio_net.h), `virtio_net_hdr_to_skb` /
//! `virtio_net_hdr_from_skb` (include/linux/virtio_net.h), `skb_checksum_help`
//! (net/core/dev.c), `skb_gso_segment` → `inet_gso_segment` → `tcp_gso_segment`
//! (net/ipv4/af_inet.c, net/ipv4/tcp_offload.c) and `validate_xmit_skb`.
//!
//! With a vnet header the kernel and Linnet exchange TCP segments of up to 64 KiB (TSO/GSO
//! super-frames) whose checksum is left unfinished (`NEEDS_CSUM`: only the pseudo-header sum
//! is in the checksum field). On receive the header becomes buffer metadata
//! ([`crate::buf::Meta::csum`], [`crate::buf::Meta::gso_size`]): TCP and UDP skip verifying a
//! checksum the local kernel left partial or validated, and TCP takes a super-frame whole. On
//! transmit, TCP builds super-frames for a device that advertises TSO ([`NetdevFeatures`]);
//! `Stack::dev_queue_xmit` (through `validate_xmit_skb`) segments them in software (and
//! finishes partial checksums) for devices that cannot, so the in-memory link and loopback
//! only ever see normal MTU-sized frames with complete checksums.

use crate::buf::{BufPool, CsumState, Meta, PacketBuf, LARGE_BUF_SIZE};
use crate::errno::Errno;
use crate::ip::output::NextHop;
use crate::stack::Stack;
use crate::stats::DropReason;
use crate::time::Instant;
use crate::wire::checksum;
use crate::wire::tcp::TcpFlags;
use std::io;
use std::net::Ipv4Addr;

/// Size of `struct virtio_net_hdr` (without `num_buffers`).
pub const VNET_HDR_LEN: usize = 10;

/// `flags`: the checksum at `csum_start + csum_offset` is unfinished.
/// Linux: `VIRTIO_NET_HDR_F_NEEDS_CSUM`.
pub const F_NEEDS_CSUM: u8 = 1;
/// `flags`: the checksum has been validated. Linux: `VIRTIO_NET_HDR_F_DATA_VALID`.
pub const F_DATA_VALID: u8 = 2;

/// `gso_type`: not a GSO frame. Linux: `VIRTIO_NET_HDR_GSO_NONE`.
pub const GSO_NONE: u8 = 0;
/// `gso_type`: TCP over IPv4. Linux: `VIRTIO_NET_HDR_GSO_TCPV4`.
pub const GSO_TCPV4: u8 = 1;
/// `gso_type`: UDP fragmentation offload. Linux: `VIRTIO_NET_HDR_GSO_UDP`.
pub const GSO_UDP: u8 = 3;
/// `gso_type`: TCP over IPv6. Linux: `VIRTIO_NET_HDR_GSO_TCPV6`.
pub const GSO_TCPV6: u8 = 4;
/// `gso_type`: UDP segmentation. Linux: `VIRTIO_NET_HDR_GSO_UDP_L4`.
pub const GSO_UDP_L4: u8 = 5;
/// `gso_type` bit: the TCP segments carry ECN (CWR only on the first). Linux:
/// `VIRTIO_NET_HDR_GSO_ECN`.
pub const GSO_ECN: u8 = 0x80;

/// Largest GSO super-packet at the network layer (an IPv4 datagram). Linux: `GSO_MAX_SIZE`
/// as limited by the 16-bit IPv4 total length.
pub const GSO_MAX_SIZE: usize = 65535;

/// Most segments one super-packet may be split into (bounds the work one bad frame can cause).
/// Linux: `GSO_MAX_SEGS` (65535); Linnet accepts far fewer.
pub const GSO_MAX_SEGS: usize = 1024;

/// Ethernet header length. Linux: `ETH_HLEN`.
pub const ETH_HLEN: usize = 14;
/// Times a read or write interrupted by a signal is retried before giving up.
const EINTR_RETRIES: usize = 16;

/// Offset of the checksum in a TCP header.
const TCP_CSUM_OFFSET: u16 = 16;

/// What a device can do for the stack. Linux: `netdev_features_t` (`NETIF_F_HW_CSUM`,
/// `NETIF_F_TSO`) with `dev->gso_max_size`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NetdevFeatures {
    /// The device finishes partial checksums on transmit (`NETIF_F_HW_CSUM`).
    pub hw_csum: bool,
    /// The device takes TCP/IPv4 super-frames up to [`GSO_MAX_SIZE`] (`NETIF_F_TSO`).
    /// Implies `hw_csum`.
    pub tso: bool,
}

impl NetdevFeatures {
    /// What a vnet-header device (TAP with `IFF_VNET_HDR`, packet socket with
    /// `PACKET_VNET_HDR`) offers: the kernel finishes checksums and segments super-frames.
    pub const VNET: NetdevFeatures = NetdevFeatures {
        hw_csum: true,
        tso: true,
    };
}

/// A typed view of a `struct virtio_net_hdr`. Fields are in the host's byte order (legacy
/// virtio, which is what TAP and packet sockets use on a little-endian host and on a
/// big-endian one without `TUNSETVNETLE`).
#[derive(Debug, Clone, Copy)]
pub struct VirtioNetHdr<T: AsRef<[u8]>> {
    buf: T,
}

impl<T: AsRef<[u8]>> VirtioNetHdr<T> {
    /// Wrap without checking the length (accessors may panic on a short buffer).
    pub fn new_unchecked(buf: T) -> VirtioNetHdr<T> {
        VirtioNetHdr { buf }
    }

    /// Wrap, checking that the buffer holds a whole header.
    pub fn new_checked(buf: T) -> Option<VirtioNetHdr<T>> {
        (buf.as_ref().len() >= VNET_HDR_LEN).then_some(VirtioNetHdr { buf })
    }

    fn u16_at(&self, at: usize) -> u16 {
        let b = self.buf.as_ref();
        u16::from_ne_bytes([b[at], b[at + 1]])
    }

    /// `flags` ([`F_NEEDS_CSUM`], [`F_DATA_VALID`]).
    pub fn flags(&self) -> u8 {
        self.buf.as_ref()[0]
    }
    /// `gso_type` ([`GSO_NONE`], [`GSO_TCPV4`] ..., possibly with [`GSO_ECN`]).
    pub fn gso_type(&self) -> u8 {
        self.buf.as_ref()[1]
    }
    /// `hdr_len`: bytes of headers (Ethernet to TCP) in front of the payload; a hint.
    pub fn hdr_len(&self) -> u16 {
        self.u16_at(2)
    }
    /// `gso_size`: payload bytes per segment.
    pub fn gso_size(&self) -> u16 {
        self.u16_at(4)
    }
    /// `csum_start`: where checksumming starts, from the frame start.
    pub fn csum_start(&self) -> u16 {
        self.u16_at(6)
    }
    /// `csum_offset`: where the checksum goes, from `csum_start`.
    pub fn csum_offset(&self) -> u16 {
        self.u16_at(8)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> VirtioNetHdr<T> {
    fn set_u16_at(&mut self, at: usize, v: u16) {
        self.buf.as_mut()[at..at + 2].copy_from_slice(&v.to_ne_bytes());
    }
    /// Set `flags`.
    pub fn set_flags(&mut self, v: u8) {
        self.buf.as_mut()[0] = v;
    }
    /// Set `gso_type`.
    pub fn set_gso_type(&mut self, v: u8) {
        self.buf.as_mut()[1] = v;
    }
    /// Set `hdr_len`.
    pub fn set_hdr_len(&mut self, v: u16) {
        self.set_u16_at(2, v)
    }
    /// Set `gso_size`.
    pub fn set_gso_size(&mut self, v: u16) {
        self.set_u16_at(4, v)
    }
    /// Set `csum_start`.
    pub fn set_csum_start(&mut self, v: u16) {
        self.set_u16_at(6, v)
    }
    /// Set `csum_offset`.
    pub fn set_csum_offset(&mut self, v: u16) {
        self.set_u16_at(8, v)
    }
}

/// The parsed form of a virtio-net header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct VnetHdrRepr {
    /// `NEEDS_CSUM`.
    pub needs_csum: bool,
    /// `DATA_VALID`.
    pub data_valid: bool,
    /// `gso_type` without the ECN bit.
    pub gso_type: u8,
    /// The ECN bit of `gso_type`.
    pub gso_ecn: bool,
    /// `hdr_len`.
    pub hdr_len: u16,
    /// `gso_size`.
    pub gso_size: u16,
    /// `csum_start` (from the frame start).
    pub csum_start: u16,
    /// `csum_offset` (from `csum_start`).
    pub csum_offset: u16,
}

impl VnetHdrRepr {
    /// Parse a header (`None` if shorter than [`VNET_HDR_LEN`]).
    pub fn parse(bytes: &[u8]) -> Option<VnetHdrRepr> {
        let h = VirtioNetHdr::new_checked(bytes)?;
        Some(VnetHdrRepr {
            needs_csum: h.flags() & F_NEEDS_CSUM != 0,
            data_valid: h.flags() & F_DATA_VALID != 0,
            gso_type: h.gso_type() & !GSO_ECN,
            gso_ecn: h.gso_type() & GSO_ECN != 0,
            hdr_len: h.hdr_len(),
            gso_size: h.gso_size(),
            csum_start: h.csum_start(),
            csum_offset: h.csum_offset(),
        })
    }

    /// Write the header into the first [`VNET_HDR_LEN`] bytes of `out` (which must be long
    /// enough).
    pub fn emit(&self, out: &mut [u8]) {
        let mut h = VirtioNetHdr::new_unchecked(&mut out[..VNET_HDR_LEN]);
        let mut flags = 0;
        if self.needs_csum {
            flags |= F_NEEDS_CSUM;
        }
        if self.data_valid {
            flags |= F_DATA_VALID;
        }
        h.set_flags(flags);
        h.set_gso_type(self.gso_type | if self.gso_ecn { GSO_ECN } else { 0 });
        h.set_hdr_len(self.hdr_len);
        h.set_gso_size(self.gso_size);
        h.set_csum_start(self.csum_start);
        h.set_csum_offset(self.csum_offset);
    }

    /// Check a received header against its frame (`frame_len` bytes, Ethernet header first)
    /// and turn it into buffer metadata: the checksum state and the GSO segment size.
    /// Only what Linnet negotiated is accepted (TCP/IPv4 GSO, no ECN).
    /// Linux: `virtio_net_hdr_to_skb`.
    pub fn to_meta(&self, frame_len: usize) -> Result<(CsumState, u16), &'static str> {
        let csum = if self.needs_csum {
            let start = usize::from(self.csum_start);
            let end = start + usize::from(self.csum_offset) + 2;
            if start < ETH_HLEN + 20 || end > frame_len {
                return Err("checksum offsets outside the frame");
            }
            CsumState::Partial {
                start: self.csum_start - ETH_HLEN as u16,
                offset: self.csum_offset,
            }
        } else if self.data_valid {
            CsumState::Unnecessary
        } else {
            CsumState::None
        };
        let gso = match self.gso_type {
            GSO_NONE => 0,
            GSO_TCPV4 if self.gso_size > 0 && !self.gso_ecn && self.needs_csum => self.gso_size,
            GSO_TCPV4 => return Err("bad TCP GSO header"),
            _ => return Err("GSO type not negotiated"),
        };
        Ok((csum, gso))
    }

    /// The header to send a frame (Ethernet header first) with: the partial checksum and GSO
    /// state of its metadata. Linux: `virtio_net_hdr_from_skb`.
    pub fn from_meta(meta: &Meta, frame: &[u8]) -> VnetHdrRepr {
        let mut h = VnetHdrRepr::default();
        if let CsumState::Partial { start, offset } = meta.csum {
            h.needs_csum = true;
            h.csum_start = start.saturating_add(ETH_HLEN as u16);
            h.csum_offset = offset;
        }
        if meta.gso_size > 0 {
            h.gso_type = GSO_TCPV4;
            h.gso_size = meta.gso_size;
            h.hdr_len = tcp_headers_len(frame, ETH_HLEN).unwrap_or(0) as u16;
        }
        h
    }
}

/// Length of the link, IPv4 and TCP headers of `frame` (`l2` bytes of link header), if it is a
/// well-formed TCP/IPv4 packet.
fn tcp_headers_len(frame: &[u8], l2: usize) -> Option<usize> {
    let ip = frame.get(l2..)?;
    if ip.len() < 20 || ip[0] >> 4 != 4 || ip[9] != 6 {
        return None;
    }
    let ihl = usize::from(ip[0] & 0xf) * 4;
    let th = ip.get(ihl..ihl + 20)?;
    let thl = usize::from(th[12] >> 4) * 4;
    (ihl >= 20 && thl >= 20 && ihl + thl <= ip.len()).then_some(l2 + ihl + thl)
}

/// Finish a partial checksum: sum `data[start..]` (the field at `start + offset` holds the
/// pseudo-header sum) and store the result in the field. `data` starts at the network header.
/// Returns false, changing nothing, if the offsets fall outside `data`.
/// Linux: `skb_checksum_help`.
pub fn skb_checksum_help(data: &mut [u8], start: usize, offset: usize) -> bool {
    let at = start + offset;
    if start > data.len() || at + 2 > data.len() {
        return false;
    }
    // Zero is "no checksum" for UDP, and the same as 0xffff in ones' complement for TCP.
    let c = match !checksum::fold(checksum::sum(&data[start..], 0)) {
        0 => 0xffff,
        c => c,
    };
    data[at..at + 2].copy_from_slice(&c.to_be_bytes());
    true
}

/// Put the pseudo-header sum for a TCP segment (`seg`: header and payload) into its checksum
/// field, leaving the rest to a device or [`skb_checksum_help`]. Linux: `tcp_v4_send_check`
/// with `CHECKSUM_PARTIAL` (`__tcp_v4_send_check`).
pub fn tcp_csum_partial(seg: &mut [u8], src: Ipv4Addr, dst: Ipv4Addr) {
    if seg.len() < 18 {
        return;
    }
    let pseudo = checksum::pseudo_header_v4(src, dst, 6, seg.len() as u16);
    seg[16..18].copy_from_slice(&checksum::fold(pseudo).to_be_bytes());
}

/// How software GSO fills the checksums of the segments it makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SegCsum {
    /// Compute each segment's TCP checksum in full.
    Full,
    /// Leave each partial (pseudo-header sum) for a device with checksum offload.
    Partial,
}

/// Why a super-packet could not be segmented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GsoError {
    /// Not a well-formed TCP/IPv4 packet (or an IPv4 fragment).
    Malformed,
    /// `gso_size` zero, or so small the packet would make more than [`GSO_MAX_SEGS`].
    BadSize,
}

/// Split a TCP/IPv4 super-packet (`l2` bytes of link header, copied onto each segment, then
/// the IPv4 header) into segments of `gso_size` payload bytes: sequence numbers advance, the
/// IPv4 identification increments, FIN and PSH stay on the last segment only and CWR on the
/// first; IPv4 lengths and checksums are rewritten. New buffers come from `pool` with
/// `headroom` and the metadata `meta` (GSO and checksum state set per `csum`), appended to
/// `out`. Returns how many were made. Linux: `skb_gso_segment` → `inet_gso_segment` →
/// `tcp_gso_segment`.
#[allow(clippy::too_many_arguments)]
pub fn tcp_gso_segment(
    pkt: &[u8],
    l2: usize,
    gso_size: usize,
    csum: SegCsum,
    meta: Meta,
    pool: &mut BufPool,
    headroom: usize,
    out: &mut Vec<PacketBuf>,
) -> Result<usize, GsoError> {
    let hdrs = tcp_headers_len(pkt, l2).ok_or(GsoError::Malformed)?;
    let ip = &pkt[l2..];
    let ihl = usize::from(ip[0] & 0xf) * 4;
    let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
    let frag = u16::from_be_bytes([ip[6], ip[7]]);
    if total > ip.len() || total < hdrs - l2 || frag & 0x3fff != 0 {
        return Err(GsoError::Malformed);
    }
    let payload = &pkt[hdrs..l2 + total];
    if gso_size == 0 || payload.len().div_ceil(gso_size) > GSO_MAX_SEGS {
        return Err(GsoError::BadSize);
    }
    let src = Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15]);
    let dst = Ipv4Addr::new(ip[16], ip[17], ip[18], ip[19]);
    let ident = u16::from_be_bytes([ip[4], ip[5]]);
    let seq = u32::from_be_bytes([
        pkt[l2 + ihl + 4],
        pkt[l2 + ihl + 5],
        pkt[l2 + ihl + 6],
        pkt[l2 + ihl + 7],
    ]);
    let flags = TcpFlags(pkt[l2 + ihl + 13]);
    let nsegs = payload.len().div_ceil(gso_size).max(1);
    let mut seg_meta = meta;
    seg_meta.gso_size = 0;
    seg_meta.csum = match csum {
        SegCsum::Full => CsumState::None,
        SegCsum::Partial => CsumState::Partial {
            start: ihl as u16,
            offset: TCP_CSUM_OFFSET,
        },
    };
    for i in 0..nsegs {
        let chunk_start = i * gso_size;
        let chunk = &payload[chunk_start..(chunk_start + gso_size).min(payload.len())];
        let len = hdrs + chunk.len();
        let mut b = pool.get_sized(len, headroom);
        b.meta = seg_meta;
        let Some(d) = b.try_put(len) else {
            pool.put(b);
            return Err(GsoError::BadSize);
        };
        d[..hdrs].copy_from_slice(&pkt[..hdrs]);
        d[hdrs..].copy_from_slice(chunk);
        // IPv4: length, identification, header checksum.
        {
            let ip = &mut d[l2..];
            let tot = (len - l2) as u16;
            ip[2..4].copy_from_slice(&tot.to_be_bytes());
            ip[4..6].copy_from_slice(&ident.wrapping_add(i as u16).to_be_bytes());
            ip[10..12].copy_from_slice(&[0, 0]);
            let c = checksum::checksum(&ip[..ihl]);
            ip[10..12].copy_from_slice(&c.to_be_bytes());
        }
        // TCP: sequence number, flags, checksum.
        let th = &mut d[l2 + ihl..];
        let s = seq.wrapping_add(chunk_start as u32);
        th[4..8].copy_from_slice(&s.to_be_bytes());
        let mut f = flags;
        if i + 1 < nsegs {
            f.remove(TcpFlags::FIN);
            f.remove(TcpFlags::PSH);
        }
        if i > 0 {
            f.remove(TcpFlags::CWR);
        }
        th[13] = f.0;
        match csum {
            SegCsum::Partial => tcp_csum_partial(th, src, dst),
            SegCsum::Full => {
                th[16..18].copy_from_slice(&[0, 0]);
                let pseudo = checksum::pseudo_header_v4(src, dst, 6, th.len() as u16);
                let c = !checksum::fold(checksum::sum(th, pseudo));
                th[16..18].copy_from_slice(&c.to_be_bytes());
            }
        }
        out.push(b);
    }
    Ok(nsegs)
}

/// Whether each segment of a GSO super-packet (data at its IPv4 header) fits `mtu`; true for
/// a packet that is not GSO and fits as it is. Linux: `skb_gso_validate_network_len`.
pub fn skb_gso_validate_network_len(buf: &PacketBuf, mtu: usize) -> bool {
    if buf.meta.gso_size == 0 {
        return buf.len() <= mtu;
    }
    match tcp_headers_len(buf.data(), 0) {
        Some(h) => h + usize::from(buf.meta.gso_size) <= mtu,
        None => false,
    }
}

/// The most TCP payload bytes to put in one segment for a connection whose route has `caps`:
/// the MSS, or for a TSO device as many whole MSS-sized segments as fit a 64 KiB datagram
/// (with room for the largest IPv4 and TCP headers). Linux: `tcp_send_mss` →
/// `tcp_xmit_size_goal` (with `sk_gso_max_size`).
pub fn tcp_xmit_size_goal(caps: NetdevFeatures, mss: usize) -> usize {
    let mss = mss.max(1);
    if !caps.tso {
        return mss;
    }
    let max = GSO_MAX_SIZE - 20 - 60;
    (max / mss).max(1) * mss
}

/// Reads frames preceded by a virtio-net header into pool buffers: a normal buffer for an
/// ordinary frame, a large one only for a super-frame (the kernel may send up to 64 KiB).
/// One large buffer is kept ready between reads, so the steady state allocates nothing.
#[derive(Debug, Default)]
pub struct VnetReader {
    spare: Option<PacketBuf>,
}

/// What one [`VnetReader::read_frame`] produced.
#[derive(Debug)]
pub enum VnetRead {
    /// A frame, with its metadata set from the header.
    Frame(PacketBuf),
    /// Something unusable was read (too short, truncated, or a header Linnet cannot honour);
    /// the caller counts an error and recycles the buffer if there is one.
    Bad(Option<PacketBuf>, &'static str),
}

impl VnetReader {
    /// Read one frame with `read`, which fills the `iovec`s it is given (header, then frame
    /// bytes) the way `readv`/`recvmsg` do and returns the byte count (may exceed the room
    /// given, for `MSG_TRUNC`). Errors from `read` are passed through and nothing is lost.
    pub fn read_frame(
        &mut self,
        pool: &mut BufPool,
        headroom: usize,
        mut read: impl FnMut(&mut [libc::iovec]) -> io::Result<usize>,
    ) -> io::Result<VnetRead> {
        let mut hdr = [0u8; VNET_HDR_LEN];
        let mut small = pool.get(headroom);
        let mut large = match self.spare.take() {
            Some(b) => b,
            None => pool.get_sized(LARGE_BUF_SIZE - headroom, headroom),
        };
        let small_cap = small.tailroom();
        let large_room = large.tailroom();
        let extra = large_room.saturating_sub(small_cap);
        let n = {
            let s = small.tailroom_mut();
            let l = large.tailroom_mut();
            let mut iov = [
                libc::iovec {
                    iov_base: hdr.as_mut_ptr().cast(),
                    iov_len: VNET_HDR_LEN,
                },
                libc::iovec {
                    iov_base: s.as_mut_ptr().cast(),
                    iov_len: small_cap,
                },
                libc::iovec {
                    iov_base: l[small_cap.min(large_room)..].as_mut_ptr().cast(),
                    iov_len: extra,
                },
            ];
            let used = if extra > 0 { 3 } else { 2 };
            read(&mut iov[..used])
        };
        let n = match n {
            Ok(n) => n,
            Err(e) => {
                pool.put(small);
                self.spare = Some(large);
                return Err(e);
            }
        };
        if n < VNET_HDR_LEN {
            pool.put(small);
            self.spare = Some(large);
            return Ok(VnetRead::Bad(None, "shorter than a virtio-net header"));
        }
        let len = n - VNET_HDR_LEN;
        if len > small_cap + extra {
            pool.put(small);
            self.spare = Some(large);
            return Ok(VnetRead::Bad(None, "frame larger than the buffers"));
        }
        let mut buf = if len <= small_cap {
            self.spare = Some(large);
            small.commit_put(len);
            small
        } else {
            large.commit_put(len);
            large.data_mut()[..small_cap].copy_from_slice(&small.tailroom_mut()[..small_cap]);
            pool.put(small);
            large
        };
        let Some(h) = VnetHdrRepr::parse(&hdr) else {
            return Ok(VnetRead::Bad(Some(buf), "bad virtio-net header"));
        };
        match h.to_meta(len) {
            Ok((csum, gso)) => {
                buf.meta.csum = csum;
                buf.meta.gso_size = gso;
                Ok(VnetRead::Frame(buf))
            }
            Err(why) => Ok(VnetRead::Bad(Some(buf), why)),
        }
    }
}

impl VnetReader {
    /// NAPI poll in vnet-header mode: read frames with `read` (as [`VnetReader::read_frame`])
    /// until `EAGAIN` or `max` attempts, keeping those `keep` accepts (asked right after each
    /// read) that hold at least an Ethernet header; `name` and `stats` are the device's.
    /// Returns how many frames went to `out`. Linux: a driver's `napi_poll` loop.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn recv_batch(
        &mut self,
        pool: &mut BufPool,
        headroom: usize,
        out: &mut Vec<PacketBuf>,
        max: usize,
        now: Instant,
        name: &str,
        stats: &mut super::DeviceStats,
        mut read: impl FnMut(&mut [libc::iovec]) -> io::Result<usize>,
        mut keep: impl FnMut() -> bool,
    ) -> io::Result<usize> {
        let mut got = 0;
        let mut attempts = 0;
        let mut interrupts = 0;
        while attempts < max {
            match self.read_frame(pool, headroom, &mut read) {
                Err(e) => match e.kind() {
                    io::ErrorKind::WouldBlock => break,
                    io::ErrorKind::Interrupted if interrupts < EINTR_RETRIES => {
                        interrupts += 1;
                    }
                    _ => {
                        stats.rx_errors += 1;
                        if got == 0 {
                            return Err(e);
                        }
                        break;
                    }
                },
                Ok(VnetRead::Bad(b, why)) => {
                    attempts += 1;
                    tracing::debug!(dev = %name, "dropped a received frame: {why}");
                    stats.rx_errors += 1;
                    if let Some(b) = b {
                        pool.put(b);
                    }
                }
                Ok(VnetRead::Frame(mut b)) => {
                    attempts += 1;
                    if !keep() {
                        pool.put(b);
                        continue;
                    }
                    if b.len() < ETH_HLEN {
                        stats.rx_errors += 1;
                        pool.put(b);
                        continue;
                    }
                    b.meta.timestamp = now;
                    stats.count_rx(b.len());
                    out.push(b);
                    got += 1;
                }
            }
        }
        Ok(got)
    }
}

/// Write `frame` preceded by the virtio-net header for `meta` with one `writev` (which also
/// sends on a bound packet socket). Returns the bytes written, header included.
pub fn write_vnet(fd: std::os::fd::RawFd, meta: &Meta, frame: &[u8]) -> io::Result<usize> {
    let mut hdr = [0u8; VNET_HDR_LEN];
    VnetHdrRepr::from_meta(meta, frame).emit(&mut hdr);
    let iov = [
        libc::iovec {
            iov_base: hdr.as_mut_ptr().cast(),
            iov_len: VNET_HDR_LEN,
        },
        libc::iovec {
            iov_base: frame.as_ptr() as *mut libc::c_void,
            iov_len: frame.len(),
        },
    ];
    // SAFETY: both iovecs point to readable memory that outlives the call; writev does not
    // write through them.
    let n = unsafe { libc::writev(fd, iov.as_ptr(), 2) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(n as usize)
}

/// Send `frame` with the virtio-net header for `meta` on a TAP or packet socket `fd` (device
/// `name`), counting it in `stats`. A full queue (`EAGAIN`, `ENOBUFS`) refuses the frame
/// ([`super::txq::is_tx_busy`]): it was not sent, the caller keeps it for a retry; `EINTR` is
/// retried a few times. Linux: `dev_hard_start_xmit` from
/// the driver's side.
pub(crate) fn transmit_vnet(
    fd: std::os::fd::RawFd,
    name: &str,
    stats: &mut super::DeviceStats,
    meta: &Meta,
    frame: &[u8],
) -> io::Result<()> {
    let mut interrupts = 0;
    loop {
        match write_vnet(fd, meta, frame) {
            Ok(n) if n == VNET_HDR_LEN + frame.len() => {
                stats.count_tx(frame.len());
                return Ok(());
            }
            Ok(n) => {
                stats.tx_errors += 1;
                return Err(io::Error::new(
                    io::ErrorKind::WriteZero,
                    format!("short write on {name}: {n} of {} bytes", frame.len()),
                ));
            }
            Err(e) => match e.kind() {
                io::ErrorKind::WouldBlock => return Err(super::txq::tx_busy(name)),
                _ if e.raw_os_error() == Some(libc::ENOBUFS) => {
                    return Err(super::txq::tx_busy(name))
                }
                io::ErrorKind::Interrupted if interrupts < EINTR_RETRIES => interrupts += 1,
                _ => {
                    stats.tx_errors += 1;
                    return Err(e);
                }
            },
        }
    }
}

/// What [`Stack::validate_xmit_skb`] decided.
pub(crate) enum XmitCheck {
    /// Queue this buffer.
    Ready(PacketBuf),
    /// Already handled (segmented and queued, or dropped), with this result.
    Done(Result<(), Errno>),
}

impl Stack {
    /// Record what the device behind `ifindex` can offload (the runtime calls this when it
    /// attaches a driver). Linux: `dev->features`, set by the driver at registration.
    pub fn set_dev_features(&mut self, ifindex: u32, features: NetdevFeatures) {
        if let Some(i) = self.iface_mut(ifindex) {
            i.features = features;
            // Sockets cache their route's features by route generation (`route_caps`).
            self.rt_cache_flush();
        }
    }

    /// The offloads of the device a locally generated packet to `dst` (from `src`) leaves by,
    /// none when there is no route. Linux: `sk_setup_caps` (`sk->sk_route_caps`).
    pub(crate) fn sk_route_caps(&self, dst: Ipv4Addr, src: Ipv4Addr) -> NetdevFeatures {
        match self.ip_route_output(dst, Some(src)) {
            Ok(rt) => self
                .iface(rt.ifindex)
                .map(|i| i.features)
                .unwrap_or_default(),
            Err(_) => NetdevFeatures::default(),
        }
    }

    /// Make a frame (link header at the data start) fit what the device can do: segment a
    /// GSO super-frame in software for a device without TSO, finish a partial checksum for a
    /// device without checksum offload. Linux: `validate_xmit_skb` (`skb_gso_segment`,
    /// `skb_csum_hwoffload_help`).
    pub(crate) fn validate_xmit_skb(
        &mut self,
        ifindex: u32,
        mut buf: PacketBuf,
        now: Instant,
    ) -> XmitCheck {
        if buf.meta.gso_size == 0 && !matches!(buf.meta.csum, CsumState::Partial { .. }) {
            return XmitCheck::Ready(buf);
        }
        let (f, fifo) = self
            .iface(ifindex)
            .map_or((NetdevFeatures::default(), true), |i| {
                (i.features, i.qdisc.takes_gso())
            });
        // A qdisc other than a plain FIFO gets wire-sized segments (`Qdisc::takes_gso`).
        if buf.meta.gso_size > 0 && (!f.tso || !fifo) {
            let csum = if f.hw_csum {
                SegCsum::Partial
            } else {
                SegCsum::Full
            };
            let mut segs = std::mem::take(&mut self.dev.gso_scratch);
            segs.clear();
            let headroom = buf.headroom();
            let r = tcp_gso_segment(
                buf.data(),
                ETH_HLEN,
                usize::from(buf.meta.gso_size),
                csum,
                buf.meta,
                &mut self.pool,
                headroom,
                &mut segs,
            );
            if r.is_err() {
                self.dev.gso_scratch = segs;
                self.drops.core.tx_dropped += 1;
                self.drop_pkt(buf, DropReason::PktTooSmall);
                return XmitCheck::Done(Err(Errno::EINVAL));
            }
            self.pool.put(buf);
            let mut res = Ok(());
            for s in segs.drain(..) {
                let r = self.dev_queue_xmit(ifindex, s, now);
                if res.is_ok() {
                    res = r;
                }
            }
            self.dev.gso_scratch = segs;
            return XmitCheck::Done(res);
        }
        if let CsumState::Partial { start, offset } = buf.meta.csum {
            if !f.hw_csum {
                let ok = buf
                    .data_mut()
                    .get_mut(ETH_HLEN..)
                    .is_some_and(|d| skb_checksum_help(d, usize::from(start), usize::from(offset)));
                if !ok {
                    self.drops.core.tx_dropped += 1;
                    self.drop_pkt(buf, DropReason::PktTooSmall);
                    return XmitCheck::Done(Err(Errno::EINVAL));
                }
                buf.meta.csum = CsumState::None;
            }
        }
        XmitCheck::Ready(buf)
    }

    /// Send a GSO super-packet (data at its IPv4 header) on towards `hop`: whole when its
    /// segments fit `mtu`, else segmented in software and each segment sent (fragmented, or
    /// refused with ICMP fragmentation needed when DF is set). Linux: `ip_finish_output_gso`.
    pub(crate) fn ip_finish_output_gso(
        &mut self,
        buf: PacketBuf,
        hop: NextHop,
        mtu: usize,
        now: Instant,
    ) -> Result<(), Errno> {
        if skb_gso_validate_network_len(&buf, mtu) {
            return self.ip_finish_output2(buf, hop, now);
        }
        let mut segs = std::mem::take(&mut self.dev.gso_scratch);
        segs.clear();
        let headroom = buf.headroom();
        let r = tcp_gso_segment(
            buf.data(),
            0,
            usize::from(buf.meta.gso_size),
            SegCsum::Full,
            buf.meta,
            &mut self.pool,
            headroom,
            &mut segs,
        );
        if r.is_err() {
            self.dev.gso_scratch = segs;
            self.ipv4.ip_stats.out_discards += 1;
            self.drop_pkt(buf, DropReason::PktTooSmall);
            return Err(Errno::EINVAL);
        }
        self.pool.put(buf);
        let mut res = Ok(());
        for mut s in segs.drain(..) {
            s.reset_network_header();
            let r = if s.len() > mtu {
                self.ip_fragment(s, hop, mtu, now)
            } else {
                self.ip_finish_output2(s, hop, now)
            };
            if res.is_ok() {
                res = r;
            }
        }
        self.dev.gso_scratch = segs;
        res
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::ipv4::Ipv4Packet;
    use crate::wire::tcp::{SeqNumber, TcpPacket};

    const SRC: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
    const DST: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);

    /// An Ethernet + IPv4 + TCP (with a 12-byte timestamp option) frame carrying `payload`.
    fn frame(payload: &[u8], flags: TcpFlags, partial: bool) -> Vec<u8> {
        let thl = 32;
        let tot = 20 + thl + payload.len();
        let mut f = vec![0u8; ETH_HLEN + tot];
        f[0..6].copy_from_slice(&[2, 0, 0, 0, 0, 2]);
        f[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 1]);
        f[12..14].copy_from_slice(&[0x08, 0x00]);
        let ip = &mut f[ETH_HLEN..];
        ip[0] = 0x45;
        ip[2..4].copy_from_slice(&(tot as u16).to_be_bytes());
        ip[4..6].copy_from_slice(&0xfffeu16.to_be_bytes());
        ip[6] = 0x40; // DF
        ip[8] = 64;
        ip[9] = 6;
        ip[12..16].copy_from_slice(&SRC.octets());
        ip[16..20].copy_from_slice(&DST.octets());
        let c = checksum::checksum(&ip[..20]);
        ip[10..12].copy_from_slice(&c.to_be_bytes());
        let th = &mut ip[20..];
        th[0..2].copy_from_slice(&40000u16.to_be_bytes());
        th[2..4].copy_from_slice(&5201u16.to_be_bytes());
        th[4..8].copy_from_slice(&0xffff_f000u32.to_be_bytes());
        th[8..12].copy_from_slice(&7u32.to_be_bytes());
        th[12] = (thl as u8 / 4) << 4;
        th[13] = flags.0;
        th[14..16].copy_from_slice(&1000u16.to_be_bytes());
        th[20..32].copy_from_slice(&[1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2]);
        th[thl..].copy_from_slice(payload);
        if partial {
            tcp_csum_partial(th, SRC, DST);
        } else {
            TcpPacket::new_unchecked(&mut th[..]).fill_checksum(SRC, DST);
        }
        f
    }

    fn payload(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 7 + i / 251) as u8).collect()
    }

    #[test]
    fn vnet_header_parse_emit_round_trip() {
        let h = VnetHdrRepr {
            needs_csum: true,
            data_valid: false,
            gso_type: GSO_TCPV4,
            gso_ecn: true,
            hdr_len: 66,
            gso_size: 1448,
            csum_start: 34,
            csum_offset: 16,
        };
        let mut b = [0xaau8; 12];
        h.emit(&mut b);
        assert_eq!(b[0], F_NEEDS_CSUM);
        assert_eq!(b[1], GSO_TCPV4 | GSO_ECN);
        assert_eq!(&b[4..6], &1448u16.to_ne_bytes());
        assert_eq!(&b[10..], &[0xaa, 0xaa], "nothing written past the header");
        assert_eq!(VnetHdrRepr::parse(&b), Some(h));
        let v = VirtioNetHdr::new_checked(&b[..]).unwrap();
        assert_eq!((v.hdr_len(), v.csum_start(), v.csum_offset()), (66, 34, 16));
        assert!(VnetHdrRepr::parse(&b[..9]).is_none());
        assert!(VirtioNetHdr::new_checked(&b[..9]).is_none());
    }

    #[test]
    fn vnet_header_to_meta_accepts_only_what_was_negotiated() {
        let mut h = VnetHdrRepr {
            needs_csum: true,
            csum_start: 34,
            csum_offset: 16,
            ..Default::default()
        };
        assert_eq!(
            h.to_meta(100),
            Ok((
                CsumState::Partial {
                    start: 20,
                    offset: 16
                },
                0
            ))
        );
        // The checksum field must lie inside the frame.
        assert!(h.to_meta(51).is_err());
        assert!(h.to_meta(52).is_ok());
        h.csum_start = 10;
        assert!(h.to_meta(100).is_err());
        h.csum_start = 34;
        h.gso_type = GSO_TCPV4;
        h.gso_size = 1448;
        assert_eq!(h.to_meta(100).unwrap().1, 1448);
        h.gso_size = 0;
        assert!(h.to_meta(100).is_err());
        h.gso_size = 1448;
        for t in [GSO_UDP, GSO_TCPV6, GSO_UDP_L4, 9] {
            h.gso_type = t;
            assert!(h.to_meta(100).is_err(), "type {t}");
        }
        h.gso_type = GSO_TCPV4;
        h.gso_ecn = true;
        assert!(h.to_meta(100).is_err());
        let v = VnetHdrRepr {
            data_valid: true,
            ..Default::default()
        };
        assert_eq!(v.to_meta(60), Ok((CsumState::Unnecessary, 0)));
        assert_eq!(VnetHdrRepr::default().to_meta(60), Ok((CsumState::None, 0)));
    }

    #[test]
    fn header_from_meta_describes_partial_gso_frames() {
        let f = frame(&payload(3000), TcpFlags::ACK, true);
        let meta = Meta {
            csum: CsumState::Partial {
                start: 20,
                offset: 16,
            },
            gso_size: 1448,
            ..Default::default()
        };
        let h = VnetHdrRepr::from_meta(&meta, &f);
        assert!(h.needs_csum);
        assert_eq!((h.csum_start, h.csum_offset), (34, 16));
        assert_eq!((h.gso_type, h.gso_size, h.hdr_len), (GSO_TCPV4, 1448, 66));
        assert_eq!(
            VnetHdrRepr::from_meta(&Meta::default(), &f),
            VnetHdrRepr::default()
        );
    }

    #[test]
    fn checksum_completion_matches_a_full_checksum() {
        for n in [0, 1, 2, 999, 1448, 4001] {
            let full = frame(&payload(n), TcpFlags::ACK | TcpFlags::PSH, false);
            let mut part = frame(&payload(n), TcpFlags::ACK | TcpFlags::PSH, true);
            assert_ne!(full, part);
            assert!(skb_checksum_help(&mut part[ETH_HLEN..], 20, 16));
            assert_eq!(full, part, "payload {n}");
            let ip = Ipv4Packet::new_unchecked(&part[ETH_HLEN..]);
            assert!(TcpPacket::new_unchecked(ip.payload()).verify_checksum(SRC, DST));
        }
        let mut short = frame(&[], TcpFlags::ACK, true);
        let before = short.clone();
        let len = short.len() - ETH_HLEN;
        assert!(!skb_checksum_help(&mut short[ETH_HLEN..], 20, len));
        assert!(!skb_checksum_help(&mut short[ETH_HLEN..], len + 1, 0));
        assert_eq!(short, before, "a refused completion changes nothing");
    }

    fn segment(n: usize, flags: TcpFlags, mss: usize, csum: SegCsum) -> (Vec<u8>, Vec<PacketBuf>) {
        let data = payload(n);
        let f = frame(&data, flags, true);
        let mut pool = BufPool::default();
        let mut out = Vec::new();
        let meta = Meta {
            ifindex: 3,
            gso_size: mss as u16,
            ..Default::default()
        };
        let k = tcp_gso_segment(&f, ETH_HLEN, mss, csum, meta, &mut pool, 64, &mut out).unwrap();
        assert_eq!(k, out.len());
        (data, out)
    }

    #[test]
    fn software_gso_makes_correct_segments() {
        let mss = 1448;
        let n = 10 * mss + 517;
        let flags = TcpFlags::ACK | TcpFlags::PSH | TcpFlags::FIN | TcpFlags::CWR;
        let (data, segs) = segment(n, flags, mss, SegCsum::Full);
        assert_eq!(segs.len(), 11);
        let mut joined = Vec::new();
        for (i, s) in segs.iter().enumerate() {
            assert_eq!(s.headroom(), 64);
            assert_eq!((s.meta.ifindex, s.meta.gso_size), (3, 0));
            assert_eq!(s.meta.csum, CsumState::None);
            let d = s.data();
            assert_eq!(
                &d[..14],
                &frame(&[], flags, true)[..14],
                "link header copied"
            );
            let ip = Ipv4Packet::new_checked(&d[ETH_HLEN..]).unwrap();
            assert!(ip.verify_checksum(), "segment {i}: IPv4 checksum");
            assert_eq!(
                ip.ident(),
                0xfffeu16.wrapping_add(i as u16),
                "ident increments"
            );
            assert!(ip.dont_frag());
            let want = if i == 10 { 517 } else { mss };
            assert_eq!(usize::from(ip.total_len()), 20 + 32 + want);
            let tcp = TcpPacket::new_checked(ip.payload()).unwrap();
            assert!(tcp.verify_checksum(SRC, DST), "segment {i}: TCP checksum");
            assert_eq!(
                tcp.seq_number(),
                SeqNumber(0xffff_f000u32.wrapping_add((i * mss) as u32)),
                "sequence numbers advance (and wrap)"
            );
            let f = tcp.flags();
            assert!(f.contains(TcpFlags::ACK));
            assert_eq!(f.contains(TcpFlags::FIN), i == 10, "FIN only on the last");
            assert_eq!(f.contains(TcpFlags::PSH), i == 10, "PSH only on the last");
            assert_eq!(f.contains(TcpFlags::CWR), i == 0, "CWR only on the first");
            assert_eq!(tcp.options().len(), 12, "options copied");
            joined.extend_from_slice(tcp.payload());
        }
        assert_eq!(joined, data);
    }

    #[test]
    fn software_gso_can_leave_checksums_partial() {
        let (_, segs) = segment(3000, TcpFlags::ACK, 1000, SegCsum::Partial);
        assert_eq!(segs.len(), 3);
        for mut s in segs {
            let CsumState::Partial { start, offset } = s.meta.csum else {
                panic!("not partial: {:?}", s.meta.csum);
            };
            assert_eq!((start, offset), (20, 16));
            let d = &mut s.data_mut()[ETH_HLEN..];
            assert!(!TcpPacket::new_unchecked(&d[20..]).verify_checksum(SRC, DST));
            assert!(skb_checksum_help(d, 20, 16));
            assert!(TcpPacket::new_unchecked(&d[20..]).verify_checksum(SRC, DST));
        }
    }

    #[test]
    fn software_gso_refuses_bad_input_without_panicking() {
        let f = frame(&payload(3000), TcpFlags::ACK, true);
        let mut pool = BufPool::default();
        let mut out = Vec::new();
        let m = Meta::default();
        let mut go = |p: &[u8], l2: usize, mss: usize| {
            tcp_gso_segment(p, l2, mss, SegCsum::Full, m, &mut pool, 0, &mut out)
        };
        assert_eq!(go(&f, ETH_HLEN, 0), Err(GsoError::BadSize));
        assert_eq!(go(&f, ETH_HLEN, 2), Err(GsoError::BadSize));
        for cut in 0..70 {
            assert!(go(&f[..cut], ETH_HLEN, 1448).is_err(), "cut at {cut}");
        }
        // Total length beyond the frame.
        assert_eq!(
            go(&f[..f.len() - 1], ETH_HLEN, 1448),
            Err(GsoError::Malformed)
        );
        let mut frag = f.clone();
        frag[ETH_HLEN + 6] = 0x20; // MF
        assert_eq!(go(&frag, ETH_HLEN, 1448), Err(GsoError::Malformed));
        let mut udp = f.clone();
        udp[ETH_HLEN + 9] = 17;
        assert_eq!(go(&udp, ETH_HLEN, 1448), Err(GsoError::Malformed));
        // The network-layer form (no link header) works as well.
        assert_eq!(go(&f[ETH_HLEN..], 0, 1448), Ok(3));
        assert_eq!(out.len(), 3, "failed attempts appended nothing");
    }

    #[test]
    fn size_goal_is_whole_segments_under_64k() {
        let none = NetdevFeatures::default();
        assert_eq!(tcp_xmit_size_goal(none, 1448), 1448);
        let g = tcp_xmit_size_goal(NetdevFeatures::VNET, 1448);
        assert_eq!(g % 1448, 0);
        assert!(g + 20 + 60 <= GSO_MAX_SIZE && g + 1448 + 80 > GSO_MAX_SIZE);
        assert_eq!(tcp_xmit_size_goal(NetdevFeatures::VNET, 65000), 65000);
        assert_eq!(
            tcp_xmit_size_goal(NetdevFeatures::VNET, 0),
            GSO_MAX_SIZE - 80
        );
    }

    #[test]
    fn gso_mtu_validation_checks_each_segment() {
        let f = frame(&payload(5000), TcpFlags::ACK, true);
        let mut b = PacketBuf::from_slice(&f[ETH_HLEN..], 0);
        assert!(!skb_gso_validate_network_len(&b, 1500));
        b.meta.gso_size = 1448;
        assert!(skb_gso_validate_network_len(&b, 1500));
        assert!(!skb_gso_validate_network_len(&b, 1499));
    }

    #[test]
    fn the_reader_uses_a_small_buffer_for_small_frames_and_a_large_one_for_super_frames() {
        let mut pool = BufPool::default();
        let mut rd = VnetReader::default();
        let serve = |bytes: Vec<u8>| {
            move |iov: &mut [libc::iovec]| -> io::Result<usize> {
                let mut off = 0;
                for v in iov.iter() {
                    let n = v.iov_len.min(bytes.len() - off);
                    // SAFETY: the reader's iovecs point at writable buffers of iov_len bytes.
                    unsafe {
                        std::ptr::copy_nonoverlapping(bytes[off..].as_ptr(), v.iov_base.cast(), n)
                    };
                    off += n;
                }
                Ok(bytes.len())
            }
        };
        let hdr = |h: VnetHdrRepr| {
            let mut b = vec![0u8; VNET_HDR_LEN];
            h.emit(&mut b);
            b
        };
        let partial = VnetHdrRepr {
            needs_csum: true,
            csum_start: 34,
            csum_offset: 16,
            ..Default::default()
        };
        // A small frame.
        let small = frame(&payload(100), TcpFlags::ACK, true);
        let mut wire = hdr(partial);
        wire.extend_from_slice(&small);
        let VnetRead::Frame(b) = rd.read_frame(&mut pool, 64, serve(wire)).unwrap() else {
            panic!("bad read")
        };
        assert_eq!(b.data(), &small[..]);
        assert_eq!(b.capacity(), pool.buf_size());
        assert_eq!(
            b.meta.csum,
            CsumState::Partial {
                start: 20,
                offset: 16
            }
        );
        pool.put(b);
        // A 64 KiB super-frame lands in the large buffer, contiguous.
        let big = frame(&payload(65000), TcpFlags::ACK, true);
        let mut wire = hdr(VnetHdrRepr {
            gso_type: GSO_TCPV4,
            gso_size: 1448,
            ..partial
        });
        wire.extend_from_slice(&big);
        let VnetRead::Frame(b) = rd.read_frame(&mut pool, 64, serve(wire.clone())).unwrap() else {
            panic!("bad read")
        };
        assert_eq!(b.data(), &big[..]);
        assert_eq!(b.capacity(), LARGE_BUF_SIZE);
        assert_eq!(b.meta.gso_size, 1448);
        pool.put(b);
        // The steady state recycles: no more allocations for further reads.
        let before = pool.allocations();
        for _ in 0..10 {
            let VnetRead::Frame(b) = rd.read_frame(&mut pool, 64, serve(wire.clone())).unwrap()
            else {
                panic!("bad read")
            };
            pool.put(b);
        }
        assert_eq!(pool.allocations(), before);
        // Short and unnegotiated input is reported, not delivered.
        assert!(matches!(
            rd.read_frame(&mut pool, 64, serve(vec![0; 5])).unwrap(),
            VnetRead::Bad(None, _)
        ));
        let mut wire = hdr(VnetHdrRepr {
            gso_type: GSO_UDP,
            gso_size: 1000,
            ..partial
        });
        wire.extend_from_slice(&small);
        assert!(matches!(
            rd.read_frame(&mut pool, 64, serve(wire)).unwrap(),
            VnetRead::Bad(Some(_), _)
        ));
        // Errors pass through.
        let e = rd
            .read_frame(&mut pool, 64, |_| Err(io::ErrorKind::WouldBlock.into()))
            .unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
    }
}
