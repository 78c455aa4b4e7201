//! Neighbour discovery (RFC 4861): answering and sending neighbour solicitations and
//! advertisements on the generic NUD state machine ARP uses, duplicate address detection's
//! probes and conflicts, router solicitations, and router advertisements feeding address
//! autoconfiguration and the default route.
//!
//! Linux: net/ipv6/ndisc.c (`ndisc_rcv`, `ndisc_recv_ns`, `ndisc_recv_na`,
//! `ndisc_router_discovery`, `ndisc_send_ns`, `ndisc_send_na`, `ndisc_send_rs`,
//! `ndisc_solicit`, `ndisc_error_report`).

use super::route::{Rt6Info, Rt6Proto, Rt6Result, IP6_RT_PRIO_USER};
use crate::buf::{PacketBuf, MAX_HEADER};
use crate::link::neigh_output::NeighOps;
use crate::link::NeighTable;
use crate::stack::Stack;
use crate::stats::DropReason;
use crate::time::Instant;
use crate::wire::icmpv6::Icmpv6Packet;
use crate::wire::ipv6::{ipv6_addr_type, solicited_node, Ipv6Scope, ALL_NODES, ALL_ROUTERS};
use crate::wire::ndisc::{
    option_type, NdiscOption, NdiscOptions, NdiscRepr, NA_FLAG_OVERRIDE, NA_FLAG_ROUTER,
    NA_FLAG_SOLICITED,
};
use crate::wire::{EtherType, EthernetAddress, IpProtocol, Ipv6Cidr};
use std::net::Ipv6Addr;
use std::time::Duration;

/// Hop limit of every neighbour discovery message, checked on receipt (RFC 4861 section 6.1).
const ND_HOP_LIMIT: u8 = 255;

/// What `ndisc_rcv` needs from the IPv6 header.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NdiscMeta {
    pub ifindex: u32,
    pub src: Ipv6Addr,
    pub dst: Ipv6Addr,
    pub hop_limit: u8,
}

/// NDP's part of the shared neighbour code. Linux: `nd_tbl` and `ndisc_generic_ops`.
impl NeighOps for Ipv6Addr {
    const ETHERTYPE: EtherType = EtherType::IPV6;

    fn tbl(stack: &mut Stack) -> &mut NeighTable<Self> {
        &mut stack.ipv6.nd_tbl
    }

    fn in_events(stack: &mut Stack) -> &mut bool {
        &mut stack.ipv6.in_nd_events
    }

    fn solicit(
        stack: &mut Stack,
        ifindex: u32,
        ip: Self,
        unicast: Option<EthernetAddress>,
        now: Instant,
    ) {
        stack.ndisc_solicit(ifindex, ip, unicast, now);
    }

    /// Linux: `ndisc_error_report` → `icmpv6_send(ICMPV6_ADDR_UNREACH)`.
    fn error_report(stack: &mut Stack, buf: &PacketBuf, reason: DropReason, now: Instant) {
        if reason == DropReason::NeighFailed {
            stack.icmp6_send(
                buf,
                crate::wire::icmpv6::Icmpv6Message::DST_UNREACHABLE,
                crate::wire::icmpv6::dst_unreachable::ADDR_UNREACH,
                0,
                now,
            );
        }
        stack.ipv6.stats.out_discards += 1;
    }

    fn out_discards(stack: &mut Stack) -> &mut u64 {
        &mut stack.ipv6.stats.out_discards
    }

    fn no_dev_discards(stack: &mut Stack) -> &mut u64 {
        &mut stack.ipv6.stats.out_discards
    }
}

impl Stack {
    /// Solicit `target`: multicast to its solicited-node group, or unicast to the known
    /// address when probing, from our best address for it. Linux: `ndisc_solicit`.
    fn ndisc_solicit(
        &mut self,
        ifindex: u32,
        target: Ipv6Addr,
        unicast: Option<EthernetAddress>,
        now: Instant,
    ) {
        let Some(src) = self.ipv6_dev_get_saddr(ifindex, &target) else {
            return;
        };
        let dst = if unicast.is_some() {
            target
        } else {
            solicited_node(&target)
        };
        self.ndisc_send_ns(ifindex, target, dst, src, None, now);
    }

