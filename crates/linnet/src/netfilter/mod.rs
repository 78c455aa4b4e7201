//! Netfilter: the five IPv4 hooks, the filter and nat tables walked from them, connection
//! tracking and NAT.
//!
//! Linux: net/netfilter/core.c (`nf_hook_slow`), net/ipv4/netfilter/ip_tables.c,
//! iptable_filter.c, iptable_nat.c, nf_conntrack_*.c, nf_nat_*.c, nf_defrag_ipv4.c,
//! ipt_REJECT.c / nf_reject_ipv4.c.
//!
//! The hooks sit where Linux has them:
//!
//! ```text
//! ip_rcv ── PRE_ROUTING ── route ──┬── ip_local_deliver (defrag) ── LOCAL_IN ── protocol
//!                                  └── ip_forward (TTL, MTU) ── FORWARD ── ip_output
//! ip_send (header built) ── LOCAL_OUT ── (re-route if DNAT moved it) ── ip_output
//! ip_output ── POST_ROUTING ── fragment ── neighbour
//! ```
//!
//! Each hook runs, in Linux's priority order: conntrack (PRE_ROUTING, LOCAL_OUT), destination
//! NAT (PRE_ROUTING, LOCAL_OUT), the filter table (LOCAL_IN, FORWARD, LOCAL_OUT), source NAT
//! (POST_ROUTING, LOCAL_IN) and conntrack confirmation (POST_ROUTING, LOCAL_IN).
//!
//! Cost when unused: each hook site tests one `bool` ([`Netfilter::is_active`]), true only
//! while some table has a rule (or a DROP policy) or conntrack is needed (a nat rule, a
//! `--ctstate` match, or connections still tracked).
//!
//! Fragments: while conntrack is active, PRE_ROUTING reassembles fragments before tracking
//! them, as `nf_defrag_ipv4` does; a forwarded datagram is then sent on whole, and
//! `ip_output` fragments it again if it exceeds the output MTU.

pub mod change;
pub mod conntrack;
pub mod matches;
pub(crate) mod nat;
pub mod table;
pub mod targets;

use crate::buf::PacketBuf;
use crate::device::netns::NetnsDev;
use crate::stack::Stack;
use crate::stats::DropReason;
use crate::time::Instant;
use crate::wire::tcp::{SeqNumber, TcpFlags, TcpPacket};
use crate::wire::Ipv4Addr;
use conntrack::{Conntrack, CtError, CtInfo, CtRef};
use matches::{ctstate, proto, MatchCtx, PktInfo};
use nat::{ManipType, NatAction};
use std::collections::VecDeque;
use table::{Table, TableId, TableVerdict};
use targets::{NatRange, RejectWith};

/// The IPv4 hooks. Linux: `enum nf_inet_hooks`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Hook {
    /// Every received datagram, before routing.
    PreRouting,
    /// Datagrams for this host, after reassembly.
    LocalIn,
    /// Datagrams routed through this host.
    Forward,
    /// Locally generated datagrams, before they leave.
    LocalOut,
    /// Every datagram about to leave, before fragmentation.
    PostRouting,
}

impl Hook {
    /// The built-in chain name of the hook.
    pub fn chain_name(self) -> &'static str {
        match self {
            Hook::PreRouting => "PREROUTING",
            Hook::LocalIn => "INPUT",
            Hook::Forward => "FORWARD",
            Hook::LocalOut => "OUTPUT",
            Hook::PostRouting => "POSTROUTING",
        }
    }

    /// Which NAT manipulation a hook does. Linux: `HOOK2MANIP`.
    pub fn manip(self) -> ManipType {
        match self {
            Hook::PreRouting | Hook::LocalOut => ManipType::Dst,
            _ => ManipType::Src,
        }
    }
}

/// An error from an iptables command, worded like iptables's own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NfError {
    /// The message.
    pub message: String,
    /// iptables's exit status for it (1: other problem, 2: parameter problem).
    pub status: u8,
}

impl NfError {
    /// An error with exit status 1.
    pub fn new(message: impl Into<String>) -> NfError {
        NfError {
            message: message.into(),
            status: 1,
        }
    }

