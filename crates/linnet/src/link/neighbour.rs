//! The neighbour cache: protocol address → link address, with Linux's NUD states and timers.
//! Generic over the protocol address ([`NeighKey`]): ARP's table is `NeighTable<Ipv4Addr>`
//! (the default), and NDP's would be `NeighTable<Ipv6Addr>`; what is ARP's own (the
//! solicitation and reply formats) is in `super::arp`.
//!
//! Linux: net/core/neighbour.c (`neigh_lookup`, `__neigh_event_send`, `neigh_update`,
//! `neigh_timer_handler`, `neigh_periodic_work`). The table is a pure state machine: it never
//! transmits. What it wants done (send a solicitation, transmit queued packets now that an
//! address is known, report packets that cannot be delivered) comes out as [`NeighEvent`]s that
//! the stack drains after each call.

use crate::buf::PacketBuf;
use crate::stats::{ArpStats, DropReason};
use crate::time::Instant;
use crate::wire::{EthernetAddress, Ipv4Addr};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, VecDeque};
use std::time::Duration;

/// Neighbour Unreachability Detection states. Linux: `NUD_*` (include/uapi/linux/neighbour.h).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum NudState {
    /// Resolution in progress: solicitations sent, packets queued.
    Incomplete,
    /// Address confirmed recently.
    Reachable,
    /// Address known but not confirmed recently; usable, verified on next use.
    Stale,
    /// Used while stale; waiting a little for an upper-layer confirmation before probing.
    Delay,
    /// Sending unicast solicitations to verify the address.
    Probe,
    /// Resolution failed.
    Failed,
    /// Configured by hand; never changes.
    Permanent,
}

impl NudState {
    /// Has a usable link address. Linux: `NUD_VALID`.
    pub fn is_valid(self) -> bool {
        matches!(
            self,
            NudState::Reachable
                | NudState::Stale
                | NudState::Delay
                | NudState::Probe
                | NudState::Permanent
        )
    }

    /// The name `ip neigh` prints.
    pub fn name(self) -> &'static str {
        match self {
            NudState::Incomplete => "INCOMPLETE",
            NudState::Reachable => "REACHABLE",
            NudState::Stale => "STALE",
            NudState::Delay => "DELAY",
            NudState::Probe => "PROBE",
            NudState::Failed => "FAILED",
            NudState::Permanent => "PERMANENT",
        }
    }
}

/// Tunables, with Linux's defaults (`/proc/sys/net/ipv4/neigh/default/*`).
#[derive(Debug, Clone, Copy)]
pub struct NeighParams {
    /// `base_reachable_time_ms` (30 s); the actual reachable time is random in [½, 1½) of it.
    pub base_reachable_time: Duration,
    /// `retrans_time_ms` (1 s) between solicitations.
    pub retrans_time: Duration,
    /// `delay_first_probe_time` (5 s) spent in DELAY.
    pub delay_first_probe_time: Duration,
    /// `ucast_solicit` (3) unicast probes in PROBE.
    pub ucast_solicit: u32,
    /// `mcast_solicit` (3) broadcast probes in INCOMPLETE.
    pub mcast_solicit: u32,
    /// `unres_qlen` (101) packets queued per unresolved entry.
    pub unres_qlen: usize,
    /// `unres_qlen_bytes` (212992) bytes queued per unresolved entry.
    pub unres_qlen_bytes: usize,
    /// `gc_stale_time` (60 s): unused STALE and FAILED entries older than this are collected.
    pub gc_stale_time: Duration,
    /// `gc_thresh1` (128): below this many entries nothing but FAILED ones is collected.
    pub gc_thresh1: usize,
    /// `gc_thresh3` (1024): hard bound on entries.
    pub gc_thresh3: usize,
}