    /// Send a neighbour solicitation for `target` to `dst` from `src`; from `::` (a DAD
    /// probe) it carries no source link-layer address option, and the nonce if given.
    /// Linux: `ndisc_send_ns`.
    pub(crate) fn ndisc_send_ns(
        &mut self,
        ifindex: u32,
        target: Ipv6Addr,
        dst: Ipv6Addr,
        src: Ipv6Addr,
        nonce: Option<[u8; 6]>,
        now: Instant,
    ) {
        let Some(mac) = self.iface(ifindex).map(|i| i.mac) else {
            return;
        };
        let lladdr = (!src.is_unspecified()).then_some(mac);
        let ns = NdiscRepr::NeighborSolicit { target, lladdr };
        let nonce_bytes = nonce.unwrap_or_default();
        let nonce_opt = nonce.is_some().then_some(NdiscOption::Unknown {
            option_type: option_type::NONCE,
            data: &nonce_bytes[..],
        });
        let mut buf = self.pool.get(MAX_HEADER);
        let len = ns.buffer_len() + nonce_opt.map_or(0, |o| o.buffer_len());
        let msg = buf.put(len);
        ns.emit(msg);
        if let Some(o) = nonce_opt {
            o.emit(&mut msg[ns.buffer_len()..]);
        }
        self.ipv6.icmp6.out_neighbor_solicits += 1;
        self.ndisc_send_skb(ifindex, buf, src, dst, now);
    }

    /// Send a neighbour advertisement for our `target` to `dst`, with our link-layer address.
    /// Linux: `ndisc_send_na`.
    fn ndisc_send_na(
        &mut self,
        ifindex: u32,
        dst: Ipv6Addr,
        target: Ipv6Addr,
        solicited: bool,
        now: Instant,
    ) {
        let Some(mac) = self.iface(ifindex).map(|i| i.mac) else {
            return;
        };
        let mut flags = NA_FLAG_OVERRIDE;
        if solicited {
            flags |= NA_FLAG_SOLICITED;
        }
        if self.ipv6.forwarding {
            flags |= NA_FLAG_ROUTER;
        }
        let na = NdiscRepr::NeighborAdvert {
            flags,
            target,
            lladdr: Some(mac),
        };
        let mut buf = self.pool.get(MAX_HEADER);
        na.emit(buf.put(na.buffer_len()));
        self.ipv6.icmp6.out_neighbor_advertisements += 1;
        self.ndisc_send_skb(ifindex, buf, target, dst, now);
    }

    /// Send a router solicitation to ff02::2, with our link-layer address unless from `::`.
    /// Linux: `ndisc_send_rs`.
    pub(crate) fn ndisc_send_rs(&mut self, ifindex: u32, src: Ipv6Addr, now: Instant) {
        let Some(mac) = self.iface(ifindex).map(|i| i.mac) else {
            return;
        };
        let rs = NdiscRepr::RouterSolicit {
            lladdr: (!src.is_unspecified()).then_some(mac),
        };
        let mut buf = self.pool.get(MAX_HEADER);
        rs.emit(buf.put(rs.buffer_len()));
        self.ipv6.icmp6.out_router_solicits += 1;
        self.ndisc_send_skb(ifindex, buf, src, ALL_ROUTERS, now);
    }

    /// Fill the ICMPv6 checksum of a neighbour discovery message (`buf`'s data) and send it
    /// with hop limit 255 on `ifindex`. Linux: `ndisc_send_skb`.
    fn ndisc_send_skb(
        &mut self,
        ifindex: u32,
        mut buf: PacketBuf,
        src: Ipv6Addr,
        dst: Ipv6Addr,
        now: Instant,
    ) {
        Icmpv6Packet::new_unchecked(buf.data_mut()).fill_checksum(&src, &dst);
        self.ipv6.icmp6.out_msgs += 1;
        let p = super::output::Ip6SendParams {
            src,
            dst,
            next_header: IpProtocol::ICMPV6,
            hop_limit: ND_HOP_LIMIT,
        };
        let rt = Rt6Result {
            ifindex,
            nexthop: dst,
        };
        if self.ip6_xmit(buf, p, rt, now).is_err() {
            self.ipv6.icmp6.out_errors += 1;
        }
    }

