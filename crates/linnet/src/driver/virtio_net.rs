//! The virtio-net header that TAP (`IFF_VNET_HDR`) and packet sockets (`PACKET_VNET_HDR`)
//! put in front of each frame, and its translation to and from buffer metadata.
//!
//! Linux: `struct virtio_net_hdr` (include/uapi/linux/virtio_net.h), `virtio_net_hdr_to_skb` /
//! `virtio_net_hdr_from_skb` (include/linux/virtio_net.h).
//!
//! With a vnet header the kernel and Linnet exchange TCP segments of up to 64 KiB (TSO/GSO
//! super-frames) whose checksum is left unfinished (`NEEDS_CSUM`: only the pseudo-header sum
//! is in the checksum field). On receive the header becomes buffer metadata
//! ([`crate::buf::Meta::csum`], [`crate::buf::Meta::gso_size`]): TCP and UDP skip verifying a
//! checksum the local kernel left partial or validated, and TCP takes a super-frame whole. On
//! transmit, TCP builds super-frames for a device that advertises TSO
//! ([`crate::device::features::NetdevFeatures`]); the core's `validate_xmit_skb`
//! (`device/xmit.rs`) segments them in software (and finishes partial checksums) for
//! devices that cannot, so the in-memory link and loopback only ever see normal MTU-sized
//! frames with complete checksums.

use crate::buf::{CsumState, Meta};
use crate::wire::ethernet::HEADER_LEN as ETH_HLEN;
use crate::wire::tcp::tcp_all_headers_v4;

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
    #[doc(alias = "virtio_net_hdr_to_skb")]
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
    #[doc(alias = "virtio_net_hdr_from_skb")]
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
            h.hdr_len = frame
                .get(ETH_HLEN..)
                .and_then(tcp_all_headers_v4)
                .map_or(0, |n| ETH_HLEN + n) as u16;
        }
        h
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::gso::tests::{frame, payload};
    use crate::wire::tcp::TcpFlags;

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
}
