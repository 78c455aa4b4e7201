//! Per-destination rate limiting of ICMP errors: a token bucket for each host errors go to,
//! refilled at one message per `icmp_ratelimit` with bursts of six, for the types in
//! `icmp_ratemask`.
//!
//! Linux: `icmpv4_xrlim_allow` (net/ipv4/icmp.c) and `inet_peer_xrlim_allow`
//! (net/ipv4/inetpeer.c, `XRLIM_BURST_FACTOR`); the global limit, `icmp_global_allow`.

use crate::device::netns::NetnsDev;
use crate::ip::netns::NetnsIpv4;
use crate::time::Instant;
use crate::wire::{Icmpv4Message, Ipv4Addr};
use std::collections::HashMap;
use std::time::Duration;

/// Bursts allow this many messages at once. Linux: `XRLIM_BURST_FACTOR`.
const XRLIM_BURST_FACTOR: u64 = 6;
/// Hosts tracked at most; when full, idle buckets (already full again) are forgotten, and if
/// none is idle the message is allowed (only the global limit applies), as Linux does when it
/// cannot get an `inet_peer`.
const MAX_PEERS: usize = 4096;
/// ICMP types Linux knows (`NR_ICMP_TYPES` + 1): others are never limited.
const NR_ICMP_TYPES: u8 = 19;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    /// Credit, in microseconds of `icmp_ratelimit`.
    tokens: u64,
    last: Instant,
}

/// A token bucket limiting ICMP error generation. Linux: `icmp_global_allow`.
#[derive(Debug)]
pub(crate) struct RateLimit {
    tokens: u64,
    burst: u64,
    per_sec: u64,
    last: Instant,
}

impl RateLimit {
    pub(crate) fn new(per_sec: u32, burst: u32) -> RateLimit {
        RateLimit {
            tokens: burst as u64 * 1_000_000,
            burst: burst as u64 * 1_000_000,
            per_sec: per_sec as u64,
            last: Instant::ZERO,
        }
    }

    /// New rate and burst; tokens held beyond the new burst are dropped. Linux: a write to
    /// `icmp_msgs_per_sec`/`icmp_msgs_burst` takes effect at the next `icmp_global_allow`.
    pub(crate) fn set_rate(&mut self, per_sec: u32, burst: u32) {
        self.per_sec = per_sec as u64;
        self.burst = burst as u64 * 1_000_000;
        self.tokens = self.tokens.min(self.burst);
    }

    /// Take one token if there is one (tokens are kept in millionths).
    pub(crate) fn allow(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_since(self.last).as_micros() as u64;
        self.last = now;
        self.tokens = (self.tokens + elapsed.saturating_mul(self.per_sec)).min(self.burst);
        if self.tokens >= 1_000_000 {
            self.tokens -= 1_000_000;
            true
        } else {
            false
        }
    }
}

/// Buckets by destination. Linux: the `rate_tokens`/`rate_last` of each `struct inet_peer`.
#[derive(Debug, Default)]
pub(crate) struct PeerRateLimit {
    peers: HashMap<Ipv4Addr, Bucket>,
}

impl PeerRateLimit {
    /// Take a token for `peer` if it has one. Linux: `inet_peer_xrlim_allow`.
    pub(crate) fn allow(&mut self, peer: Ipv4Addr, timeout: Duration, now: Instant) -> bool {
        let cost = timeout.as_micros().min(u128::from(u32::MAX)) as u64;
        if cost == 0 {
            return true;
        }
        let burst = cost * XRLIM_BURST_FACTOR;
        if !self.peers.contains_key(&peer) && self.peers.len() >= MAX_PEERS {
            self.peers
                .retain(|_, b| (now.saturating_since(b.last).as_micros() as u64) < burst);
            if self.peers.len() >= MAX_PEERS {
                return true;
            }
        }
        let b = self.peers.entry(peer).or_insert(Bucket {
            tokens: burst,
            last: now,
        });
        let elapsed = now.saturating_since(b.last).as_micros() as u64;
        b.tokens = b.tokens.saturating_add(elapsed).min(burst);
        b.last = now;
        if b.tokens >= cost {
            b.tokens -= cost;
            true
        } else {
            false
        }
    }

    /// Hosts tracked.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.peers.len()
    }
}

impl NetnsIpv4 {
    /// Whether an ICMP error of `msg_type`/`code` may go to `dst` now: types outside
    /// `icmp_ratemask`, fragmentation-needed (path MTU discovery depends on it) and errors to
    /// this host itself (an address of `dev`) are never limited. Counts `OutRateLimitHost`
    /// when it says no. Linux: `icmpv4_xrlim_allow`.
    pub(crate) fn icmpv4_xrlim_allow(
        &mut self,
        dev: &NetnsDev,
        msg_type: Icmpv4Message,
        code: u8,
        dst: Ipv4Addr,
        now: Instant,
    ) -> bool {
        let t = msg_type.0;
        if t >= NR_ICMP_TYPES
            || self.sysctl_icmp_ratemask & (1 << t) == 0
            || (msg_type == Icmpv4Message::DST_UNREACHABLE
                && code == crate::wire::icmpv4::dst_unreachable::FRAG_NEEDED)
            || dev.is_local_addr(dst)
        {
            return true;
        }
        let ok = self.icmp_peers.allow(dst, self.sysctl_icmp_ratelimit, now);
        if !ok {
            self.icmp_stats.out_rate_limit_host += 1;
        }
        ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_of_six_then_one_per_interval() {
        let mut p = PeerRateLimit::default();
        let a = Ipv4Addr::new(192, 0, 2, 1);
        let b = Ipv4Addr::new(192, 0, 2, 2);
        let sec = Duration::from_secs(1);
        let t0 = Instant::from_micros(5_000_000);
        let allowed = (0..10).filter(|_| p.allow(a, sec, t0)).count();
        assert_eq!(allowed, 6);
        assert!(p.allow(b, sec, t0), "another host has its own bucket");
        assert!(!p.allow(a, sec, t0 + Duration::from_millis(999)));
        assert!(p.allow(a, sec, t0 + Duration::from_millis(1000)));
        assert!(!p.allow(a, sec, t0 + Duration::from_millis(1500)));
        // Long idle refills the burst, no more.
        let later = t0 + Duration::from_secs(60);
        assert_eq!((0..10).filter(|_| p.allow(a, sec, later)).count(), 6);
        // A zero interval disables the limit.
        assert!((0..100).all(|_| p.allow(a, Duration::ZERO, later)));
    }

    #[test]
    fn table_is_bounded() {
        let mut p = PeerRateLimit::default();
        let sec = Duration::from_secs(1);
        let t0 = Instant::from_micros(1);
        for i in 0..(MAX_PEERS as u32 + 100) {
            assert!(p.allow(Ipv4Addr::from(0x0a00_0000 + i), sec, t0));
        }
        assert_eq!(p.len(), MAX_PEERS);
        // Once the old buckets are idle long enough to be full, they make room.
        let later = t0 + Duration::from_secs(7);
        assert!(p.allow(Ipv4Addr::new(203, 0, 113, 1), sec, later));
        assert_eq!(p.len(), 1);
    }
}
