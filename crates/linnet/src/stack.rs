//! The protocol core: interfaces, their addresses and queues, and the entry points through
//! which the outside world drives the stack.
//!
//! The core is sans-I/O. It never reads a clock and never touches a device:
//!
//! ```text
//! stack.receive(ifindex, frame, now)   // a frame arrived on a device
//! stack.poll(now) -> next deadline     // run due timers, loop back, flush
//! stack.take_tx(ifindex, now)          // what the device should transmit, after its qdisc
//! ```
//!
//! Linux: `struct net` (one network namespace) with its devices, `netif_receive_skb`, and the
//! timers run from softirq context.

use crate::buf::{BufPool, PacketBuf};
use crate::device::loopback::LOOPBACK_MTU;
use crate::errno::Errno;
use crate::link::ethernet::eth_type_trans;
use crate::link::{NeighParams, NeighTable};
use crate::stats::{DropCounters, DropReason, IpStats, Snmp};
use crate::time::Instant;
use crate::wire::{EtherType, EthernetAddress, Ipv4Addr, Ipv4Cidr};

pub use crate::device::netns::{Interface, LinkInfo, LinkKind};
use std::time::Duration;

/// The loopback interface's index, as in Linux.
pub const LOOPBACK_IFINDEX: u32 = 1;

/// How many looped-back frames one poll processes before yielding.
const LOOPBACK_BUDGET: usize = 1024;