    /// A parameter problem (exit status 2), with iptables's hint line.
    pub fn param(message: impl Into<String>) -> NfError {
        NfError {
            message: format!(
                "iptables v1.8.9 (linnet): {}\nTry `iptables -h' or 'iptables --help' for more information.",
                message.into()
            ),
            status: 2,
        }
    }
}

impl NfError {
    /// The tables changed since the change was made against them: read them and try again.
    /// (iptables's exit status 4, resource problem.)
    pub fn again() -> NfError {
        NfError {
            message: "iptables: Resource temporarily unavailable.".into(),
            status: 4,
        }
    }

    /// Whether this is [`NfError::again`].
    pub fn is_again(&self) -> bool {
        *self == NfError::again()
    }
}

impl std::fmt::Display for NfError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for NfError {}

/// Lines LOG kept for inspection (besides `tracing`).
pub const LOG_KEEP: usize = 64;

/// Where LOG writes: through `tracing` (the daemon's log), keeping the last
/// [`LOG_KEEP`] lines. Linux: `nf_log_packet` to the kernel log.
#[derive(Debug, Default)]
pub struct NfLog {
    lines: VecDeque<String>,
    /// Lines logged in all.
    pub count: u64,
}

impl NfLog {
    /// Log one line at a syslog level (0 emerg .. 7 debug).
    pub fn log(&mut self, level: u8, line: String) {
        match level {
            0..=3 => tracing::error!(target: "linnet::netfilter", "{line}"),
            4 => tracing::warn!(target: "linnet::netfilter", "{line}"),
            5 | 6 => tracing::info!(target: "linnet::netfilter", "{line}"),
            _ => tracing::debug!(target: "linnet::netfilter", "{line}"),
        }
        if self.lines.len() == LOG_KEEP {
            self.lines.pop_front();
        }
        self.lines.push_back(line);
        self.count += 1;
    }

    /// The lines kept, oldest first.
    pub fn lines(&self) -> impl Iterator<Item = &str> {
        self.lines.iter().map(|s| s.as_str())
    }
}

/// A stack's netfilter state: tables, conntrack, and whether the hooks have work to do.
#[derive(Debug)]
pub struct Netfilter {
    /// The filter table.
    pub(crate) filter: Table,
    /// The nat table.
    pub(crate) nat: Table,
    /// Connection tracking.
    pub(crate) ct: Conntrack,
    /// LOG output.
    pub(crate) log: NfLog,
    /// Some hook has work: the one test each hook site makes.
    pub(crate) active: bool,
    /// Bumped by every change to the tables.
    pub(crate) gen: u64,
    filter_active: bool,
    rules_need_ct: bool,
    ct_active: bool,
}

impl Default for Netfilter {
    fn default() -> Self {
        Netfilter {
            filter: Table::new(TableId::Filter),
            nat: Table::new(TableId::Nat),
            ct: Conntrack::default(),
            log: NfLog::default(),
            active: false,
            gen: 0,
            filter_active: false,
            rules_need_ct: false,
            ct_active: false,
        }
    }
}

impl Netfilter {
    /// A table.
    pub fn table(&self, id: TableId) -> &Table {
        match id {
            TableId::Filter => &self.filter,
            TableId::Nat => &self.nat,
        }
    }

    /// A table, for changes; call [`Netfilter::refresh`] after.
    pub(crate) fn table_mut(&mut self, id: TableId) -> &mut Table {
        match id {
            TableId::Filter => &mut self.filter,
            TableId::Nat => &mut self.nat,
        }
    }

    /// Recompute which hooks have work after the tables or conntrack changed.
    pub(crate) fn refresh(&mut self) {
        self.filter.compile();
        self.nat.compile();
        self.filter_active = self.filter.is_active();
        self.rules_need_ct = self.filter.needs_conntrack() || self.nat.needs_conntrack();
        self.refresh_ct();
    }

    fn refresh_ct(&mut self) {
        self.ct_active = self.rules_need_ct || !self.ct.is_empty();
        self.active = self.filter_active || self.ct_active;
    }

    /// How many times the tables were changed: a change made against a copy of them names
    /// the generation it was read at ([`Stack::nf_change`]).
    pub fn generation(&self) -> u64 {
        self.gen
    }

