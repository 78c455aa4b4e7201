//! `fq_codel`: fair queueing with CoDel active queue management. Packets are hashed by their
//! 5-tuple into flows; flows are served by deficit round robin (new flows first, by `quantum`
//! bytes); each flow runs the CoDel control law on the packets' sojourn time, dropping (or
//! ECN-marking, with the IPv4 checksum fixed) when the queue has stayed above `target` for an
//! `interval`.
//!
//! Linux: `fq_codel_qdisc_ops` (net/sched/sch_fq_codel.c) and `codel_dequeue`
//! (include/net/codel_impl.h); the control law is RFC 8289's.

use super::cls::{ipv4_header, ports};
use super::netem::Prng;
use super::opt::{at_most, FqCodelOpt, MAX_SIZE, MAX_TIME_US};
use super::units::tc_err;
use super::{other_kind, Qdisc, QdiscEnv, QdiscOpt, QdiscStats, TcError, XStats};
use crate::buf::PacketBuf;
use crate::time::Instant;
use crate::wire::Ipv4Packet;
use std::collections::VecDeque;
use std::time::Duration;

const ETH_HLEN: usize = 14;

#[derive(Debug, Clone, Copy, PartialEq)]
struct Params {
    limit: u32,
    flows: u32,
    quantum: u32,
    target: u64,
    interval: u64,
    memory_limit: u64,
    ecn: bool,
    ce_threshold: Option<u64>,
    drop_batch: u32,
}

impl Params {
    /// `base` with the options given in `o` taken, checked. Linux: `fq_codel_change` (and
    /// `fq_codel_init` for the flow count).
    fn change(base: Params, o: &FqCodelOpt, creating: bool) -> Result<Params, TcError> {
        let mut p = base;
        for (what, v) in [
            ("target", o.target),
            ("interval", o.interval),
            ("ce_threshold", o.ce_threshold),
        ] {
            at_most("fq_codel", what, v.unwrap_or(0), MAX_TIME_US)?;
        }
        at_most(
            "fq_codel",
            "memory_limit",
            o.memory_limit.unwrap_or(0),
            MAX_SIZE,
        )?;
        if let Some(f) = o.flows {
            if !creating {
                return Err(tc_err!("fq_codel: \"flows\" cannot be changed"));
            }
            if f == 0 || f > 65536 {
                return Err(tc_err!("fq_codel: \"flows {f}\" must be 1 to 65536"));
            }
            p.flows = f;
        }
        if let Some(q) = o.quantum {
            if q < 256 {
                return Err(tc_err!("fq_codel: \"quantum {q}\" is below 256"));
            }
            p.quantum = q;
        }
        p.limit = o.limit.unwrap_or(p.limit);
        p.target = o.target.unwrap_or(p.target);
        p.interval = o.interval.unwrap_or(p.interval);
        p.memory_limit = o.memory_limit.unwrap_or(p.memory_limit);
        p.ecn = o.ecn.unwrap_or(p.ecn);
        p.ce_threshold = o.ce_threshold.or(p.ce_threshold);
        p.drop_batch = o.drop_batch.map_or(p.drop_batch, |b| b.max(1));
        if p.limit == 0 {
            return Err(tc_err!("fq_codel: \"limit\" must be positive"));
        }
        if p.interval == 0 || p.target == 0 {
            return Err(tc_err!(
                "fq_codel: \"target\" and \"interval\" must be positive"
            ));
        }
        Ok(p)
    }
}

/// CoDel's per-flow state. Linux: `struct codel_vars`.
#[derive(Debug, Clone, Copy, Default)]
struct CodelVars {
    count: u32,
    lastcount: u32,
    dropping: bool,
    first_above_time: Option<Instant>,
    drop_next: Instant,
}

#[derive(Debug, Default)]
struct Flow {
    queue: VecDeque<PacketBuf>,
    deficit: i64,
    backlog: u64,
    active: bool,
    cvars: CodelVars,
}

