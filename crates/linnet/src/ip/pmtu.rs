//! Path MTU exceptions: what ICMP "fragmentation needed" (type 3 code 4) taught us about the
//! MTU towards a destination (RFC 1191), kept per destination for `mtu_expires` and applied to
//! locally generated traffic.
//!
//! Linux: net/ipv4/route.c (`struct fib_nh_exception`, `__ip_rt_update_pmtu`,
//! `update_or_create_fnhe`, `find_exception`, `ipv4_mtu`, `ip_mtu_locked`) with the sysctls
//! `net.ipv4.route.mtu_expires` (600 s) and `net.ipv4.route.min_pmtu` (552).

use crate::device::netns::NetnsDev;
use crate::ip::netns::NetnsIpv4;
use crate::stack::Stack;
use crate::time::Instant;
use crate::wire::Ipv4Addr;
use std::collections::HashMap;
use std::hash::Hash;
use std::time::Duration;

/// Smallest MTU any IPv4 link must carry (RFC 791: 68 octets).
pub const IPV4_MIN_MTU: u32 = 68;

/// Path MTU tunables. Linux: the `net.ipv4.route.*` sysctls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PmtuParams {
    /// `mtu_expires` (600 s): how long a learned path MTU is kept.
    pub mtu_expires: Duration,
    /// `min_pmtu` (552): a report below it pins the path MTU at it, locked (DF is then no
    /// longer set, so routers fragment instead).
    pub min_pmtu: u32,
    /// Most exceptions kept; when full, expired ones go first, then the one expiring soonest.
    /// (Linux bounds each next hop's exception chain at `FNHE_RECLAIM_DEPTH` the same way.)
    pub max_entries: usize,
}

impl Default for PmtuParams {
    fn default() -> Self {
        PmtuParams {
            mtu_expires: Duration::from_secs(600),
            min_pmtu: 552,
            max_entries: 1024,
        }
    }
}

/// A learned path MTU towards one destination. Linux: `struct fib_nh_exception` (IPv6:
/// the `RTF_CACHE` route of `rt6_insert_exception`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PmtuException<A = Ipv4Addr> {
    /// Destination address.
    pub dst: A,
    /// Path MTU (`fnhe_pmtu`).
    pub mtu: u32,
    /// Pinned at `min_pmtu` (`fnhe_mtu_locked`): no further lowering, DF cleared.
    pub locked: bool,
    /// When it is forgotten (`fnhe_expires`).
    pub expires: Instant,
}

/// The table of path MTU exceptions, bounded by [`PmtuParams::max_entries`]; keyed by IPv4
/// or IPv6 destination.
#[derive(Debug)]
pub struct PmtuCache<A = Ipv4Addr> {
    params: PmtuParams,
    entries: HashMap<A, PmtuException<A>>,
}

impl<A: Copy + Eq + Hash + Ord> PmtuCache<A> {
    /// An empty table.
    pub fn new(params: PmtuParams) -> PmtuCache<A> {
        PmtuCache {
            params,
            entries: HashMap::new(),
        }
    }

    /// Change the tunables; exceptions already learned keep their expiry. Linux: a write
    /// to `route.mtu_expires`/`route.min_pmtu`.
    pub(crate) fn set_params(&mut self, params: PmtuParams) {
        self.params = params;
    }

    /// The tunables.
    pub fn params(&self) -> &PmtuParams {
        &self.params
    }

    /// The live exception for `dst`, if any (an expired one counts as absent).
    /// Linux: `find_exception`.
    pub fn find_exception(&self, dst: A, now: Instant) -> Option<&PmtuException<A>> {
        self.entries.get(&dst).filter(|e| now < e.expires)
    }

    /// Record or refresh the exception for `dst`, making room first if the table is full.
    /// Linux: `update_or_create_fnhe`.
    pub fn update_or_create_fnhe(&mut self, dst: A, mtu: u32, locked: bool, now: Instant) {
        let expires = now + self.params.mtu_expires;
        if !self.entries.contains_key(&dst) && self.entries.len() >= self.params.max_entries {
            self.entries.retain(|_, e| now < e.expires);
            if self.entries.len() >= self.params.max_entries {
                // Linux: fnhe_oldest — reuse the entry that would expire first.
                if let Some(oldest) = self
                    .entries
                    .values()
                    .min_by_key(|e| (e.expires, e.dst))
                    .map(|e| e.dst)
                {
                    self.entries.remove(&oldest);
                }
            }
        }
        if self.params.max_entries == 0 {
            return;
        }
        self.entries.insert(
            dst,
            PmtuException {
                dst,
                mtu,
                locked,
                expires,
            },
        );
    }

    #[cfg(test)]
    /// Forget every exception. Linux: `ip route flush cache`.
    pub fn flush(&mut self) {
        self.entries.clear();
    }

