//! Path MTU discovery for IPv6 (RFC 8201): Packet Too Big lowers the MTU our datagrams to a
//! destination are fragmented to, never below 1280, for `mtu_expires` (600 s).
//!
//! Linux: net/ipv6/route.c (`rt6_do_update_pmtu`, `ip6_update_pmtu`) with the exception
//! routes of `fib6_nh`, and `net.ipv6.route.mtu_expires`.

use crate::stack::Stack;
use crate::time::Instant;
use crate::wire::ipv6::MIN_MTU;
use crate::wire::Ipv6Packet;
use std::collections::HashMap;
use std::net::Ipv6Addr;
use std::time::Duration;

/// `net.ipv6.route.mtu_expires` (600 s).
pub const MTU_EXPIRES: Duration = Duration::from_secs(600);
/// Most destinations with a learnt MTU (the oldest go first when full).
const MAX_PMTU: usize = 4096;

/// Learnt path MTUs. Linux: the PMTU exceptions of the route table.
#[derive(Debug, Default)]
pub struct Pmtu6Cache {
    mtus: HashMap<Ipv6Addr, (usize, Instant)>,
}

impl Pmtu6Cache {
    /// The MTU learnt for `dst`, if still valid at `now`.
    pub fn get(&self, dst: &Ipv6Addr, now: Instant) -> Option<usize> {
        self.mtus
            .get(dst)
            .filter(|&&(_, exp)| exp > now)
            .map(|&(m, _)| m)
    }

    /// Number of destinations held.
    pub fn len(&self) -> usize {
        self.mtus.len()
    }

    /// True when nothing was learnt.
    pub fn is_empty(&self) -> bool {
        self.mtus.is_empty()
    }

    fn update(&mut self, dst: Ipv6Addr, mtu: usize, now: Instant) {
        if !self.mtus.contains_key(&dst) && self.mtus.len() >= MAX_PMTU {
            self.mtus.retain(|_, e| e.1 > now);
            if self.mtus.len() >= MAX_PMTU {
                let oldest = self.mtus.iter().min_by_key(|(_, e)| e.1).map(|(k, _)| *k);
                if let Some(k) = oldest {
                    self.mtus.remove(&k);
                }
            }
        }
        self.mtus.insert(dst, (mtu, now + MTU_EXPIRES));
    }
}

impl Stack {
    /// A Packet Too Big quoting one of our datagrams: remember the smaller MTU for its
    /// destination (at least 1280; a larger one than the link's is ignored).
    /// Linux: `icmpv6_rcv` → `ip6_update_pmtu` → `rt6_do_update_pmtu`.
    pub(crate) fn ip6_update_pmtu(&mut self, quoted: &[u8], mtu: u32, now: Instant) {
        if quoted.len() < 40 {
            return;
        }
        let ip = Ipv6Packet::new_unchecked(quoted);
        let (src, dst) = (ip.src_addr(), ip.dst_addr());
        if !self.ipv6.ipv6_chk_addr(&src) || dst.is_multicast() {
            return;
        }
        let mtu = (mtu as usize).max(MIN_MTU);
        let Ok(rt) = self.ip6_route_output(&dst, None) else {
            return;
        };
        let link = self.iface(rt.ifindex).map_or(0, |i| i.mtu);
        let cur = self.ipv6.pmtu.get(&dst, now).unwrap_or(link);
        if mtu < cur {
            self.ipv6.pmtu.update(dst, mtu, now);
        }
    }

    /// The MTU our datagrams to `dst` leaving on a link of `link_mtu` are cut to.
    /// Linux: `ip6_skb_dst_mtu`.
    pub(crate) fn ip6_path_mtu(&self, dst: &Ipv6Addr, link_mtu: usize, now: Instant) -> usize {
        self.ipv6
            .pmtu
            .get(dst, now)
            .map_or(link_mtu, |m| m.min(link_mtu))
    }

    /// The path MTU learnt for `dst`, if any (`ip -6 route get` shows it as `mtu`).
    pub fn ip6_pmtu(&self, dst: &Ipv6Addr, now: Instant) -> Option<usize> {
        self.ipv6.pmtu.get(dst, now)
    }
}