    /// Whether any hook has work (false: every hook is a single branch).
    pub fn is_active(&self) -> bool {
        self.active
    }

    /// Whether connection tracking runs.
    pub fn conntrack_active(&self) -> bool {
        self.ct_active
    }

    /// The connection table.
    pub fn conntrack(&self) -> &Conntrack {
        &self.ct
    }

    /// The connection table, to set its bound or timeouts.
    pub fn conntrack_mut(&mut self) -> &mut Conntrack {
        &mut self.ct
    }

    /// LOG output.
    pub fn log(&self) -> &NfLog {
        &self.log
    }

    /// A dropped packet takes its not yet confirmed connection with it.
    fn nf_forget_unconfirmed(&mut self, r: Option<CtRef>) {
        if let Some(r) = r {
            if self.ct.get(r).is_some_and(|c| !c.confirmed) {
                self.ct.remove(r.slot);
                self.refresh_ct();
            }
        }
    }

    /// A device went down: forget the connections masqueraded through it, whose address
    /// may not come back. Linux: `masq_device_event` (nf_nat_masquerade.c).
    pub(crate) fn masq_device_event(&mut self, ifindex: u32) {
        if self.ct.is_empty() {
            return;
        }
        self.ct.remove_if(|c| c.masq_ifindex == ifindex);
        self.refresh_ct();
    }

    /// An address was removed: forget the connections masqueraded to it.
    /// Linux: `masq_inet_event` (nf_nat_masquerade.c).
    pub(crate) fn masq_inet_event(&mut self, addr: Ipv4Addr) {
        if self.ct.is_empty() {
            return;
        }
        self.ct
            .remove_if(|c| c.masq_ifindex != 0 && c.tuple[1].dst == addr);
        self.refresh_ct();
    }

    /// The packet's conntrack state bit for `--ctstate`.
    #[inline]
    fn nf_ctstate(&self, buf: &PacketBuf) -> u8 {
        CtRef::decode(buf.meta.nfct)
            .filter(|r| self.ct.get(*r).is_some())
            .map_or(ctstate::INVALID, |r| r.state_bit())
    }
}

/// What a hook decided.
enum HookVerdict {
    Accept,
    Drop(DropReason),
    Reject(RejectWith),
}

/// The range a NAT target stands for, with interface addresses filled in.
/// Linux: `masquerade_tg` (`inet_select_addr` on the output device) and `redirect_tg`
/// (the input device's primary address, or loopback from OUTPUT).
fn nat_range(
    dev: &NetnsDev,
    a: NatAction,
    p: &PktInfo,
    hook: Hook,
    in_if: u32,
    out_if: u32,
) -> Option<NatRange> {
    let one = |ip: Ipv4Addr, ports| NatRange {
        min_ip: ip,
        max_ip: ip,
        ports,
    };
    match a {
        NatAction::Snat(r) | NatAction::Dnat(r) => Some(r),
        NatAction::Masquerade(ports) => {
            let ip = dev.inet_select_addr(out_if, p.dst)?;
            Some(one(ip, ports))
        }
        NatAction::Redirect(ports) => {
            let ip = if hook == Hook::LocalOut {
                Ipv4Addr::LOCALHOST
            } else {
                dev.dev_get_by_index(in_if)?.addrs.first()?.addr
            };
            // REDIRECT without ports keeps the destination port.
            Some(one(ip, ports))
        }
    }
}

impl Stack {
    /// Netfilter state (tables, conntrack).
    pub fn netfilter(&self) -> &Netfilter {
        &self.nf
    }

    /// Netfilter state, for conntrack tunables.
    pub fn netfilter_mut(&mut self) -> &mut Netfilter {
        &mut self.nf
    }

    /// Tracked connections, for `conntrack -L`.
    pub fn conntrack_list(&self, now: Instant) -> Vec<conntrack::CtEntryInfo> {
        self.nf.ct.list(now)
    }

