//! IPv6 address configuration of one interface (RFC 4862): the link-local address,
//! duplicate address detection, stateless autoconfiguration from router advertisements,
//! router solicitation, address lifetimes, and source address selection.
//!
//! Linux: `struct inet6_dev` and `struct inet6_ifaddr` (include/net/if_inet6.h), and
//! net/ipv6/addrconf.c (`addrconf_dev_config`, `ipv6_add_addr`, `addrconf_dad_start`,
//! `addrconf_dad_work`, `addrconf_dad_completed`, `addrconf_dad_failure`,
//! `addrconf_prefix_rcv`, `addrconf_rs_timer`, `addrconf_verify`, `ipv6_dev_get_saddr`).
//!
//! Like the neighbour table this is a pure state machine driven with `now` from outside: it
//! never transmits. What it wants done (send a DAD probe or a router solicitation, join or
//! leave a solicited-node group, add an on-link prefix route) comes out as
//! [`AddrconfEvent`]s, drained with [`Inet6Dev::take_events`]; [`Inet6Dev::next_timer`] says
//! when to call [`Inet6Dev::poll`] next.

use crate::time::Instant;
use crate::wire::ethernet::EthernetAddress;
use crate::wire::ipv6::{
    eui64_interface_id, ipv6_addr_type, link_local, solicited_node, Ipv6AddrKind, Ipv6Cidr,
    Ipv6Scope,
};
use crate::wire::ndisc::{PrefixInfo, PREFIX_FLAG_AUTONOMOUS, PREFIX_FLAG_ON_LINK};
use std::net::Ipv6Addr;
use std::time::Duration;

/// Address flags (Linux: `IFA_F_*`, include/uapi/linux/if_addr.h), as `ip -6 addr` shows them.
pub mod ifa_flags {
    /// A temporary (privacy) address (`IFA_F_TEMPORARY`).
    pub const TEMPORARY: u32 = 0x01;
    /// No duplicate address detection (`IFA_F_NODAD`).
    pub const NODAD: u32 = 0x02;
    /// Optimistic DAD, RFC 4429 (`IFA_F_OPTIMISTIC`).
    pub const OPTIMISTIC: u32 = 0x04;
    /// Duplicate address detection failed (`IFA_F_DADFAILED`).
    pub const DADFAILED: u32 = 0x08;
    /// Preferred lifetime over: usable, not chosen for new connections (`IFA_F_DEPRECATED`).
    pub const DEPRECATED: u32 = 0x20;
    /// Duplicate address detection not finished (`IFA_F_TENTATIVE`).
    pub const TENTATIVE: u32 = 0x40;
    /// Configured by hand or the link-local address: never expires (`IFA_F_PERMANENT`).
    pub const PERMANENT: u32 = 0x80;
}

/// A lifetime that never runs out (Linux: `INFINITY_LIFE_TIME`).
pub const INFINITY_LIFE_TIME: u32 = 0xffff_ffff;

/// The shortest valid lifetime an unauthenticated advertisement can cut an address to
/// (RFC 4862 section 5.5.3 e: two hours; Linux: `MIN_VALID_LIFETIME`).
pub const MIN_VALID_LIFETIME: u32 = 2 * 3600;

/// Per-interface IPv6 settings (Linux: `struct ipv6_devconf`, `net.ipv6.conf.*`), with
/// Linux's defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv6DevConf {
    /// `accept_dad` (1): run duplicate address detection.
    pub accept_dad: bool,
    /// `dad_transmits` (1): probes per address.
    pub dad_transmits: u32,
    /// Retransmission timer between probes (`neigh.*.retrans_time_ms`, 1000 ms).
    pub retrans_time: Duration,
    /// `enhanced_dad` (1): probes carry a nonce so that a looped-back probe is not taken for
    /// a duplicate (RFC 7527).
    pub enhanced_dad: bool,
    /// `accept_ra` (1) with `forwarding` (0): act on router advertisements.
    pub accept_ra: bool,
    /// `autoconf` (1): form addresses from advertised prefixes.
    pub autoconf: bool,
    /// `rtr_solicits` (-1: no limit): router solicitations to send.
    pub rtr_solicits: i32,
    /// `rtr_solicit_interval` (4 s): the first interval between solicitations.
    pub rtr_solicit_interval: Duration,
    /// `rtr_solicit_max_interval` (3600 s): the backoff's ceiling (RFC 7559).
    pub rtr_solicit_max_interval: Duration,
    /// `rtr_solicit_delay` (1 s): the random delay before the first DAD probe.
    pub rtr_solicit_delay: Duration,
    /// `max_addresses` (16): addresses autoconfiguration may create on the interface.
    pub max_addresses: usize,
}

impl Default for Ipv6DevConf {
    fn default() -> Self {
        Ipv6DevConf {
            accept_dad: true,
            dad_transmits: 1,
            retrans_time: Duration::from_millis(1000),
            enhanced_dad: true,
            accept_ra: true,
            autoconf: true,
            rtr_solicits: -1,
            rtr_solicit_interval: Duration::from_secs(4),
            rtr_solicit_max_interval: Duration::from_secs(3600),
            rtr_solicit_delay: Duration::from_secs(1),
            max_addresses: 16,
        }
    }
}

/// Who made an address (Linux: `ifa_proto`, `IFAPROT_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddrOrigin {
    /// Added by a user (`ip -6 addr add`).
    Manual,
    /// The interface's link-local address (`IFAPROT_KERNEL_LL`).
    LinkLocal,
    /// Formed from a router advertisement's prefix (`IFAPROT_KERNEL_RA`).
    Autoconf,
}

