//! The stack's side of IPv6 address configuration: an [`Inet6Dev`] per interface, brought
//! up and down with the link, addresses added and removed by hand, and what addrconf asks
//! for (DAD probes, router solicitations, group joins, prefix routes) carried out.
//!
//! Linux: net/ipv6/addrconf.c (`addrconf_notify`, `ipv6_add_dev`, `addrconf_ifdown`,
//! `inet6_addr_add`, `inet6_addr_del`, `addrconf_prefix_route`, `init_loopback`,
//! `addrconf_verify_work`).

use super::addrconf::{
    ifa_flags, AddrError, AddrconfEvent, Inet6Dev, Ipv6DevConf, INFINITY_LIFE_TIME,
};
use super::route::{Rt6Info, Rt6Proto, IP6_RT_PRIO_ADDRCONF};
use crate::errno::Errno;
use crate::stack::{LinkKind, Stack, LOOPBACK_IFINDEX};
use crate::time::Instant;
use crate::wire::ipv6::{solicited_node, Ipv6Cidr, Ipv6Scope, ALL_NODES, ALL_ROUTERS};
use crate::wire::EthernetAddress;
use serde::{Deserialize, Serialize};
use std::net::Ipv6Addr;

/// One IPv6 address as `ip -6 addr` shows it. Linux: an `RTM_NEWADDR` message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inet6AddrInfo {
    /// Interface index.
    pub ifindex: u32,
    /// Address and prefix length.
    pub cidr: Ipv6Cidr,
    /// `scope host|link|global`.
    pub scope: String,
    /// `IFA_F_*` flags.
    pub flags: u32,
    /// Valid seconds left (`0xffffffff`: forever).
    pub valid_lft: u32,
    /// Preferred seconds left.
    pub preferred_lft: u32,
}

fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn addr_errno(e: AddrError) -> Errno {
    match e {
        AddrError::Exists => Errno::EEXIST,
        AddrError::NotUnicast | AddrError::NotFound => Errno::EADDRNOTAVAIL,
        AddrError::BadLifetime => Errno::EINVAL,
    }
}

impl Stack {
    /// Runs `f` on the interface's addrconf state with the stack's random numbers.
    pub(super) fn with_idev_rng<R>(
        &mut self,
        ifindex: u32,
        f: impl FnOnce(&mut Inet6Dev, &mut dyn FnMut() -> u64) -> R,
    ) -> Option<R> {
        let v6 = &mut self.ipv6;
        let idev = v6.devs.get_mut(&ifindex)?;
        let rng = &mut v6.rng;
        let mut next = || splitmix(rng);
        Some(f(idev, &mut next))
    }

    /// A new interface gets its IPv6 state (down, no address). Linux: `addrconf_notify`
    /// (`NETDEV_REGISTER`) → `ipv6_add_dev`.
    pub(crate) fn addrconf_register(&mut self, ifindex: u32, mac: EthernetAddress) {
        self.ipv6
            .devs
            .insert(ifindex, Inet6Dev::new(mac, Ipv6DevConf::default()));
    }

    /// The loopback interface: `::1/128`, no DAD, no link-local address.
    /// Linux: `init_loopback` → `add_addr(idev, &in6addr_loopback, 128, IFA_HOST)`.
    pub(crate) fn addrconf_init_loopback(&mut self) {
        let cnf = Ipv6DevConf {
            accept_dad: false,
            accept_ra: false,
            autoconf: false,
            ..Ipv6DevConf::default()
        };
        let mut idev = Inet6Dev::new(EthernetAddress::ZERO, cnf);
        let mut r = self.ipv6.rng;
        let mut rng = || splitmix(&mut r);
        idev.addrconf_dev_up(Instant::ZERO, &mut rng);
        let lo = Ipv6Cidr::new(Ipv6Addr::LOCALHOST, 128).expect("/128");
        let _ = idev.ipv6_add_addr(
            lo,
            INFINITY_LIFE_TIME,
            INFINITY_LIFE_TIME,
            true,
            Instant::ZERO,
            &mut rng,
        );
        // The loopback device has no link-local address in Linux.
        if let Some(ll) = idev
            .addrs()
            .iter()
            .find(|a| a.scope == Ipv6Scope::LinkLocal)
            .map(|a| a.addr())
        {
            let _ = idev.ipv6_del_addr(ll);
        }
        idev.take_events().for_each(drop);
        self.ipv6.rng = r;
        self.ipv6.devs.insert(LOOPBACK_IFINDEX, idev);
    }

