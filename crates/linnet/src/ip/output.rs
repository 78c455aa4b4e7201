//! IPv4 output: building the header, choosing the link, resolving the next hop.
//!
//! Linux: net/ipv4/ip_output.c (`ip_build_and_send_pkt`, `ip_local_out`, `ip_output`,
//! `ip_finish_output`, `ip_finish_output2`); `neigh_output` itself is in link/neigh_output.rs.

use crate::buf::PacketBuf;
use crate::errno::Errno;
use crate::stack::{LinkKind, Stack};
use crate::stats::DropReason;
use crate::time::Instant;
use crate::trace::{Detail, Stage};
use crate::wire::ipv4::HEADER_LEN;
use crate::wire::{EthernetAddress, IpProtocol, Ipv4Addr, Ipv4Packet, Ipv4Repr};

/// What a local sender asks of IP. Linux: the fields of `struct ipcm_cookie` / `inet_sock`.
#[derive(Debug, Clone, Copy)]
pub struct IpSendParams {
    /// Source address, or `None` to let routing choose.
    pub src: Option<Ipv4Addr>,
    /// Destination.
    pub dst: Ipv4Addr,
    /// Protocol of the payload.
    pub protocol: IpProtocol,
    /// TTL, or `None` for the stack default.
    pub ttl: Option<u8>,
    /// Type of service.
    pub tos: u8,
    /// Set DF.
    pub dont_frag: bool,
}

/// Where a datagram leaves: the device, the next hop on it, and whether it is a link
/// broadcast. Linux: what `skb_dst(skb)` tells `ip_finish_output2`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NextHop {
    /// Output interface.
    pub ifindex: u32,
    /// Next hop to resolve on it.
    pub nexthop: Ipv4Addr,
    /// Send to the link broadcast address.
    pub broadcast: bool,
}

impl Stack {
    /// Send a locally generated datagram whose payload (transport header onwards) is `buf`'s
    /// data: route it, prepend the IPv4 header, and pass it down.
    /// Linux: `ip_build_and_send_pkt` / `ip_queue_xmit` → `ip_local_out`.
    pub(crate) fn ip_send(
        &mut self,
        buf: PacketBuf,
        p: IpSendParams,
        now: Instant,
    ) -> Result<(), Errno> {
        let rt = self.ip_route_output(p.dst, p.src);
        self.ip_send_routed(buf, p, rt, now)
    }

    /// [`Stack::ip_send`] with the route already looked up (a connected socket's cached
    /// one). Linux: `ip_queue_xmit` with `__sk_dst_check` finding `sk->sk_dst_cache` valid.
    pub(crate) fn ip_send_routed(
        &mut self,
        mut buf: PacketBuf,
        p: IpSendParams,
        rt: Result<super::route::OutputRoute, Errno>,
        now: Instant,
    ) -> Result<(), Errno> {
        self.ipv4.ip_stats.out_requests += 1;
        let mut rt = match rt {
            Ok(rt) => rt,
            Err(e) => {
                self.ipv4.ip_stats.out_no_routes += 1;
                self.drop_pkt(buf, DropReason::IpOutnoroutes);
                return Err(e);
            }
        };
        let payload_len = buf.len();
        let ident = self.ipv4.ip_select_ident();
        let repr = Ipv4Repr {
            src_addr: p.src.filter(|s| !s.is_unspecified()).unwrap_or(rt.src),
            dst_addr: p.dst,
            protocol: p.protocol,
            payload_len,
            ttl: p.ttl.unwrap_or(self.config.default_ttl),
            tos: p.tos,
            ident,
            // A locked path MTU (learnt, or the route's `mtu lock`) means routers must
            // fragment. Linux: ip_dont_fragment.
            dont_frag: p.dont_frag
                && !rt.metrics.mtu_locked()
                && !self.ipv4.ip_mtu_locked(p.dst, now),
        };
        match buf.push(HEADER_LEN) {
            Some(h) => repr.emit(h),
            None => {
                self.ipv4.ip_stats.out_discards += 1;
                self.drop_pkt(buf, DropReason::PktTooSmall);
                return Err(Errno::ENOBUFS);
            }
        }
        buf.reset_network_header();
        self.obs.trace_local_out(&mut buf, now);
        if self.nf.active {
            rt = match self.nf_local_out(buf, rt, now) {
                Ok((b, rt)) => {
                    buf = b;
                    rt
                }
                Err(e) => return Err(e),
            };
        }
        let hop = NextHop {
            ifindex: rt.ifindex,
            nexthop: rt.nexthop,
            broadcast: rt.broadcast,
        };
        self.ip_output(buf, hop, rt.metrics.mtu, now)
    }

    /// Put a datagram (network header at the data start) on a link towards `hop`,
    /// fragmenting it when it exceeds the device MTU, the route's `mtu` metric (`route_mtu`,
    /// 0 when unset) or, for our own datagrams, the path MTU.
    /// Linux: `ip_output` → `ip_finish_output` → `__ip_finish_output` (→ `ip_fragment`).
    pub(crate) fn ip_output(
        &mut self,
        mut buf: PacketBuf,
        hop: NextHop,
        route_mtu: u32,
        now: Instant,
    ) -> Result<(), Errno> {
        let ifindex = hop.ifindex;
        self.trace(&buf, Stage::IpOutput, Detail::None);
        if self.nf.active {
            let hook = crate::netfilter::Hook::PostRouting;
            buf = self.nf_hook(hook, buf, ifindex, now).ok_or(Errno::EPERM)?;
        }
        let Some(iface) = self.iface(ifindex) else {
            self.ipv4.ip_stats.out_discards += 1;
            self.drop_pkt(buf, DropReason::DevReady);
            return Err(Errno::ENODEV);
        };
        let mut mtu = match route_mtu {
            0 => iface.mtu,
            m => iface.mtu.min(m as usize),
        };
        if buf.len() >= HEADER_LEN {
            let p = Ipv4Packet::new_unchecked(buf.data());
            mtu = self
                .ipv4
                .ip_skb_dst_mtu(&self.dev, p.src_addr(), p.dst_addr(), mtu, now);
        }
        if buf.meta.gso_size > 0 {
            return self.ip_finish_output_gso(buf, hop, mtu, now);
        }
        if buf.len() > mtu {
            return self.ip_fragment(buf, hop, mtu, now);
        }
        self.ip_finish_output2(buf, hop, now)
    }

    /// Resolve the next hop's link address and hand the datagram to the device.
    /// Linux: `ip_finish_output2` → `neigh_output`.
    pub(crate) fn ip_finish_output2(
        &mut self,
        buf: PacketBuf,
        hop: NextHop,
        now: Instant,
    ) -> Result<(), Errno> {
        let NextHop {
            ifindex,
            nexthop,
            broadcast,
        } = hop;
        let Some(iface) = self.iface(ifindex) else {
            self.ipv4.ip_stats.out_discards += 1;
            self.drop_pkt(buf, DropReason::DevReady);
            return Err(Errno::ENODEV);
        };
        let kind = iface.kind;
        let broadcast = broadcast || nexthop.is_broadcast() || iface.is_subnet_broadcast(nexthop);
        if kind == LinkKind::Loopback {
            return self.neigh_xmit::<Ipv4Addr>(ifindex, EthernetAddress::ZERO, buf, now);
        }
        if broadcast {
            return self.neigh_xmit::<Ipv4Addr>(ifindex, EthernetAddress::BROADCAST, buf, now);
        }
        self.neigh_output(ifindex, nexthop, buf, now)
    }
}
