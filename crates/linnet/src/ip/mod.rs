//! IPv4: receive, local delivery, forwarding, output with route lookup, fragmentation and
//! reassembly, path MTU, ICMP.
//!
//! Linux: net/ipv4/ip_input.c, ip_forward.c, ip_output.c, ip_fragment.c, inet_fragment.c,
//! route.c, fib_*.c, icmp.c.

pub mod fib;
pub(crate) mod fib_frontend;
pub(crate) mod forward;
pub(crate) mod fragment;
pub(crate) mod icmp;
pub(crate) mod icmp_ratelimit;
pub(crate) mod inet_fragment;
pub(crate) mod input;
pub mod metrics;
pub(crate) mod netns;
pub(crate) mod offload;
pub(crate) mod output;
pub(crate) mod pmtu;
pub(crate) mod prefix_trie;
pub(crate) mod reassembly;
pub mod route;
pub(crate) mod rtcache;
pub mod rules;

use crate::wire::{IpProtocol, Ipv4Addr};

/// The fields of a received IPv4 header that upper layers need once it has been pulled.
/// Linux: what `ip_hdr(skb)` gives to `tcp_v4_rcv`, `icmp_rcv`...
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpMeta {
    /// Source address.
    pub src: Ipv4Addr,
    /// Destination address.
    pub dst: Ipv4Addr,
    /// Protocol.
    pub protocol: IpProtocol,
    /// Time to live as received.
    pub ttl: u8,
    /// Type of service.
    pub tos: u8,
    /// Delivered as a broadcast (link or IP level).
    pub broadcast: bool,
}