/// The fq_codel qdisc.
#[derive(Debug)]
pub struct FqCodel {
    p: Params,
    flows: Vec<Flow>,
    new_flows: VecDeque<u32>,
    old_flows: VecDeque<u32>,
    perturb: u64,
    stats: QdiscStats,
    /// Packets dropped because the qdisc was full.
    pub drop_overlimit: u64,
    /// Packets CE-marked instead of dropped.
    pub ecn_mark: u64,
    /// Packets CE-marked above `ce_threshold`.
    pub ce_mark: u64,
    /// Flows that became active.
    pub new_flow_count: u64,
    /// Largest packet seen.
    pub maxpacket: usize,
    /// Packets CoDel dropped.
    pub codel_drops: u64,
    /// Dropped packets waiting for [`Qdisc::take_dropped`].
    dropped: Vec<PacketBuf>,
}

impl FqCodel {
    /// From its options; what they leave out is Linux's default. Linux: `fq_codel_init`.
    pub fn from_opt(opt: &FqCodelOpt, env: &QdiscEnv) -> Result<FqCodel, TcError> {
        let base = Params {
            limit: 10240,
            flows: 1024,
            quantum: (env.mtu + ETH_HLEN) as u32,
            target: 5_000,
            interval: 100_000,
            memory_limit: 32 << 20,
            ecn: true,
            ce_threshold: None,
            drop_batch: 64,
        };
        let p = Params::change(base, opt, true)?;
        Ok(FqCodel {
            flows: (0..p.flows).map(|_| Flow::default()).collect(),
            p,
            new_flows: VecDeque::new(),
            old_flows: VecDeque::new(),
            perturb: Prng::new(env.seed).next_u64(),
            stats: QdiscStats::default(),
            drop_overlimit: 0,
            ecn_mark: 0,
            ce_mark: 0,
            new_flow_count: 0,
            maxpacket: 0,
            codel_drops: 0,
            dropped: Vec::new(),
        })
    }

    /// The flow of a packet: a seeded hash of its addresses, protocol and ports.
    /// Linux: `fq_codel_hash` (`skb_get_hash_perturb` + `reciprocal_scale`).
    fn hash(&self, buf: &PacketBuf) -> usize {
        let mut h = self.perturb;
        let mut mix = |w: u64| {
            h = (h ^ w).wrapping_mul(0x9e37_79b9_7f4a_7c15);
            h ^= h >> 29;
        };
        if let Some(ip) = ipv4_header(buf) {
            // Unchecked: `ipv4_header` returns 20 bytes at least.
            let iph = Ipv4Packet::new_unchecked(ip);
            mix((u64::from(u32::from(iph.src_addr())) << 32) | u64::from(u32::from(iph.dst_addr())));
            let (s, d) = ports(ip).unwrap_or((0, 0));
            mix((u64::from(iph.protocol().0) << 32) | ((s as u64) << 16) | d as u64);
        } else {
            let d = buf.data();
            let n = d.len().min(14);
            let mut w = [0u8; 16];
            w[..n].copy_from_slice(&d[..n]);
            mix(u64::from_be_bytes(w[..8].try_into().expect("8 bytes")));
            mix(u64::from_be_bytes(w[8..].try_into().expect("8 bytes")));
        }
        (((h >> 32) * self.flows.len() as u64) >> 32) as usize
    }

    /// Make room: drop from the head of the flow with the largest backlog.
    /// Linux: `fq_codel_drop` (one packet here, returned for the caller to count and recycle).
    fn fq_codel_drop(&mut self) -> Option<PacketBuf> {
        let (idx, _) = self
            .flows
            .iter()
            .enumerate()
            .max_by_key(|(_, f)| f.backlog)?;
        let f = &mut self.flows[idx];
        let buf = f.queue.pop_front()?;
        f.backlog -= buf.len() as u64;
        self.stats.dropped_queued(buf.len());
        self.drop_overlimit += 1;
        Some(buf)
    }

