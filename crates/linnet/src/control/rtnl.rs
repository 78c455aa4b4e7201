//! Configuration changes behind the control requests: the `doit` side of rtnetlink, one
//! handler a request (link, address and neighbour changes) that checks before it changes.
//!
//! Linux: net/core/rtnetlink.c (`rtnl_setlink` → `dev_set_mtu`), net/ipv4/devinet.c
//! (`inet_rtm_deladdr`), net/core/neighbour.c (`neigh_delete`, `neigh_flush_dev`).

use crate::errno::Errno;
use crate::stack::Stack;
use crate::time::Instant;
use crate::wire::{EthernetAddress, Ipv4Addr, Ipv4Cidr};

use super::{dev_index, done, errno_response, Response};

pub use crate::device::netns::{MAX_MTU, MIN_MTU};

impl Stack {
    /// Change an interface's link address (`ip link set dev D address M`); unicast addresses
    /// only. When the link is up its addresses are announced with gratuitous ARP so that
    /// neighbours update their caches at once (Linux: `dev_set_mac_address`, then
    /// `arp_netdev_event` as with `arp_notify=1`).
    pub fn set_mac(
        &mut self,
        ifindex: u32,
        mac: crate::wire::EthernetAddress,
        now: crate::time::Instant,
    ) -> Result<(), Errno> {
        self.dev.check_mac(ifindex, mac)?;
        let iface = self.iface_mut(ifindex).ok_or(Errno::ENODEV)?;
        iface.mac = mac;
        if iface.up {
            let addrs: Vec<Ipv4Addr> = iface.addrs.iter().map(|c| c.addr).collect();
            for a in addrs {
                self.arp_announce(ifindex, a, now);
            }
        }
        Ok(())
    }

    /// Remove every address of an interface (`ip addr flush dev D`); returns how many went.
    /// Linux: `inet_rtm_deladdr` for each address.
    pub fn flush_addrs(&mut self, ifindex: u32) -> Result<usize, Errno> {
        let addrs: Vec<Ipv4Addr> = self
            .iface(ifindex)
            .ok_or(Errno::ENODEV)?
            .addrs
            .iter()
            .map(|c| c.addr)
            .collect();
        for a in &addrs {
            self.del_addr(ifindex, *a)?;
        }
        Ok(addrs.len())
    }

    /// Remove a neighbour entry (`ip neigh del`). Linux: `neigh_delete` (ENOENT if absent).
    pub fn del_neighbour(&mut self, ifindex: u32, ip: Ipv4Addr) -> Result<(), Errno> {
        self.iface(ifindex).ok_or(Errno::ENODEV)?;
        if self.neigh.delete(ifindex, ip) {
            Ok(())
        } else {
            Err(Errno::ENOENT)
        }
    }
}

/// `ip link set dev D [up|down] [mtu N] [address M]`: every part checked before any is
/// applied. Linux: `do_setlink` (`dev_validate_mtu`, `dev_pre_changeaddr_notify` first).
pub(super) fn link_set(
    stack: &mut Stack,
    dev: &str,
    up: Option<bool>,
    mtu: Option<usize>,
    address: Option<EthernetAddress>,
    now: Instant,
) -> Response {
    let i = match dev_index(stack, dev) {
        Ok(i) => i,
        Err(r) => return r,
    };
    // Validate everything before changing anything.
    if let Some(m) = mtu {
        if !(MIN_MTU..=MAX_MTU).contains(&m) {
            return Response::Error {
                errno: Some(libc::EINVAL),
                message: format!("mtu {m} is out of range: {}..={}", MIN_MTU, MAX_MTU),
            };
        }
    }
    if let Some(mac) = address {
        if let Err(e) = stack.dev.check_mac(i, mac) {
            return errno_response(e);
        }
    }
    // Everything is valid: now change it.
    if let Some(m) = mtu {
        if let Err(e) = stack.dev.set_mtu(i, m) {
            return errno_response(e);
        }
    }
    if let Some(mac) = address {
        if let Err(e) = stack.set_mac(i, mac, now) {
            return errno_response(e);
        }
    }
    match up {
        Some(u) => done(stack.set_link_up(i, u, now)),
        None => Response::Ok,
    }
}

/// `ip addr add`. Linux: `inet_rtm_newaddr`.
pub(super) fn addr_add(stack: &mut Stack, dev: &str, addr: Ipv4Cidr, now: Instant) -> Response {
    match dev_index(stack, dev) {
        Ok(i) => match stack.add_addr(i, addr, now) {
            Err(Errno::EADDRINUSE) => Response::Error {
                errno: Some(libc::EEXIST),
                message: "RTNETLINK answers: File exists".into(),
            },
            r => done(r),
        },
        Err(r) => r,
    }
}

