//! The transport protocols' registrations in the stack's offload tables, made when the stack
//! is built, so the core and IPv4 reach TCP's segmentation and receive merging without
//! importing it; and the hand-off for a segment whose checksum GRO found bad.
//!
//! Linux: `tcpv4_offload_init` (net/ipv4/tcp_offload.c).

use crate::buf::PacketBuf;
use crate::device::offload::{NetOffload, OffloadTaken, Offloads};
use crate::stack::Stack;
use crate::stats::DropReason;
use crate::transport::tcp::offload::{tcp4_gro_complete, tcp4_gro_receive, tcp4_gso_segment};
use crate::wire::ethernet::HEADER_LEN as ETH_HLEN;
use crate::wire::{IpProtocol, Ipv4Packet};

/// Register TCP's offload handlers for IPv4; refused if TCP has some already.
/// Linux: `tcpv4_offload_init` (`inet_add_offload(&tcpv4_offload, IPPROTO_TCP)`).
pub(crate) fn tcpv4_offload_init(offloads: &mut Offloads) -> Result<(), OffloadTaken> {
    offloads.inet_add_offload(
        IpProtocol::TCP,
        NetOffload {
            gso_segment: tcp4_gso_segment,
            gro_receive: Some(tcp4_gro_receive),
            gro_complete: Some(tcp4_gro_complete),
        },
    )
}

impl Stack {
    /// A TCP/IPv4 segment whose checksum GRO found bad: for one of our addresses, counted
    /// and dropped here, its sum already taken, so it costs no second sum, no IP and TCP
    /// processing and no early delivery of its flow's train (a corrupted segment costs no
    /// more than a lost one); for another host handed back, to be passed on as it is (a
    /// router does not judge TCP checksums). Linux: `tcp_v4_rcv`'s `csum_error`
    /// (TCPInCsumErrors, InErrs), reached with the sum GRO took
    /// (`skb_gro_checksum_validate`).
    pub(crate) fn gro_csum_error(&mut self, buf: PacketBuf) -> Option<PacketBuf> {
        // Unchecked: GRO flags a bad checksum only on a frame with a 20-byte IPv4 header
        // behind the Ethernet header.
        let dst = Ipv4Packet::new_unchecked(&buf.data()[ETH_HLEN..]).dst_addr();
        if !self.is_local_addr(dst) {
            return Some(buf);
        }
        self.ipv4.ip_stats.in_receives += 1;
        self.tcp.stats.in_segs += 1;
        self.tcp.stats.in_csum_errors += 1;
        self.tcp.stats.in_errs += 1;
        self.drop_pkt(buf, DropReason::TcpCsum);
        None
    }
}