    /// RFC 8289 control law: `t + interval / sqrt(count)`. Linux: `codel_control_law`.
    fn control_law(&self, t: Instant, count: u32) -> Instant {
        let us = self.p.interval as f64 / (count.max(1) as f64).sqrt();
        t + Duration::from_micros(us as u64)
    }

    /// Pop the head of flow `idx` and decide whether CoDel may drop it.
    /// Linux: `codel_should_drop` + `dequeue_func`.
    fn dodequeue(&mut self, idx: usize, now: Instant) -> (Option<PacketBuf>, bool) {
        let total_backlog = self.stats.backlog_bytes;
        let f = &mut self.flows[idx];
        let Some(buf) = f.queue.pop_front() else {
            f.cvars.first_above_time = None;
            return (None, false);
        };
        f.backlog -= buf.len() as u64;
        self.stats.backlog_bytes = self.stats.backlog_bytes.saturating_sub(buf.len() as u64);
        self.stats.qlen = self.stats.qlen.saturating_sub(1);
        let sojourn = now.saturating_since(buf.meta.timestamp);
        let v = &mut f.cvars;
        if sojourn < Duration::from_micros(self.p.target)
            || total_backlog <= (self.p.quantum as u64)
        {
            v.first_above_time = None;
            return (Some(buf), false);
        }
        match v.first_above_time {
            None => {
                v.first_above_time = Some(now + Duration::from_micros(self.p.interval));
                (Some(buf), false)
            }
            Some(t) => (Some(buf), now >= t),
        }
    }

    /// Mark CE on an ECN-capable IPv4 packet, fixing the header checksum; false if it is not
    /// ECN-capable. Linux: `INET_ECN_set_ce` / `IP_ECN_set_ce`.
    pub fn set_ce(buf: &mut PacketBuf) -> bool {
        if ipv4_header(buf).is_none() {
            return false;
        }
        // Unchecked: `ipv4_header` found a 20-byte IPv4 header after the Ethernet one.
        let mut ip = Ipv4Packet::new_unchecked(&mut buf.data_mut()[ETH_HLEN..]);
        match ip.ecn() {
            0 => false,
            3 => true,
            _ => {
                ip.set_ecn_ce();
                true
            }
        }
    }

    /// CoDel on one flow: the packet to send, after dropping or marking as the state says.
    /// Linux: `codel_dequeue`.
    fn codel_dequeue(&mut self, idx: usize, now: Instant) -> Option<PacketBuf> {
        let (mut buf, mut ok_to_drop) = self.dodequeue(idx, now);
        let Some(mut b) = buf.take() else {
            self.flows[idx].cvars.dropping = false;
            return None;
        };
        let ecn = self.p.ecn;
        if self.flows[idx].cvars.dropping {
            if !ok_to_drop {
                self.flows[idx].cvars.dropping = false;
            } else {
                while now >= self.flows[idx].cvars.drop_next && self.flows[idx].cvars.dropping {
                    self.flows[idx].cvars.count += 1;
                    let count = self.flows[idx].cvars.count;
                    if ecn && FqCodel::set_ce(&mut b) {
                        self.ecn_mark += 1;
                        let dn = self.flows[idx].cvars.drop_next;
                        self.flows[idx].cvars.drop_next = self.control_law(dn, count);
                        return self.delivered(b, now);
                    }
                    self.codel_drops += 1;
                    self.stats.drops += 1;
                    self.keep_dropped(b);
                    let (next, ok) = self.dodequeue(idx, now);
                    match next {
                        None => {
                            self.flows[idx].cvars.dropping = false;
                            return None;
                        }
                        Some(n) => b = n,
                    }
                    ok_to_drop = ok;
                    if !ok_to_drop {
                        self.flows[idx].cvars.dropping = false;
                    } else {
                        let dn = self.flows[idx].cvars.drop_next;
                        self.flows[idx].cvars.drop_next = self.control_law(dn, count);
                    }
                }
            }
        } else if ok_to_drop {
            if ecn && FqCodel::set_ce(&mut b) {
                self.ecn_mark += 1;
            } else {
                self.codel_drops += 1;
                self.stats.drops += 1;
                self.keep_dropped(b);
                let (next, _) = self.dodequeue(idx, now);
                match next {
                    Some(n) => b = n,
                    None => {
                        self.enter_dropping(idx, now);
                        return None;
                    }
                }
            }
            self.enter_dropping(idx, now);
        }
        self.delivered(b, now)
    }

