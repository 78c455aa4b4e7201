//! What a bound socket's local address takes in each family: an AF_INET socket takes IPv4
//! only, an AF_INET6 one IPv6 and (unless `IPV6_V6ONLY`) IPv4 as v4-mapped addresses
//! (`::ffff:a.b.c.d`). Bind conflicts and the receive-side lookups of UDP and TCP are both
//! asked of this one view.
//!
//! Linux: net/ipv4/inet_connection_sock.c (`inet_rcv_saddr_equal`, `ipv6_rcv_saddr_equal`)
//! and the `sk_family` / `ipv6_only_sock` tests in `compute_score`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6};

/// One family's share of a local address: `Some(None)` any address, `Some(Some(a))` only `a`,
/// `None` none of the family.
type Part<A> = Option<Option<A>>;

/// The addresses a socket bound at a local address receives on. Linux: the pair
/// (`sk_rcv_saddr`, `sk_v6_rcv_saddr`) read with `ipv6_only_sock`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InetBinding {
    v4: Part<Ipv4Addr>,
    v6: Part<Ipv6Addr>,
}

impl InetBinding {
    /// The binding of a socket at `ip`; `v6only` is its `IPV6_V6ONLY` (for an IPv6 socket).
    pub fn new(ip: IpAddr, v6only: bool) -> InetBinding {
        match ip {
            IpAddr::V4(a) => InetBinding {
                v4: Some((!a.is_unspecified()).then_some(a)),
                v6: None,
            },
            IpAddr::V6(a) => {
                if let Some(m) = a.to_ipv4_mapped() {
                    // A v4-mapped address binds the IPv4 address only (Linux: `sk_rcv_saddr`
                    // set from it, `ipv6_addr_type` IPV6_ADDR_MAPPED).
                    InetBinding {
                        v4: Some((!m.is_unspecified()).then_some(m)),
                        v6: None,
                    }
                } else if a.is_unspecified() {
                    InetBinding {
                        v4: (!v6only).then_some(None),
                        v6: Some(None),
                    }
                } else {
                    InetBinding {
                        v4: None,
                        v6: Some(Some(a)),
                    }
                }
            }
        }
    }

    /// Whether two sockets on one port would receive on a common address (a bind conflict
    /// unless both may reuse). Linux: `inet_rcv_saddr_equal(match_wildcard = true)`.
    pub fn overlaps(&self, other: &InetBinding) -> bool {
        fn part<A: PartialEq>(x: &Part<A>, y: &Part<A>) -> bool {
            match (x, y) {
                (Some(a), Some(b)) => a.is_none() || b.is_none() || a == b,
                _ => false,
            }
        }
        part(&self.v4, &other.v4) || part(&self.v6, &other.v6)
    }

    /// Whether a datagram or segment to `dst` reaches this socket, and how well: 2 for an
    /// exact address, 1 for a wildcard, `None` for no match.
    pub fn accepts(&self, dst: IpAddr) -> Option<u8> {
        match dst {
            IpAddr::V4(d) => match self.v4? {
                None => Some(1),
                Some(a) => (a == d).then_some(2),
            },
            IpAddr::V6(d) => match self.v6? {
                None => Some(1),
                Some(a) => (a == d).then_some(2),
            },
        }
    }
}

/// `ip` as an IPv4 address when it is one or a v4-mapped IPv6 one.
pub fn unmap(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(a) => a.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// How an AF_INET6 socket names an IPv4 peer: `::ffff:a.b.c.d`. Linux: `ipv6_addr_set_v4mapped`.
pub fn v4_mapped(a: SocketAddr) -> SocketAddr {
    match a {
        SocketAddr::V4(v) => {
            SocketAddr::V6(SocketAddrV6::new(v.ip().to_ipv6_mapped(), v.port(), 0, 0))
        }
        v6 => v6,
    }
}

/// Whether two peer addresses are the same endpoint (a v4-mapped address equals its IPv4 one).
pub fn same_peer(a: SocketAddr, b: SocketAddr) -> bool {
    a.port() == b.port() && unmap(a.ip()) == unmap(b.ip())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &str, v6only: bool) -> InetBinding {
        InetBinding::new(s.parse().unwrap(), v6only)
    }

    #[test]
    fn conflicts_as_inet_csk_bind_conflict() {
        // :: without V6ONLY takes 0.0.0.0 and every v4 address; with it, none.
        assert!(b("::", false).overlaps(&b("0.0.0.0", false)));
        assert!(b("::", false).overlaps(&b("192.0.2.1", false)));
        assert!(!b("::", true).overlaps(&b("0.0.0.0", false)));
        assert!(b("::", true).overlaps(&b("2001:db8::1", false)));
        // Specific v6 addresses do not touch IPv4.
        assert!(!b("2001:db8::1", false).overlaps(&b("0.0.0.0", false)));
        assert!(!b("2001:db8::1", false).overlaps(&b("2001:db8::2", false)));
        // A v4-mapped address is its IPv4 address.
        assert!(b("::ffff:192.0.2.1", false).overlaps(&b("192.0.2.1", false)));
        assert!(!b("::ffff:192.0.2.1", false).overlaps(&b("192.0.2.2", false)));
        assert!(!b("::ffff:192.0.2.1", false).overlaps(&b("2001:db8::1", false)));
    }

    #[test]
    fn lookups_score_exact_above_wildcard() {
        let v4: IpAddr = "192.0.2.1".parse().unwrap();
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        assert_eq!(b("::", false).accepts(v4), Some(1));
        assert_eq!(b("::", true).accepts(v4), None);
        assert_eq!(b("::", true).accepts(v6), Some(1));
        assert_eq!(b("2001:db8::1", false).accepts(v6), Some(2));
        assert_eq!(b("0.0.0.0", false).accepts(v6), None);
        assert_eq!(b("::ffff:192.0.2.1", false).accepts(v4), Some(2));
        assert_eq!(unmap("::ffff:192.0.2.1".parse().unwrap()), v4);
    }
}
