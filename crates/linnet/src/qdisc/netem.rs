//! `netem`: network emulation on egress. Delay with jitter drawn from a distribution (uniform,
//! normal, pareto, paretonormal) and correlation, loss (random, 4-state Markov, Gilbert-Elliott),
//! duplication, reordering, corruption and a rate limit, all from a seeded generator so a
//! run replays exactly.
//!
//! Linux: `netem_qdisc_ops` (net/sched/sch_netem.c). Packets wait in a "tfifo" ordered by
//! their time to send; the distribution tables are built here rather than loaded from files
//! (iproute2 ships them as `/usr/lib/tc/*.dist`, made by `maketable`).

pub use super::opt::Dist;
use super::opt::{at_most, NetemLoss, NetemOpt, MAX_TIME_US};
use super::units::tc_err;
use super::{other_kind, Qdisc, QdiscEnv, QdiscOpt, QdiscStats, TcError, XStats};
use crate::buf::PacketBuf;
use crate::time::Instant;
use std::collections::VecDeque;
use std::sync::OnceLock;
use std::time::Duration;

/// Entries in a distribution table (Linux: `NETEM_DIST_MAX` allows up to 16384; tc's
/// tables have 4096).
pub const DIST_SIZE: usize = 4096;
/// Table values are standard deviates times this. Linux: `NETEM_DIST_SCALE`.
pub const DIST_SCALE: i32 = 8192;

/// A small seeded generator (splitmix64), for qdiscs that need randomness.
#[derive(Debug, Clone)]
pub struct Prng(u64);

impl Prng {
    /// Seeded.
    pub fn new(seed: u64) -> Prng {
        Prng(seed ^ 0x6e65_7465_6d00_0001)
    }

    /// 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// 32 random bits. Linux: `prandom_u32_state`.
    pub fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A correlated random source: each value leans on the last by `rho`.
/// Linux: `struct crndstate` / `get_crandom`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Crandom {
    rho: u32,
    last: u32,
}

impl Crandom {
    fn new(cor: f64) -> Crandom {
        Crandom {
            rho: prob_u32(cor),
            last: 0,
        }
    }

    fn get(&mut self, rng: &mut Prng) -> u32 {
        let value = rng.next_u32();
        if self.rho == 0 {
            return value;
        }
        let rho = self.rho as u64 + 1;
        let answer = (value as u64 * ((1u64 << 32) - rho) + self.last as u64 * rho) >> 32;
        self.last = answer as u32;
        answer as u32
    }
}

/// A probability as a fraction of 2^32. Linux: how iproute2 hands percentages to netem.
fn prob_u32(p: f64) -> u32 {
    (p.clamp(0.0, 1.0) * u32::MAX as f64).round() as u32
}

impl Dist {
    /// The inverse-CDF table of standard deviates scaled by `DIST_SCALE` (sorted, so a
    /// correlated uniform gives a correlated deviate). Linux: the `.dist` files.
    pub fn table(self) -> Option<&'static [i16]> {
        static NORMAL: OnceLock<Vec<i16>> = OnceLock::new();
        static PARETO: OnceLock<Vec<i16>> = OnceLock::new();
        static PARETONORMAL: OnceLock<Vec<i16>> = OnceLock::new();
        let t = match self {
            Dist::Uniform => return None,
            Dist::Normal => NORMAL.get_or_init(|| scale_table(normal_deviates())),
            Dist::Pareto => PARETO.get_or_init(|| scale_table(pareto_deviates())),
            Dist::ParetoNormal => PARETONORMAL.get_or_init(|| {
                let n = normal_deviates();
                let p = pareto_deviates();
                // Pair each quantile of one with a scrambled quantile of the other.
                let mix = (0..DIST_SIZE)
                    .map(|i| 0.25 * n[(i * 2897) % DIST_SIZE] + 0.75 * p[i])
                    .collect();
                scale_table(mix)
            }),
        };
        Some(t)
    }
}