    /// Linux: the `else if (drop)` tail of `codel_dequeue`: start dropping, resuming the
    /// previous rate if the last episode was recent.
    fn enter_dropping(&mut self, idx: usize, now: Instant) {
        let interval16 = Duration::from_micros(16 * self.p.interval);
        let v = self.flows[idx].cvars;
        let delta = v.count.wrapping_sub(v.lastcount);
        let count = if delta > 1 && now.saturating_since(v.drop_next) < interval16 {
            delta
        } else {
            1
        };
        let dn = self.control_law(now, count);
        let v = &mut self.flows[idx].cvars;
        v.dropping = true;
        v.count = count;
        v.lastcount = count;
        v.drop_next = dn;
    }

    /// Hold a CoDel-dropped packet for the stack (bounded).
    fn keep_dropped(&mut self, b: PacketBuf) {
        if self.dropped.len() < super::MAX_DROPPED_KEPT {
            self.dropped.push(b);
        }
    }

    fn delivered(&mut self, mut b: PacketBuf, now: Instant) -> Option<PacketBuf> {
        if let Some(ce) = self.p.ce_threshold {
            if now.saturating_since(b.meta.timestamp) > Duration::from_micros(ce)
                && FqCodel::set_ce(&mut b)
            {
                self.ce_mark += 1;
            }
        }
        Some(b)
    }
}

