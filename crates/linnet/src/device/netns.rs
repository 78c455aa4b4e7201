//! The device side of a network namespace: its interfaces, the loopback device, and the
//! receive/transmit offload state (GRO trains, GSO scratch).
//!
//! Linux: `net->dev_base_head`, `net->loopback_dev`, and the per-CPU `napi_struct.gro_hash`;
//! [`Interface`] is `struct net_device` with its `struct in_device`.

use crate::buf::{PacketBuf, DEFAULT_BUF_SIZE, MAX_HEADER};
use crate::device::gro::GroList;
use crate::device::loopback::Loopback;
use crate::device::DeviceStats;
use crate::errno::Errno;
use crate::qdisc::{PfifoFast, Qdisc, QdiscStats};
use crate::wire::ethernet::HEADER_LEN as ETH_HLEN;
use crate::wire::{EthernetAddress, Ipv4Addr, Ipv4Cidr};
use serde::{Deserialize, Serialize};

/// Smallest IPv4 MTU (RFC 791: every host must take 68-byte datagrams). Linux: `IPV4_MIN_MTU`.
pub const MIN_MTU: usize = 68;
/// Largest MTU a pool buffer can carry with its link header.
pub const MAX_MTU: usize = DEFAULT_BUF_SIZE - MAX_HEADER;

/// What kind of link an interface is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LinkKind {
    /// The loopback device (handled inside the core).
    Loopback,
    /// An Ethernet link served by a driver in the runtime.
    Ether,
}

/// An interface. Linux: `struct net_device` + `struct in_device`.
#[derive(Debug)]
pub struct Interface {
    /// Index (`ip link` numbers them from 1, loopback first).
    pub ifindex: u32,
    /// Name.
    pub name: String,
    /// Link address.
    pub mac: EthernetAddress,
    /// MTU.
    pub mtu: usize,
    /// Administratively up.
    pub up: bool,
    /// Kind.
    pub kind: LinkKind,
    /// IPv4 addresses; the first on each subnet is its primary.
    pub addrs: Vec<Ipv4Cidr>,
    /// The root egress qdisc.
    pub qdisc: Box<dyn Qdisc>,
    /// Its handle (0 for the default `pfifo_fast` nobody named).
    pub qdisc_handle: u32,
    /// Driver counters, reported by the runtime (the core's own for loopback).
    pub dev_stats: DeviceStats,
    /// What the driver offloads (TSO, checksums); set by the runtime.
    pub features: crate::device::features::NetdevFeatures,
    /// The driver's queue state: stopped while the device is full, with the frames it
    /// refused. Linux: `dev->_tx`.
    pub txq: crate::device::txq::TxQueue,
}

impl Interface {
    /// The address to use as source towards `dst`: ours on its subnet, else the first.
    /// Linux: `inet_select_addr`.
    pub fn source_for(&self, dst: Ipv4Addr) -> Option<Ipv4Addr> {
        self.addrs
            .iter()
            .find(|c| c.contains(dst))
            .or_else(|| self.addrs.first())
            .map(|c| c.addr)
    }

    /// Whether `a` is a broadcast address on this interface's subnets.
    pub fn is_subnet_broadcast(&self, a: Ipv4Addr) -> bool {
        self.addrs.iter().any(|c| c.broadcast() == Some(a))
    }
}

/// A snapshot of an interface, for `ip link` / `ip addr`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkInfo {
    /// Index.
    pub ifindex: u32,
    /// Name.
    pub name: String,
    /// Link address.
    pub mac: EthernetAddress,
    /// MTU.
    pub mtu: usize,
    /// Up.
    pub up: bool,
    /// Kind.
    pub kind: LinkKind,
    /// Addresses.
    pub addrs: Vec<Ipv4Cidr>,
    /// Driver counters.
    pub stats: DeviceStats,
    /// Root qdisc kind.
    pub qdisc: String,
    /// Root qdisc counters.
    pub qdisc_stats: QdiscStats,
}

/// Devices of one stack.
#[derive(Debug, Default)]
pub(crate) struct NetnsDev {
    /// Interfaces, in index order. Linux: `dev_base_head`, `dev_index_head`.
    ifaces: Vec<Interface>,
    /// The loopback device's backlog and counters. Linux: `loopback_dev`.
    loopback: Loopback,
    /// Trains held by GRO during one receive batch (Linux: `napi_struct.gro_hash`).
    pub(super) gro: GroList,
    /// Segments of one GSO super-packet, reused between calls.
    pub(crate) gso_scratch: Vec<PacketBuf>,
    /// The protocols' offload handlers, registered when the stack is built.
    /// Linux: `offload_base`, `inet_offloads`.
    pub(crate) offloads: crate::device::offload::Offloads,
}