    /// Run the functions registered at `hook` on a datagram (data at its IPv4 header):
    /// conntrack, NAT, the filter table. Returns the datagram to continue with (reassembled
    /// or rewritten), or `None` when it was dropped (counted, REJECT answered) or held for
    /// reassembly. Call only when [`Netfilter::active`]. Linux: `NF_HOOK` → `nf_hook_slow`.
    pub(crate) fn nf_hook(
        &mut self,
        hook: Hook,
        mut buf: PacketBuf,
        out_if: u32,
        now: Instant,
    ) -> Option<PacketBuf> {
        let in_if = match hook {
            Hook::PreRouting | Hook::LocalIn | Hook::Forward => buf.meta.ifindex,
            _ => 0,
        };
        if self.nf.ct_active && matches!(hook, Hook::PreRouting | Hook::LocalOut) {
            if hook == Hook::PreRouting
                && crate::wire::Ipv4Packet::new_unchecked(buf.data()).is_fragment()
            {
                // Linux: nf_defrag_ipv4 (ipv4_conntrack_defrag).
                buf = self.ip_defrag(buf, now)?;
                buf.reset_network_header();
            }
            buf.meta.nfct = 0;
            if let Some(p) = PktInfo::parse(buf.data()) {
                match self.nf.ct.nf_conntrack_in(&p, buf.data(), now) {
                    Ok(r) => buf.meta.nfct = r.encode(),
                    Err(CtError::Invalid) => {}
                    Err(CtError::Full) => {
                        self.drop_pkt(buf, DropReason::NfConntrackDrop);
                        return None;
                    }
                }
            }
            self.nf.refresh_ct();
        }
        let verdict = match hook {
            Hook::PreRouting => self.nf_nat_hook(hook, &mut buf, in_if, out_if, now),
            Hook::LocalIn => match self.nf_filter(hook, &buf, in_if, out_if, now) {
                HookVerdict::Accept => self.nf_nat_hook(hook, &mut buf, in_if, out_if, now),
                v => v,
            },
            Hook::Forward => self.nf_filter(hook, &buf, in_if, out_if, now),
            Hook::LocalOut => match self.nf_nat_hook(hook, &mut buf, in_if, out_if, now) {
                HookVerdict::Accept => self.nf_filter(hook, &buf, in_if, out_if, now),
                v => v,
            },
            Hook::PostRouting => self.nf_nat_hook(hook, &mut buf, in_if, out_if, now),
        };
        let r = CtRef::decode(buf.meta.nfct);
        let hook_name = match hook {
            Hook::PreRouting => "PRE_ROUTING",
            Hook::LocalIn => "LOCAL_IN",
            Hook::Forward => "FORWARD",
            Hook::LocalOut => "LOCAL_OUT",
            Hook::PostRouting => "POST_ROUTING",
        };
        let verdict_name = match verdict {
            HookVerdict::Accept => "ACCEPT",
            HookVerdict::Drop(_) => "DROP",
            HookVerdict::Reject(_) => "REJECT",
        };
        self.obs.trace_nf(&buf, hook_name, verdict_name);
        match verdict {
            HookVerdict::Accept => {
                if matches!(hook, Hook::LocalIn | Hook::PostRouting) {
                    if let Some(r) = r.filter(|r| r.info != CtInfo::Related) {
                        // Linux: nf_conntrack_confirm.
                        self.nf.ct.confirm(r);
                    }
                }
                Some(buf)
            }
            HookVerdict::Drop(reason) => {
                self.nf.nf_forget_unconfirmed(r);
                self.drop_pkt(buf, reason);
                None
            }
            HookVerdict::Reject(with) => {
                self.nf.nf_forget_unconfirmed(r);
                buf.reset_network_header();
                match with.icmp_code() {
                    Some(code) => self.icmp_send_error(
                        &buf,
                        crate::wire::Icmpv4Message::DST_UNREACHABLE,
                        code,
                        0,
                        now,
                    ),
                    None => self.nf_send_reset(&buf, now),
                }
                self.drop_pkt(buf, DropReason::NetfilterDrop);
                None
            }
        }
    }

