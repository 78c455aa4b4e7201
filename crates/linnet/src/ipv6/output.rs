//! IPv6 output: routing a locally generated datagram, choosing its source, building the
//! header, and resolving the next hop by neighbour discovery.
//!
//! Linux: net/ipv6/ip6_output.c (`ip6_xmit`, `ip6_output`, `ip6_finish_output`,
//! `ip6_finish_output2`), net/ipv6/route.c (`ip6_route_output`) and addrconf.c
//! (`ipv6_dev_get_saddr`); `neigh_output` on `nd_tbl`.

use super::route::Rt6Result;
use crate::buf::PacketBuf;
use crate::errno::Errno;
use crate::stack::{LinkKind, Stack, LOOPBACK_IFINDEX};
use crate::stats::DropReason;
use crate::time::Instant;
use crate::trace::{Detail, Stage};
use crate::wire::ipv6::{ipv6_addr_type, multicast_mac, Ipv6AddrKind, Ipv6Scope, HEADER_LEN};
use crate::wire::{EthernetAddress, IpProtocol, Ipv6Repr};
use std::net::Ipv6Addr;

/// What a local sender asks of IPv6. Linux: the flow (`struct flowi6`) and `ipcm6_cookie`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ip6SendParams {
    /// Source address.
    pub src: Ipv6Addr,
    /// Destination.
    pub dst: Ipv6Addr,
    /// The first header after the fixed one.
    pub next_header: IpProtocol,
    /// Hop limit.
    pub hop_limit: u8,
}

impl Stack {
    /// The route for `dst`, through `oif` if given: our own addresses go to the loopback
    /// device, multicast and link-local destinations need an interface (their scope is
    /// one link), the rest take the longest matching route.
    /// Linux: `ip6_route_output` → `ip6_pol_route` (with `RT6_LOOKUP_F_IFACE`).
    pub(crate) fn ip6_route_output(
        &self,
        dst: &Ipv6Addr,
        oif: Option<u32>,
    ) -> Result<Rt6Result, Errno> {
        if dst.is_loopback() || self.ipv6.ipv6_chk_addr(dst) {
            return Ok(Rt6Result {
                ifindex: LOOPBACK_IFINDEX,
                nexthop: *dst,
            });
        }
        let (kind, scope) = ipv6_addr_type(dst);
        if kind == Ipv6AddrKind::Unspecified || kind == Ipv6AddrKind::Mapped {
            return Err(Errno::ENETUNREACH);
        }
        let up = |i: u32| self.iface(i).is_some_and(|d| d.up);
        if kind == Ipv6AddrKind::Multicast {
            return match oif {
                Some(i) if up(i) => Ok(Rt6Result {
                    ifindex: i,
                    nexthop: *dst,
                }),
                Some(_) => Err(Errno::ENETDOWN),
                None => Err(Errno::ENETUNREACH),
            };
        }
        if scope == Ipv6Scope::LinkLocal && oif.is_none() {
            // Linux needs a scope id for a link-local destination (EINVAL from connect).
            return Err(Errno::EINVAL);
        }
        let rt = self
            .ipv6
            .fib6
            .fib6_lookup(dst, |r| oif.is_none_or(|o| r.ifindex == o) && up(r.ifindex))
            .ok_or(Errno::ENETUNREACH)?;
        Ok(Rt6Result {
            ifindex: rt.ifindex,
            nexthop: rt.gateway.unwrap_or(*dst),
        })
    }

    /// The source address for `dst` leaving on `ifindex`: the output interface's best
    /// address by RFC 6724, else the best of any interface (rule 5 prefers the outgoing
    /// one). Linux: `ipv6_dev_get_saddr`.
    pub(crate) fn ipv6_dev_get_saddr(&self, ifindex: u32, dst: &Ipv6Addr) -> Option<Ipv6Addr> {
        if ifindex == LOOPBACK_IFINDEX && !dst.is_loopback() {
            // Our own address: from itself (rule 1).
            return Some(*dst);
        }
        if let Some(a) = self
            .ipv6
            .devs
            .get(&ifindex)
            .and_then(|d| d.ipv6_dev_get_saddr(dst))
        {
            return Some(a);
        }
        let (_, scope) = ipv6_addr_type(dst);
        if scope == Ipv6Scope::LinkLocal {
            return None;
        }
        self.ipv6
            .devs
            .values()
            .filter_map(|d| d.ipv6_dev_get_saddr(dst))
            .find(|a| ipv6_addr_type(a).1 >= scope)
    }