impl NetnsDev {
    /// An index no interface has yet (one past the highest). Linux: `dev_new_index`.
    fn dev_new_index(&self) -> u32 {
        self.ifaces.iter().map(|i| i.ifindex).max().unwrap_or(0) + 1
    }

    /// Register an interface with the next free index, no addresses and the default
    /// `pfifo_fast` qdisc; only loopback starts up. Returns its index.
    /// Linux: `register_netdevice` (→ `dev_new_index`, `list_netdevice`).
    pub(crate) fn register_netdevice(
        &mut self,
        name: &str,
        mac: EthernetAddress,
        mtu: usize,
        kind: LinkKind,
    ) -> u32 {
        let ifindex = self.dev_new_index();
        self.ifaces.push(Interface {
            ifindex,
            name: name.to_string(),
            mac,
            mtu,
            up: kind == LinkKind::Loopback,
            kind,
            addrs: Vec::new(),
            qdisc: Box::new(PfifoFast::default()),
            qdisc_handle: 0,
            dev_stats: DeviceStats::default(),
            features: Default::default(),
            txq: Default::default(),
        });
        ifindex
    }

    /// Snapshots of all interfaces (loopback shows its own counters and `noqueue`).
    /// Linux: `rtnl_dump_ifinfo`.
    pub(crate) fn rtnl_dump_ifinfo(&self) -> Vec<LinkInfo> {
        self.ifaces
            .iter()
            .map(|i| LinkInfo {
                ifindex: i.ifindex,
                name: i.name.clone(),
                mac: i.mac,
                mtu: i.mtu,
                up: i.up,
                kind: i.kind,
                addrs: i.addrs.clone(),
                stats: if i.kind == LinkKind::Loopback {
                    self.loopback.stats()
                } else {
                    i.dev_stats
                },
                qdisc: if i.kind == LinkKind::Loopback {
                    "noqueue".to_string()
                } else {
                    i.qdisc.kind().to_string()
                },
                qdisc_stats: i.qdisc.stats(),
            })
            .collect()
    }

    /// The interface with this index. Linux: `__dev_get_by_index`.
    #[inline]
    pub(crate) fn dev_get_by_index(&self, ifindex: u32) -> Option<&Interface> {
        // Indices are handed out in order and interfaces never go away, so the interface is
        // normally at `ifindex - 1`: one compare instead of a walk on every packet.
        match self.ifaces.get((ifindex as usize).wrapping_sub(1)) {
            Some(i) if i.ifindex == ifindex => Some(i),
            _ => self.ifaces.iter().find(|i| i.ifindex == ifindex),
        }
    }

    /// The interface with this index, to change it.
    #[inline]
    pub(crate) fn dev_get_by_index_mut(&mut self, ifindex: u32) -> Option<&mut Interface> {
        let pos = (ifindex as usize).wrapping_sub(1);
        if self.ifaces.get(pos).is_some_and(|i| i.ifindex == ifindex) {
            return self.ifaces.get_mut(pos);
        }
        self.ifaces.iter_mut().find(|i| i.ifindex == ifindex)
    }

    /// The interface with this name. Linux: `__dev_get_by_name`.
    pub(crate) fn dev_get_by_name(&self, name: &str) -> Option<&Interface> {
        self.ifaces.iter().find(|i| i.name == name)
    }

    /// The name of the interface with this index, `""` if there is none (netfilter's
    /// `-i`/`-o` matches compare it). Linux: `dev->name` through `xt_in(par)`.
    #[inline]
    pub(crate) fn dev_name(&self, ifindex: u32) -> &str {
        self.dev_get_by_index(ifindex)
            .map_or("", |i| i.name.as_str())
    }