/// Standard normal deviates: Box-Muller from a fixed seed, sorted into an empirical inverse CDF.
fn normal_deviates() -> Vec<f64> {
    let mut rng = Prng::new(0x6e6f_726d);
    let mut v = Vec::with_capacity(DIST_SIZE);
    while v.len() < DIST_SIZE {
        let u1 = rng.unit().max(1e-12);
        let u2 = rng.unit();
        let r = (-2.0 * u1.ln()).sqrt();
        v.push(r * (2.0 * std::f64::consts::PI * u2).cos());
        v.push(r * (2.0 * std::f64::consts::PI * u2).sin());
    }
    v
}

/// Pareto deviates (shape 3) at evenly spaced quantiles: `(1-u)^(-1/3)`.
fn pareto_deviates() -> Vec<f64> {
    (0..DIST_SIZE)
        .map(|i| {
            let u = (i as f64 + 0.5) / DIST_SIZE as f64;
            (1.0 - u).powf(-1.0 / 3.0)
        })
        .collect()
}

/// Standardise (mean 0, deviation 1), sort, scale and clamp into `i16`.
fn scale_table(mut v: Vec<f64>) -> Vec<i16> {
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    let sd = (v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n).sqrt();
    v.sort_by(|a, b| a.total_cmp(b));
    v.iter()
        .map(|x| {
            ((x - mean) / sd * DIST_SCALE as f64)
                .round()
                .clamp(-32768.0, 32767.0) as i16
        })
        .collect()
}

/// Check the options: probabilities and correlations are fractions in [0, 1], and reordering
/// needs a delay. Linux: the checks of `netem_change` (and iproute2's `netem_parse_opt`).
fn netem_check(p: &NetemOpt) -> Result<(), TcError> {
    at_most("netem", "delay", p.latency, MAX_TIME_US)?;
    at_most("netem", "jitter", p.jitter, MAX_TIME_US)?;
    let fraction = |v: f64| (0.0..=1.0).contains(&v);
    let loss = match p.loss {
        NetemLoss::None => vec![],
        NetemLoss::Random { p, cor } => vec![p, cor],
        NetemLoss::State { p } => p.to_vec(),
        NetemLoss::Gemodel { p, r, h1, k1 } => vec![p, r, h1, k1],
    };
    let all = [
        p.delay_cor,
        p.duplicate.0,
        p.duplicate.1,
        p.reorder.0,
        p.reorder.1,
        p.corrupt.0,
        p.corrupt.1,
    ];
    if !all.iter().chain(&loss).all(|&v| fraction(v)) {
        return Err(tc_err!("netem: a probability is not within 0% to 100%"));
    }
    if p.reorder.0 > 0.0 && p.latency == 0 {
        return Err(tc_err!(
            "netem: \"reorder\" is not possible without a delay"
        ));
    }
    Ok(())
}

/// The netem qdisc.
#[derive(Debug)]
pub struct Netem {
    p: NetemOpt,
    /// The 4-state model's state (1–4). Linux: `clg.state`.
    loss_state: u8,
    /// Gilbert-Elliott: in the bad state.
    ge_bad: bool,
    rng: Prng,
    delay_cor: Crandom,
    loss_cor: Crandom,
    dup_cor: Crandom,
    reorder_cor: Crandom,
    corrupt_cor: Crandom,
    /// Linux: the tfifo, ordered by time to send.
    queue: VecDeque<(Instant, PacketBuf)>,
    counter: u32,
    stats: QdiscStats,
    /// Packets lost on purpose, duplicated, reordered, corrupted.
    pub lost: u64,
    /// Extra copies made.
    pub duplicated: u64,
    /// Packets sent ahead of their turn.
    pub reordered: u64,
    /// Packets with a bit flipped.
    pub corrupted: u64,
    /// Packets CE-marked instead of lost (`ecn`).
    pub ecn_marked: u64,
    /// Lost packets waiting for [`Qdisc::take_dropped`].
    dropped: Vec<PacketBuf>,
}

impl Netem {
    /// From its options. The generator is seeded by `seed` if given, else from the stack.
    /// Linux: `netem_init` / `netem_change`.
    pub fn from_opt(p: &NetemOpt, env: &QdiscEnv) -> Result<Netem, TcError> {
        netem_check(p)?;
        let p = *p;
        let mut n = Netem {
            rng: Prng::new(p.seed.unwrap_or(env.seed)),
            p,
            loss_state: 1,
            ge_bad: false,
            delay_cor: Crandom::default(),
            loss_cor: Crandom::default(),
            dup_cor: Crandom::default(),
            reorder_cor: Crandom::default(),
            corrupt_cor: Crandom::default(),
            queue: VecDeque::new(),
            counter: 0,
            stats: QdiscStats::default(),
            lost: 0,
            duplicated: 0,
            reordered: 0,
            corrupted: 0,
            ecn_marked: 0,
            dropped: Vec::new(),
        };
        n.apply(p);
        Ok(n)
    }