    /// The link went up or down. Up: join all-nodes, add the `fe80::/64` route, form the
    /// link-local address and start DAD (then router solicitation). Down: forget the
    /// autoconfigured addresses, the routes and neighbours of the interface.
    /// Linux: `addrconf_notify` (`NETDEV_UP` → `addrconf_dev_config`, `NETDEV_DOWN` →
    /// `addrconf_ifdown`).
    pub(crate) fn addrconf_notify(&mut self, ifindex: u32, up: bool, now: Instant) {
        let Some(kind) = self.iface(ifindex).map(|i| i.kind) else {
            return;
        };
        if kind != LinkKind::Ether
            || !self.ipv6.devs.contains_key(&ifindex)
            || self.config.disable_ipv6
        {
            return;
        }
        if up {
            self.ipv6_dev_mc_inc(ifindex, ALL_NODES, now);
            if self.ipv6.forwarding {
                self.ipv6_dev_mc_inc(ifindex, ALL_ROUTERS, now);
            }
            let ll = Rt6Info {
                dst: "fe80::/64".parse().expect("prefix"),
                gateway: None,
                ifindex,
                metric: IP6_RT_PRIO_ADDRCONF,
                proto: Rt6Proto::Kernel,
                expires: None,
            };
            let _ = self.ipv6.fib6.fib6_add(ll, true);
            self.with_idev_rng(ifindex, |d, mut rng| d.addrconf_dev_up(now, &mut rng));
            // Prefix routes of addresses kept while down come back with the link.
            let kept: Vec<Ipv6Cidr> = self.ipv6.devs[&ifindex]
                .addrs()
                .iter()
                .filter(|a| a.scope != Ipv6Scope::LinkLocal)
                .map(|a| a.cidr)
                .collect();
            for c in kept {
                self.addrconf_prefix_route(ifindex, c);
            }
        } else {
            self.with_idev_rng(ifindex, |d, _| d.addrconf_ifdown());
            self.ipv6.fib6.fib6_flush_dev(ifindex, |_| true);
            self.ipv6.mc.remove(&ifindex);
            self.ipv6.mld_pending.remove(&ifindex);
            self.ipv6.nd_tbl.flush_dev(ifindex);
        }
        self.addrconf_run_events(ifindex, now);
        self.neigh_run_events::<Ipv6Addr>(now);
    }

    /// The connected route of an address (none for a /128). Linux: `addrconf_prefix_route`.
    fn addrconf_prefix_route(&mut self, ifindex: u32, cidr: Ipv6Cidr) {
        if cidr.prefix_len == 128 {
            return;
        }
        let rt = Rt6Info {
            dst: cidr.network(),
            gateway: None,
            ifindex,
            metric: IP6_RT_PRIO_ADDRCONF,
            proto: Rt6Proto::Kernel,
            expires: None,
        };
        let _ = self.ipv6.fib6.fib6_add(rt, true);
    }

    /// Add an IPv6 address by hand (`ip -6 addr add ADDR/LEN dev D [nodad]`): tentative
    /// until DAD completes, with its connected route at once. Linux: `inet6_addr_add`.
    pub fn ipv6_addr_add(
        &mut self,
        ifindex: u32,
        cidr: Ipv6Cidr,
        nodad: bool,
        now: Instant,
    ) -> Result<(), Errno> {
        let up = self.iface(ifindex).ok_or(Errno::ENODEV)?.up;
        self.with_idev_rng(ifindex, |d, mut rng| {
            d.ipv6_add_addr(
                cidr,
                INFINITY_LIFE_TIME,
                INFINITY_LIFE_TIME,
                nodad,
                now,
                &mut rng,
            )
        })
        .ok_or(Errno::ENODEV)?
        .map_err(addr_errno)?;
        if up {
            self.addrconf_prefix_route(ifindex, cidr);
        }
        self.addrconf_run_events(ifindex, now);
        self.neigh_run_events::<Ipv6Addr>(now);
        Ok(())
    }