/// One IPv6 address of an interface (Linux: `struct inet6_ifaddr`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inet6Ifaddr {
    /// The address and its prefix length.
    pub cidr: Ipv6Cidr,
    /// [`ifa_flags`].
    pub flags: u32,
    /// Scope of the address.
    pub scope: Ipv6Scope,
    /// Who made it.
    pub origin: AddrOrigin,
    /// Valid lifetime in seconds from `tstamp` ([`INFINITY_LIFE_TIME`]: forever).
    pub valid_lft: u32,
    /// Preferred lifetime in seconds from `tstamp`.
    pub prefered_lft: u32,
    /// When the lifetimes were last set (Linux: `ifp->tstamp`).
    pub tstamp: Instant,
    dad_probes: u32,
    dad_timer: Option<Instant>,
    dad_nonce: Option<[u8; 6]>,
}

impl Inet6Ifaddr {
    /// The address.
    pub fn addr(&self) -> Ipv6Addr {
        self.cidr.addr
    }

    /// Duplicate address detection has not finished (or failed): the address must not be
    /// used as a source nor answered for.
    pub fn is_tentative(&self) -> bool {
        self.flags & ifa_flags::TENTATIVE != 0
    }

    /// Valid seconds left at `now` ([`INFINITY_LIFE_TIME`] for forever).
    pub fn valid_left(&self, now: Instant) -> u32 {
        left(self.valid_lft, self.tstamp, now)
    }

    /// Preferred seconds left at `now`.
    pub fn prefered_left(&self, now: Instant) -> u32 {
        left(self.prefered_lft, self.tstamp, now)
    }
}

fn left(lft: u32, tstamp: Instant, now: Instant) -> u32 {
    if lft == INFINITY_LIFE_TIME {
        return lft;
    }
    let age = now.saturating_since(tstamp).as_secs();
    u32::try_from(u64::from(lft).saturating_sub(age)).unwrap_or(0)
}

fn lft_deadline(lft: u32, tstamp: Instant) -> Option<Instant> {
    (lft != INFINITY_LIFE_TIME).then(|| tstamp + Duration::from_secs(u64::from(lft)))
}

/// What address configuration wants done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddrconfEvent {
    /// Send a duplicate address detection probe: a neighbour solicitation from `::` to the
    /// target's solicited-node group, with the nonce option if given. Linux: `ndisc_send_ns`
    /// from `addrconf_dad_work`.
    SendDadProbe {
        /// The tentative address.
        target: Ipv6Addr,
        /// The nonce (enhanced DAD).
        nonce: Option<[u8; 6]>,
    },
    /// Send a router solicitation from `src` (`::` while no link-local address is ready: then
    /// without a link-layer address option) to ff02::2. Linux: `ndisc_send_rs`.
    SendRouterSolicit {
        /// Source address.
        src: Ipv6Addr,
    },
    /// Join a multicast group (the solicited-node group of a new address), sending the MLD
    /// report. Linux: `addrconf_join_solict`.
    JoinGroup(Ipv6Addr),
    /// Leave a multicast group. Linux: `addrconf_leave_solict`.
    LeaveGroup(Ipv6Addr),
    /// An address finished duplicate address detection and may be used. Linux:
    /// `addrconf_dad_completed` (`RTM_NEWADDR` without `IFA_F_TENTATIVE`).
    AddrReady(Ipv6Addr),
    /// Duplicate address detection found the address in use (kept with `IFA_F_DADFAILED` if
    /// permanent, removed otherwise). Linux: `addrconf_dad_failure`.
    DadFailed(Ipv6Addr),
    /// The address's preferred lifetime ran out. Linux: `addrconf_verify_rtnl` setting
    /// `IFA_F_DEPRECATED`.
    AddrDeprecated(Ipv6Addr),
    /// The address was removed (valid lifetime over, DAD failure of an autoconfigured
    /// address, or by hand). Linux: `ipv6_del_addr`.
    AddrRemoved(Ipv6Addr),
    /// An advertised on-link prefix: add or refresh its route, expiring at `expires`
    /// (`None`: never). Linux: `addrconf_prefix_route` / `fib6_set_expires`.
    OnLinkPrefix {
        /// The prefix.
        prefix: Ipv6Cidr,
        /// When the route expires.
        expires: Option<Instant>,
    },
    /// An advertised prefix with a zero valid lifetime: remove its route. Linux:
    /// `ip6_del_rt` from `addrconf_prefix_rcv`.
    OnLinkPrefixGone(Ipv6Cidr),
}

/// Why an address could not be added.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddrError {
    /// The address is already on the interface (Linux: `EEXIST`).
    Exists,
    /// Not a unicast address (multicast, `::`, a v4-mapped address) (Linux: `EADDRNOTAVAIL`).
    NotUnicast,
    /// Preferred lifetime longer than valid (Linux: `EINVAL`).
    BadLifetime,
    /// No such address (Linux: `EADDRNOTAVAIL`).
    NotFound,
}

/// The IPv6 state of one interface (Linux: `struct inet6_dev`).
#[derive(Debug, Clone)]
pub struct Inet6Dev {
    /// Settings.
    pub cnf: Ipv6DevConf,
    mac: EthernetAddress,
    addrs: Vec<Inet6Ifaddr>,
    up: bool,
    ra_rcvd: bool,
    rs_probes: u32,
    rs_interval: Duration,
    rs_timer: Option<Instant>,
    events: Vec<AddrconfEvent>,
}

/// A random fraction in `[lo, hi]` millionths of `d` (the jitter of
/// `rfc3315_s14_backoff_init`/`_update`).
fn jitter(d: Duration, lo: u64, hi: u64, rand: u64) -> Duration {
    let f = lo + rand % (hi - lo + 1);
    Duration::from_micros((d.as_micros() as u64).saturating_mul(f) / 1_000_000)
}