    fn apply(&mut self, p: NetemOpt) {
        if let Some(seed) = p.seed {
            self.rng = Prng::new(seed);
        }
        self.delay_cor = Crandom::new(p.delay_cor);
        if let NetemLoss::Random { cor, .. } = p.loss {
            self.loss_cor = Crandom::new(cor);
        }
        self.dup_cor = Crandom::new(p.duplicate.1);
        self.reorder_cor = Crandom::new(p.reorder.1);
        self.corrupt_cor = Crandom::new(p.corrupt.1);
        self.p = p;
        self.loss_state = 1;
        self.ge_bad = false;
    }

    /// Whether this packet is lost. Linux: `loss_event` (`loss_4state`, `loss_gilb_ell`).
    fn loss_event(&mut self) -> bool {
        let rng = &mut self.rng;
        let state = &mut self.loss_state;
        let bad = &mut self.ge_bad;
        match self.p.loss {
            NetemLoss::None => false,
            NetemLoss::Random { p, .. } => {
                let t = prob_u32(p);
                t != 0 && t >= self.loss_cor.get(rng)
            }
            NetemLoss::State { p } => {
                let [p13, p31, p32, p23, p14] = p;
                let r = rng.unit();
                match *state {
                    1 => {
                        if r < p14 {
                            *state = 4;
                            true
                        } else if r < p14 + p13 {
                            *state = 3;
                            true
                        } else {
                            false
                        }
                    }
                    2 => {
                        if r < p23 {
                            *state = 3;
                            true
                        } else {
                            false
                        }
                    }
                    3 => {
                        if r < p32 {
                            *state = 2;
                            false
                        } else if r < p32 + p31 {
                            *state = 1;
                            false
                        } else {
                            true
                        }
                    }
                    _ => {
                        *state = 1;
                        false
                    }
                }
            }
            NetemLoss::Gemodel { p, r, h1, k1 } => {
                if *bad {
                    if rng.unit() < r {
                        *bad = false;
                    }
                    rng.unit() < h1
                } else {
                    if rng.unit() < p {
                        *bad = true;
                    }
                    rng.unit() < k1
                }
            }
        }
    }

    fn chance(rng: &mut Prng, cor: &mut Crandom, p: f64) -> bool {
        let t = prob_u32(p);
        t != 0 && t >= cor.get(rng)
    }

    /// The delay for one packet in µs (never negative). Linux: `tabledist`.
    fn tabledist(&mut self) -> u64 {
        let (mu, sigma) = (self.p.latency as i64, self.p.jitter as i64);
        if sigma == 0 {
            return mu as u64;
        }
        let rnd = self.delay_cor.get(&mut self.rng);
        let d = match self.p.dist.table() {
            None => (rnd as i64 % (2 * sigma)) + mu - sigma,
            Some(t) => {
                let v = t[rnd as usize % t.len()] as i64;
                mu + (sigma * v + if v >= 0 { 1 } else { -1 } * DIST_SCALE as i64 / 2)
                    / DIST_SCALE as i64
            }
        };
        d.max(0) as u64
    }

    /// Insert in time order, after packets due at the same time. Linux: `tfifo_enqueue`.
    fn tfifo_enqueue(&mut self, at: Instant, buf: PacketBuf) {
        let pos = self
            .queue
            .iter()
            .rposition(|(t, _)| *t <= at)
            .map_or(0, |i| i + 1);
        self.queue.insert(pos, (at, buf));
    }

