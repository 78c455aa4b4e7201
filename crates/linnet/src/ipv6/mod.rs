//! IPv6 (issue 18, being built): what exists so far is address configuration, a pure state
//! machine not yet driven by the stack, and the fragment side — reassembly, fragmentation on
//! the sending host, the path MTU store — as pure logic for `ipv6_rcv`/`ip6_output` to call.
//! Linux: net/ipv6/.

pub mod addrconf;
pub mod fragment;
pub mod pmtu;
pub mod reassembly;