    /// Remove an IPv6 address (`ip -6 addr del`). Linux: `inet6_addr_del` → `ipv6_del_addr`.
    pub fn ipv6_addr_del(
        &mut self,
        ifindex: u32,
        addr: Ipv6Addr,
        now: Instant,
    ) -> Result<(), Errno> {
        self.iface(ifindex).ok_or(Errno::ENODEV)?;
        self.with_idev_rng(ifindex, |d, _| d.ipv6_del_addr(addr))
            .ok_or(Errno::ENODEV)?
            .map_err(addr_errno)?;
        self.addrconf_run_events(ifindex, now);
        self.neigh_run_events::<Ipv6Addr>(now);
        Ok(())
    }

    /// Every IPv6 address, by interface, as `ip -6 addr show` lists them.
    pub fn ipv6_addrs(&self, now: Instant) -> Vec<Inet6AddrInfo> {
        let mut v = Vec::new();
        for (&ifindex, d) in &self.ipv6.devs {
            // Linux lists the newest address first.
            for a in d.addrs().iter().rev() {
                let scope = match a.scope {
                    Ipv6Scope::InterfaceLocal => "host",
                    Ipv6Scope::LinkLocal => "link",
                    Ipv6Scope::SiteLocal => "site",
                    Ipv6Scope::Global => "global",
                };
                v.push(Inet6AddrInfo {
                    ifindex,
                    cidr: a.cidr,
                    scope: scope.to_string(),
                    flags: a.flags,
                    valid_lft: a.valid_left(now),
                    preferred_lft: a.prefered_left(now),
                });
            }
        }
        v
    }

    /// Whether `addr` is a usable IPv6 address of this stack. Linux: `ipv6_chk_addr`.
    pub fn ipv6_chk_addr(&self, addr: &Ipv6Addr) -> bool {
        self.ipv6.ipv6_chk_addr(addr)
    }

    /// Whether `addr` is on `ifindex` and failed duplicate address detection.
    pub fn ipv6_addr_dadfailed(&self, ifindex: u32, addr: &Ipv6Addr) -> bool {
        self.ipv6.devs.get(&ifindex).is_some_and(|d| {
            d.addrs()
                .iter()
                .any(|a| a.addr() == *addr && a.flags & ifa_flags::DADFAILED != 0)
        })
    }

