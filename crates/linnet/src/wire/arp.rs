//! ARP packets for Ethernet and IPv4 (RFC 826).
//!
//! Linux: `struct arphdr` (include/uapi/linux/if_arp.h), followed by the sender and target
//! addresses that `arp_process` (net/ipv4/arp.c) reads in place.

use super::ethernet::EthernetAddress;
use super::{Result, WireError};
use std::fmt;
use std::net::Ipv4Addr;

/// Length of an Ethernet/IPv4 ARP packet.
pub const PACKET_LEN: usize = 28;

/// Hardware type Ethernet (Linux: `ARPHRD_ETHER`).
pub const HTYPE_ETHERNET: u16 = 1;
/// Protocol type IPv4 (Linux: `ETH_P_IP`).
pub const PTYPE_IPV4: u16 = 0x0800;

/// An ARP operation code (Linux: `ARPOP_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ArpOperation(pub u16);

impl ArpOperation {
    /// Request (`ARPOP_REQUEST`).
    pub const REQUEST: ArpOperation = ArpOperation(1);
    /// Reply (`ARPOP_REPLY`).
    pub const REPLY: ArpOperation = ArpOperation(2);
}

impl fmt::Display for ArpOperation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ArpOperation::REQUEST => f.write_str("request"),
            ArpOperation::REPLY => f.write_str("reply"),
            ArpOperation(n) => write!(f, "op {n}"),
        }
    }
}

mod field {
    use std::ops::Range;
    pub const HTYPE: Range<usize> = 0..2;
    pub const PTYPE: Range<usize> = 2..4;
    pub const HLEN: usize = 4;
    pub const PLEN: usize = 5;
    pub const OPER: Range<usize> = 6..8;
    pub const SHA: Range<usize> = 8..14;
    pub const SPA: Range<usize> = 14..18;
    pub const THA: Range<usize> = 18..24;
    pub const TPA: Range<usize> = 24..28;
}

/// A view of an Ethernet/IPv4 ARP packet over a byte buffer.
///
/// Linux: `struct arphdr` (include/uapi/linux/if_arp.h) plus the sender/target fields.
#[derive(Debug, Clone)]
pub struct ArpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> ArpPacket<T> {
    /// Wraps `buffer` without checking it; getters may panic on a short buffer.
    pub fn new_unchecked(buffer: T) -> Self {
        ArpPacket { buffer }
    }