    /// When a packet of `len` bytes queued now with `delay` µs leaves. Linux: the `rate`
    /// branch of `netem_enqueue` (`packet_time_ns`).
    fn time_to_send(&self, now: Instant, delay: u64, len: usize) -> Instant {
        let mut t = now + Duration::from_micros(delay);
        if let Some(rate) = self.p.rate {
            if let Some((last, _)) = self.queue.back() {
                t = t.max(*last);
            }
            let ns = super::tbf::l2t_ns(rate, len as u64) as u64;
            t += Duration::from_micros(ns.div_ceil(1000));
        }
        t
    }
}

/// Complete a partial checksum of `buf` (data at its link header) in software; false when
/// its offsets do not fit the packet. Linux: `skb_checksum_help`.
fn netem_checksum_help(buf: &mut PacketBuf) -> bool {
    let crate::buf::CsumState::Partial { start, offset } = buf.meta.csum else {
        return true;
    };
    // The link header's length: what lies in front of the network header where one was
    // recorded, else Ethernet's (a segment software GSO cut, as validate_xmit_skb assumes).
    let l3 = buf
        .network_header()
        .map_or(crate::wire::ethernet::HEADER_LEN, |n| {
            buf.len().saturating_sub(n.len())
        });
    let ok = buf.data_mut().get_mut(l3..).is_some_and(|d| {
        crate::device::xmit::skb_checksum_help(d, usize::from(start), usize::from(offset))
    });
    if ok {
        buf.meta.csum = crate::buf::CsumState::None;
    }
    ok
}