    /// A neighbour discovery message (`msg`: the whole ICMPv6 message, checksum verified).
    /// Linux: `ndisc_rcv`: hop limit 255 or the message is dropped, then by type.
    pub(crate) fn ndisc_rcv(&mut self, msg: &[u8], m: NdiscMeta, now: Instant) {
        if m.hop_limit != ND_HOP_LIMIT {
            // Linux: "NDISC: invalid hop-limit".
            self.ipv6.icmp6.in_errors += 1;
            return self.count_drop(DropReason::IcmpIgnored);
        }
        let repr = match NdiscRepr::parse(msg) {
            Ok(r) => r,
            Err(_) => {
                self.ipv6.icmp6.in_errors += 1;
                return self.count_drop(DropReason::IcmpIgnored);
            }
        };
        match repr {
            NdiscRepr::NeighborSolicit { target, lladdr } => {
                let opts = NdiscOptions::new(&msg[24..]);
                let nonce = opts.iter().find_map(|o| match o {
                    Ok(NdiscOption::Unknown {
                        option_type: option_type::NONCE,
                        data,
                    }) if data.len() == 6 => {
                        let mut n = [0u8; 6];
                        n.copy_from_slice(data);
                        Some(n)
                    }
                    _ => None,
                });
                self.ndisc_recv_ns(m, target, lladdr, nonce, now)
            }
            NdiscRepr::NeighborAdvert {
                flags,
                target,
                lladdr,
            } => self.ndisc_recv_na(m, flags, target, lladdr, now),
            NdiscRepr::RouterAdvert {
                hop_limit: _,
                router_lifetime,
                options,
                ..
            } => self.ndisc_router_discovery(m, router_lifetime, options, now),
            NdiscRepr::RouterSolicit { .. } | NdiscRepr::Redirect { .. } => {
                // A host ignores solicitations; redirects are not followed (yet).
                self.count_drop(DropReason::IcmpIgnored)
            }
        }
        self.addrconf_run_events(m.ifindex, now);
        self.neigh_run_events::<Ipv6Addr>(now);
    }

    /// A neighbour solicitation: a DAD probe for a tentative address of ours is a
    /// conflict (unless it is our own, by its nonce); one for a usable address of ours is
    /// answered, learning the asker. Linux: `ndisc_recv_ns`.
    fn ndisc_recv_ns(
        &mut self,
        m: NdiscMeta,
        target: Ipv6Addr,
        lladdr: Option<EthernetAddress>,
        nonce: Option<[u8; 6]>,
        now: Instant,
    ) {
        let dad = m.src.is_unspecified();
        if dad && (!is_solicited_node(&m.dst) || lladdr.is_some()) {
            // Linux: "bad DAD packet (wrong destination)"; RFC 4861 7.1.1: no SLLA from ::.
            self.ipv6.icmp6.in_errors += 1;
            return self.count_drop(DropReason::IcmpIgnored);
        }
        let Some(idev) = self.ipv6.devs.get_mut(&m.ifindex) else {
            return;
        };
        let Some(ifa) = idev.addrs().iter().find(|a| a.addr() == target) else {
            // Not ours (no proxy ND, no anycast).
            return self.count_drop(DropReason::IcmpIgnored);
        };
        if ifa.is_tentative() {
            if dad {
                idev.ndisc_recv_for_tentative(target, true, nonce);
            }
            return;
        }
        if dad {
            // Someone probes our address: defend it to all nodes. Linux: ndisc_send_na
            // to in6addr_linklocal_allnodes, not solicited.
            return self.ndisc_send_na(m.ifindex, ALL_NODES, target, false, now);
        }
        if let Some(mac) = lladdr {
            // Linux: neigh_event_ns → neigh_update(NEIGH_UPDATE_F_OVERRIDE): STALE.
            self.ipv6
                .nd_tbl
                .update(m.ifindex, m.src, mac, false, true, now);
        }
        self.ndisc_send_na(m.ifindex, m.src, target, true, now);
    }

