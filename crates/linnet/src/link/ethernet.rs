//! Ethernet receive classification and header construction.
//!
//! Linux: net/ethernet/eth.c (`eth_type_trans`, `eth_header`).

use crate::buf::{PacketBuf, PacketType};
use crate::stats::DropReason;
use crate::wire::ethernet::HEADER_LEN;
use crate::wire::{EtherType, EthernetAddress, EthernetFrame, EthernetRepr};

/// Classify a received frame by its destination address, record the EtherType in the metadata
/// and pull the Ethernet header, leaving the data at the network header.
/// Linux: `eth_type_trans` (net/ethernet/eth.c).
pub fn eth_type_trans(buf: &mut PacketBuf, dev_addr: EthernetAddress) -> Result<(), DropReason> {
    let frame = EthernetFrame::new_checked(buf.data()).map_err(|_| DropReason::PktTooSmall)?;
    let dst = frame.dst_addr();
    let ethertype = frame.ethertype().0;
    buf.meta.pkt_type = if dst == dev_addr {
        PacketType::Host
    } else if dst.is_broadcast() {
        PacketType::Broadcast
    } else if dst.is_multicast() {
        PacketType::Multicast
    } else {
        PacketType::OtherHost
    };
    buf.meta.protocol = ethertype;
    buf.reset_mac_header();
    buf.pull(HEADER_LEN);
    buf.reset_network_header();
    Ok(())
}

/// Prepend an Ethernet header. Returns false if the buffer has no headroom for it.
/// Linux: `eth_header` (`dev_hard_header`).
pub fn eth_header(
    buf: &mut PacketBuf,
    src: EthernetAddress,
    dst: EthernetAddress,
    ethertype: EtherType,
) -> bool {
    match buf.push(HEADER_LEN) {
        Some(h) => {
            EthernetRepr {
                src_addr: src,
                dst_addr: dst,
                ethertype,
            }
            .emit(h);
            buf.reset_mac_header();
            true
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ME: EthernetAddress = EthernetAddress([2, 0, 0, 0, 0, 1]);

    fn frame(dst: EthernetAddress) -> PacketBuf {
        let mut b = PacketBuf::from_slice(&[0xaa; 20], 32);
        assert!(eth_header(
            &mut b,
            EthernetAddress([2, 0, 0, 0, 0, 2]),
            dst,
            EtherType::IPV4
        ));
        b
    }

    #[test]
    fn classifies_and_pulls() {
        for (dst, want) in [
            (ME, PacketType::Host),
            (EthernetAddress::BROADCAST, PacketType::Broadcast),
            (
                EthernetAddress([1, 0, 0x5e, 0, 0, 1]),
                PacketType::Multicast,
            ),
            (EthernetAddress([2, 0, 0, 0, 0, 3]), PacketType::OtherHost),
        ] {
            let mut b = frame(dst);
            eth_type_trans(&mut b, ME).unwrap();
            assert_eq!(b.meta.pkt_type, want);
            assert_eq!(b.meta.protocol, 0x0800);
            assert_eq!(b.len(), 20);
            assert_eq!(b.mac_header().unwrap().len(), 34);
        }
        let mut short = PacketBuf::from_slice(&[0; 13], 0);
        assert_eq!(eth_type_trans(&mut short, ME), Err(DropReason::PktTooSmall));
        let mut no_room = PacketBuf::from_slice(&[0; 4], 0);
        assert!(!eth_header(&mut no_room, ME, ME, EtherType::ARP));
    }
}