impl Qdisc for FqCodel {
    fn kind(&self) -> &'static str {
        "fq_codel"
    }

    /// Linux: `fq_codel_enqueue`.
    fn enqueue(&mut self, mut buf: PacketBuf, now: Instant) -> Result<(), PacketBuf> {
        let idx = self.hash(&buf);
        let len = buf.len();
        buf.meta.timestamp = now;
        self.maxpacket = self.maxpacket.max(len);
        let f = &mut self.flows[idx];
        f.queue.push_back(buf);
        f.backlog += len as u64;
        if !f.active {
            f.active = true;
            f.deficit = self.p.quantum as i64;
            self.new_flows.push_back(idx as u32);
            self.new_flow_count += 1;
        }
        self.stats.enqueued(len);
        if self.stats.qlen <= self.p.limit as u64 && self.stats.backlog_bytes <= self.p.memory_limit
        {
            return Ok(());
        }
        match self.fq_codel_drop() {
            Some(victim) => Err(victim),
            None => Ok(()),
        }
    }

    /// Linux: `fq_codel_dequeue`.
    fn dequeue(&mut self, now: Instant) -> Option<PacketBuf> {
        loop {
            let (from_new, idx) = match self.new_flows.front() {
                Some(&i) => (true, i as usize),
                None => (false, *self.old_flows.front()? as usize),
            };
            if self.flows[idx].deficit <= 0 {
                self.flows[idx].deficit += self.p.quantum as i64;
                if from_new {
                    self.new_flows.pop_front();
                } else {
                    self.old_flows.pop_front();
                }
                self.old_flows.push_back(idx as u32);
                continue;
            }
            match self.codel_dequeue(idx, now) {
                None => {
                    // Empty: a new flow goes to the old list once (so it cannot return as
                    // new at once), an old one leaves.
                    if from_new {
                        self.new_flows.pop_front();
                        if !self.old_flows.is_empty() {
                            self.old_flows.push_back(idx as u32);
                        } else {
                            self.flows[idx].active = false;
                        }
                    } else {
                        self.old_flows.pop_front();
                        self.flows[idx].active = false;
                    }
                }
                Some(buf) => {
                    self.flows[idx].deficit -= buf.len() as i64;
                    self.stats.bytes += buf.len() as u64;
                    self.stats.packets += 1;
                    return Some(buf);
                }
            }
        }
    }

    fn peek(&mut self, _now: Instant) -> Option<&PacketBuf> {
        // The head of the flow DRR serves next (CoDel may still drop it at dequeue time).
        let idx = *self.new_flows.front().or(self.old_flows.front())? as usize;
        self.flows[idx].queue.front().or_else(|| {
            self.new_flows
                .iter()
                .chain(self.old_flows.iter())
                .find_map(|&i| self.flows[i as usize].queue.front())
        })
    }

    fn reset(&mut self) -> Vec<PacketBuf> {
        self.stats.qlen = 0;
        self.stats.backlog_bytes = 0;
        self.new_flows.clear();
        self.old_flows.clear();
        let mut out: Vec<PacketBuf> = self.dropped.drain(..).collect();
        for f in self.flows.iter_mut() {
            out.extend(f.queue.drain(..));
            f.backlog = 0;
            f.active = false;
            f.cvars = CodelVars::default();
        }
        out
    }

    fn stats(&self) -> QdiscStats {
        self.stats
    }

    fn dump(&self) -> QdiscOpt {
        let p = &self.p;
        QdiscOpt::FqCodel(FqCodelOpt {
            limit: Some(p.limit),
            flows: Some(p.flows),
            quantum: Some(p.quantum),
            target: Some(p.target),
            interval: Some(p.interval),
            memory_limit: Some(p.memory_limit),
            ecn: Some(p.ecn),
            ce_threshold: p.ce_threshold,
            drop_batch: Some(p.drop_batch),
        })
    }

    fn dump_stats(&self) -> Option<XStats> {
        Some(XStats::FqCodel {
            maxpacket: self.maxpacket as u64,
            drop_overlimit: self.drop_overlimit,
            new_flow_count: self.new_flow_count,
            ecn_mark: self.ecn_mark,
            new_flows_len: self.new_flows.len() as u64,
            old_flows_len: self.old_flows.len() as u64,
        })
    }

    fn change(&mut self, opt: &QdiscOpt) -> Result<(), TcError> {
        let QdiscOpt::FqCodel(o) = opt else {
            return Err(other_kind("fq_codel", opt));
        };
        self.p = Params::change(self.p, o, false)?;
        Ok(())
    }

    fn take_dropped(&mut self) -> Option<PacketBuf> {
        self.dropped.pop()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::qdisc::cls::test_frame;

    fn fq_codel(o: FqCodelOpt) -> Result<FqCodel, TcError> {
        FqCodel::from_opt(&o, &QdiscEnv::default())
    }

    #[test]
    fn flows_share_by_drr() {
        let mut q = fq_codel(FqCodelOpt {
            quantum: Some(1000),
            ..Default::default()
        })
        .unwrap();
        let now = Instant::ZERO;
        // A fat flow of 100 packets, then a thin one of 3: the thin one is served early.
        for _ in 0..100 {
            q.enqueue(test_frame([1; 4], [2; 4], 17, 1, 1, 0, 1000), now)
                .unwrap();
        }
        for _ in 0..3 {
            q.enqueue(test_frame([1; 4], [2; 4], 17, 1, 2, 0, 1000), now)
                .unwrap();
        }
        let order: Vec<u16> = (0..10)
            .map(|_| {
                let b = q.dequeue(now).unwrap();
                ports(ipv4_header(&b).unwrap()).unwrap().1
            })
            .collect();
        assert!(
            order[..6].iter().filter(|&&p| p == 2).count() == 3,
            "{order:?}"
        );
        assert_eq!(q.new_flow_count, 2);
        assert_eq!(q.len(), 93);
    }

    #[test]
    fn codel_drops_a_standing_queue_and_marks_ect() {
        let mut q = fq_codel(FqCodelOpt {
            ecn: Some(false),
            ..Default::default()
        })
        .unwrap();
        // A queue drained at 1 packet/ms while 2/ms arrive: the sojourn time passes 5 ms at
        // once and stays above; CoDel drops first an interval later, then ever more often
        // by the control law: gaps of 100/sqrt(n) ms.
        let mut drops_at = Vec::new();
        for ms in 0..2000u64 {
            let now = Instant::from_millis(ms);
            for _ in 0..2 {
                let _ = q.enqueue(test_frame([1; 4], [2; 4], 6, 1, 1, 0, 1000), now);
            }
            let before = q.codel_drops;
            q.dequeue(now);
            if q.codel_drops > before {
                drops_at.push(ms as f64);
            }
        }
        assert!(drops_at.len() > 50, "codel drops {}", drops_at.len());
        assert!(
            (100.0..115.0).contains(&drops_at[0]),
            "first drop at {}",
            drops_at[0]
        );
        for (n, want) in [(1, 100.0), (2, 70.71), (3, 57.74), (4, 50.0)] {
            let gap = drops_at[n] - drops_at[n - 1];
            assert!((gap - want).abs() <= 1.0, "gap {n}: {gap} ms, want {want}");
        }
        // With ECN on, ECT packets are marked rather than dropped, checksum kept right.
        let mut q = fq_codel(FqCodelOpt::default()).unwrap();
        let mut marked = 0;
        for ms in 0..2000u64 {
            let now = Instant::from_millis(ms);
            for _ in 0..2 {
                let _ = q.enqueue(test_frame([1; 4], [2; 4], 6, 1, 1, 0x02, 1000), now);
            }
            if let Some(b) = q.dequeue(now) {
                let ip = Ipv4Packet::new_checked(ipv4_header(&b).unwrap()).unwrap();
                if ip.ecn() == 3 {
                    marked += 1;
                    assert!(ip.verify_checksum(), "checksum after CE");
                }
            }
        }
        assert!(
            marked > 50 && q.codel_drops == 0,
            "marked {marked} drops {}",
            q.codel_drops
        );
        assert_eq!(q.ecn_mark, marked);
    }

    #[test]
    fn limit_drops_from_the_fattest_flow() {
        let mut q = fq_codel(FqCodelOpt {
            limit: Some(10),
            ..Default::default()
        })
        .unwrap();
        let now = Instant::ZERO;
        for _ in 0..10 {
            q.enqueue(test_frame([1; 4], [2; 4], 17, 1, 1, 0, 500), now)
                .unwrap();
        }
        let victim = q
            .enqueue(test_frame([1; 4], [2; 4], 17, 1, 2, 0, 600), now)
            .unwrap_err();
        assert_eq!(victim.len(), 500, "the fat flow pays");
        assert_eq!(q.drop_overlimit, 1);
        assert_eq!(q.len(), 10);
        let QdiscOpt::FqCodel(o) = q.dump() else {
            panic!("{:?}", q.dump())
        };
        assert_eq!(
            (o.limit, o.flows, o.quantum, o.target, o.interval),
            (Some(10), Some(1024), Some(1514), Some(5000), Some(100_000))
        );
        let q0 = FqCodelOpt::default();
        for (o, word) in [
            (
                FqCodelOpt {
                    flows: Some(0),
                    ..q0
                },
                "flows 0",
            ),
            (
                FqCodelOpt {
                    target: Some(0),
                    ..q0
                },
                "target",
            ),
            (
                FqCodelOpt {
                    quantum: Some(10),
                    ..q0
                },
                "quantum 10",
            ),
            (
                FqCodelOpt {
                    limit: Some(0),
                    ..q0
                },
                "limit",
            ),
        ] {
            let e = fq_codel(o).unwrap_err();
            assert!(e.0.contains(word), "{o:?}: {e}");
        }
        // `flows` is set at creation only.
        let e = q.change(&QdiscOpt::FqCodel(FqCodelOpt {
            flows: Some(16),
            ..q0
        }));
        assert!(e.unwrap_err().0.contains("cannot be changed"));
    }
}