    /// Carry out what an interface's addrconf asked for. Linux: the work items and
    /// notifiers `addrconf_dad_work`, `addrconf_rs_timer`, `addrconf_join_solict`,
    /// `addrconf_prefix_route` and `ipv6_del_addr` start.
    pub(crate) fn addrconf_run_events(&mut self, ifindex: u32, now: Instant) {
        let events: Vec<AddrconfEvent> = match self.ipv6.devs.get_mut(&ifindex) {
            Some(d) => d.take_events().collect(),
            None => return,
        };
        for ev in events {
            match ev {
                AddrconfEvent::SendDadProbe { target, nonce } => self.ndisc_send_ns(
                    ifindex,
                    target,
                    solicited_node(&target),
                    Ipv6Addr::UNSPECIFIED,
                    nonce,
                    now,
                ),
                AddrconfEvent::SendRouterSolicit { src } => self.ndisc_send_rs(ifindex, src, now),
                AddrconfEvent::JoinGroup(g) => self.ipv6_dev_mc_inc(ifindex, g, now),
                AddrconfEvent::LeaveGroup(g) => self.ipv6_dev_mc_dec(ifindex, g, now),
                AddrconfEvent::AddrReady(_) | AddrconfEvent::AddrDeprecated(_) => {}
                AddrconfEvent::DadFailed(_) => {}
                AddrconfEvent::AddrRemoved(a) => self.addrconf_cleanup_prefix_route(ifindex, a),
                AddrconfEvent::OnLinkPrefix { prefix, expires } => {
                    let known =
                        self.ipv6.fib6.iter().any(|r| {
                            r.dst == prefix && r.ifindex == ifindex && r.gateway.is_none()
                        });
                    if !known && !self.ipv6.ra_route_room() {
                        continue;
                    }
                    let rt = Rt6Info {
                        dst: prefix,
                        gateway: None,
                        ifindex,
                        metric: IP6_RT_PRIO_ADDRCONF,
                        proto: Rt6Proto::Kernel,
                        expires,
                    };
                    let _ = self.ipv6.fib6.fib6_add(rt, true);
                    self.ipv6.fib6_note_expiry(expires);
                }
                AddrconfEvent::OnLinkPrefixGone(prefix) => {
                    self.ipv6
                        .fib6
                        .fib6_del(prefix, |r| r.ifindex == ifindex && r.gateway.is_none());
                }
            }
        }
    }

    /// An address went: its prefix route goes too unless another address of the interface
    /// is in the prefix. Linux: `cleanup_prefix_route` (from `ipv6_del_addr`).
    fn addrconf_cleanup_prefix_route(&mut self, ifindex: u32, addr: Ipv6Addr) {
        let Some(d) = self.ipv6.devs.get(&ifindex) else {
            return;
        };
        let routes: Vec<Rt6Info> = self
            .ipv6
            .fib6
            .iter()
            .filter(|r| {
                r.ifindex == ifindex
                    && r.gateway.is_none()
                    && r.proto == Rt6Proto::Kernel
                    && r.expires.is_none()
                    && r.dst.prefix_len > 0
                    && r.dst.contains(addr)
                    && r.dst.addr.segments()[0] != 0xfe80
                    && !d.addrs().iter().any(|a| r.dst.contains(a.addr()))
            })
            .copied()
            .collect();
        for r in routes {
            self.ipv6.fib6.fib6_del(r.dst, |x| *x == r);
        }
    }

    /// Run IPv6's timers due at `now` (address configuration, neighbour discovery, route
    /// expiry); returns the next deadline. Linux: `addrconf_verify_work`,
    /// `addrconf_dad_work`, `addrconf_rs_timer`, `nd_tbl`'s timers, `fib6_gc_timer`.
    pub(crate) fn ipv6_poll(&mut self, now: Instant) -> Option<Instant> {
        if self.ipv6.forwarding_changed {
            self.dev_forward_change(now);
        }
        let mut next: Option<Instant> = None;
        let mut fold = |t: Option<Instant>| {
            if let Some(t) = t {
                next = Some(next.map_or(t, |n: Instant| n.min(t)));
            }
        };
        let due: Vec<u32> = self
            .ipv6
            .devs
            .iter()
            .filter(|(_, d)| d.next_timer().is_some_and(|t| t <= now))
            .map(|(&i, _)| i)
            .collect();
        for i in due {
            self.with_idev_rng(i, |d, mut rng| d.poll(now, &mut rng));
            self.addrconf_run_events(i, now);
        }
        for d in self.ipv6.devs.values() {
            fold(d.next_timer());
        }
        fold(self.ipv6.nd_tbl.poll(now));
        fold(self.ip6_frag_expire(now));
        if !self.ipv6.mld_pending.is_empty() {
            fold(self.mld_ifc_work(now));
        }
        self.neigh_run_events::<Ipv6Addr>(now);
        if self.ipv6.fib6_gc_at.is_some_and(|t| t <= now) {
            self.ipv6.fib6_gc_at = self.ipv6.fib6.fib6_run_gc(now);
        }
        fold(self.ipv6.fib6_gc_at);
        next
    }
}
