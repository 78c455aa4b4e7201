//! IPv6 (issue 18, being built): what exists so far is address configuration, a pure state
//! machine not yet driven by the stack. Linux: net/ipv6/.

pub mod addrconf;