    #[cfg(test)]
    /// Exceptions held (live or not yet purged).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when no exception is held.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Live exceptions, sorted by destination (`ip route show cache`).
    pub fn live(&self, now: Instant) -> Vec<PmtuException<A>> {
        let mut v: Vec<PmtuException<A>> = self
            .entries
            .values()
            .filter(|e| now < e.expires)
            .copied()
            .collect();
        v.sort_by_key(|e| e.dst);
        v
    }
}

impl<A: Copy + Eq + Hash + Ord> Default for PmtuCache<A> {
    fn default() -> Self {
        PmtuCache::new(PmtuParams::default())
    }
}

impl Stack {
    /// The MTU locally generated datagrams to `dst` must fit: the output device's MTU (or
    /// the route's `mtu` metric), lowered by a live path MTU exception. `None` without a
    /// route. Linux: `ipv4_mtu` on the route `ip_route_output_key` returns.
    pub fn ipv4_mtu(&self, dst: Ipv4Addr, now: Instant) -> Option<usize> {
        let rt = self.ip_route_output(dst, None).ok()?;
        self.ipv4_mtu_of(&rt, dst, now)
    }

    /// [`Stack::ipv4_mtu`] along a route already looked up (a socket's cached one): TCP's
    /// hand-off to [`NetnsIpv4::ipv4_mtu_of`].
    #[inline]
    pub(crate) fn ipv4_mtu_of(
        &self,
        rt: &super::route::OutputRoute,
        dst: Ipv4Addr,
        now: Instant,
    ) -> Option<usize> {
        self.ipv4.ipv4_mtu_of(&self.dev, rt, dst, now)
    }

    /// The live path MTU exceptions (`ip route show cache`).
    pub fn pmtu_exceptions(&self, now: Instant) -> Vec<PmtuException> {
        self.ipv4.pmtu_exceptions(now)
    }

    /// Lower the path MTU towards `dst` to `mtu` as a "fragmentation needed" message reports
    /// it: never raised, pinned (locked) at `min_pmtu` when the report is below it, refreshed
    /// when the same value is reported again after half its lifetime. Returns the MTU
    /// towards `dst` afterwards. Linux: `__ip_rt_update_pmtu`.
    pub(crate) fn ip_rt_update_pmtu(
        &mut self,
        dst: Ipv4Addr,
        mtu: u32,
        now: Instant,
    ) -> Option<usize> {
        let rt = self.ip_route_output(dst, None).ok()?;
        let old = self.ipv4_mtu_of(&rt, dst, now)? as u32;
        // A route whose MTU is locked (`mtu lock N`) learns nothing.
        if rt.metrics.mtu_locked() {
            return Some(old as usize);
        }
        let existing = self.ipv4.pmtu.find_exception(dst, now).copied();
        if existing.is_some_and(|e| e.locked) || old < mtu {
            return Some(old as usize);
        }
        let (mut mtu, mut lock) = (mtu, false);
        let min_pmtu = self.ipv4.pmtu.params().min_pmtu.max(IPV4_MIN_MTU);
        if mtu < min_pmtu {
            lock = true;
            mtu = old.min(min_pmtu);
        }
        let half = self.ipv4.pmtu.params().mtu_expires / 2;
        if let Some(e) = existing {
            if e.mtu == mtu && !lock && now + half < e.expires {
                return Some(old as usize);
            }
        }
        self.ipv4.pmtu.update_or_create_fnhe(dst, mtu, lock, now);
        self.ipv4_mtu(dst, now)
    }
}

impl NetnsIpv4 {
    /// The MTU along a route already looked up (the device's out of `dev`, or the route's
    /// `mtu` metric), lowered by a live path MTU exception towards `dst`. Linux: `ipv4_mtu`.
    #[inline]
    pub(crate) fn ipv4_mtu_of(
        &self,
        dev: &NetnsDev,
        rt: &super::route::OutputRoute,
        dst: Ipv4Addr,
        now: Instant,
    ) -> Option<usize> {
        let dev_mtu = dev.dev_get_by_index(rt.ifindex)?.mtu;
        let mtu = rt.mtu(dev_mtu);
        Some(match self.pmtu.find_exception(dst, now) {
            Some(e) => mtu.min(e.mtu as usize),
            None => mtu,
        })
    }

    /// The live path MTU exceptions (`ip route show cache`).
    pub(crate) fn pmtu_exceptions(&self, now: Instant) -> Vec<PmtuException> {
        self.pmtu.live(now)
    }

    /// The MTU a datagram from `src` to `dst` leaving by a device of `dev_mtu` must fit:
    /// the path MTU for traffic we originate (`src` an address of `dev`), the device's for
    /// traffic we forward. Linux: `ip_skb_dst_mtu` → `ip_dst_mtu_maybe_forward`.
    #[inline]
    pub(crate) fn ip_skb_dst_mtu(
        &self,
        dev: &NetnsDev,
        src: Ipv4Addr,
        dst: Ipv4Addr,
        dev_mtu: usize,
        now: Instant,
    ) -> usize {
        if self.pmtu.is_empty() {
            return dev_mtu;
        }
        match self.pmtu.find_exception(dst, now) {
            Some(e) if dev.is_local_addr(src) => dev_mtu.min(e.mtu as usize),
            _ => dev_mtu,
        }
    }