/// `ip addr del`: the address must be there (with its prefix length, when one is given).
/// Linux: `inet_rtm_deladdr`.
pub(super) fn addr_del(stack: &mut Stack, dev: &str, addr: Ipv4Cidr) -> Response {
    match dev_index(stack, dev) {
        Ok(i) => {
            let known = stack.iface(i).is_some_and(|f| {
                f.addrs.iter().any(|c| {
                    c.addr == addr.addr
                        && (addr.prefix_len == 32 || c.prefix_len == addr.prefix_len)
                })
            });
            if !known {
                return Response::Error {
                    errno: Some(libc::EADDRNOTAVAIL),
                    message: "RTNETLINK answers: Cannot assign requested address".into(),
                };
            }
            done(stack.del_addr(i, addr.addr))
        }
        Err(r) => r,
    }
}

/// `ip addr flush dev D`.
pub(super) fn addr_flush(stack: &mut Stack, dev: &str) -> Response {
    match dev_index(stack, dev) {
        Ok(i) => done(stack.flush_addrs(i).map(|_| ())),
        Err(r) => r,
    }
}

/// `ip neigh add ... lladdr M nud permanent`. Linux: `neigh_add`.
pub(super) fn neigh_add(
    stack: &mut Stack,
    dev: &str,
    ip: Ipv4Addr,
    lladdr: EthernetAddress,
    now: Instant,
) -> Response {
    match dev_index(stack, dev) {
        Ok(i) => done(stack.add_neighbour(i, ip, lladdr, now)),
        Err(r) => r,
    }
}

/// `ip neigh del`. Linux: `neigh_delete`.
pub(super) fn neigh_del(stack: &mut Stack, dev: &str, ip: Ipv4Addr) -> Response {
    match dev_index(stack, dev) {
        Ok(i) => done(stack.del_neighbour(i, ip)),
        Err(r) => r,
    }
}

/// `ip neigh flush [dev D]`. Linux: `neigh_flush_dev`.
pub(super) fn neigh_flush(stack: &mut Stack, dev: Option<&str>) -> Response {
    let i = match dev.map(|d| dev_index(stack, d)).transpose() {
        Ok(i) => i,
        Err(r) => return r,
    };
    stack.neigh.neigh_flush_dev(i);
    Response::Ok
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Instant;
    use crate::wire::EthernetAddress;

    #[test]
    fn mtu_limits_addr_flush_and_neigh_delete() {
        let mut s = Stack::default();
        let now = Instant::ZERO;
        let i = s.add_interface("eth0", EthernetAddress::local_from_seed(1), 1500);
        assert_eq!(s.dev.set_mtu(i, 67), Err(Errno::EINVAL));
        assert_eq!(s.dev.set_mtu(i, MAX_MTU + 1), Err(Errno::EINVAL));
        assert_eq!(s.dev.set_mtu(99, 1400), Err(Errno::ENODEV));
        s.dev.set_mtu(i, 9000).unwrap();
        assert_eq!(s.iface(i).unwrap().mtu, 9000);
        let mac = EthernetAddress([2, 0, 0, 0, 0, 0x42]);
        s.set_mac(i, mac, now).unwrap();
        assert_eq!(s.iface(i).unwrap().mac, mac);
        assert_eq!(
            s.set_mac(i, EthernetAddress([1, 0, 0, 0, 0, 1]), now),
            Err(Errno::EINVAL)
        );
        assert_eq!(s.set_mac(1, mac, now), Err(Errno::EOPNOTSUPP), "loopback");

        s.add_addr(i, "192.0.2.2/24".parse().unwrap(), now).unwrap();
        s.add_addr(i, "198.51.100.2/24".parse().unwrap(), now)
            .unwrap();
        assert_eq!(s.flush_addrs(i), Ok(2));
        assert!(s.iface(i).unwrap().addrs.is_empty());
        assert!(
            s.ipv4.routes().iter().all(|r| r.ifindex != i),
            "connected routes went too"
        );

        let ip = Ipv4Addr::new(192, 0, 2, 9);
        s.add_neighbour(i, ip, EthernetAddress::local_from_seed(2), now)
            .unwrap();
        assert_eq!(s.neighbours().len(), 1);
        assert_eq!(
            s.del_neighbour(i, Ipv4Addr::new(192, 0, 2, 10)),
            Err(Errno::ENOENT)
        );
        s.del_neighbour(i, ip).unwrap();
        assert!(s.neighbours().is_empty());
        s.add_neighbour(i, ip, EthernetAddress::local_from_seed(2), now)
            .unwrap();
        assert_eq!(s.neigh.neigh_flush_dev(Some(i + 1)), 0);
        assert_eq!(s.neigh.neigh_flush_dev(None), 1);
    }
}