/// The next number of the splitmix64 generator whose state is `rng`.
pub(crate) fn splitmix64(rng: &mut u64) -> u64 {
    *rng = rng.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *rng;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Stack-wide settings (Linux: the `net.ipv4.*` sysctls).
#[derive(Debug, Clone)]
pub struct StackConfig {
    /// Seed for everything random (reachable time, ping identifiers): runs are reproducible.
    pub seed: u64,
    /// `ip_default_ttl` (64).
    pub default_ttl: u8,
    /// `icmp_echo_ignore_broadcasts` (1).
    pub icmp_echo_ignore_broadcasts: bool,
    /// `icmp_msgs_per_sec` (1000): global rate of ICMP errors.
    pub icmp_msgs_per_sec: u32,
    /// `icmp_msgs_burst` (50).
    pub icmp_msgs_burst: u32,
    /// `icmp_ratelimit` (1000 ms): per-destination interval between ICMP errors (bursts of
    /// six); zero disables the per-destination limit.
    pub icmp_ratelimit: Duration,
    /// `icmp_ratemask` (0x1818: destination unreachable, source quench, time exceeded,
    /// parameter problem): the ICMP types the per-destination limit applies to.
    pub icmp_ratemask: u32,
    /// `ip_forward` (off): forward datagrams not addressed to this host.
    pub ip_forward: bool,
    /// `net.ipv6.conf.default.disable_ipv6` (off): with it on, interfaces get no IPv6
    /// (no link-local address, DAD, router solicitation or MLD) and 0x86DD frames are
    /// dropped as an unhandled protocol.
    pub disable_ipv6: bool,
    /// Neighbour tunables.
    pub neigh: NeighParams,
    /// TCP tunables.
    pub tcp: crate::transport::tcp::TcpConfig,
    /// Reassembly tunables (`ipfrag_high_thresh`, `ipfrag_time`).
    pub ipfrag: crate::ip::reassembly::FragParams,
    /// Path MTU tunables (`route.mtu_expires`, `route.min_pmtu`).
    pub pmtu: crate::ip::pmtu::PmtuParams,
    /// IPv6 reassembly tunables (`net.ipv6.ip6frag_high_thresh`, `ip6frag_low_thresh`,
    /// `ip6frag_time`).
    pub ip6frag: crate::ipv6::reassembly::Ip6FragParams,
    /// IPv6 path MTU tunables (`net.ipv6.route.mtu_expires`).
    pub ip6_pmtu: crate::ipv6::pmtu::Ip6PmtuParams,
}

impl Default for StackConfig {
    fn default() -> Self {
        StackConfig {
            seed: 0x6c69_6e6e_6574,
            default_ttl: 64,
            icmp_echo_ignore_broadcasts: true,
            icmp_msgs_per_sec: 1000,
            icmp_msgs_burst: 50,
            icmp_ratelimit: Duration::from_millis(1000),
            icmp_ratemask: 0x1818,
            ip_forward: false,
            disable_ipv6: false,
            tcp: crate::transport::tcp::TcpConfig::default(),
            neigh: NeighParams::default(),
            ipfrag: crate::ip::reassembly::FragParams::IPV4,
            pmtu: crate::ip::pmtu::PmtuParams::default(),
            ip6frag: crate::ipv6::reassembly::Ip6FragParams::IPV6,
            ip6_pmtu: crate::ipv6::pmtu::Ip6PmtuParams::default(),
        }
    }
}

/// One network stack (Linux: one network namespace).
#[derive(Debug)]
pub struct Stack {
    pub(crate) config: StackConfig,
    /// Devices. Linux: `dev_base_head`, `loopback_dev`.
    pub(crate) dev: crate::device::netns::NetnsDev,
    /// IPv4. Linux: `net->ipv4`.
    pub(crate) ipv4: crate::ip::netns::NetnsIpv4,
    /// IPv6, with neighbour discovery's table. Linux: `net->ipv6`.
    pub(crate) ipv6: crate::ipv6::netns::NetnsIpv6,
    /// The ARP table. Linux: `arp_tbl`'s entries of this namespace.
    pub(crate) neigh: NeighTable,
    /// TCP. Linux: `net->ipv4.tcp_death_row`, `tcp_hashinfo`, `mib.tcp_statistics`.
    pub(crate) tcp: crate::transport::tcp::hash::TcpTables,
    /// UDP. Linux: `udp_table`, `mib.udp_statistics`.
    pub(crate) udp: crate::transport::udp::UdpTable,
    /// ICMP echo ("ping") sockets. Linux: `ping_table` (net/ipv4/ping.c).
    pub(crate) pings: crate::transport::ping::PingTable,
    /// Netfilter. Linux: `net->nf`, `net->ct`.
    pub(crate) nf: crate::netfilter::Netfilter,
    /// Tracing and packet capture taps.
    pub(crate) obs: crate::trace::Obs,
    pub(crate) sockets: crate::core::sock::SocketTable<crate::transport::Socket>,
    pub(crate) pending_wakers: Vec<std::task::Waker>,
    pub(crate) pool: BufPool,
    pub(crate) drops: DropCounters,
    pub(crate) rng: u64,
    /// Inside [`Stack::neigh_run_events`] for ARP (link/neigh_output.rs): re-entrant calls return at once.
    pub(crate) in_neigh_events: bool,
}

impl Default for Stack {
    fn default() -> Self {
        Stack::new(StackConfig::default())
    }
}

impl Stack {
    /// A stack with only the loopback interface (`lo`, 127.0.0.1/8, up).
    pub fn new(config: StackConfig) -> Stack {
        let mut s = Stack {
            neigh: NeighTable::new(config.neigh, config.seed),
            rng: config.seed ^ 0x5851_f42d_4c95_7f2d,
            dev: Default::default(),
            ipv4: crate::ip::netns::NetnsIpv4::new(
                config.seed,
                crate::ip::icmp_ratelimit::RateLimit::new(
                    config.icmp_msgs_per_sec,
                    config.icmp_msgs_burst,
                ),
                config.ipfrag,
                config.pmtu,
            ),
            ipv6: crate::ipv6::netns::NetnsIpv6::new(
                config.seed,
                config.neigh,
                config.ip6frag,
                config.ip6_pmtu,
            ),
            tcp: crate::transport::tcp::hash::TcpTables::new(config.seed),
            udp: Default::default(),
            pings: Default::default(),
            nf: Default::default(),
            obs: Default::default(),
            sockets: Default::default(),
            pending_wakers: Vec::new(),
            pool: BufPool::default(),
            drops: DropCounters::default(),
            in_neigh_events: false,
            config,
        };
        let lo = s.dev.register_netdevice(
            "lo",
            EthernetAddress::ZERO,
            LOOPBACK_MTU,
            LinkKind::Loopback,
        );
        debug_assert_eq!(lo, LOOPBACK_IFINDEX);
        // Linux: `ipv4_offload_init` → `tcpv4_offload_init`, `dev_add_offload`.
        crate::transport::offload::tcpv4_offload_init(&mut s.dev.offloads)
            .expect("a fresh table has no TCP handler");
        crate::ip::offload::ipv4_offload_init(&mut s.dev.offloads);
        s.ipv4
            .set_icmp_ratelimit(s.config.icmp_ratelimit, s.config.icmp_ratemask);
        let lo = Ipv4Cidr::new(Ipv4Addr::LOCALHOST, 8).expect("valid prefix");
        s.add_addr(LOOPBACK_IFINDEX, lo, Instant::ZERO)
            .expect("loopback address");
        s.addrconf_init_loopback();
        s
    }

    /// TCP settings, for sysctl-like changes (they apply to what happens next).
    pub fn tcp_config_mut(&mut self) -> &mut crate::transport::tcp::TcpConfig {
        &mut self.config.tcp
    }

    /// Whether IPv4 forwarding is on (`net.ipv4.ip_forward`).
    pub fn ip_forward_enabled(&self) -> bool {
        self.config.ip_forward
    }

    /// The configuration.
    pub fn config(&self) -> &StackConfig {
        &self.config
    }

    /// The configuration, for the sysctl table; [`Stack::sysctl_changed`] must follow a change.
    pub(crate) fn config_mut(&mut self) -> &mut StackConfig {
        &mut self.config
    }

    /// Hand a changed configuration to the layers that keep their own copy (neighbour
    /// table, reassembly, path MTU cache, the global ICMP rate limit), as a sysctl write
    /// takes effect at once in Linux.
    pub(crate) fn sysctl_changed(&mut self) {
        let c = &self.config;
        self.neigh.set_params(c.neigh);
        self.ipv4
            .set_sysctls(c.ipfrag, c.pmtu, c.icmp_msgs_per_sec, c.icmp_msgs_burst);
        self.ipv4
            .set_icmp_ratelimit(c.icmp_ratelimit, c.icmp_ratemask);
        let evicted = self.ipv6.set_sysctls(c.ip6frag, c.ip6_pmtu);
        self.drops.add(crate::stats::DropReason::Nomem, evicted);
    }

    /// The neighbour tunables in force (`net.ipv4.neigh.default.*`).
    pub fn neigh_params(&self) -> &NeighParams {
        self.neigh.params()
    }

    /// The neighbour table's current randomised reachable time.
    pub fn neigh_reachable_time(&self) -> Duration {
        self.neigh.reachable_time()
    }

    /// The reassembly tunables in force (`ipfrag_high_thresh`, `ipfrag_time`).
    pub fn frag_params(&self) -> &crate::ip::reassembly::FragParams {
        self.ipv4.frag_params()
    }

    /// The path MTU tunables in force (`route.mtu_expires`, `route.min_pmtu`).
    pub fn pmtu_params(&self) -> &crate::ip::pmtu::PmtuParams {
        self.ipv4.pmtu_params()
    }

    /// A pseudo-random number from the stack's seeded generator.
    pub(crate) fn random_u64(&mut self) -> u64 {
        splitmix64(&mut self.rng)
    }

    // ----- interfaces and addresses (the rtnetlink side) -----

    /// Register an Ethernet interface (down, no addresses) and return its index.
    /// Linux: `register_netdevice`.
    pub fn add_interface(&mut self, name: &str, mac: EthernetAddress, mtu: usize) -> u32 {
        let ifindex = self.dev.register_netdevice(name, mac, mtu, LinkKind::Ether);
        self.addrconf_register(ifindex, mac);
        ifindex
    }

    /// The interface with this index.
    /// Linux: `__dev_get_by_index`.
    #[inline]
    pub fn iface(&self, ifindex: u32) -> Option<&Interface> {
        self.dev.dev_get_by_index(ifindex)
    }

    #[inline]
    pub(crate) fn iface_mut(&mut self, ifindex: u32) -> Option<&mut Interface> {
        self.dev.dev_get_by_index_mut(ifindex)
    }

    /// The index of the interface with this name.
    pub fn ifindex_by_name(&self, name: &str) -> Option<u32> {
        self.dev.dev_get_by_name(name).map(|i| i.ifindex)
    }

    /// All interfaces, in index order.
    pub fn interfaces(&self) -> impl Iterator<Item = &Interface> {
        self.dev.for_each_netdev()
    }

    /// Snapshots of all interfaces.
    pub fn links(&self) -> Vec<LinkInfo> {
        self.dev.rtnl_dump_ifinfo()
    }

    /// Bring an interface up or down. Going up announces its addresses; going down flushes
    /// its neighbours and queue. Linux: `dev_open` / `dev_close` and `inetdev_event`.
    pub fn set_link_up(&mut self, ifindex: u32, up: bool, now: Instant) -> Result<(), Errno> {
        let iface = self.iface_mut(ifindex).ok_or(Errno::ENODEV)?;
        if iface.up == up {
            return Ok(());
        }
        iface.up = up;
        let addrs: Vec<Ipv4Addr> = iface.addrs.iter().map(|c| c.addr).collect();
        let queued = if up {
            Vec::new()
        } else {
            let mut q = iface.txq.reset();
            q.extend(iface.qdisc.reset());
            q
        };
        let kind = iface.kind;
        // Routes through the interface live or die with it.
        self.ipv4.rt_cache_flush();
        if up {
            if kind == LinkKind::Ether {
                for a in addrs {
                    self.arp_announce(ifindex, a, now);
                }
            }
        } else {
            for b in queued {
                self.pool.put(b);
            }
            self.neigh.flush_dev(ifindex);
            self.neigh_run_events::<Ipv4Addr>(now);
            self.nf.masq_device_event(ifindex);
        }
        self.addrconf_notify(ifindex, up, now);
        Ok(())
    }

    /// Add an address, its local, broadcast and connected routes, and announce it with a
    /// gratuitous ARP. Linux: `inet_rtm_newaddr` → `__inet_insert_ifa` → `fib_add_ifaddr`.
    pub fn add_addr(&mut self, ifindex: u32, cidr: Ipv4Cidr, now: Instant) -> Result<(), Errno> {
        let a = cidr.addr;
        if a.is_unspecified() || a.is_multicast() || a.is_broadcast() {
            return Err(Errno::EINVAL);
        }
        let iface = self.iface_mut(ifindex).ok_or(Errno::ENODEV)?;
        if iface.addrs.iter().any(|c| c.addr == a) {
            return Err(Errno::EADDRINUSE);
        }
        iface.addrs.push(cidr);
        let (up, kind) = (iface.up, iface.kind);
        self.ipv4.fib_add_ifaddr(&self.dev, ifindex, cidr);
        if up && kind == LinkKind::Ether {
            self.arp_announce(ifindex, a, now);
        }
        Ok(())
    }

    /// Remove an address and the routes it brought. Linux: `inet_rtm_deladdr` → `fib_del_ifaddr`.
    pub fn del_addr(&mut self, ifindex: u32, addr: Ipv4Addr) -> Result<(), Errno> {
        let iface = self.iface_mut(ifindex).ok_or(Errno::ENODEV)?;
        let pos = iface
            .addrs
            .iter()
            .position(|c| c.addr == addr)
            .ok_or(Errno::EADDRNOTAVAIL)?;
        let cidr = iface.addrs.remove(pos);
        self.ipv4.fib_del_ifaddr(&self.dev, ifindex, cidr);
        self.nf.masq_inet_event(addr);
        Ok(())
    }

    /// Whether `a` is one of our addresses (any interface, weak host model) or in 127/8.
    /// Linux: `inet_addr_type() == RTN_LOCAL`.
    #[inline]
    pub fn is_local_addr(&self, a: Ipv4Addr) -> bool {
        self.dev.is_local_addr(a)
    }

    /// Add a permanent neighbour entry (`ip neigh add ... nud permanent`).
    pub fn add_neighbour(
        &mut self,
        ifindex: u32,
        ip: Ipv4Addr,
        mac: EthernetAddress,
        now: Instant,
    ) -> Result<(), Errno> {
        self.iface(ifindex).ok_or(Errno::ENODEV)?;
        self.neigh.add_permanent(ifindex, ip, mac, now);
        self.neigh_run_events::<Ipv4Addr>(now);
        Ok(())
    }

    /// The neighbour table.
    pub fn neighbours(&self) -> &NeighTable {
        &self.neigh
    }

    // ----- counters -----

    /// All counters, for `netstat -s`.
    pub fn snmp(&self) -> Snmp {
        Snmp {
            ip: IpStats {
                forwarding: if self.config.ip_forward { 1 } else { 2 },
                ..self.ipv4.ip_stats
            },
            icmp: self.ipv4.icmp_stats,
            udp: self.udp.stats,
            tcp: self.tcp.stats,
            arp: self.neigh.stats,
            ip6: self.ipv6.snmp(),
            icmp6: self.ipv6.icmp6,
            udp6: self.udp.stats6,
            core: self.drops.core,
            drops: self.drops.to_vec(),
        }
    }

    /// Drop counters by reason.
    pub fn drops(&self) -> &DropCounters {
        &self.drops
    }

    pub(crate) fn count_drop(&mut self, reason: DropReason) {
        self.trace_cur(
            crate::trace::Stage::KfreeSkb,
            crate::trace::Detail::Drop(reason),
        );
        self.drops.count(reason);
    }

    /// Count a dropped packet and recycle its buffer. Linux: `kfree_skb_reason`.
    pub(crate) fn drop_pkt(&mut self, buf: PacketBuf, reason: DropReason) {
        self.trace(
            &buf,
            crate::trace::Stage::KfreeSkb,
            crate::trace::Detail::Drop(reason),
        );
        self.drops.count(reason);
        self.pool.put(buf);
    }

    // ----- buffers -----

    /// The buffer pool (drivers read received frames into its buffers).
    pub fn pool_mut(&mut self) -> &mut BufPool {
        &mut self.pool
    }

    /// Give a transmitted buffer back to the pool.
    pub fn recycle(&mut self, buf: PacketBuf) {
        self.pool.put(buf);
    }

    // ----- the driving entry points -----

    /// A frame arrived on `ifindex`. Linux: `netif_receive_skb` → `__netif_receive_skb_core`
    /// → the protocol handler for its EtherType.
    pub fn receive(&mut self, ifindex: u32, mut buf: PacketBuf, now: Instant) {
        buf.meta.ifindex = ifindex;
        buf.meta.timestamp = now;
        buf.meta.sk = None;
        if self.obs.capture.on() || self.obs.trace.on() {
            self.obs.netif_rx_taps(&mut buf, now);
        }
        let Some(iface) = self.iface(ifindex) else {
            self.drops.core.rx_dropped += 1;
            return self.drop_pkt(buf, DropReason::DevReady);
        };
        if !iface.up {
            self.drops.core.rx_dropped += 1;
            return self.drop_pkt(buf, DropReason::DevReady);
        }
        let mac = iface.mac;
        if let Err(reason) = eth_type_trans(&mut buf, mac) {
            self.drops.core.rx_dropped += 1;
            return self.drop_pkt(buf, reason);
        }
        self.trace(
            &buf,
            crate::trace::Stage::EthTypeTrans,
            crate::trace::Detail::None,
        );
        if buf.meta.pkt_type == crate::buf::PacketType::OtherHost {
            return self.drop_pkt(buf, DropReason::OtherHost);
        }
        match EtherType(buf.meta.protocol) {
            EtherType::IPV4 => self.ip_rcv(buf, now),
            EtherType::ARP => self.arp_rcv(buf, now),
            EtherType::IPV6 => self.ipv6_rcv(buf, now),
            _ => self.drop_pkt(buf, DropReason::UnhandledProto),
        }
    }

    /// Run what is due at `now`: loop back frames sent to ourselves, neighbour, TCP and
    /// fragment-queue timers.
    /// Returns when it next needs to run (`None`: only when something arrives).
    pub fn poll(&mut self, now: Instant) -> Option<Instant> {
        let mut budget = LOOPBACK_BUDGET;
        while budget > 0 {
            let Some(buf) = self.dev.loopback_dequeue() else {
                break;
            };
            budget -= 1;
            self.receive(LOOPBACK_IFINDEX, buf, now);
        }
        // The receive batch is over: the ACKs it deferred go out.
        self.tcp_flush_deferred_acks(now);
        let mut next = self.neigh.poll(now);
        self.neigh_run_events::<Ipv4Addr>(now);
        if let Some(t) = self.tcp_timers_run(now) {
            next = Some(next.map_or(t, |n: Instant| n.min(t)));
        }
        if let Some(t) = self.ip_expire(now) {
            next = Some(next.map_or(t, |n: Instant| n.min(t)));
        }
        if let Some(t) = self.ipv6_poll(now) {
            next = Some(next.map_or(t, |n: Instant| n.min(t)));
        }
        if self.dev.loopback_pending() > 0 {
            next = Some(now);
        }
        if let Some(t) = self.dev.qdisc_next_deadline() {
            next = Some(next.map_or(t, |n| n.min(t)));
        }
        next
    }

    /// Whether frames wait in a qdisc or the loopback backlog (the caller should run
    /// [`Stack::poll`] and drain [`Stack::take_tx`] now).
    pub fn has_pending_tx(&self) -> bool {
        self.dev.loopback_pending() > 0
            || !self.tcp.ack_deferred.is_empty()
            || self.dev.for_each_netdev().any(|i| {
                // A stopped queue waits for its driver, not for the stack.
                !i.txq.stopped()
                    && (i.txq.requeued() > 0
                        || (!i.qdisc.is_empty() && i.qdisc.next_deadline().is_none()))
            })
    }

    /// When a qdisc that holds packets back (shaping, delay) releases the next one; drivers
    /// fold it into their sleep after draining [`Stack::take_tx`]. Linux: `qdisc_watchdog`.
    pub fn tx_deadline(&self) -> Option<Instant> {
        self.dev.qdisc_next_deadline()
    }

    /// The next frame `ifindex` should transmit. ACKs deferred to the end of a receive batch
    /// are sent first, so a caller that receives and transmits without polling sees them.
    /// Linux: `qdisc_restart` → `dequeue_skb`.
    pub fn take_tx(&mut self, ifindex: u32, now: Instant) -> Option<PacketBuf> {
        self.tcp_flush_deferred_acks(now);
        match self.txq_take_requeued(ifindex, now) {
            // Stopped by its driver ([`Stack::dev_requeue_skb`]): nothing leaves.
            Err(()) => return None,
            // Refused before and already seen by the taps: retried first.
            Ok(Some(b)) => return Some(b),
            Ok(None) => {}
        }
        let buf = self.iface_mut(ifindex)?.qdisc.dequeue(now);
        self.qdisc_dequeued(ifindex, buf.as_ref(), now);
        if let Some(b) = &buf {
            self.obs.dev_tx_taps(ifindex, b, now);
        }
        buf
    }

    /// Queue a frame (link header at the data start) on a device's qdisc; on the loopback
    /// device it goes to the loopback backlog. Linux: `dev_queue_xmit` / `loopback_xmit`.
    pub(crate) fn dev_queue_xmit(
        &mut self,
        ifindex: u32,
        mut buf: PacketBuf,
        now: Instant,
    ) -> Result<(), Errno> {
        buf = match self.validate_xmit_skb(ifindex, buf, now) {
            crate::device::xmit::XmitCheck::Ready(b) => b,
            crate::device::xmit::XmitCheck::Done(res) => return res,
        };
        buf.meta.ifindex = ifindex;
        buf.meta.timestamp = now;
        self.trace_dev_queue_xmit(&buf);
        let Some(iface) = self.iface_mut(ifindex) else {
            self.drops.core.tx_dropped += 1;
            self.drop_pkt(buf, DropReason::DevReady);
            return Err(Errno::ENODEV);
        };
        if !iface.up {
            self.drops.core.tx_dropped += 1;
            self.drop_pkt(buf, DropReason::DevReady);
            return Err(Errno::ENETDOWN);
        }
        let (sk, len, lo) = (buf.meta.sk, buf.len(), iface.kind == LinkKind::Loopback);
        let ours = buf.data().as_ptr() as usize;
        let res = if lo {
            self.dev.loopback_xmit(buf)
        } else {
            iface.qdisc.enqueue(buf, now)
        };
        match res {
            Ok(()) => {
                if !lo {
                    self.tsq_charge(sk, ifindex, len);
                }
                Ok(())
            }
            Err(buf) if !lo && buf.data().as_ptr() as usize != ours => {
                // Ours was queued and another dropped to make room (fq_codel's drop of the
                // fattest flow). Linux: `NET_XMIT_CN`.
                self.tsq_charge(sk, ifindex, len);
                self.tsq_uncharge(&buf);
                self.drop_pkt(buf, DropReason::QdiscDrop);
                Ok(())
            }
            Err(buf) => {
                self.drop_pkt(buf, DropReason::QdiscDrop);
                Err(Errno::ENOBUFS)
            }
        }
    }

    /// How long the stack may sleep from `now` before `deadline`, capped at `max`.
    pub fn delay_until(now: Instant, deadline: Option<Instant>, max: Duration) -> Duration {
        deadline.map_or(max, |d| d.saturating_since(now).min(max))
    }
}