impl Inet6Dev {
    /// The IPv6 state of an interface with link address `mac`, still down.
    pub fn new(mac: EthernetAddress, cnf: Ipv6DevConf) -> Inet6Dev {
        Inet6Dev {
            cnf,
            mac,
            addrs: Vec::new(),
            up: false,
            ra_rcvd: false,
            rs_probes: 0,
            rs_interval: cnf.rtr_solicit_interval,
            rs_timer: None,
            events: Vec::new(),
        }
    }

    /// The addresses, in the order they were added.
    pub fn addrs(&self) -> &[Inet6Ifaddr] {
        &self.addrs
    }

    /// The events produced since the last call.
    pub fn take_events(&mut self) -> std::vec::Drain<'_, AddrconfEvent> {
        self.events.drain(..)
    }

    /// The interface came up: add the EUI-64 link-local address and start DAD on every
    /// address. Linux: `addrconf_dev_config` → `addrconf_addr_gen` (`IN6_ADDR_GEN_MODE_EUI64`,
    /// the default) and `addrconf_dad_run`.
    pub fn addrconf_dev_up(&mut self, now: Instant, rng: &mut impl FnMut() -> u64) {
        if self.up {
            return;
        }
        self.up = true;
        let ll = link_local(eui64_interface_id(self.mac));
        if !self.addrs.iter().any(|a| a.addr() == ll) {
            let cidr = Ipv6Cidr::new(ll, 64).expect("/64");
            self.push_addr(
                cidr,
                ifa_flags::PERMANENT,
                AddrOrigin::LinkLocal,
                INFINITY_LIFE_TIME,
                INFINITY_LIFE_TIME,
                now,
            );
        }
        for i in 0..self.addrs.len() {
            self.addrconf_dad_start(i, now, rng);
        }
    }

    /// The interface went down: tentative state is lost, timers stop, autoconfigured
    /// addresses go (Linux: `addrconf_ifdown` without `keep_addr_on_down`).
    pub fn addrconf_ifdown(&mut self) {
        self.up = false;
        self.ra_rcvd = false;
        self.rs_probes = 0;
        self.rs_timer = None;
        let mut kept = Vec::with_capacity(self.addrs.len());
        for a in std::mem::take(&mut self.addrs) {
            self.events
                .push(AddrconfEvent::LeaveGroup(solicited_node(&a.addr())));
            if a.origin == AddrOrigin::Manual {
                kept.push(Inet6Ifaddr {
                    flags: a.flags | ifa_flags::TENTATIVE,
                    dad_timer: None,
                    ..a
                });
            } else {
                self.events.push(AddrconfEvent::AddrRemoved(a.addr()));
            }
        }
        self.addrs = kept;
    }

    fn push_addr(
        &mut self,
        cidr: Ipv6Cidr,
        flags: u32,
        origin: AddrOrigin,
        valid_lft: u32,
        prefered_lft: u32,
        now: Instant,
    ) -> usize {
        let (_, scope) = ipv6_addr_type(&cidr.addr);
        self.addrs.push(Inet6Ifaddr {
            cidr,
            flags: flags | ifa_flags::TENTATIVE,
            scope,
            origin,
            valid_lft,
            prefered_lft,
            tstamp: now,
            dad_probes: 0,
            dad_timer: None,
            dad_nonce: None,
        });
        self.addrs.len() - 1
    }

    /// Adds an address by hand (`ip -6 addr add ADDR/LEN [valid_lft N preferred_lft N]
    /// [nodad]`). It is tentative until DAD completes. Linux: `inet6_addr_add` →
    /// `ipv6_add_addr` and `addrconf_dad_start`.
    pub fn ipv6_add_addr(
        &mut self,
        cidr: Ipv6Cidr,
        valid_lft: u32,
        prefered_lft: u32,
        nodad: bool,
        now: Instant,
        rng: &mut impl FnMut() -> u64,
    ) -> Result<(), AddrError> {
        let (kind, _) = ipv6_addr_type(&cidr.addr);
        if kind != Ipv6AddrKind::Unicast && kind != Ipv6AddrKind::Loopback {
            return Err(AddrError::NotUnicast);
        }
        if prefered_lft > valid_lft {
            return Err(AddrError::BadLifetime);
        }
        if self.addrs.iter().any(|a| a.addr() == cidr.addr) {
            return Err(AddrError::Exists);
        }
        let mut flags = if nodad { ifa_flags::NODAD } else { 0 };
        if valid_lft == INFINITY_LIFE_TIME {
            flags |= ifa_flags::PERMANENT;
        }
        let i = self.push_addr(
            cidr,
            flags,
            AddrOrigin::Manual,
            valid_lft,
            prefered_lft,
            now,
        );
        if self.up {
            self.addrconf_dad_start(i, now, rng);
        }
        Ok(())
    }

    /// Removes an address (`ip -6 addr del`). Linux: `inet6_addr_del` → `ipv6_del_addr`.
    pub fn ipv6_del_addr(&mut self, addr: Ipv6Addr) -> Result<(), AddrError> {
        let i = self
            .addrs
            .iter()
            .position(|a| a.addr() == addr)
            .ok_or(AddrError::NotFound)?;
        self.remove(i);
        Ok(())
    }

    fn remove(&mut self, i: usize) {
        let a = self.addrs.remove(i);
        self.events
            .push(AddrconfEvent::LeaveGroup(solicited_node(&a.addr())));
        self.events.push(AddrconfEvent::AddrRemoved(a.addr()));
    }

    /// Starts duplicate address detection on address `i`: join its solicited-node group and
    /// send the first probe after a random delay below `rtr_solicit_delay`, or finish at once
    /// when DAD is off. Linux: `addrconf_dad_start` → `addrconf_dad_begin` →
    /// `addrconf_dad_kick`.
    fn addrconf_dad_start(&mut self, i: usize, now: Instant, rng: &mut impl FnMut() -> u64) {
        let addr = self.addrs[i].addr();
        self.events
            .push(AddrconfEvent::JoinGroup(solicited_node(&addr)));
        let a = &mut self.addrs[i];
        a.flags |= ifa_flags::TENTATIVE;
        a.flags &= !ifa_flags::DADFAILED;
        if !self.cnf.accept_dad || a.flags & ifa_flags::NODAD != 0 || self.cnf.dad_transmits == 0 {
            self.addrconf_dad_completed(i, now, rng);
            return;
        }
        let delay_us = self.cnf.rtr_solicit_delay.as_micros().max(1) as u64;
        a.dad_probes = self.cnf.dad_transmits;
        a.dad_nonce = self.cnf.enhanced_dad.then(|| loop {
            let n = rng().to_be_bytes();
            let mut nonce = [0u8; 6];
            nonce.copy_from_slice(&n[..6]);
            if nonce != [0; 6] {
                break nonce;
            }
        });
        a.dad_timer = Some(now + Duration::from_micros(rng() % delay_us));
    }

    /// DAD finished without a duplicate: the address is usable; after the link-local
    /// address, start soliciting routers. Linux: `addrconf_dad_completed`.
    fn addrconf_dad_completed(&mut self, i: usize, now: Instant, rng: &mut impl FnMut() -> u64) {
        let a = &mut self.addrs[i];
        a.flags &= !ifa_flags::TENTATIVE;
        a.dad_timer = None;
        let addr = a.addr();
        let is_ll = a.scope == Ipv6Scope::LinkLocal;
        self.events.push(AddrconfEvent::AddrReady(addr));
        let send_rs = is_ll
            && self.cnf.accept_ra
            && self.cnf.rtr_solicits != 0
            && !self.ra_rcvd
            && self.rs_probes == 0;
        if send_rs {
            self.events
                .push(AddrconfEvent::SendRouterSolicit { src: addr });
            self.rs_probes = 1;
            // rfc3315_s14_backoff_init: the configured interval x0.9-1.1.
            self.rs_interval = jitter(self.cnf.rtr_solicit_interval, 900_000, 1_100_000, rng());
            self.rs_timer = Some(now + self.rs_interval);
        }
    }

    /// A neighbour solicitation or advertisement for `target` arrived. If `target` is one of
    /// our tentative addresses, someone else has it — unless it is our own probe looped back
    /// (a solicitation carrying our nonce, RFC 7527). Returns true if it was a tentative
    /// address of ours (the message is then not answered). Linux: the `ifp->flags &
    /// IFA_F_TENTATIVE` branches of `ndisc_recv_ns` and `ndisc_recv_na`, and
    /// `addrconf_dad_failure`.
    pub fn ndisc_recv_for_tentative(
        &mut self,
        target: Ipv6Addr,
        is_solicit: bool,
        nonce: Option<[u8; 6]>,
    ) -> bool {
        let Some(i) = self.addrs.iter().position(|a| a.addr() == target) else {
            return false;
        };
        let (flags, our_nonce) = (self.addrs[i].flags, self.addrs[i].dad_nonce);
        if flags & ifa_flags::TENTATIVE == 0 {
            return false;
        }
        if flags & ifa_flags::DADFAILED != 0 {
            return true;
        }
        if is_solicit && nonce.is_some() && nonce == our_nonce {
            return true; // our own probe, looped back
        }
        self.events.push(AddrconfEvent::DadFailed(target));
        if flags & ifa_flags::PERMANENT != 0 {
            let a = &mut self.addrs[i];
            a.flags |= ifa_flags::DADFAILED;
            a.dad_timer = None;
        } else {
            self.remove(i);
        }
        true
    }

    /// A router advertisement arrived: stop soliciting. Linux: `ndisc_router_discovery`
    /// setting `IF_RA_RCVD`.
    pub fn ra_rcvd(&mut self) {
        self.ra_rcvd = true;
        self.rs_timer = None;
    }

    /// A prefix information option of a router advertisement (RFC 4862 section 5.5.3):
    /// announce the on-link route, form or refresh the autoconfigured address.
    /// Linux: `addrconf_prefix_rcv` and `addrconf_prefix_rcv_add_addr`.
    pub fn addrconf_prefix_rcv(
        &mut self,
        pi: &PrefixInfo,
        now: Instant,
        rng: &mut impl FnMut() -> u64,
    ) {
        if !self.cnf.accept_ra || pi.prefix_len > 128 {
            return;
        }
        let (kind, scope) = ipv6_addr_type(&pi.prefix);
        if kind == Ipv6AddrKind::Multicast || scope == Ipv6Scope::LinkLocal {
            return; // (b): the link-local prefix, and multicast, are ignored
        }
        if pi.preferred_lifetime > pi.valid_lifetime {
            return; // (c)
        }
        let prefix = Ipv6Cidr::new(pi.prefix, pi.prefix_len)
            .expect("checked")
            .network();
        if pi.flags & PREFIX_FLAG_ON_LINK != 0 {
            self.events.push(if pi.valid_lifetime == 0 {
                AddrconfEvent::OnLinkPrefixGone(prefix)
            } else {
                AddrconfEvent::OnLinkPrefix {
                    prefix,
                    expires: lft_deadline(pi.valid_lifetime, now),
                }
            });
        }
        if pi.flags & PREFIX_FLAG_AUTONOMOUS == 0 || !self.cnf.autoconf || pi.prefix_len != 64 {
            return; // (a), and an interface identifier of 64 bits needs a /64
        }
        let mut o = prefix.addr.octets();
        o[8..].copy_from_slice(&eui64_interface_id(self.mac));
        let addr = Ipv6Addr::from(o);
        let existing = self
            .addrs
            .iter()
            .position(|a| a.addr() == addr && a.origin == AddrOrigin::Autoconf);
        match existing {
            None => {
                let autoconf = self
                    .addrs
                    .iter()
                    .filter(|a| a.origin != AddrOrigin::Manual)
                    .count();
                if pi.valid_lifetime == 0 || autoconf >= self.cnf.max_addresses {
                    return; // (d): a zero lifetime creates nothing
                }
                if self.addrs.iter().any(|a| a.addr() == addr) {
                    return; // the same address configured by hand
                }
                let cidr = Ipv6Cidr::new(addr, 64).expect("/64");
                let i = self.push_addr(
                    cidr,
                    0,
                    AddrOrigin::Autoconf,
                    pi.valid_lifetime,
                    pi.preferred_lifetime,
                    now,
                );
                if self.up {
                    self.addrconf_dad_start(i, now, rng);
                }
            }
            Some(i) => {
                // (e): the preferred lifetime is always reset; the valid lifetime only to
                // max(advertised, min(remaining, two hours)).
                let a = &mut self.addrs[i];
                let stored = a.valid_left(now);
                let valid = if stored == INFINITY_LIFE_TIME {
                    pi.valid_lifetime
                } else {
                    pi.valid_lifetime.max(stored.min(MIN_VALID_LIFETIME))
                };
                a.valid_lft = valid;
                a.prefered_lft = pi.preferred_lifetime.min(valid);
                a.tstamp = now;
                if a.prefered_lft > 0 {
                    a.flags &= !ifa_flags::DEPRECATED;
                } else if a.flags & ifa_flags::DEPRECATED == 0 {
                    a.flags |= ifa_flags::DEPRECATED;
                    self.events.push(AddrconfEvent::AddrDeprecated(addr));
                }
            }
        }
    }

    /// Runs what is due at `now`: DAD probes and completions (`addrconf_dad_work`), router
    /// solicitations with RFC 7559 backoff (`addrconf_rs_timer`), and lifetimes: deprecate,
    /// then remove (`addrconf_verify_rtnl`).
    pub fn poll(&mut self, now: Instant, rng: &mut impl FnMut() -> u64) {
        let mut i = 0;
        while i < self.addrs.len() {
            let a = &mut self.addrs[i];
            if a.dad_timer.is_some_and(|t| t <= now) {
                if a.dad_probes == 0 {
                    self.addrconf_dad_completed(i, now, rng);
                } else {
                    a.dad_probes -= 1;
                    a.dad_timer = Some(now + self.cnf.retrans_time);
                    let ev = AddrconfEvent::SendDadProbe {
                        target: a.addr(),
                        nonce: a.dad_nonce,
                    };
                    self.events.push(ev);
                }
            }
            let a = &mut self.addrs[i];
            if a.flags & ifa_flags::PERMANENT == 0 {
                if lft_deadline(a.valid_lft, a.tstamp).is_some_and(|t| t <= now) {
                    self.remove(i);
                    continue;
                }
                let pref_over = lft_deadline(a.prefered_lft, a.tstamp).is_some_and(|t| t <= now);
                if pref_over && a.flags & ifa_flags::DEPRECATED == 0 {
                    a.flags |= ifa_flags::DEPRECATED;
                    let addr = a.addr();
                    self.events.push(AddrconfEvent::AddrDeprecated(addr));
                }
            }
            i += 1;
        }
        if self.rs_timer.is_some_and(|t| t <= now) {
            self.addrconf_rs_timer(now, rng);
        }
    }

    /// Sends the next router solicitation, or stops after `rtr_solicits`. Linux:
    /// `addrconf_rs_timer` with `rfc3315_s14_backoff_update` (×1.9-2.1, capped at the
    /// maximum ×0.9-1.1).
    fn addrconf_rs_timer(&mut self, now: Instant, rng: &mut impl FnMut() -> u64) {
        self.rs_timer = None;
        if self.ra_rcvd || !self.up {
            return;
        }
        if self.cnf.rtr_solicits >= 0 && self.rs_probes >= self.cnf.rtr_solicits as u32 {
            return;
        }
        let src = self
            .addrs
            .iter()
            .find(|a| a.scope == Ipv6Scope::LinkLocal && !a.is_tentative())
            .map_or(Ipv6Addr::UNSPECIFIED, |a| a.addr());
        self.events.push(AddrconfEvent::SendRouterSolicit { src });
        self.rs_probes += 1;
        let max = self.cnf.rtr_solicit_max_interval;
        let mut next = jitter(self.rs_interval, 1_900_000, 2_100_000, rng());
        if next > max {
            next = jitter(max, 900_000, 1_100_000, rng());
        }
        self.rs_interval = next;
        self.rs_timer = Some(now + next);
    }

    /// When [`Inet6Dev::poll`] has something to do next.
    pub fn next_timer(&self) -> Option<Instant> {
        let mut t = self.rs_timer;
        let mut earliest = |x: Option<Instant>| {
            if let Some(x) = x {
                t = Some(t.map_or(x, |t| t.min(x)));
            }
        };
        for a in &self.addrs {
            earliest(a.dad_timer);
            if a.flags & ifa_flags::PERMANENT == 0 {
                earliest(lft_deadline(a.valid_lft, a.tstamp));
                if a.flags & ifa_flags::DEPRECATED == 0 {
                    earliest(lft_deadline(a.prefered_lft, a.tstamp));
                }
            }
        }
        t
    }

    /// The usable link-local address (Linux: `ipv6_get_lladdr` without tentative ones).
    pub fn ipv6_get_lladdr(&self) -> Option<Ipv6Addr> {
        self.addrs
            .iter()
            .find(|a| a.scope == Ipv6Scope::LinkLocal && !a.is_tentative())
            .map(|a| a.addr())
    }

    /// True if `addr` is ours and usable (not tentative). Linux: `ipv6_chk_addr`.
    pub fn ipv6_chk_addr(&self, addr: &Ipv6Addr) -> bool {
        self.addrs
            .iter()
            .any(|a| a.addr() == *addr && !a.is_tentative())
    }

    /// Picks the source address for `dst` among this interface's usable addresses, by the
    /// rules of RFC 6724 section 5 that apply to one interface: the same address (1), an
    /// appropriate scope (2), not deprecated (3), the longest matching prefix (8).
    /// Linux: `ipv6_dev_get_saddr` / `ipv6_get_saddr_eval`.
    pub fn ipv6_dev_get_saddr(&self, dst: &Ipv6Addr) -> Option<Ipv6Addr> {
        let (_, dst_scope) = ipv6_addr_type(dst);
        let score = |a: &Inet6Ifaddr| {
            let same = a.addr() == *dst;
            // Rule 2: a scope at least the destination's, the smallest such; else the largest.
            let scope_ok = a.scope >= dst_scope;
            let scope_rank = if scope_ok {
                u8::MAX - a.scope as u8
            } else {
                a.scope as u8
            };
            let fresh = a.flags & ifa_flags::DEPRECATED == 0;
            let common = (u128::from(a.addr()) ^ u128::from(*dst)).leading_zeros();
            (same, scope_ok, scope_rank, fresh, common)
        };
        self.addrs
            .iter()
            .filter(|a| !a.is_tentative())
            .max_by_key(|a| score(a))
            .map(|a| a.addr())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAC: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0x0a, 0x01]);

    fn ll() -> Ipv6Addr {
        "fe80::ff:fe00:a01".parse().unwrap()
    }

    fn rng() -> impl FnMut() -> u64 {
        let mut s = 0x1234_5678_u64;
        move || {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            s >> 11
        }
    }

    /// Polls at every timer until `until`, collecting (time, event).
    fn run(
        d: &mut Inet6Dev,
        from: Instant,
        until: Instant,
        r: &mut impl FnMut() -> u64,
    ) -> Vec<(Instant, AddrconfEvent)> {
        let mut out: Vec<_> = d.take_events().map(|e| (from, e)).collect();
        for _ in 0..10_000 {
            let Some(t) = d.next_timer() else { break };
            if t > until {
                break;
            }
            d.poll(t, r);
            out.extend(d.take_events().map(|e| (t, e)));
        }
        out
    }

    fn slaac_pi(valid: u32, preferred: u32) -> PrefixInfo {
        PrefixInfo {
            prefix_len: 64,
            flags: PREFIX_FLAG_ON_LINK | PREFIX_FLAG_AUTONOMOUS,
            valid_lifetime: valid,
            preferred_lifetime: preferred,
            prefix: "2001:db8:1::".parse().unwrap(),
        }
    }

    #[test]
    fn link_local_dad_then_router_solicitations_with_backoff() {
        let mut r = rng();
        let mut d = Inet6Dev::new(MAC, Ipv6DevConf::default());
        let t0 = Instant::from_secs(100);
        d.addrconf_dev_up(t0, &mut r);
        assert!(d.addrs()[0].is_tentative());
        assert_eq!(d.ipv6_get_lladdr(), None, "tentative is not usable");
        let ev = run(&mut d, t0, t0 + Duration::from_secs(60), &mut r);
        assert_eq!(ev[0], (t0, AddrconfEvent::JoinGroup(solicited_node(&ll()))));
        let (t_probe, probe) = ev[1];
        assert!(
            matches!(probe, AddrconfEvent::SendDadProbe { target, nonce: Some(_) } if target == ll())
        );
        assert!(
            t_probe < t0 + Duration::from_secs(1),
            "the first probe within rtr_solicit_delay"
        );
        assert_eq!(
            ev[2],
            (
                t_probe + Duration::from_secs(1),
                AddrconfEvent::AddrReady(ll())
            )
        );
        assert_eq!(
            ev[3],
            (
                t_probe + Duration::from_secs(1),
                AddrconfEvent::SendRouterSolicit { src: ll() }
            )
        );
        assert_eq!(d.ipv6_get_lladdr(), Some(ll()));
        // Then 4 s (+/-10%) later, and doubling (x1.9-2.1): ~8 s, ~16 s, ~32 s.
        let rs: Vec<Instant> = ev
            .iter()
            .filter(|(_, e)| matches!(e, AddrconfEvent::SendRouterSolicit { .. }))
            .map(|(t, _)| *t)
            .collect();
        assert!(rs.len() >= 4, "{rs:?}");
        let gaps: Vec<f64> = rs.windows(2).map(|w| (w[1] - w[0]).as_secs_f64()).collect();
        assert!((3.6..=4.4).contains(&gaps[0]), "{gaps:?}");
        for w in gaps.windows(2) {
            assert!(w[1] / w[0] >= 1.85 && w[1] / w[0] <= 2.15, "{gaps:?}");
        }
        // An advertisement stops them.
        d.ra_rcvd();
        assert_eq!(d.next_timer(), None);
    }

    #[test]
    fn solicitation_backoff_is_capped() {
        let mut r = rng();
        let cnf = Ipv6DevConf {
            rtr_solicit_max_interval: Duration::from_secs(20),
            accept_dad: false,
            ..Default::default()
        };
        let mut d = Inet6Dev::new(MAC, cnf);
        let t0 = Instant::ZERO;
        d.addrconf_dev_up(t0, &mut r);
        let ev = run(&mut d, t0, t0 + Duration::from_secs(400), &mut r);
        let rs: Vec<Instant> = ev
            .iter()
            .filter(|(_, e)| matches!(e, AddrconfEvent::SendRouterSolicit { .. }))
            .map(|(t, _)| *t)
            .collect();
        let last_gaps: Vec<f64> = rs
            .windows(2)
            .map(|w| (w[1] - w[0]).as_secs_f64())
            .skip(3)
            .collect();
        assert!(!last_gaps.is_empty());
        assert!(
            last_gaps.iter().all(|g| (18.0..=22.0).contains(g)),
            "{last_gaps:?}"
        );

        let cnf = Ipv6DevConf {
            rtr_solicits: 3,
            accept_dad: false,
            ..Default::default()
        };
        let mut d = Inet6Dev::new(MAC, cnf);
        d.addrconf_dev_up(t0, &mut r);
        let ev = run(&mut d, t0, t0 + Duration::from_secs(4000), &mut r);
        assert_eq!(
            ev.iter()
                .filter(|(_, e)| matches!(e, AddrconfEvent::SendRouterSolicit { .. }))
                .count(),
            3
        );
    }

    #[test]
    fn slaac_address_lifetimes_follow_the_two_hour_rule() {
        let mut r = rng();
        let mut d = Inet6Dev::new(MAC, Ipv6DevConf::default());
        let t0 = Instant::from_secs(10);
        d.addrconf_dev_up(t0, &mut r);
        run(&mut d, t0, t0 + Duration::from_secs(3), &mut r);
        let t1 = t0 + Duration::from_secs(5);
        d.addrconf_prefix_rcv(&slaac_pi(86_400, 14_400), t1, &mut r);
        let slaac: Ipv6Addr = "2001:db8:1::ff:fe00:a01".parse().unwrap();
        let ev: Vec<_> = d.take_events().collect();
        assert_eq!(
            ev[..2],
            [
                AddrconfEvent::OnLinkPrefix {
                    prefix: "2001:db8:1::/64".parse().unwrap(),
                    expires: Some(t1 + Duration::from_secs(86_400))
                },
                AddrconfEvent::JoinGroup(solicited_node(&slaac)),
            ]
        );
        let ev = run(&mut d, t1, t1 + Duration::from_secs(3), &mut r);
        assert!(ev
            .iter()
            .any(|(_, e)| *e == AddrconfEvent::AddrReady(slaac)));
        assert!(d.ipv6_chk_addr(&slaac));
        let a = |d: &Inet6Dev| {
            d.addrs()
                .iter()
                .find(|a| a.addr() == slaac)
                .unwrap()
                .clone()
        };
        // (e.1) a longer lifetime is taken; (e.3) a short one cuts to two hours only.
        let t2 = t1 + Duration::from_secs(100);
        d.addrconf_prefix_rcv(&slaac_pi(600, 300), t2, &mut r);
        assert_eq!(
            (a(&d).valid_lft, a(&d).prefered_lft),
            (MIN_VALID_LIFETIME, 300)
        );
        // (e.2) with under two hours left, a shorter advertisement is ignored for valid.
        let t3 = t2 + Duration::from_secs(6000);
        d.addrconf_prefix_rcv(&slaac_pi(60, 0), t3, &mut r);
        assert_eq!(a(&d).valid_left(t3), MIN_VALID_LIFETIME - 6000);
        assert!(
            a(&d).flags & ifa_flags::DEPRECATED != 0,
            "preferred 0 deprecates at once"
        );
        assert!(d
            .take_events()
            .any(|e| e == AddrconfEvent::AddrDeprecated(slaac)));
        // Deprecated addresses are not picked when another fits.
        // Deprecated, but the only address of a fitting scope (rule 2 comes before rule 3).
        assert_eq!(
            d.ipv6_dev_get_saddr(&"2001:db8:9::1".parse().unwrap()),
            Some(slaac)
        );
        // It expires when the two hours are over.
        let ev = run(&mut d, t3, t3 + Duration::from_secs(2000), &mut r);
        let gone = ev
            .iter()
            .find(|(_, e)| *e == AddrconfEvent::AddrRemoved(slaac))
            .expect("removed");
        assert_eq!(
            gone.0,
            t2 + Duration::from_secs(u64::from(MIN_VALID_LIFETIME))
        );
        assert!(!d.ipv6_chk_addr(&slaac));
    }

    #[test]
    fn ignored_prefixes() {
        let mut r = rng();
        let mut d = Inet6Dev::new(MAC, Ipv6DevConf::default());
        d.addrconf_dev_up(Instant::ZERO, &mut r);
        d.take_events().for_each(drop);
        let n = d.addrs().len();
        let now = Instant::from_secs(5);
        // preferred > valid: the whole option is ignored (c).
        d.addrconf_prefix_rcv(&slaac_pi(100, 200), now, &mut r);
        // Link-local prefix (b).
        d.addrconf_prefix_rcv(
            &PrefixInfo {
                prefix: "fe80::".parse().unwrap(),
                ..slaac_pi(100, 50)
            },
            now,
            &mut r,
        );
        // A /48 can't take a 64-bit interface identifier; on-link only.
        d.addrconf_prefix_rcv(
            &PrefixInfo {
                prefix_len: 48,
                ..slaac_pi(100, 50)
            },
            now,
            &mut r,
        );
        // Zero valid lifetime creates nothing.
        d.addrconf_prefix_rcv(&slaac_pi(0, 0), now, &mut r);
        // No A flag.
        d.addrconf_prefix_rcv(
            &PrefixInfo {
                flags: PREFIX_FLAG_ON_LINK,
                ..slaac_pi(100, 50)
            },
            now,
            &mut r,
        );
        assert_eq!(d.addrs().len(), n);
        let ev: Vec<_> = d.take_events().collect();
        assert_eq!(
            ev.len(),
            3,
            "three on-link routes (the /48, the gone one, the no-A one): {ev:?}"
        );
        assert!(matches!(ev[1], AddrconfEvent::OnLinkPrefixGone(_)));
    }

    #[test]
    fn duplicates_fail_dad_but_our_own_looped_probe_does_not() {
        let mut r = rng();
        let mut d = Inet6Dev::new(MAC, Ipv6DevConf::default());
        let t0 = Instant::ZERO;
        d.addrconf_dev_up(t0, &mut r);
        let ev = run(&mut d, t0, t0 + Duration::from_millis(999), &mut r);
        let nonce = ev.iter().find_map(|(_, e)| match e {
            AddrconfEvent::SendDadProbe { nonce, .. } => *nonce,
            _ => None,
        });
        assert!(nonce.is_some());
        assert!(
            d.ndisc_recv_for_tentative(ll(), true, nonce),
            "ours, looped back: swallowed"
        );
        assert!(d.addrs()[0].is_tentative());
        assert!(d.take_events().next().is_none(), "not a failure");
        // Someone else's probe for the same address: DAD fails; link-local stays, flagged.
        assert!(d.ndisc_recv_for_tentative(ll(), true, Some([9; 6])));
        assert_eq!(
            d.take_events().collect::<Vec<_>>(),
            vec![AddrconfEvent::DadFailed(ll())]
        );
        assert!(d.addrs()[0].flags & ifa_flags::DADFAILED != 0);
        let ev = run(&mut d, t0, t0 + Duration::from_secs(30), &mut r);
        assert!(
            ev.is_empty(),
            "no completion, no router solicitation: {ev:?}"
        );
        assert_eq!(d.ipv6_get_lladdr(), None);

        // An autoconfigured address that fails DAD (an advertisement for it) is removed.
        let mut d = Inet6Dev::new(MAC, Ipv6DevConf::default());
        d.addrconf_dev_up(t0, &mut r);
        run(&mut d, t0, t0 + Duration::from_secs(3), &mut r);
        d.addrconf_prefix_rcv(&slaac_pi(3600, 1800), t0 + Duration::from_secs(3), &mut r);
        d.take_events().for_each(drop);
        let slaac: Ipv6Addr = "2001:db8:1::ff:fe00:a01".parse().unwrap();
        assert!(d.ndisc_recv_for_tentative(slaac, false, None));
        let ev: Vec<_> = d.take_events().collect();
        assert!(
            ev.contains(&AddrconfEvent::DadFailed(slaac))
                && ev.contains(&AddrconfEvent::AddrRemoved(slaac))
        );
        // Once usable, an advertisement for our address is not DAD's business.
        assert!(!d.ndisc_recv_for_tentative(ll(), false, None));
    }

    #[test]
    fn manual_addresses_and_source_selection() {
        let mut r = rng();
        let mut d = Inet6Dev::new(MAC, Ipv6DevConf::default());
        let t0 = Instant::ZERO;
        let g: Ipv6Cidr = "2001:db8::2/64".parse().unwrap();
        d.ipv6_add_addr(g, INFINITY_LIFE_TIME, INFINITY_LIFE_TIME, true, t0, &mut r)
            .unwrap();
        assert_eq!(
            d.ipv6_add_addr(g, INFINITY_LIFE_TIME, INFINITY_LIFE_TIME, true, t0, &mut r),
            Err(AddrError::Exists)
        );
        assert_eq!(
            d.ipv6_add_addr("ff02::1/128".parse().unwrap(), 1, 1, true, t0, &mut r),
            Err(AddrError::NotUnicast)
        );
        assert_eq!(
            d.ipv6_add_addr("2001:db8::9/64".parse().unwrap(), 10, 20, true, t0, &mut r),
            Err(AddrError::BadLifetime)
        );
        d.addrconf_dev_up(t0, &mut r);
        run(&mut d, t0, t0 + Duration::from_secs(3), &mut r);
        assert!(d.ipv6_chk_addr(&g.addr), "nodad: usable at once");
        assert_eq!(
            d.ipv6_dev_get_saddr(&"2001:db8::1".parse().unwrap()),
            Some(g.addr)
        );
        assert_eq!(
            d.ipv6_dev_get_saddr(&"fe80::1".parse().unwrap()),
            Some(ll())
        );
        assert_eq!(
            d.ipv6_dev_get_saddr(&"ff02::1".parse().unwrap()),
            Some(ll())
        );
        assert_eq!(
            d.ipv6_dev_get_saddr(&"2001:db8:77::1".parse().unwrap()),
            Some(g.addr)
        );
        d.ipv6_del_addr(g.addr).unwrap();
        assert_eq!(d.ipv6_del_addr(g.addr), Err(AddrError::NotFound));
        assert_eq!(
            d.ipv6_dev_get_saddr(&"2001:db8::1".parse().unwrap()),
            Some(ll())
        );
        // Down: the link-local and autoconfigured addresses go, manual ones stay tentative.
        d.ipv6_add_addr(g, INFINITY_LIFE_TIME, INFINITY_LIFE_TIME, false, t0, &mut r)
            .unwrap();
        d.addrconf_ifdown();
        assert_eq!(d.addrs().len(), 1);
        assert!(d.addrs()[0].is_tentative());
    }
}
