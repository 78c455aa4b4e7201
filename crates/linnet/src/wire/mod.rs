//! Wire formats: typed, zero-copy views over byte slices with checked constructors,
//! accessors that cannot panic once checked, and `emit` into caller-provided buffers.

pub mod arp;
#[cfg(test)]
pub(crate) mod captures;
pub mod checksum;
pub mod ethernet;
pub mod icmpv4;
pub mod icmpv6;
pub mod ipv4;
pub mod ipv6;
pub mod ipv6ext;
pub mod mld;
pub mod ndisc;
pub mod tcp;
pub mod udp;

pub use arp::{ArpOperation, ArpPacket, ArpRepr};
pub use ethernet::{EtherType, EthernetAddress, EthernetFrame, EthernetRepr};
pub use icmpv4::{Icmpv4Message, Icmpv4Packet, Icmpv4Repr};
pub use icmpv6::{Icmpv6Message, Icmpv6Packet, Icmpv6Repr};
pub use ipv4::{IpProtocol, Ipv4Cidr, Ipv4Packet, Ipv4Repr};
pub use ipv6::{Ipv6Cidr, Ipv6Packet, Ipv6Repr};
pub use std::net::{Ipv4Addr, Ipv6Addr};

use std::fmt;

/// Why a buffer could not be read as a given wire format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WireError {
    /// The buffer is shorter than the header or the length a field claims.
    Truncated,
    /// A field holds a value the format forbids (version, header length, total length...).
    Malformed,
    /// The checksum does not verify.
    Checksum,
    /// A well-formed packet of a kind this parser does not handle (e.g. ARP for non-IPv4).
    Unsupported,
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            WireError::Truncated => "truncated packet",
            WireError::Malformed => "malformed packet",
            WireError::Checksum => "bad checksum",
            WireError::Unsupported => "unsupported packet",
        })
    }
}

impl std::error::Error for WireError {}

/// Result of wire parsing.
pub type Result<T> = std::result::Result<T, WireError>;

/// Splits `addr/len` into the address text and the prefix length text (`None` for a bare
/// address). Shared by [`Ipv4Cidr`] and [`ipv6::Ipv6Cidr`].
fn split_cidr(s: &str) -> (&str, Option<&str>) {
    match s.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (s, None),
    }
}

/// The prefix length `p` of the address-and-prefix `s`: decimal `0..=max`, at most as many
/// digits as `max` has; a bare address (`None`) means `max`, as iproute2 reads it.
fn parse_prefix_len(s: &str, p: Option<&str>, max: u8) -> std::result::Result<u8, String> {
    let Some(p) = p else {
        return Ok(max);
    };
    let bad = || format!("invalid prefix length \"{p}\" in \"{s}\" (expected 0..={max})");
    let digits = if max >= 100 { 3 } else { 2 };
    if p.is_empty() || p.len() > digits || !p.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let n: u8 = p.parse().map_err(|_| bad())?;
    if n > max {
        return Err(bad());
    }
    Ok(n)
}