    /// LOCAL_OUT for a datagram `ip_send` built, routed by `rt`: run the hook, and route
    /// again if destination NAT moved it. Linux: `__ip_local_out` → `NF_INET_LOCAL_OUT` and
    /// `ip_route_me_harder`.
    pub(crate) fn nf_local_out(
        &mut self,
        buf: PacketBuf,
        rt: crate::ip::route::OutputRoute,
        now: Instant,
    ) -> Result<(PacketBuf, crate::ip::route::OutputRoute), crate::Errno> {
        let dst = crate::wire::Ipv4Packet::new_unchecked(buf.data()).dst_addr();
        let buf = self
            .nf_hook(Hook::LocalOut, buf, rt.ifindex, now)
            .ok_or(crate::Errno::EPERM)?;
        let new_dst = crate::wire::Ipv4Packet::new_unchecked(buf.data()).dst_addr();
        if new_dst == dst {
            return Ok((buf, rt));
        }
        match self.ip_route_output(new_dst, None) {
            Ok(rt) => Ok((buf, rt)),
            Err(e) => {
                self.ipv4.ip_stats.out_no_routes += 1;
                self.drop_pkt(buf, DropReason::IpOutnoroutes);
                Err(e)
            }
        }
    }

    /// The filter table at `hook`. Linux: `iptable_filter_hook` → `ipt_do_table`.
    fn nf_filter(
        &mut self,
        hook: Hook,
        buf: &PacketBuf,
        in_if: u32,
        out_if: u32,
        now: Instant,
    ) -> HookVerdict {
        if !self.nf.filter_active {
            return HookVerdict::Accept;
        }
        let Some(p) = PktInfo::parse(buf.data()) else {
            return HookVerdict::Accept;
        };
        let ctstate = self.nf.nf_ctstate(buf);
        let ctx = MatchCtx {
            in_dev: self.dev.dev_name(in_if),
            out_dev: self.dev.dev_name(out_if),
            ctstate,
        };
        let nf = &mut self.nf;
        match nf.filter.ipt_do_table(hook, &p, &ctx, now, &mut nf.log) {
            TableVerdict::Accept | TableVerdict::Nat(_) => HookVerdict::Accept,
            TableVerdict::Drop => HookVerdict::Drop(DropReason::NetfilterDrop),
            TableVerdict::Reject(w) => HookVerdict::Reject(w),
        }
    }

    /// NAT at `hook`: for a connection's first packet, walk the nat table's chain to choose
    /// the binding; then rewrite the packet (or the ICMP error) as the binding says.
    /// Linux: `nf_nat_ipv4_fn` → `nf_nat_inet_fn` (→ `nf_nat_rule_find`, `nf_nat_packet`,
    /// `nf_nat_icmp_reply_translation`).
    fn nf_nat_hook(
        &mut self,
        hook: Hook,
        buf: &mut PacketBuf,
        in_if: u32,
        out_if: u32,
        now: Instant,
    ) -> HookVerdict {
        if !self.nf.ct_active {
            return HookVerdict::Accept;
        }
        let Some(r) = CtRef::decode(buf.meta.nfct) else {
            return HookVerdict::Accept;
        };
        let mtype = hook.manip();
        let Some(c) = self.nf.ct.get(r) else {
            return HookVerdict::Accept;
        };
        if r.info == CtInfo::Related {
            let c = c.clone();
            nat::nf_nat_icmp_reply_translation(buf.data_mut(), &c, r.dir, mtype);
            return HookVerdict::Accept;
        }
        if !c.confirmed && !c.nat_done[mtype as usize] {
            let Some(p) = PktInfo::parse(buf.data()) else {
                return HookVerdict::Accept;
            };
            let dev = |i: u32| self.dev.dev_name(i);
            let ctx = MatchCtx {
                in_dev: dev(in_if),
                out_dev: dev(out_if),
                ctstate: r.state_bit(),
            };
            let nf = &mut self.nf;
            let action = match nf.nat.ipt_do_table(hook, &p, &ctx, now, &mut nf.log) {
                TableVerdict::Nat(a) => Some(a),
                TableVerdict::Drop => return HookVerdict::Drop(DropReason::NetfilterDrop),
                TableVerdict::Accept | TableVerdict::Reject(_) => None,
            };
            let range = action.and_then(|a| nat_range(&self.dev, a, &p, hook, in_if, out_if));
            if action.is_some() && range.is_none() {
                // MASQUERADE on an interface without an address. Linux: NF_DROP.
                return HookVerdict::Drop(DropReason::NfConntrackDrop);
            }
            if !nat::nf_nat_setup_info(&mut self.nf.ct, r, range, mtype) {
                return HookVerdict::Drop(DropReason::NfConntrackDrop);
            }
            if matches!(action, Some(NatAction::Masquerade(_))) {
                if let Some(c) = self.nf.ct.get_mut(r) {
                    c.masq_ifindex = out_if;
                }
            }
        }
        if let Some(c) = self.nf.ct.get(r) {
            let partial = matches!(buf.meta.csum, crate::buf::CsumState::Partial { .. });
            nat::nf_nat_packet(buf.data_mut(), c, r.dir, mtype, partial);
        }
        HookVerdict::Accept
    }