impl Default for NeighParams {
    fn default() -> Self {
        NeighParams {
            base_reachable_time: Duration::from_secs(30),
            retrans_time: Duration::from_secs(1),
            delay_first_probe_time: Duration::from_secs(5),
            ucast_solicit: 3,
            mcast_solicit: 3,
            unres_qlen: 101,
            unres_qlen_bytes: 212_992,
            gc_stale_time: Duration::from_secs(60),
            gc_thresh1: 128,
            gc_thresh3: 1024,
        }
    }
}

/// What the table asks the stack to do.
#[derive(Debug)]
pub enum NeighEvent<A = Ipv4Addr> {
    /// Send an ARP request for `ip` on `ifindex`: broadcast, or unicast to `unicast` when probing.
    /// Linux: `arp_solicit`.
    Solicit {
        /// Interface.
        ifindex: u32,
        /// Address to resolve.
        ip: A,
        /// Known address to probe by unicast (PROBE state), or `None` to broadcast.
        unicast: Option<EthernetAddress>,
    },
    /// Transmit a packet that waited for resolution, to `mac`.
    Flush {
        /// Interface.
        ifindex: u32,
        /// Resolved link address.
        mac: EthernetAddress,
        /// The queued packet (network header at the data start).
        buf: PacketBuf,
    },
    /// A packet that cannot be delivered: resolution failed (the stack answers with ICMP host
    /// unreachable, as `arp_error_report` does) or the queue overflowed.
    Discard {
        /// The packet.
        buf: PacketBuf,
        /// Why.
        reason: DropReason,
    },
}

/// What to do with an outgoing packet. Linux: the outcome of `neigh_event_send`.
#[derive(Debug)]
pub enum NeighOutput {
    /// The link address is known: transmit now.
    Xmit(EthernetAddress, PacketBuf),
    /// Queued until resolution (see events).
    Queued,
}

/// One cache entry. Linux: `struct neighbour`.
#[derive(Debug)]
struct Entry {
    mac: Option<EthernetAddress>,
    state: NudState,
    confirmed: Instant,
    used: Instant,
    updated: Instant,
    probes: u32,
    timer: Option<Instant>,
    queue: VecDeque<PacketBuf>,
    queue_bytes: usize,
}

/// A snapshot of one entry, for `ip neigh show`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NeighInfo<A = Ipv4Addr> {
    /// Interface index.
    pub ifindex: u32,
    /// Protocol address.
    pub ip: A,
    /// Link address, if known.
    pub lladdr: Option<EthernetAddress>,
    /// State.
    pub state: NudState,
    /// Packets waiting for resolution.
    pub queued: usize,
    /// Probes sent in the current INCOMPLETE/PROBE round.
    pub probes: u32,
}

/// A neighbour table: ARP's with the default `A = Ipv4Addr`. Linux: `struct neigh_table`
/// (`arp_tbl`, `nd_tbl`).
#[derive(Debug)]
pub struct NeighTable<A = Ipv4Addr> {
    params: NeighParams,
    /// When [`NeighTable::poll`] must next walk the entries (the earliest timer or garbage
    /// collection look it found last time); `None` after anything that may need an earlier
    /// walk (a new entry, a timer armed). Linux arms a timer per entry instead of walking.
    scan_at: Option<Instant>,
    entries: HashMap<(u32, A), Entry, crate::fasthash::KeyedState>,
    reachable_time: Duration,
    reroll_at: Instant,
    rng: u64,
    /// Work for the stack; drained after each call.
    pub events: Vec<NeighEvent<A>>,
    /// Counters.
    pub stats: ArpStats,
}

/// A protocol address a neighbour table resolves (IPv4 for ARP, IPv6 for NDP).
/// Linux: `tbl->key_len` bytes of `primary_key`.
pub trait NeighKey: Copy + Eq + Ord + std::hash::Hash + std::fmt::Debug {}

impl NeighKey for Ipv4Addr {}

fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl<A: NeighKey> NeighTable<A> {
    /// An empty table; `seed` drives the randomised reachable time.
    pub fn new(params: NeighParams, seed: u64) -> Self {
        let mut t = NeighTable {
            params,
            scan_at: None,
            entries: HashMap::with_hasher(crate::fasthash::KeyedState::new(
                seed ^ 0x6e65_6967_685f_6b65,
            )),
            reachable_time: params.base_reachable_time,
            reroll_at: Instant::ZERO + Duration::from_secs(300),
            rng: seed,
            events: Vec::new(),
            stats: ArpStats::default(),
        };
        t.reachable_time = t.random_reachable_time();
        t
    }

    /// Change the tunables; a new base reachable time re-draws the reachable time at once.
    /// Linux: `neigh_proc_base_reachable_time` / `neigh_proc_update`.
    pub(crate) fn set_params(&mut self, params: NeighParams) {
        let rebase = params.base_reachable_time != self.params.base_reachable_time;
        self.params = params;
        if rebase {
            self.reachable_time = self.random_reachable_time();
        }
    }

    /// Tunables.
    pub fn params(&self) -> &NeighParams {
        &self.params
    }

    /// The current randomised reachable time. Linux: `neigh_rand_reach_time`.
    pub fn reachable_time(&self) -> Duration {
        self.reachable_time
    }

    fn random_reachable_time(&mut self) -> Duration {
        let base = self.params.base_reachable_time.as_micros() as u64;
        if base == 0 {
            return Duration::ZERO;
        }
        Duration::from_micros(base / 2 + splitmix(&mut self.rng) % base)
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when the table is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The state and link address of an entry. Linux: `neigh_lookup`.
    pub fn lookup(&self, ifindex: u32, ip: A) -> Option<(NudState, Option<EthernetAddress>)> {
        self.entries.get(&(ifindex, ip)).map(|e| (e.state, e.mac))
    }

    /// Snapshots of all entries, sorted by interface and address.
    pub fn dump(&self) -> Vec<NeighInfo<A>> {
        let mut v: Vec<NeighInfo<A>> = self
            .entries
            .iter()
            .map(|(&(ifindex, ip), e)| NeighInfo {
                ifindex,
                ip,
                lladdr: e.mac,
                state: e.state,
                queued: e.queue.len(),
                probes: e.probes,
            })
            .collect();
        v.sort_by_key(|n| (n.ifindex, n.ip));
        v
    }

    /// Make room for one more entry, evicting the stalest unused STALE or FAILED entry if the
    /// table is full. Returns false if nothing could be evicted. Linux: `neigh_forced_gc`.
    fn make_room(&mut self) -> bool {
        if self.entries.len() < self.params.gc_thresh3 {
            return true;
        }
        let victim = self
            .entries
            .iter()
            .filter(|(_, e)| matches!(e.state, NudState::Stale | NudState::Failed))
            .min_by_key(|(_, e)| e.used)
            .map(|(k, _)| *k);
        match victim {
            Some(k) => {
                if let Some(e) = self.entries.remove(&k) {
                    self.discard_queue(e.queue, DropReason::NeighFailed);
                }
                true
            }
            None => false,
        }
    }

    fn discard_queue(&mut self, queue: VecDeque<PacketBuf>, reason: DropReason) {
        for buf in queue {
            self.events.push(NeighEvent::Discard { buf, reason });
        }
    }

    fn new_entry(state: NudState, now: Instant) -> Entry {
        Entry {
            mac: None,
            state,
            confirmed: now,
            used: now,
            updated: now,
            probes: 0,
            timer: None,
            queue: VecDeque::new(),
            queue_bytes: 0,
        }
    }

    /// The link address to send to `ip` on `ifindex` right away, when its entry holds one
    /// and sending needs no state change (REACHABLE, DELAY, PROBE, PERMANENT); the entry is
    /// marked used, as [`NeighTable::output`] would. `None`: take [`NeighTable::output`].
    /// One lookup and no packet moved through the table on the common path.
    /// Linux: `neigh_output` taking the `NUD_CONNECTED` fast path (`neigh_hh_output`).
    #[inline]
    pub fn output_connected(
        &mut self,
        ifindex: u32,
        ip: A,
        now: Instant,
    ) -> Option<EthernetAddress> {
        let e = self.entries.get_mut(&(ifindex, ip))?;
        match e.state {
            NudState::Reachable | NudState::Delay | NudState::Probe | NudState::Permanent => {
                let mac = e.mac?;
                e.used = now;
                Some(mac)
            }
            _ => None,
        }
    }

    /// Decide how to send `buf` to `ip` on `ifindex`, starting resolution if needed.
    /// Linux: `neigh_resolve_output` → `__neigh_event_send`.
    pub fn output(&mut self, ifindex: u32, ip: A, buf: PacketBuf, now: Instant) -> NeighOutput {
        let key = (ifindex, ip);
        if !self.entries.contains_key(&key) {
            if !self.make_room() {
                self.stats.table_fulls += 1;
                self.events.push(NeighEvent::Discard {
                    buf,
                    reason: DropReason::NeighCreatefail,
                });
                return NeighOutput::Queued;
            }
            self.stats.allocs += 1;
            self.entries
                .insert(key, Self::new_entry(NudState::Failed, now));
            self.scan_at = None;
        }
        let params = self.params;
        let e = self.entries.get_mut(&key).expect("entry just ensured");
        e.used = now;
        match e.state {
            NudState::Reachable | NudState::Delay | NudState::Probe | NudState::Permanent => {
                NeighOutput::Xmit(e.mac.expect("valid state has an address"), buf)
            }
            NudState::Stale => {
                // First use of a stale entry: send on it, and give upper layers
                // delay_first_probe_time to confirm it before probing.
                e.state = NudState::Delay;
                e.updated = now;
                e.timer = Some(now + params.delay_first_probe_time);
                let mac = e.mac.expect("stale has an address");
                self.scan_at = None;
                NeighOutput::Xmit(mac, buf)
            }
            NudState::Failed | NudState::Incomplete => {
                if e.state == NudState::Failed {
                    // (Re)start resolution: first broadcast solicitation now.
                    e.state = NudState::Incomplete;
                    e.updated = now;
                    e.probes = 1;
                    e.timer = Some(now + params.retrans_time);
                    self.scan_at = None;
                    self.stats.requests_sent += 1;
                    self.events.push(NeighEvent::Solicit {
                        ifindex,
                        ip,
                        unicast: None,
                    });
                }
                let e = self.entries.get_mut(&key).expect("entry exists");
                e.queue_bytes += buf.len();
                e.queue.push_back(buf);
                // Bounded queue: drop the oldest, as Linux does.
                let mut dropped = Vec::new();
                while e.queue.len() > params.unres_qlen
                    || (e.queue_bytes > params.unres_qlen_bytes && e.queue.len() > 1)
                {
                    if let Some(old) = e.queue.pop_front() {
                        e.queue_bytes -= old.len();
                        dropped.push(old);
                    }
                }
                for buf in dropped {
                    self.stats.unresolved_discards += 1;
                    self.events.push(NeighEvent::Discard {
                        buf,
                        reason: DropReason::NeighQueuefull,
                    });
                }
                NeighOutput::Queued
            }
        }
    }

    /// Learn or confirm a link address. `solicited` marks a confirmation (an ARP reply to us):
    /// the entry becomes REACHABLE. Otherwise the address is recorded as STALE if it is new or
    /// changed. With `create` false only existing entries are touched (Linux's default for
    /// gratuitous ARP, `arp_accept=0`). Linux: `neigh_update` / `neigh_event_ns`.
    pub fn update(
        &mut self,
        ifindex: u32,
        ip: A,
        mac: EthernetAddress,
        solicited: bool,
        create: bool,
        now: Instant,
    ) {
        let key = (ifindex, ip);
        self.scan_at = None;
        if !self.entries.contains_key(&key) {
            if !create || !self.make_room() {
                if create {
                    self.stats.table_fulls += 1;
                }
                return;
            }
            self.stats.allocs += 1;
            self.entries
                .insert(key, Self::new_entry(NudState::Failed, now));
        }
        let reachable_time = self.reachable_time;
        let e = self.entries.get_mut(&key).expect("entry exists");
        if e.state == NudState::Permanent {
            return;
        }
        let had_addr = e.state.is_valid();
        let changed = e.mac != Some(mac);
        if solicited {
            e.mac = Some(mac);
            e.state = NudState::Reachable;
            e.confirmed = now;
            e.updated = now;
            e.probes = 0;
            e.timer = Some(now + reachable_time);
        } else if !had_addr || changed {
            e.mac = Some(mac);
            e.state = NudState::Stale;
            e.updated = now;
            e.probes = 0;
            e.timer = None;
        }
        if !had_addr && e.state.is_valid() {
            let queue = std::mem::take(&mut e.queue);
            e.queue_bytes = 0;
            for buf in queue {
                self.events.push(NeighEvent::Flush { ifindex, mac, buf });
            }
        }
    }

    /// A neighbour advertisement without the override flag names another link address: a
    /// REACHABLE entry becomes STALE (its address kept, to be verified on next use); other
    /// states stay. Linux: `neigh_update` with `NEIGH_UPDATE_F_WEAK_OVERRIDE`.
    pub fn weak_override(&mut self, ifindex: u32, ip: A, now: Instant) {
        if let Some(e) = self.entries.get_mut(&(ifindex, ip)) {
            if e.state == NudState::Reachable {
                e.state = NudState::Stale;
                e.updated = now;
                e.timer = None;
                self.scan_at = None;
            }
        }
    }

    /// Add a PERMANENT entry (`ip neigh add ... nud permanent`).
    pub fn add_permanent(&mut self, ifindex: u32, ip: A, mac: EthernetAddress, now: Instant) {
        let mut e = Self::new_entry(NudState::Permanent, now);
        e.mac = Some(mac);
        self.scan_at = None;
        if let Some(old) = self.entries.insert((ifindex, ip), e) {
            for buf in old.queue {
                self.events.push(NeighEvent::Flush { ifindex, mac, buf });
            }
        }
    }

    /// Remove an entry; its queued packets are discarded. Returns whether it existed.
    pub fn delete(&mut self, ifindex: u32, ip: A) -> bool {
        match self.entries.remove(&(ifindex, ip)) {
            Some(e) => {
                self.discard_queue(e.queue, DropReason::NeighFailed);
                true
            }
            None => false,
        }
    }

    /// Remove the entries of one interface, or of all (`ip neigh flush`); returns how many
    /// went. Linux: `neigh_flush_dev`.
    pub(crate) fn neigh_flush_dev(&mut self, ifindex: Option<u32>) -> usize {
        let keys: Vec<_> = self
            .entries
            .keys()
            .filter(|k| ifindex.is_none_or(|i| i == k.0))
            .copied()
            .collect();
        for k in &keys {
            self.delete(k.0, k.1);
        }
        keys.len()
    }

    /// Remove every entry of an interface (it went down or lost its addresses).
    /// Linux: `neigh_ifdown`.
    pub fn flush_dev(&mut self, ifindex: u32) {
        self.neigh_flush_dev(Some(ifindex));
    }

    /// An upper layer saw forward progress (e.g. a TCP ACK) through this neighbour.
    /// Linux: `neigh_confirm` / `dst_confirm_neigh`.
    pub fn confirm(&mut self, ifindex: u32, ip: A, now: Instant) {
        if let Some(e) = self.entries.get_mut(&(ifindex, ip)) {
            e.confirmed = now;
        }
    }

    /// Run due timers and garbage collection; returns the next deadline.
    /// Linux: `neigh_timer_handler` and `neigh_periodic_work`.
    pub fn poll(&mut self, now: Instant) -> Option<Instant> {
        // Nothing can be due before the time the last walk found (timers only move later
        // and entries only get busier until something resets `scan_at`).
        if let Some(t) = self.scan_at {
            if now < t && now < self.reroll_at {
                return Some(t);
            }
        }
        if now >= self.reroll_at {
            // Linux re-randomises reachable_time every 300 s.
            self.reachable_time = self.random_reachable_time();
            self.reroll_at = now + Duration::from_secs(300);
        }
        let p = self.params;
        let reachable_time = self.reachable_time;
        let mut next: Option<Instant> = None;
        let mut failed = Vec::new();
        let mut solicit = Vec::new();
        let mut collect = Vec::new();
        let crowded = self.entries.len() > p.gc_thresh1;
        for (key, e) in self.entries.iter_mut() {
            if let Some(t) = e.timer.filter(|&t| t <= now) {
                let _ = t;
                e.timer = None;
                match e.state {
                    NudState::Reachable => {
                        if now < e.confirmed + reachable_time {
                            e.timer = Some(e.confirmed + reachable_time);
                        } else if now < e.used + p.delay_first_probe_time {
                            e.state = NudState::Delay;
                            e.updated = now;
                            e.timer = Some(now + p.delay_first_probe_time);
                        } else {
                            e.state = NudState::Stale;
                            e.updated = now;
                        }
                    }
                    NudState::Delay => {
                        if now < e.confirmed + p.delay_first_probe_time {
                            e.state = NudState::Reachable;
                            e.updated = now;
                            e.timer = Some(e.confirmed + reachable_time);
                        } else {
                            e.state = NudState::Probe;
                            e.updated = now;
                            e.probes = 1;
                            e.timer = Some(now + p.retrans_time);
                            solicit.push((*key, e.mac));
                        }
                    }
                    NudState::Incomplete | NudState::Probe => {
                        let max = if e.state == NudState::Incomplete {
                            p.mcast_solicit
                        } else {
                            p.ucast_solicit
                        };
                        if e.probes >= max {
                            e.state = NudState::Failed;
                            e.updated = now;
                            e.mac = None;
                            e.queue_bytes = 0;
                            failed.push(std::mem::take(&mut e.queue));
                        } else {
                            e.probes += 1;
                            e.timer = Some(now + p.retrans_time);
                            let unicast = if e.state == NudState::Probe {
                                e.mac
                            } else {
                                None
                            };
                            solicit.push((*key, unicast));
                        }
                    }
                    NudState::Stale | NudState::Failed | NudState::Permanent => {}
                }
            }
            let idle = now.saturating_since(e.used.max(e.updated)) >= p.gc_stale_time;
            if idle && (e.state == NudState::Failed || (crowded && e.state == NudState::Stale)) {
                collect.push(*key);
            }
            if let Some(t) = e.timer {
                next = Some(next.map_or(t, |n: Instant| n.min(t)));
            }
        }
        for q in failed {
            self.stats.res_failed += 1;
            self.discard_queue(q, DropReason::NeighFailed);
        }
        for ((ifindex, ip), unicast) in solicit {
            self.stats.requests_sent += 1;
            self.events.push(NeighEvent::Solicit {
                ifindex,
                ip,
                unicast,
            });
        }
        for k in collect {
            self.entries.remove(&k);
        }
        // Idle entries need a periodic look for garbage collection.
        if !self.entries.is_empty() {
            let gc = now + p.gc_stale_time / 4;
            next = Some(next.map_or(gc, |n| n.min(gc)));
        }
        self.scan_at = next;
        next
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IF: u32 = 2;
    const MAC: EthernetAddress = EthernetAddress([2, 0, 0, 0, 0, 9]);

    fn ip() -> Ipv4Addr {
        Ipv4Addr::new(192, 0, 2, 9)
    }

    fn t(ms: u64) -> Instant {
        Instant::from_millis(ms)
    }

    fn pkt() -> PacketBuf {
        PacketBuf::from_slice(&[0u8; 100], 32)
    }

    fn solicits(tbl: &mut NeighTable) -> Vec<Option<EthernetAddress>> {
        let mut v = Vec::new();
        for ev in std::mem::take(&mut tbl.events) {
            if let NeighEvent::Solicit { unicast, .. } = ev {
                v.push(unicast);
            }
        }
        v
    }

    #[test]
    fn poll_skips_the_walk_until_due_but_sees_timers_armed_since() {
        let p = NeighParams::default();
        let mut tbl = NeighTable::new(p, 1);
        // A STALE entry (learnt unsolicited): its only deadline is garbage collection.
        tbl.update(IF, ip(), MAC, false, true, t(0));
        assert_eq!(tbl.lookup(IF, ip()).unwrap().0, NudState::Stale);
        let due = tbl.poll(t(1)).expect("gc look scheduled");
        assert_eq!(due, t(1) + p.gc_stale_time / 4);
        // Polls before then return the same deadline without walking.
        assert_eq!(tbl.poll(t(2)), Some(due));
        // Using the entry arms the DELAY timer, much earlier than `due`: the next poll after
        // it must see it and start probing.
        assert!(matches!(
            tbl.output(IF, ip(), pkt(), t(10)),
            NeighOutput::Xmit(..)
        ));
        assert_eq!(tbl.lookup(IF, ip()).unwrap().0, NudState::Delay);
        let delay_end = t(10) + p.delay_first_probe_time;
        assert!(delay_end < due);
        assert_eq!(tbl.poll(t(11)), Some(delay_end));
        tbl.poll(delay_end);
        assert_eq!(tbl.lookup(IF, ip()).unwrap().0, NudState::Probe);
        assert_eq!(solicits(&mut tbl), vec![Some(MAC)]);
    }

    #[test]
    fn incomplete_resolves_and_flushes_queue() {
        let mut tbl = NeighTable::new(NeighParams::default(), 1);
        assert!(matches!(
            tbl.output(IF, ip(), pkt(), t(0)),
            NeighOutput::Queued
        ));
        assert!(matches!(
            tbl.output(IF, ip(), pkt(), t(1)),
            NeighOutput::Queued
        ));
        assert_eq!(solicits(&mut tbl), vec![None]);
        assert_eq!(tbl.lookup(IF, ip()).unwrap().0, NudState::Incomplete);
        tbl.update(IF, ip(), MAC, true, false, t(5));
        let flushed = tbl
            .events
            .drain(..)
            .filter(|e| matches!(e, NeighEvent::Flush { mac, .. } if *mac == MAC))
            .count();
        assert_eq!(flushed, 2);
        assert_eq!(tbl.lookup(IF, ip()), Some((NudState::Reachable, Some(MAC))));
        assert!(matches!(tbl.output(IF, ip(), pkt(), t(6)), NeighOutput::Xmit(m, _) if m == MAC));
    }

    #[test]
    fn incomplete_fails_after_three_broadcasts() {
        let mut tbl = NeighTable::new(NeighParams::default(), 1);
        tbl.output(IF, ip(), pkt(), t(0));
        let mut sent = solicits(&mut tbl).len();
        let mut now = 0;
        while now < 10_000 {
            now += 100;
            tbl.poll(t(now));
            sent += solicits(&mut tbl).len();
            if tbl.lookup(IF, ip()).unwrap().0 == NudState::Failed {
                break;
            }
        }
        assert_eq!(sent, 3);
        assert_eq!(now, 3000, "FAILED one retrans_time after the third request");
        assert_eq!(tbl.stats.res_failed, 1);
        // A new packet restarts resolution.
        tbl.output(IF, ip(), pkt(), t(now + 1));
        assert_eq!(tbl.lookup(IF, ip()).unwrap().0, NudState::Incomplete);
    }

    #[test]
    fn reachable_stale_delay_probe_failed() {
        let mut tbl = NeighTable::new(NeighParams::default(), 7);
        let rt = tbl.reachable_time();
        assert!(rt >= Duration::from_secs(15) && rt < Duration::from_secs(45));
        tbl.update(IF, ip(), MAC, true, true, t(0));
        assert_eq!(tbl.lookup(IF, ip()).unwrap().0, NudState::Reachable);
        // Unused past reachable_time: STALE.
        let after = Instant::ZERO + rt + Duration::from_millis(1);
        tbl.poll(after);
        assert_eq!(tbl.lookup(IF, ip()).unwrap().0, NudState::Stale);
        // Used while stale: DELAY, packet goes out on the old address.
        assert!(matches!(
            tbl.output(IF, ip(), pkt(), after),
            NeighOutput::Xmit(..)
        ));
        assert_eq!(tbl.lookup(IF, ip()).unwrap().0, NudState::Delay);
        // No confirmation within 5 s: PROBE with unicast solicitations.
        let probe_at = after + Duration::from_secs(5);
        tbl.poll(probe_at);
        assert_eq!(tbl.lookup(IF, ip()).unwrap().0, NudState::Probe);
        assert_eq!(solicits(&mut tbl), vec![Some(MAC)]);
        tbl.poll(probe_at + Duration::from_secs(1));
        tbl.poll(probe_at + Duration::from_secs(2));
        assert_eq!(solicits(&mut tbl), vec![Some(MAC), Some(MAC)]);
        tbl.poll(probe_at + Duration::from_secs(3));
        assert_eq!(tbl.lookup(IF, ip()).unwrap().0, NudState::Failed);
    }

    #[test]
    fn delay_returns_to_reachable_on_confirmation() {
        let mut tbl = NeighTable::new(NeighParams::default(), 3);
        tbl.update(IF, ip(), MAC, false, true, t(0));
        assert_eq!(tbl.lookup(IF, ip()).unwrap().0, NudState::Stale);
        tbl.output(IF, ip(), pkt(), t(10));
        assert_eq!(tbl.lookup(IF, ip()).unwrap().0, NudState::Delay);
        tbl.confirm(IF, ip(), t(2000));
        tbl.poll(t(5010));
        assert_eq!(tbl.lookup(IF, ip()).unwrap().0, NudState::Reachable);
    }

    #[test]
    fn unsolicited_update_does_not_create_without_flag_and_queue_is_bounded() {
        let mut tbl = NeighTable::new(NeighParams::default(), 3);
        tbl.update(IF, ip(), MAC, false, false, t(0));
        assert!(tbl.lookup(IF, ip()).is_none());
        for i in 0..150 {
            tbl.output(IF, ip(), pkt(), t(i));
        }
        let dropped = tbl
            .events
            .iter()
            .filter(|e| {
                matches!(
                    e,
                    NeighEvent::Discard {
                        reason: DropReason::NeighQueuefull,
                        ..
                    }
                )
            })
            .count();
        assert_eq!(dropped, 150 - 101);
        assert_eq!(tbl.dump()[0].queued, 101);
    }

    #[test]
    fn weak_override_demotes_only_reachable() {
        let mut tbl = NeighTable::new(NeighParams::default(), 5);
        tbl.update(IF, ip(), MAC, true, true, t(0));
        tbl.weak_override(IF, ip(), t(1));
        assert_eq!(tbl.lookup(IF, ip()), Some((NudState::Stale, Some(MAC))));
        tbl.add_permanent(IF, Ipv4Addr::new(192, 0, 2, 10), MAC, t(2));
        tbl.weak_override(IF, Ipv4Addr::new(192, 0, 2, 10), t(3));
        assert_eq!(
            tbl.lookup(IF, Ipv4Addr::new(192, 0, 2, 10)).unwrap().0,
            NudState::Permanent
        );
    }

    #[test]
    fn table_is_bounded() {
        let params = NeighParams {
            gc_thresh3: 4,
            ..NeighParams::default()
        };
        let mut tbl = NeighTable::new(params, 3);
        for i in 0..10u8 {
            tbl.output(IF, Ipv4Addr::new(192, 0, 2, i), pkt(), t(0));
        }
        assert_eq!(tbl.len(), 4);
        assert_eq!(tbl.stats.table_fulls, 6);
    }
}
