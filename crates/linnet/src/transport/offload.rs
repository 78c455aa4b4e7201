//! The transport protocols' registrations in the stack's offload tables, made when the stack
//! is built, so the core and IPv4 reach TCP's segmentation without importing it.
//!
//! Linux: `tcpv4_offload_init` (net/ipv4/tcp_offload.c).

use crate::device::offload::{NetOffload, OffloadTaken, Offloads};
use crate::transport::tcp::offload::tcp4_gso_segment;
use crate::wire::IpProtocol;

/// Register TCP's offload handlers for IPv4; refused if TCP has some already.
/// Linux: `tcpv4_offload_init` (`inet_add_offload(&tcpv4_offload, IPPROTO_TCP)`).
pub(crate) fn tcpv4_offload_init(offloads: &mut Offloads) -> Result<(), OffloadTaken> {
    offloads.inet_add_offload(
        IpProtocol::TCP,
        NetOffload {
            gso_segment: tcp4_gso_segment,
        },
    )
}