    /// Prepend the fixed header to a payload (`buf`'s data, checksums already filled) and
    /// send it towards `rt`. Linux: `ip6_xmit`.
    pub(crate) fn ip6_xmit(
        &mut self,
        mut buf: PacketBuf,
        p: Ip6SendParams,
        rt: Rt6Result,
        now: Instant,
    ) -> Result<(), Errno> {
        self.ipv6.stats.out_requests += 1;
        let repr = Ipv6Repr {
            src_addr: p.src,
            dst_addr: p.dst,
            next_header: p.next_header,
            payload_len: buf.len(),
            hop_limit: p.hop_limit,
            traffic_class: 0,
            flow_label: 0,
        };
        if buf.len() > usize::from(u16::MAX) {
            self.ipv6.stats.out_discards += 1;
            self.drop_pkt(buf, DropReason::PktTooBig);
            return Err(Errno::EMSGSIZE);
        }
        match buf.push(HEADER_LEN) {
            Some(h) => repr.emit(h),
            None => {
                self.ipv6.stats.out_discards += 1;
                self.drop_pkt(buf, DropReason::PktTooSmall);
                return Err(Errno::ENOBUFS);
            }
        }
        buf.reset_network_header();
        // Our own datagram: cut to the path MTU if a Packet Too Big lowered it.
        if let Some(link) = self.iface(rt.ifindex).map(|i| i.mtu) {
            let mtu = self.ip6_path_mtu(&p.dst, link, now);
            if buf.len() > mtu && mtu < link && rt.ifindex != LOOPBACK_IFINDEX {
                return self.ip6_fragment(buf, rt, mtu, now);
            }
        }
        self.ip6_output(buf, rt, now)
    }

    /// Put a datagram (IPv6 header at the data start) on its link, in fragments if it is
    /// over the link MTU (only our own datagrams reach here so).
    /// Linux: `ip6_output` → `ip6_finish_output` (→ `ip6_fragment`).
    pub(crate) fn ip6_output(
        &mut self,
        buf: PacketBuf,
        rt: Rt6Result,
        now: Instant,
    ) -> Result<(), Errno> {
        self.trace(&buf, Stage::IpOutput, Detail::None);
        let Some(iface) = self.iface(rt.ifindex) else {
            self.ipv6.stats.out_discards += 1;
            self.drop_pkt(buf, DropReason::DevReady);
            return Err(Errno::ENODEV);
        };
        if buf.len() > iface.mtu && iface.kind != LinkKind::Loopback {
            // Forwarded datagrams were checked against the MTU already: this one is ours.
            let mtu = iface.mtu;
            return self.ip6_fragment(buf, rt, mtu, now);
        }
        self.ip6_finish_output2(buf, rt, now)
    }

    /// Find the link address of the next hop (a multicast group's is computed, a unicast
    /// neighbour's is resolved by neighbour discovery, the packet waiting while the entry is
    /// INCOMPLETE) and hand the frame to the device.
    /// Linux: `ip6_finish_output2` → `neigh_output` / `ipv6_eth_mc_map`.
    pub(crate) fn ip6_finish_output2(
        &mut self,
        buf: PacketBuf,
        rt: Rt6Result,
        now: Instant,
    ) -> Result<(), Errno> {
        let Rt6Result { ifindex, nexthop } = rt;
        let Some(kind) = self.iface(ifindex).map(|i| i.kind) else {
            self.ipv6.stats.out_discards += 1;
            self.drop_pkt(buf, DropReason::DevReady);
            return Err(Errno::ENODEV);
        };
        if kind == LinkKind::Loopback {
            return self.neigh_xmit::<Ipv6Addr>(ifindex, EthernetAddress::ZERO, buf, now);
        }
        if nexthop.is_multicast() {
            self.ipv6.stats.out_mcast_pkts += 1;
            return self.neigh_xmit::<Ipv6Addr>(ifindex, multicast_mac(&nexthop), buf, now);
        }
        self.neigh_output(ifindex, nexthop, buf, now)
    }
}