    /// Wraps `buffer`: [`WireError::Truncated`] if shorter than [`PACKET_LEN`],
    /// [`WireError::Unsupported`] unless it is Ethernet (htype 1, hlen 6) over IPv4
    /// (ptype 0x0800, plen 4). Trailing bytes (Ethernet padding) are ignored.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let p = ArpPacket { buffer };
        p.check()?;
        Ok(p)
    }

    /// The checks of [`ArpPacket::new_checked`] on an already wrapped buffer.
    pub fn check(&self) -> Result<()> {
        if self.buffer.as_ref().len() < PACKET_LEN {
            return Err(WireError::Truncated);
        }
        if self.hardware_type() != HTYPE_ETHERNET
            || self.protocol_type() != PTYPE_IPV4
            || self.hardware_len() != 6
            || self.protocol_len() != 4
        {
            return Err(WireError::Unsupported);
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

    fn read_ipv4(&self, r: std::ops::Range<usize>) -> Ipv4Addr {
        let b = &self.buffer.as_ref()[r];
        Ipv4Addr::new(b[0], b[1], b[2], b[3])
    }

    /// Hardware type (`ar_hrd`).
    pub fn hardware_type(&self) -> u16 {
        self.read_u16(field::HTYPE)
    }

    /// Protocol type (`ar_pro`).
    pub fn protocol_type(&self) -> u16 {
        self.read_u16(field::PTYPE)
    }

    /// Hardware address length (`ar_hln`).
    pub fn hardware_len(&self) -> u8 {
        self.buffer.as_ref()[field::HLEN]
    }

    /// Protocol address length (`ar_pln`).
    pub fn protocol_len(&self) -> u8 {
        self.buffer.as_ref()[field::PLEN]
    }

    /// Operation (`ar_op`).
    pub fn operation(&self) -> ArpOperation {
        ArpOperation(self.read_u16(field::OPER))
    }

    /// Sender hardware address.
    pub fn source_hardware_addr(&self) -> EthernetAddress {
        EthernetAddress::from_bytes(&self.buffer.as_ref()[field::SHA])
    }

    /// Sender protocol address.
    pub fn source_protocol_addr(&self) -> Ipv4Addr {
        self.read_ipv4(field::SPA)
    }

    /// Target hardware address.
    pub fn target_hardware_addr(&self) -> EthernetAddress {
        EthernetAddress::from_bytes(&self.buffer.as_ref()[field::THA])
    }

    /// Target protocol address.
    pub fn target_protocol_addr(&self) -> Ipv4Addr {
        self.read_ipv4(field::TPA)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> ArpPacket<T> {
    fn write_u16(&mut self, r: std::ops::Range<usize>, v: u16) {
        self.buffer.as_mut()[r].copy_from_slice(&v.to_be_bytes());
    }

    /// Sets the hardware type.
    pub fn set_hardware_type(&mut self, v: u16) {
        self.write_u16(field::HTYPE, v);
    }

    /// Sets the protocol type.
    pub fn set_protocol_type(&mut self, v: u16) {
        self.write_u16(field::PTYPE, v);
    }

    /// Sets the hardware address length.
    pub fn set_hardware_len(&mut self, v: u8) {
        self.buffer.as_mut()[field::HLEN] = v;
    }

    /// Sets the protocol address length.
    pub fn set_protocol_len(&mut self, v: u8) {
        self.buffer.as_mut()[field::PLEN] = v;
    }

    /// Sets the operation.
    pub fn set_operation(&mut self, op: ArpOperation) {
        self.write_u16(field::OPER, op.0);
    }

    /// Sets the sender hardware address.
    pub fn set_source_hardware_addr(&mut self, a: EthernetAddress) {
        self.buffer.as_mut()[field::SHA].copy_from_slice(&a.0);
    }

    /// Sets the sender protocol address.
    pub fn set_source_protocol_addr(&mut self, a: Ipv4Addr) {
        self.buffer.as_mut()[field::SPA].copy_from_slice(&a.octets());
    }

    /// Sets the target hardware address.
    pub fn set_target_hardware_addr(&mut self, a: EthernetAddress) {
        self.buffer.as_mut()[field::THA].copy_from_slice(&a.0);
    }

    /// Sets the target protocol address.
    pub fn set_target_protocol_addr(&mut self, a: Ipv4Addr) {
        self.buffer.as_mut()[field::TPA].copy_from_slice(&a.octets());
    }
}

/// The parsed form of an Ethernet/IPv4 ARP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArpRepr {
    /// Request, reply, or another code (carried as is).
    pub operation: ArpOperation,
    /// Sender hardware address.
    pub source_hardware_addr: EthernetAddress,
    /// Sender protocol address.
    pub source_protocol_addr: Ipv4Addr,
    /// Target hardware address (zero in a request).
    pub target_hardware_addr: EthernetAddress,
    /// Target protocol address.
    pub target_protocol_addr: Ipv4Addr,
}

impl ArpRepr {
    /// Reads a packet, re-running the checks of [`ArpPacket::new_checked`]. Any operation
    /// code is accepted; the caller decides what to do with codes other than request/reply.
    pub fn parse<T: AsRef<[u8]>>(packet: &ArpPacket<T>) -> Result<ArpRepr> {
        packet.check()?;
        Ok(ArpRepr {
            operation: packet.operation(),
            source_hardware_addr: packet.source_hardware_addr(),
            source_protocol_addr: packet.source_protocol_addr(),
            target_hardware_addr: packet.target_hardware_addr(),
            target_protocol_addr: packet.target_protocol_addr(),
        })
    }

    /// Bytes [`ArpRepr::emit`] writes: [`PACKET_LEN`].
    pub const fn buffer_len(&self) -> usize {
        PACKET_LEN
    }

    /// Writes the whole packet (hardware/protocol types and lengths included) into the first
    /// [`PACKET_LEN`] bytes of `buf`, which must be at least that long.
    pub fn emit(&self, buf: &mut [u8]) {
        let mut p = ArpPacket::new_unchecked(&mut buf[..PACKET_LEN]);
        p.set_hardware_type(HTYPE_ETHERNET);
        p.set_protocol_type(PTYPE_IPV4);
        p.set_hardware_len(6);
        p.set_protocol_len(4);
        p.set_operation(self.operation);
        p.set_source_hardware_addr(self.source_hardware_addr);
        p.set_source_protocol_addr(self.source_protocol_addr);
        p.set_target_hardware_addr(self.target_hardware_addr);
        p.set_target_protocol_addr(self.target_protocol_addr);
    }

    /// A gratuitous ARP: the sender announces its own address (sender and target protocol
    /// addresses are equal), as Linux `arp_process` recognises.
    pub fn is_gratuitous(&self) -> bool {
        self.source_protocol_addr == self.target_protocol_addr
    }
}

#[cfg(test)]
mod tests {
    use super::super::captures::*;
    use super::*;
    use proptest::prelude::*;

    const MAC_A: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0x0a, 0x01]);
    const MAC_B: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0x0b, 0x02]);
    const A1: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
    const A2: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);

    #[test]
    fn request() {
        let p = ArpPacket::new_checked(&ARP_REQUEST[..]).unwrap();
        assert_eq!(p.hardware_type(), 1);
        assert_eq!(p.protocol_type(), 0x0800);
        assert_eq!(p.hardware_len(), 6);
        assert_eq!(p.protocol_len(), 4);
        assert_eq!(p.operation(), ArpOperation::REQUEST);
        assert_eq!(p.source_hardware_addr(), MAC_A);
        assert_eq!(p.source_protocol_addr(), A1);
        assert_eq!(p.target_hardware_addr(), EthernetAddress::ZERO);
        assert_eq!(p.target_protocol_addr(), A2);
        let r = ArpRepr::parse(&p).unwrap();
        assert!(!r.is_gratuitous());
        let mut out = [0xffu8; PACKET_LEN];
        r.emit(&mut out);
        assert_eq!(out, ARP_REQUEST);
    }

    #[test]
    fn reply() {
        let r = ArpRepr::parse(&ArpPacket::new_checked(&ARP_REPLY[..]).unwrap()).unwrap();
        assert_eq!(
            r,
            ArpRepr {
                operation: ArpOperation::REPLY,
                source_hardware_addr: MAC_B,
                source_protocol_addr: A2,
                target_hardware_addr: MAC_A,
                target_protocol_addr: A1,
            }
        );
        let mut out = [0u8; 28];
        r.emit(&mut out);
        assert_eq!(out, ARP_REPLY);
        assert_eq!(ArpOperation::REPLY.to_string(), "reply");
    }

    #[test]
    fn padded_and_gratuitous() {
        // On a real wire the 42-byte frame is padded to 60 bytes: 18 bytes after the packet.
        let mut padded = ARP_REQUEST.to_vec();
        padded.extend_from_slice(&[0; 18]);
        let mut r = ArpRepr::parse(&ArpPacket::new_checked(&padded[..]).unwrap()).unwrap();
        r.target_protocol_addr = A1;
        assert!(r.is_gratuitous());
    }

    #[test]
    fn malformed() {
        for n in 0..PACKET_LEN {
            assert_eq!(
                ArpPacket::new_checked(&ARP_REQUEST[..n]).unwrap_err(),
                WireError::Truncated
            );
        }
        for (i, v) in [(0, 0x00u8), (1, 6), (2, 0x86), (3, 0xdd), (4, 8), (5, 16)] {
            let mut b = ARP_REQUEST;
            b[i] = v;
            if i == 0 {
                b[1] = 6; // IEEE 802
            }
            assert_eq!(
                ArpPacket::new_checked(&b[..]).unwrap_err(),
                WireError::Unsupported,
                "byte {i}"
            );
            assert_eq!(
                ArpRepr::parse(&ArpPacket::new_unchecked(&b[..])).unwrap_err(),
                WireError::Unsupported
            );
        }
        assert_eq!(
            ArpRepr::parse(&ArpPacket::new_unchecked(&ARP_REQUEST[..27])).unwrap_err(),
            WireError::Truncated
        );
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..40), fix in any::<bool>()) {
            let mut data = data;
            if fix && data.len() >= 6 {
                data[..6].copy_from_slice(&ARP_REQUEST[..6]);
            }
            if let Ok(p) = ArpPacket::new_checked(&data[..]) {
                let _ = (p.hardware_type(), p.protocol_type(), p.hardware_len(), p.protocol_len());
                let _ = (p.operation(), p.source_hardware_addr(), p.source_protocol_addr());
                let _ = (p.target_hardware_addr(), p.target_protocol_addr());
                let r = ArpRepr::parse(&p).unwrap();
                let mut out = [0u8; PACKET_LEN];
                r.emit(&mut out);
                prop_assert_eq!(&out[..], &data[..PACKET_LEN]);
            }
            let _ = ArpRepr::parse(&ArpPacket::new_unchecked(&data[..]));
        }

        #[test]
        fn repr_round_trip(op in any::<u16>(), sha in any::<[u8; 6]>(), spa in any::<u32>(),
                           tha in any::<[u8; 6]>(), tpa in any::<u32>()) {
            let r = ArpRepr {
                operation: ArpOperation(op),
                source_hardware_addr: EthernetAddress(sha),
                source_protocol_addr: Ipv4Addr::from(spa),
                target_hardware_addr: EthernetAddress(tha),
                target_protocol_addr: Ipv4Addr::from(tpa),
            };
            let mut buf = [0u8; PACKET_LEN];
            r.emit(&mut buf);
            prop_assert_eq!(ArpRepr::parse(&ArpPacket::new_checked(&buf[..]).unwrap()).unwrap(), r);
        }
    }
}