    /// Answer a TCP segment (data at its IPv4 header) with a RST from its destination, as
    /// REJECT --reject-with tcp-reset does; the RST goes through LOCAL_OUT like any locally
    /// generated packet. Linux: `nf_send_reset` (net/ipv4/netfilter/nf_reject_ipv4.c).
    fn nf_send_reset(&mut self, orig: &PacketBuf, now: Instant) {
        let d = orig.data();
        let Some(p) = PktInfo::parse(d) else {
            return;
        };
        if p.proto != proto::TCP || !p.has_l4 || p.tcp_flags & 0x04 != 0 || d.len() < p.ihl + 20 {
            return;
        }
        if self.dev.is_broadcast_addr(p.dst) || p.dst.is_multicast() {
            return;
        }
        let tcp = &d[p.ihl..p.len];
        // Unchecked: `PktInfo::parse` found at least 14 TCP header bytes (`has_l4`), which
        // hold the sequence and acknowledgment numbers and the data offset read here.
        let th = TcpPacket::new_unchecked(tcp);
        let seq = th.seq_number().0;
        let ack = th.ack_number().0;
        let doff = usize::from(th.header_len());
        let payload = tcp.len().saturating_sub(doff) as u32;
        let (rseq, rack, flags) = if p.tcp_flags & 0x10 != 0 {
            (ack, 0, 0x04)
        } else {
            let syn_fin = u32::from(p.tcp_flags & 0x02 != 0) + u32::from(p.tcp_flags & 0x01 != 0);
            (0, seq.wrapping_add(payload + syn_fin), 0x14)
        };
        let Ok(rt) = self.ip_route_output(p.src, None) else {
            return;
        };
        let mut buf = self.pool.get(crate::buf::MAX_HEADER);
        let Some(h) = buf.try_put(40) else {
            return self.pool.put(buf);
        };
        let ident = self.ipv4.ip_select_ident();
        crate::wire::Ipv4Repr {
            src_addr: p.dst,
            dst_addr: p.src,
            protocol: crate::wire::IpProtocol::TCP,
            payload_len: 20,
            ttl: self.config.default_ttl,
            tos: 0,
            ident,
            dont_frag: true,
        }
        .emit(&mut h[..20]);
        // Unchecked: `try_put` gave 40 zeroed bytes, the last 20 for this header.
        let mut t = TcpPacket::new_unchecked(&mut h[20..40]);
        t.set_src_port(p.dport);
        t.set_dst_port(p.sport);
        t.set_seq_number(SeqNumber(rseq));
        t.set_ack_number(SeqNumber(rack));
        t.set_header_len(20);
        t.set_flags(TcpFlags(flags));
        t.fill_checksum(p.dst, p.src);
        buf.reset_network_header();
        self.tcp.stats.out_rsts += 1;
        let buf = if self.nf.active {
            match self.nf_hook(Hook::LocalOut, buf, rt.ifindex, now) {
                Some(b) => b,
                None => return,
            }
        } else {
            buf
        };
        let hop = crate::ip::output::NextHop {
            ifindex: rt.ifindex,
            nexthop: rt.nexthop,
            broadcast: rt.broadcast,
        };
        let _ = self.ip_output(buf, hop, rt.metrics.mtu, now);
    }
}