    /// Every interface, in index order. Linux: `for_each_netdev`.
    #[inline]
    pub(crate) fn for_each_netdev(&self) -> std::slice::Iter<'_, Interface> {
        self.ifaces.iter()
    }

    /// The source address towards `dst` out of `ifindex`: ours on its subnet, else the
    /// interface's first. Linux: `inet_select_addr`.
    #[inline]
    pub(crate) fn inet_select_addr(&self, ifindex: u32, dst: Ipv4Addr) -> Option<Ipv4Addr> {
        self.dev_get_by_index(ifindex)?.source_for(dst)
    }

    /// Put a frame on the loopback device's backlog; it comes back as received from
    /// [`NetnsDev::loopback_dequeue`]. Linux: `loopback_xmit` → `netif_rx`.
    #[inline]
    pub(crate) fn loopback_xmit(&mut self, buf: PacketBuf) -> Result<(), PacketBuf> {
        self.loopback.xmit(buf)
    }

    /// The next frame looped back, to receive. Linux: `process_backlog`.
    #[inline]
    pub(crate) fn loopback_dequeue(&mut self) -> Option<PacketBuf> {
        self.loopback.recv()
    }

    /// How many frames wait on the loopback backlog.
    #[inline]
    pub(crate) fn loopback_pending(&self) -> usize {
        self.loopback.pending()
    }

    /// When the first qdisc that holds packets back (shaping, delay) releases one.
    /// Linux: the earliest `qdisc_watchdog`.
    pub(crate) fn qdisc_next_deadline(&self) -> Option<crate::time::Instant> {
        self.ifaces
            .iter()
            .filter_map(|i| i.qdisc.next_deadline())
            .min()
    }

    /// Whether `a` is one of our addresses (any interface, weak host model) or in 127/8.
    /// Linux: `inet_addr_type() == RTN_LOCAL`.
    pub(crate) fn is_local_addr(&self, a: Ipv4Addr) -> bool {
        a.is_loopback()
            || self
                .ifaces
                .iter()
                .any(|i| i.addrs.iter().any(|c| c.addr == a))
    }

    /// Whether `a` is a broadcast address we accept (limited, or a subnet's).
    pub(crate) fn is_broadcast_addr(&self, a: Ipv4Addr) -> bool {
        a.is_broadcast() || self.ifaces.iter().any(|i| i.is_subnet_broadcast(a))
    }

    /// Record the driver's counters for an interface (called by the runtime).
    pub(crate) fn set_device_stats(&mut self, ifindex: u32, stats: DeviceStats) {
        if let Some(i) = self.dev_get_by_index_mut(ifindex) {
            i.dev_stats = stats;
        }
    }

    /// Whether ARP answers for `a`: with `arp_ignore = 0` (Linux's default), any local
    /// address but loopback's, whatever interface it is on (the weak host model). Linux:
    /// `arp_process` (the target `RTN_LOCAL`, `arp_ignore` 0 replying for it).
    pub(crate) fn arp_addr_is_local(&self, a: Ipv4Addr) -> bool {
        !a.is_loopback() && self.is_local_addr(a)
    }

    /// Interface names by index, to resolve records with [`crate::trace::TraceLine::new`] away from the
    /// stack (the daemon renders them after releasing the stack's lock).
    pub(crate) fn ifnames(&self) -> Vec<(u32, String)> {
        self.for_each_netdev()
            .map(|i| (i.ifindex, i.name.clone()))
            .collect()
    }

    /// Change an interface's MTU. Linux: `dev_set_mtu` (EINVAL outside the device's range).
    pub(crate) fn set_mtu(&mut self, ifindex: u32, mtu: usize) -> Result<(), Errno> {
        if !(MIN_MTU..=MAX_MTU).contains(&mtu) {
            return Err(Errno::EINVAL);
        }
        let iface = self.dev_get_by_index_mut(ifindex).ok_or(Errno::ENODEV)?;
        iface.mtu = mtu;
        debug_assert!(mtu + ETH_HLEN <= DEFAULT_BUF_SIZE);
        Ok(())
    }

    /// Could `mac` become `ifindex`'s link address? (Unicast, not zero, not on loopback.)
    /// Linux: `eth_prepare_mac_addr_change` / `dev_pre_changeaddr_notify`.
    pub(crate) fn check_mac(
        &self,
        ifindex: u32,
        mac: crate::wire::EthernetAddress,
    ) -> Result<(), Errno> {
        if !mac.is_unicast() || mac.0 == [0; 6] {
            return Err(Errno::EINVAL);
        }
        let iface = self.dev_get_by_index(ifindex).ok_or(Errno::ENODEV)?;
        if iface.kind == LinkKind::Loopback {
            return Err(Errno::EOPNOTSUPP);
        }
        Ok(())
    }
}