    /// Whether the path MTU towards `dst` is locked, in which case our datagrams go without
    /// DF. Linux: `ip_mtu_locked` (as `ip_dont_fragment` consults it).
    #[inline]
    pub(crate) fn ip_mtu_locked(&self, dst: Ipv4Addr, now: Instant) -> bool {
        !self.pmtu.is_empty() && self.pmtu.find_exception(dst, now).is_some_and(|e| e.locked)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::EthernetAddress;

    const DST: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 7);

    fn stack() -> Stack {
        let mut s = Stack::default();
        let now = Instant::ZERO;
        let i = s.add_interface("eth0", EthernetAddress([2, 0, 0, 0, 0, 1]), 1500);
        s.add_addr(i, "192.0.2.1/24".parse().unwrap(), now).unwrap();
        s.set_link_up(i, true, now).unwrap();
        s.add_default_gateway(Ipv4Addr::new(192, 0, 2, 254))
            .unwrap();
        s
    }

    #[test]
    fn learns_lowers_never_raises_and_expires() {
        let mut s = stack();
        let t0 = Instant::from_secs(10);
        assert_eq!(s.ipv4_mtu(DST, t0), Some(1500));
        assert_eq!(s.ip_rt_update_pmtu(DST, 1400, t0), Some(1400));
        assert_eq!(
            s.ip_rt_update_pmtu(DST, 1480, t0),
            Some(1400),
            "never raised"
        );
        assert_eq!(
            s.ip_rt_update_pmtu(DST, 9000, t0),
            Some(1400),
            "above the device"
        );
        assert_eq!(s.ip_rt_update_pmtu(DST, 1280, t0), Some(1280));
        // Other destinations are not affected.
        assert_eq!(s.ipv4_mtu(Ipv4Addr::new(198, 51, 100, 8), t0), Some(1500));
        let e = s.pmtu_exceptions(t0);
        assert_eq!(e.len(), 1);
        assert_eq!((e[0].dst, e[0].mtu, e[0].locked), (DST, 1280, false));
        assert_eq!(e[0].expires, t0 + Duration::from_secs(600));
        // Only locally generated traffic uses it.
        let me = Ipv4Addr::new(192, 0, 2, 1);
        let other = Ipv4Addr::new(203, 0, 113, 9);
        assert_eq!(s.ipv4.ip_skb_dst_mtu(&s.dev, me, DST, 1500, t0), 1280);
        assert_eq!(s.ipv4.ip_skb_dst_mtu(&s.dev, other, DST, 1500, t0), 1500);
        // ip_rt_mtu_expires later the device MTU is back.
        let later = t0 + Duration::from_secs(600);
        assert_eq!(s.ipv4_mtu(DST, later), Some(1500));
        assert!(s.pmtu_exceptions(later).is_empty());
    }

    #[test]
    fn below_min_pmtu_locks_at_min_pmtu() {
        let mut s = stack();
        let now = Instant::from_secs(1);
        assert!(!s.ipv4.ip_mtu_locked(DST, now));
        // A bogus tiny report (or the zero of an RFC 792-era router) pins the MTU at 552.
        assert_eq!(s.ip_rt_update_pmtu(DST, 0, now), Some(552));
        assert!(s.ipv4.ip_mtu_locked(DST, now));
        // Locked: later reports are ignored until it expires.
        assert_eq!(s.ip_rt_update_pmtu(DST, 300, now), Some(552));
        assert_eq!(s.ipv4_mtu(DST, now), Some(552));
    }

    #[test]
    fn same_report_refreshes_only_after_half_the_lifetime() {
        let mut s = stack();
        let t0 = Instant::from_secs(1);
        s.ip_rt_update_pmtu(DST, 1300, t0);
        s.ip_rt_update_pmtu(DST, 1300, t0 + Duration::from_secs(100));
        assert_eq!(
            s.pmtu_exceptions(t0)[0].expires,
            t0 + Duration::from_secs(600)
        );
        let t1 = t0 + Duration::from_secs(301);
        s.ip_rt_update_pmtu(DST, 1300, t1);
        assert_eq!(
            s.pmtu_exceptions(t1)[0].expires,
            t1 + Duration::from_secs(600)
        );
    }

    #[test]
    fn table_is_bounded_and_evicts_the_oldest() {
        let mut c = PmtuCache::new(PmtuParams {
            max_entries: 4,
            ..PmtuParams::default()
        });
        for i in 0..100u32 {
            let now = Instant::from_secs(u64::from(i));
            c.update_or_create_fnhe(Ipv4Addr::from(0x0a00_0000 + i), 1400, false, now);
            assert!(c.len() <= 4);
        }
        let now = Instant::from_secs(100);
        let live: Vec<u32> = c.live(now).iter().map(|e| u32::from(e.dst)).collect();
        assert_eq!(live, (96..100).map(|i| 0x0a00_0000 + i).collect::<Vec<_>>());
        c.flush();
        assert!(c.is_empty());
    }
}
