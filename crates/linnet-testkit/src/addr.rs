//! The documentation addresses the tests use (RFC 5737: TEST-NET-1, -2 and -3), so a test
//! never sends to an address that could belong to someone.

use std::net::Ipv4Addr;

/// TEST-NET-1's Linux end: the namespace side of a TAP or veth (`192.0.2.1`).
pub const LINUX: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
/// TEST-NET-1's Linnet end (`192.0.2.2`).
pub const LINNET: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
/// [`LINUX`] with its prefix, as `ip addr add` takes it.
pub const LINUX_CIDR: &str = "192.0.2.1/24";
/// [`LINNET`] with its prefix, as `linnetd --addr` and Linnet's hosts take it.
pub const LINNET_CIDR: &str = "192.0.2.2/24";

/// TEST-NET-2's first host (`198.51.100.1`): a second Linux host or link.
pub const NET2_1: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);
/// TEST-NET-2's second host (`198.51.100.2`).
pub const NET2_2: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 2);
/// TEST-NET-3's first host (`203.0.113.1`): a third network.
pub const NET3_1: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 1);
/// TEST-NET-3's second host (`203.0.113.2`).
pub const NET3_2: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 2);

/// True for an address inside one of the three documentation networks, or loopback: the
/// only addresses a test may talk to.
pub fn is_test_addr(a: Ipv4Addr) -> bool {
    let o = a.octets();
    a.is_loopback()
        || (o[0], o[1], o[2]) == (192, 0, 2)
        || (o[0], o[1], o[2]) == (198, 51, 100)
        || (o[0], o[1], o[2]) == (203, 0, 113)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constants_are_documentation_addresses() {
        for a in [LINUX, LINNET, NET2_1, NET2_2, NET3_1, NET3_2] {
            assert!(is_test_addr(a), "{a}");
        }
        assert_eq!(LINUX_CIDR.split('/').next(), Some("192.0.2.1"));
        assert_eq!(LINNET_CIDR.split('/').next(), Some("192.0.2.2"));
        assert!(!is_test_addr(Ipv4Addr::new(10, 0, 0, 1)));
        assert!(!is_test_addr(Ipv4Addr::new(192, 0, 3, 1)));
    }
}