impl Qdisc for Netem {
    fn kind(&self) -> &'static str {
        "netem"
    }

    /// Linux: `netem_enqueue`.
    fn enqueue(&mut self, mut buf: PacketBuf, now: Instant) -> Result<(), PacketBuf> {
        let mut count = 1;
        if Netem::chance(&mut self.rng, &mut self.dup_cor, self.p.duplicate.0) {
            count += 1;
        }
        if self.loss_event() {
            // Linux: with `ecn`, an ECT packet is marked (and counted as a drop) instead.
            if self.p.ecn && super::fq_codel::FqCodel::set_ce(&mut buf) {
                self.stats.drops += 1;
                self.ecn_marked += 1;
            } else {
                count -= 1;
            }
        }
        if count == 0 {
            // Lost on the "wire": the sender is told it went, as Linux's netem answers
            // `NET_XMIT_SUCCESS | __NET_XMIT_BYPASS`; the stack recycles it.
            self.lost += 1;
            self.stats.drops += 1;
            if self.dropped.len() < super::MAX_DROPPED_KEPT {
                self.dropped.push(buf);
            }
            return Ok(());
        }
        if Netem::chance(&mut self.rng, &mut self.corrupt_cor, self.p.corrupt.0) && !buf.is_empty()
        {
            // A checksum left for the device would be computed over the flipped bit and the
            // damage delivered as good data: finish it first. (GSO super-frames never get
            // here: validate_xmit_skb segments them for any qdisc but a plain FIFO, as
            // Linux's netem_segment does.) Linux: `skb_checksum_help` in `netem_enqueue`.
            if !netem_checksum_help(&mut buf) {
                self.stats.drops += 1;
                return Err(buf);
            }
            let byte = self.rng.next_u32() as usize % buf.len();
            let bit = self.rng.next_u32() % 8;
            buf.data_mut()[byte] ^= 1 << bit;
            self.corrupted += 1;
        }
        if self.queue.len() >= self.p.limit as usize {
            self.stats.drops += 1;
            return Err(buf);
        }
        if count > 1 && self.queue.len() + 1 < self.p.limit as usize {
            // The copy takes the normal path (Linux re-enqueues it at the root qdisc).
            let copy = buf.clone();
            let delay = self.tabledist();
            let at = self.time_to_send(now, delay, copy.len());
            self.stats.enqueued(copy.len());
            self.tfifo_enqueue(at, copy);
            self.duplicated += 1;
        }
        let len = buf.len();
        let p = &self.p;
        let in_order = p.gap == 0
            || self.counter < p.gap.saturating_sub(1)
            || prob_u32(p.reorder.0) < self.reorder_cor.get(&mut self.rng);
        if in_order {
            let delay = self.tabledist();
            let at = self.time_to_send(now, delay, len);
            self.counter += 1;
            self.tfifo_enqueue(at, buf);
        } else {
            // Reordered: goes out now, ahead of everything. Linux: `__qdisc_enqueue_head`.
            self.counter = 0;
            self.reordered += 1;
            self.queue.push_front((now, buf));
        }
        self.stats.enqueued(len);
        Ok(())
    }

    /// Linux: `netem_dequeue`: the head, once its time has come.
    fn dequeue(&mut self, now: Instant) -> Option<PacketBuf> {
        if self.queue.front()?.0 > now {
            return None;
        }
        let (_, buf) = self.queue.pop_front()?;
        self.stats.dequeued(buf.len());
        Some(buf)
    }

    fn peek(&mut self, now: Instant) -> Option<&PacketBuf> {
        self.queue
            .front()
            .filter(|(t, _)| *t <= now)
            .map(|(_, b)| b)
    }

    fn next_deadline(&self) -> Option<Instant> {
        self.queue.front().map(|(t, _)| *t)
    }

    fn reset(&mut self) -> Vec<PacketBuf> {
        self.stats.qlen = 0;
        self.stats.backlog_bytes = 0;
        let mut out: Vec<PacketBuf> = self.dropped.drain(..).collect();
        out.extend(self.queue.drain(..).map(|(_, b)| b));
        out
    }

    fn stats(&self) -> QdiscStats {
        self.stats
    }

    fn dump(&self) -> QdiscOpt {
        QdiscOpt::Netem(self.p)
    }

    fn take_dropped(&mut self) -> Option<PacketBuf> {
        self.dropped.pop()
    }

    fn dump_stats(&self) -> Option<XStats> {
        Some(XStats::Netem {
            lost: self.lost,
            duplicated: self.duplicated,
            reordered: self.reordered,
            corrupted: self.corrupted,
            ecn_marked: self.ecn_marked,
        })
    }

    fn change(&mut self, opt: &QdiscOpt) -> Result<(), TcError> {
        let QdiscOpt::Netem(p) = opt else {
            return Err(other_kind("netem", opt));
        };
        netem_check(p)?;
        self.apply(*p);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn netem(o: NetemOpt) -> Netem {
        Netem::from_opt(&o, &QdiscEnv::default()).unwrap()
    }

    /// `delay MS`.
    fn delay(ms: u64) -> NetemOpt {
        NetemOpt {
            latency: ms * 1000,
            ..NetemOpt::default()
        }
    }

    fn pkt(tag: u8) -> PacketBuf {
        PacketBuf::from_slice(&[tag; 100], 0)
    }

    /// An Ethernet frame holding a TCP/IPv4 segment whose checksum is left partial (the
    /// pseudo-header sum), as the stack hands one to a device with checksum offload.
    fn partial_tcp_frame() -> PacketBuf {
        use crate::wire::checksum;
        let (src, dst) = ([192, 0, 2, 1], [192, 0, 2, 2]);
        let mut f = vec![0u8; 14 + 20 + 20 + 200];
        f[12..14].copy_from_slice(&[0x08, 0x00]);
        let ip = &mut f[14..];
        ip[0] = 0x45;
        ip[2..4].copy_from_slice(&240u16.to_be_bytes());
        ip[8] = 64;
        ip[9] = 6;
        ip[12..16].copy_from_slice(&src);
        ip[16..20].copy_from_slice(&dst);
        let c = checksum::checksum(&ip[..20]);
        ip[10..12].copy_from_slice(&c.to_be_bytes());
        let th = &mut ip[20..];
        th[12] = 5 << 4;
        th[13] = 0x18;
        for (i, b) in th[20..].iter_mut().enumerate() {
            *b = i as u8;
        }
        crate::transport::tcp::offload::tcp_csum_partial(th, src.into(), dst.into());
        let mut b = PacketBuf::from_slice(&f, 0);
        b.meta.csum = crate::buf::CsumState::Partial {
            start: 20,
            offset: 16,
        };
        b
    }

    /// Whether a frame from [`partial_tcp_frame`] still passes its checks (Ethernet type,
    /// IPv4 header checksum, TCP checksum over the segment).
    fn frame_verifies(f: &[u8]) -> bool {
        use crate::wire::checksum;
        let ip = &f[14..];
        let pseudo =
            checksum::pseudo_header_v4([192, 0, 2, 1].into(), [192, 0, 2, 2].into(), 6, 220);
        f[..14] == partial_tcp_frame().data()[..14]
            && checksum::verify(&ip[..20])
            && checksum::fold(checksum::sum(&ip[20..], pseudo)) == 0xffff
    }

    #[test]
    fn corruption_finishes_a_partial_checksum_first() {
        // Linux: netem_enqueue calls skb_checksum_help before flipping a bit, or the device
        // would checksum the damage and the receiver take it for good data.
        let mut q = netem(NetemOpt {
            corrupt: (1.0, 0.0),
            seed: Some(3),
            ..NetemOpt::default()
        });
        let t0 = Instant::from_secs(1);
        for _ in 0..200 {
            q.enqueue(partial_tcp_frame(), t0).unwrap();
            let out = q.dequeue(t0).unwrap();
            assert_eq!(out.meta.csum, crate::buf::CsumState::None);
            assert!(
                !frame_verifies(out.data()),
                "a corrupted frame passed as good"
            );
        }
        assert_eq!(q.corrupted, 200);
        // Without corruption the partial checksum is left to the device.
        let mut q = netem(delay(1));
        q.enqueue(partial_tcp_frame(), t0).unwrap();
        let out = q.dequeue(t0 + Duration::from_millis(1)).unwrap();
        assert!(matches!(
            out.meta.csum,
            crate::buf::CsumState::Partial { .. }
        ));
    }

    #[test]
    fn delay_holds_until_due_and_reports_deadline() {
        let mut q = netem(delay(50));
        let t0 = Instant::from_secs(1);
        q.enqueue(pkt(1), t0).unwrap();
        assert_eq!(q.next_deadline(), Some(t0 + Duration::from_millis(50)));
        assert!(q.dequeue(t0 + Duration::from_micros(49_999)).is_none());
        assert_eq!(
            q.dequeue(t0 + Duration::from_millis(50)).unwrap().data()[0],
            1
        );
        assert_eq!(q.dump(), QdiscOpt::Netem(delay(50)));
    }

    #[test]
    fn jitter_distributions_have_their_spread() {
        for (dist, lo, hi) in [
            (Dist::Uniform, 8.0, 12.0),
            (Dist::Normal, 8.0, 12.0),
            (Dist::Pareto, 7.0, 13.0),
        ] {
            // `delay 100ms 10ms distribution DIST limit 100000`.
            let mut q = netem(NetemOpt {
                jitter: 10_000,
                dist,
                limit: 100_000,
                ..delay(100)
            });
            let n = 20_000;
            let mut sum = 0.0;
            let mut sq = 0.0;
            for _ in 0..n {
                let d = q.tabledist() as f64 / 1000.0;
                sum += d;
                sq += d * d;
            }
            let mean = sum / n as f64;
            let sd = (sq / n as f64 - mean * mean).sqrt();
            assert!((mean - 100.0).abs() < 1.0, "{dist:?}: mean {mean}");
            // Uniform in ±10 ms has sd 5.8; tables have sd = jitter.
            let (lo, hi) = if dist == Dist::Uniform {
                (5.0, 6.5)
            } else {
                (lo, hi)
            };
            assert!(sd > lo && sd < hi, "{dist:?}: sd {sd}");
        }
    }

    #[test]
    fn random_loss_duplicate_corrupt_rates() {
        let mut q = netem(NetemOpt {
            loss: NetemLoss::Random { p: 0.2, cor: 0.0 },
            duplicate: (0.1, 0.0),
            corrupt: (0.05, 0.0),
            limit: 100_000,
            ..NetemOpt::default()
        });
        let now = Instant::ZERO;
        for _ in 0..10_000 {
            q.enqueue(pkt(0), now).unwrap();
            while q.take_dropped().is_some() {}
        }
        let accepted = 10_000 - q.lost;
        // Loss only counts when no duplicate makes up for it: 20% × 90%.
        assert!((1600..2000).contains(&q.lost), "lost {}", q.lost);
        assert!((700..1100).contains(&q.duplicated), "dup {}", q.duplicated);
        assert!((350..650).contains(&q.corrupted), "corrupt {}", q.corrupted);
        assert_eq!(q.len() as u64, accepted + q.duplicated);
        let flipped = std::iter::from_fn(|| q.dequeue(now))
            .filter(|b| b.data().iter().any(|&x| x != 0))
            .count() as u64;
        assert!(flipped >= q.corrupted, "{flipped}");
    }

    #[test]
    fn gemodel_loses_in_bursts() {
        // p 1%, r 10%: the bad state lasts ~10 packets and loses all; ~9% loss overall.
        // `loss gemodel 1% 10% limit 100000`.
        let ge = NetemOpt {
            loss: NetemLoss::Gemodel {
                p: 0.01,
                r: 0.1,
                h1: 1.0,
                k1: 0.0,
            },
            limit: 100_000,
            ..NetemOpt::default()
        };
        let mut q = netem(ge);
        let now = Instant::ZERO;
        let mut lost_run = 0;
        let mut runs = Vec::new();
        for _ in 0..50_000 {
            let before = q.lost;
            q.enqueue(pkt(0), now).unwrap();
            while q.take_dropped().is_some() {}
            if q.lost > before {
                lost_run += 1;
            } else if lost_run > 0 {
                runs.push(lost_run);
                lost_run = 0;
            }
        }
        let rate = q.lost as f64 / 50_000.0;
        assert!((0.06..0.12).contains(&rate), "loss {rate}");
        let mean_run = runs.iter().sum::<u32>() as f64 / runs.len() as f64;
        assert!(mean_run > 5.0, "mean burst {mean_run}");
        assert_eq!(q.dump(), QdiscOpt::Netem(ge));
        // `loss state 1% 30% limit 100000`.
        let mut s = netem(NetemOpt {
            loss: NetemLoss::State {
                p: [0.01, 0.3, 0.0, 1.0, 0.0],
            },
            limit: 100_000,
            ..NetemOpt::default()
        });
        for _ in 0..50_000 {
            let _ = s.enqueue(pkt(0), now);
        }
        // Stationary loss: p13 / (p13 + p31) ≈ 3.2%.
        let r = s.lost as f64 / 50_000.0;
        assert!((0.02..0.045).contains(&r), "4-state loss {r}");
    }

    #[test]
    fn reorder_sends_some_at_once() {
        let mut q = netem(NetemOpt {
            reorder: (0.25, 0.0),
            gap: 1,
            ..delay(10)
        });
        let now = Instant::ZERO;
        for i in 0..100 {
            q.enqueue(pkt(i), now).unwrap();
        }
        assert!((15..40).contains(&q.reordered), "{}", q.reordered);
        let early: Vec<_> = std::iter::from_fn(|| q.dequeue(now)).collect();
        assert_eq!(early.len() as u64, q.reordered);
        assert_eq!(q.len() as u64, 100 - q.reordered);
    }

    #[test]
    fn rate_serialises() {
        // 8 Mbit/s: 100 bytes take 100 µs.
        let eight = NetemOpt {
            rate: Some(8_000_000),
            ..NetemOpt::default()
        };
        let mut q = netem(eight);
        let now = Instant::ZERO;
        for i in 0..3 {
            q.enqueue(pkt(i), now).unwrap();
        }
        assert!(q.dequeue(now + Duration::from_micros(99)).is_none());
        assert!(q.dequeue(now + Duration::from_micros(100)).is_some());
        assert!(q.dequeue(now + Duration::from_micros(199)).is_none());
        assert_eq!(q.next_deadline(), Some(now + Duration::from_micros(200)));
        assert_eq!(q.dump(), QdiscOpt::Netem(eight));
    }

    #[test]
    fn bad_options_are_refused() {
        let env = QdiscEnv::default();
        for (o, word) in [
            (
                NetemOpt {
                    loss: NetemLoss::Random { p: 1.2, cor: 0.0 },
                    ..NetemOpt::default()
                },
                "100%",
            ),
            (
                NetemOpt {
                    reorder: (0.1, 0.0),
                    ..NetemOpt::default()
                },
                "delay",
            ),
            (
                NetemOpt {
                    duplicate: (f64::NAN, 0.0),
                    ..NetemOpt::default()
                },
                "probability",
            ),
        ] {
            let e = Netem::from_opt(&o, &env).unwrap_err();
            assert!(e.0.contains(word), "{o:?}: {e}");
        }
    }
}
