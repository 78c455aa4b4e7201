//! A raw-IP device: packetdrill exchanges bare IPv4 packets, the stack Ethernet frames.
//! Packets in get an Ethernet header addressed to the stack; frames out lose theirs; ARP
//! requests are answered at once with the peer's address (a point-to-point link needs no
//! resolution). When nothing is queued, sniffing runs virtual time forward to the stack's
//! next timer, which is how retransmissions and delayed ACKs appear.
//!
//! Linux: a tun device (`IFF_TUN`, no link header) as packetdrill's `netdev.c` uses it.

use linnet::EthernetAddress;
use linnet_posix::Posix;
use std::time::Duration;

const ETH_HLEN: usize = 14;
const ETH_P_IP: [u8; 2] = [0x08, 0x00];
const ETH_P_ARP: [u8; 2] = [0x08, 0x06];
const ARP_LEN: usize = 28;
/// Most virtual time one sniff runs forward looking for a packet before it reports none.
const MAX_SNIFF_ADVANCE: Duration = Duration::from_secs(3600);
/// Most timer steps one sniff takes.
const MAX_SNIFF_STEPS: usize = 100_000;

/// The device.
#[derive(Debug, Clone)]
pub struct RawIpDevice {
    ifindex: u32,
    local_mac: EthernetAddress,
    peer_mac: EthernetAddress,
}

impl RawIpDevice {
    /// A device on interface `ifindex`.
    pub fn new(ifindex: u32, local_mac: EthernetAddress, peer_mac: EthernetAddress) -> Self {
        RawIpDevice {
            ifindex,
            local_mac,
            peer_mac,
        }
    }

    /// Hand an IPv4 packet from packetdrill to the stack. Linux: `tun_get_user`.
    pub fn inject(&self, posix: &Posix, pkt: &[u8]) -> bool {
        if pkt.is_empty() || pkt[0] >> 4 != 4 {
            return false;
        }
        let mut hdr = [0u8; ETH_HLEN];
        hdr[0..6].copy_from_slice(&self.local_mac.0);
        hdr[6..12].copy_from_slice(&self.peer_mac.0);
        hdr[12..14].copy_from_slice(&ETH_P_IP);
        posix.with_net(|n| n.receive(self.ifindex, &[&hdr, pkt]))
    }

    /// The next IPv4 packet the stack sends, copied into `out` (truncated to it), with the
    /// virtual time it was sent at; 0 bytes when nothing comes however far virtual time runs.
    /// Linux: `tun_put_user`.
    pub fn sniff(&self, posix: &Posix, out: &mut [u8]) -> (usize, linnet::Instant) {
        posix.with_net(|n| {
            let start = n.now;
            for _ in 0..MAX_SNIFF_STEPS {
                while let Some((ifindex, frame)) = n.take_tx() {
                    let d = frame.data();
                    let ours = ifindex == self.ifindex && d.len() >= ETH_HLEN;
                    if ours && d[12..14] == ETH_P_IP {
                        let ip = &d[ETH_HLEN..];
                        let k = ip.len().min(out.len());
                        out[..k].copy_from_slice(&ip[..k]);
                        let at = frame.meta.timestamp;
                        n.stack.recycle(frame);
                        return (k, at);
                    }
                    let reply = if ours && d[12..14] == ETH_P_ARP {
                        self.arp_reply(&d[ETH_HLEN..])
                    } else {
                        None
                    };
                    n.stack.recycle(frame);
                    if let Some((hdr, arp)) = reply {
                        n.receive(self.ifindex, &[&hdr, &arp]);
                    }
                }
                let Some(next) = n.run() else {
                    return (0, n.now);
                };
                if n.tx.is_empty() {
                    if next.saturating_since(start) > MAX_SNIFF_ADVANCE {
                        return (0, n.now);
                    }
                    let t = next.max(n.now + Duration::from_micros(1));
                    n.advance_to(t);
                }
            }
            (0, n.now)
        })
    }

    /// The answer to an ARP request: the peer owns every address asked for.
    fn arp_reply(&self, req: &[u8]) -> Option<([u8; ETH_HLEN], [u8; ARP_LEN])> {
        if req.len() < ARP_LEN || req[6..8] != [0, 1] {
            return None;
        }
        let mut hdr = [0u8; ETH_HLEN];
        hdr[0..6].copy_from_slice(&req[8..14]);
        hdr[6..12].copy_from_slice(&self.peer_mac.0);
        hdr[12..14].copy_from_slice(&ETH_P_ARP);
        let mut arp = [0u8; ARP_LEN];
        arp[0..6].copy_from_slice(&req[0..6]);
        arp[6..8].copy_from_slice(&[0, 2]);
        arp[8..14].copy_from_slice(&self.peer_mac.0);
        arp[14..18].copy_from_slice(&req[24..28]);
        arp[18..24].copy_from_slice(&req[8..14]);
        arp[24..28].copy_from_slice(&req[14..18]);
        Some((hdr, arp))
    }
}
