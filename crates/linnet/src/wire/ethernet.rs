//! Ethernet II frames.
//!
//! Linux: `struct ethhdr` (include/uapi/linux/if_ether.h).

use super::{Result, WireError};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Length of the Ethernet II header.
pub const HEADER_LEN: usize = 14;

/// A 48-bit MAC address.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
pub struct EthernetAddress(pub [u8; 6]);

impl EthernetAddress {
    /// ff:ff:ff:ff:ff:ff
    pub const BROADCAST: EthernetAddress = EthernetAddress([0xff; 6]);
    /// 00:00:00:00:00:00
    pub const ZERO: EthernetAddress = EthernetAddress([0; 6]);

    /// Reads an address from the first six bytes of `b`; `b` must hold at least six bytes.
    pub fn from_bytes(b: &[u8]) -> EthernetAddress {
        let mut a = [0u8; 6];
        a.copy_from_slice(&b[..6]);
        EthernetAddress(a)
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The broadcast address.
    pub fn is_broadcast(&self) -> bool {
        *self == Self::BROADCAST
    }

    /// A group address (the I/G bit set), broadcast included.
    pub fn is_multicast(&self) -> bool {
        self.0[0] & 0x01 != 0
    }

    /// A unicast address other than all-zero.
    pub fn is_unicast(&self) -> bool {
        !self.is_multicast() && *self != Self::ZERO
    }

    /// A locally administered unicast address derived from `seed` (for stacks that pick their own).
    pub fn local_from_seed(seed: u64) -> EthernetAddress {
        let b = seed.to_be_bytes();
        EthernetAddress([0x02, b[3] ^ b[7], b[4], b[5], b[6], b[7] ^ b[2]])
    }
}

impl fmt::Display for EthernetAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = &self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            b[0], b[1], b[2], b[3], b[4], b[5]
        )
    }
}

impl fmt::Debug for EthernetAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for EthernetAddress {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let mut out = [0u8; 6];
        let mut n = 0;
        for part in s.split(':') {
            if n == 6 || part.is_empty() || part.len() > 2 {
                return Err(format!("invalid MAC address \"{s}\""));
            }
            out[n] =
                u8::from_str_radix(part, 16).map_err(|_| format!("invalid MAC address \"{s}\""))?;
            n += 1;
        }
        if n != 6 {
            return Err(format!("invalid MAC address \"{s}\""));
        }
        Ok(EthernetAddress(out))
    }
}

/// EtherType values (Linux: `ETH_P_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EtherType(pub u16);

impl EtherType {
    /// IPv4 (`ETH_P_IP`).
    pub const IPV4: EtherType = EtherType(0x0800);
    /// ARP (`ETH_P_ARP`).
    pub const ARP: EtherType = EtherType(0x0806);
    /// IPv6 (`ETH_P_IPV6`).
    pub const IPV6: EtherType = EtherType(0x86dd);
}

/// A view of an Ethernet II frame over a byte buffer.
#[derive(Debug, Clone)]
pub struct EthernetFrame<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> EthernetFrame<T> {
    /// Wraps `buffer` without checking it.
    pub fn new_unchecked(buffer: T) -> Self {
        EthernetFrame { buffer }
    }

    /// Wraps `buffer`, failing if it cannot hold an Ethernet header.
    pub fn new_checked(buffer: T) -> Result<Self> {
        if buffer.as_ref().len() < HEADER_LEN {
            return Err(WireError::Truncated);
        }
        Ok(EthernetFrame { buffer })
    }

    /// The wrapped buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Destination address.
    pub fn dst_addr(&self) -> EthernetAddress {
        EthernetAddress::from_bytes(&self.buffer.as_ref()[0..6])
    }

    /// Source address.
    pub fn src_addr(&self) -> EthernetAddress {
        EthernetAddress::from_bytes(&self.buffer.as_ref()[6..12])
    }

    /// EtherType of the payload.
    pub fn ethertype(&self) -> EtherType {
        let b = self.buffer.as_ref();
        EtherType(u16::from_be_bytes([b[12], b[13]]))
    }

    /// The payload after the header.
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> EthernetFrame<T> {
    /// Sets the destination address.
    pub fn set_dst_addr(&mut self, a: EthernetAddress) {
        self.buffer.as_mut()[0..6].copy_from_slice(&a.0);
    }

    /// Sets the source address.
    pub fn set_src_addr(&mut self, a: EthernetAddress) {
        self.buffer.as_mut()[6..12].copy_from_slice(&a.0);
    }

    /// Sets the EtherType.
    pub fn set_ethertype(&mut self, t: EtherType) {
        self.buffer.as_mut()[12..14].copy_from_slice(&t.0.to_be_bytes());
    }

    /// The payload, writable.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[HEADER_LEN..]
    }
}

/// The parsed form of an Ethernet header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EthernetRepr {
    /// Source address.
    pub src_addr: EthernetAddress,
    /// Destination address.
    pub dst_addr: EthernetAddress,
    /// Payload type.
    pub ethertype: EtherType,
}

impl EthernetRepr {
    /// Reads the header of a checked frame.
    pub fn parse<T: AsRef<[u8]>>(frame: &EthernetFrame<T>) -> EthernetRepr {
        EthernetRepr {
            src_addr: frame.src_addr(),
            dst_addr: frame.dst_addr(),
            ethertype: frame.ethertype(),
        }
    }

    /// Header length.
    pub const fn header_len(&self) -> usize {
        HEADER_LEN
    }

    /// Writes the header into the first [`HEADER_LEN`] bytes of `buf` (which must be that long).
    pub fn emit(&self, buf: &mut [u8]) {
        buf[0..6].copy_from_slice(&self.dst_addr.0);
        buf[6..12].copy_from_slice(&self.src_addr.0);
        buf[12..14].copy_from_slice(&self.ethertype.0.to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // An ARP request frame captured from Linux (192.0.2.1 asks who has 192.0.2.2), Ethernet header part.
    const FRAME: [u8; 14] = [
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x5a, 0x8e, 0x3b, 0x10, 0x22, 0x01, 0x08, 0x06,
    ];

    #[test]
    fn parse_and_emit_round_trip() {
        let f = EthernetFrame::new_checked(&FRAME[..]).unwrap();
        let r = EthernetRepr::parse(&f);
        assert!(r.dst_addr.is_broadcast());
        assert_eq!(r.src_addr.to_string(), "5a:8e:3b:10:22:01");
        assert_eq!(r.ethertype, EtherType::ARP);
        let mut out = [0u8; 14];
        r.emit(&mut out);
        assert_eq!(out, FRAME);
        assert_eq!(
            EthernetFrame::new_checked(&FRAME[..13]).unwrap_err(),
            WireError::Truncated
        );
    }

    #[test]
    fn address_parsing() {
        let a: EthernetAddress = "02:00:5e:10:00:01".parse().unwrap();
        assert_eq!(a.0, [2, 0, 0x5e, 0x10, 0, 1]);
        assert!(a.is_unicast());
        assert!("02:00:5e:10:00".parse::<EthernetAddress>().is_err());
        assert!("02:00:5e:10:00:01:03".parse::<EthernetAddress>().is_err());
        assert!("zz:00:5e:10:00:01".parse::<EthernetAddress>().is_err());
        assert!(EthernetAddress::local_from_seed(7).is_unicast());
    }
}