    /// A neighbour advertisement: a conflict if it names a tentative address of ours,
    /// else it updates an existing entry as RFC 4861 section 7.2.5 says (solicited:
    /// REACHABLE; a different address replaces the known one only with the override flag).
    /// Linux: `ndisc_recv_na` → `ndisc_update` → `neigh_update`.
    fn ndisc_recv_na(
        &mut self,
        m: NdiscMeta,
        flags: u8,
        target: Ipv6Addr,
        lladdr: Option<EthernetAddress>,
        now: Instant,
    ) {
        let solicited = flags & NA_FLAG_SOLICITED != 0;
        if solicited && m.dst.is_multicast() {
            // Linux: "NA: solicited NA is multicasted".
            self.ipv6.icmp6.in_errors += 1;
            return self.count_drop(DropReason::IcmpIgnored);
        }
        if let Some(idev) = self.ipv6.devs.get_mut(&m.ifindex) {
            if idev.addrs().iter().any(|a| a.addr() == target) {
                // Ours: a tentative one is a duplicate; a usable one, someone else's
                // mistake (Linux only logs it).
                idev.ndisc_recv_for_tentative(target, false, None);
                return;
            }
        }
        let Some((state, cur)) = self.ipv6.nd_tbl.lookup(m.ifindex, target) else {
            return; // unsolicited advertisements create nothing
        };
        let Some(mac) = lladdr.or(cur) else {
            return;
        };
        if flags & NA_FLAG_ROUTER == 0 {
            // No longer a router (RFC 4861 section 7.2.5): its default routes go.
            // Linux: ndisc_recv_na → rt6_clean_tohost.
            let gone: Vec<Rt6Info> = self
                .ipv6
                .fib6
                .iter()
                .filter(|r| {
                    r.proto == Rt6Proto::Ra && r.gateway == Some(target) && r.ifindex == m.ifindex
                })
                .copied()
                .collect();
            for r in gone {
                self.ipv6.fib6.fib6_del(r.dst, |x| *x == r);
            }
        }
        let differs = cur.is_some_and(|c| c != mac);
        if differs && flags & NA_FLAG_OVERRIDE == 0 && state.is_valid() {
            // Keep the known address; a REACHABLE entry is now only STALE.
            self.ipv6.nd_tbl.weak_override(m.ifindex, target, now);
            return;
        }
        self.ipv6
            .nd_tbl
            .update(m.ifindex, target, mac, solicited, false, now);
    }

    /// A router advertisement from a link-local router: stop soliciting, (re)set the
    /// default route through it for its lifetime, learn its link-layer address, and hand
    /// each prefix to address configuration. Linux: `ndisc_router_discovery`.
    fn ndisc_router_discovery(
        &mut self,
        m: NdiscMeta,
        router_lifetime: u16,
        options: NdiscOptions<'_>,
        now: Instant,
    ) {
        if ipv6_addr_type(&m.src).1 != Ipv6Scope::LinkLocal {
            // Linux: "RA: source address is not link-local".
            self.ipv6.icmp6.in_errors += 1;
            return self.count_drop(DropReason::IcmpIgnored);
        }
        let accept = self
            .ipv6
            .devs
            .get(&m.ifindex)
            .is_some_and(|d| d.cnf.accept_ra);
        if !accept || self.ipv6.forwarding {
            return self.count_drop(DropReason::IcmpIgnored);
        }
        if let Some(d) = self.ipv6.devs.get_mut(&m.ifindex) {
            d.ra_rcvd();
        }
        let default: Ipv6Cidr = Ipv6Cidr::new(Ipv6Addr::UNSPECIFIED, 0).expect("::/0");
        let ifindex = m.ifindex;
        let router = m.src;
        if router_lifetime == 0 {
            self.ipv6.fib6.fib6_del(default, |r| {
                r.proto == Rt6Proto::Ra && r.gateway == Some(router) && r.ifindex == ifindex
            });
        } else if self.ipv6.ra_route_room()
            || self.ipv6.fib6.iter().any(|r| {
                r.proto == Rt6Proto::Ra && r.gateway == Some(router) && r.ifindex == ifindex
            })
        {
            let rt = Rt6Info {
                dst: default,
                gateway: Some(router),
                ifindex,
                metric: IP6_RT_PRIO_USER,
                proto: Rt6Proto::Ra,
                expires: Some(now + Duration::from_secs(u64::from(router_lifetime))),
            };
            let _ = self.ipv6.fib6.fib6_add(rt, true);
            self.ipv6.fib6_note_expiry(rt.expires);
        }
        if let Some(mac) = options.source_lladdr() {
            self.ipv6
                .nd_tbl
                .update(ifindex, router, mac, false, true, now);
        }
        let prefixes: Vec<_> = options.prefixes().collect();
        for pi in prefixes {
            self.with_idev_rng(ifindex, |d, mut rng| {
                d.addrconf_prefix_rcv(&pi, now, &mut rng)
            });
        }
    }
}

/// Whether `a` is a solicited-node group (ff02::1:ff00:0/104).
fn is_solicited_node(a: &Ipv6Addr) -> bool {
    let o = a.octets();
    o[..13] == [0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0xff]
}
