//! IPv6 (issue 18), beside IPv4: address configuration driven by the stack, neighbour
//! discovery on the generic neighbour table, MLD reports for the solicited-node groups,
//! receive with the extension header walk, reassembly, ICMPv6 (echo, errors), output with
//! fragmentation, forwarding, and the routing table. UDP over IPv6 is in
//! `crate::transport::udp6`; TCP over IPv6 is not built yet. Linux: net/ipv6/.

pub mod addrconf;
pub mod dev;
pub(crate) mod forward;
pub mod fragment;
pub(crate) mod icmp;
pub(crate) mod input;
pub(crate) mod mcast;
pub(crate) mod ndisc;
pub(crate) mod netns;
pub(crate) mod output;
pub mod ping;
pub mod pmtu;
pub mod reassembly;
pub mod route;
pub mod rtnl;
