//! `tbf`: the token bucket filter. Packets leave at `rate` with bursts of up to `burst`
//! bytes (and optionally no faster than `peakrate`); what waits sits in a child qdisc (a
//! `bfifo` of `limit` bytes unless another is grafted at class `X:1`).
//!
//! Linux: `tbf_qdisc_ops` (net/sched/sch_tbf.c). Tokens are kept in nanoseconds of
//! transmission time, as `psched_l2t_ns` computes them.

use super::opt::{at_most, FifoOpt, TbfOpt, MAX_SIZE};
use super::units::{fmt_rate, tc_err};
use super::{other_kind, Bfifo, Qdisc, QdiscEnv, QdiscOpt, QdiscStats, Slot, TcError};
use crate::buf::PacketBuf;
use crate::time::Instant;
use std::time::Duration;

/// Nanoseconds to send `len` bytes at `rate` bit/s. Linux: `psched_l2t_ns`.
pub fn l2t_ns(rate: u64, len: u64) -> i64 {
    (len as u128 * 8 * 1_000_000_000 / rate.max(1) as u128).min(i64::MAX as u128) as i64
}

/// Check the options. Linux: the checks of `tbf_change`.
fn tbf_check(p: &TbfOpt) -> Result<(), TcError> {
    for (what, v) in [("burst", p.burst), ("limit", p.limit), ("mtu", p.mtu)] {
        at_most("tbf", what, v, MAX_SIZE)?;
    }
    if p.rate == 0 {
        return Err(tc_err!("tbf: \"rate\" must be positive"));
    }
    if p.burst == 0 {
        return Err(tc_err!("tbf: \"burst\" must be positive"));
    }
    if let Some(peak) = p.peakrate {
        if p.mtu == 0 {
            return Err(tc_err!("tbf: \"mtu\" is required with \"peakrate\""));
        }
        if peak <= p.rate {
            return Err(tc_err!(
                "tbf: \"peakrate\" {} must exceed \"rate\" {}",
                fmt_rate(peak),
                fmt_rate(p.rate)
            ));
        }
    }
    Ok(())
}

/// A token bucket shaper with a child queue.
#[derive(Debug)]
pub struct Tbf {
    p: TbfOpt,
    /// Bucket depth in ns of transmission at `rate` (Linux: `q->buffer`).
    buffer: i64,
    /// Peak bucket depth in ns at `peakrate` (Linux: `q->mtu`).
    mtu_ns: i64,
    tokens: i64,
    ptokens: i64,
    t_c: Instant,
    child: Slot,
    stats: QdiscStats,
    wake: Option<Instant>,
}

impl Tbf {
    /// From its options. Linux: `tbf_init` / `tbf_change`.
    pub fn from_opt(p: &TbfOpt) -> Result<Tbf, TcError> {
        tbf_check(p)?;
        let p = *p;
        let mut t = Tbf {
            p,
            buffer: 0,
            mtu_ns: 0,
            tokens: 0,
            ptokens: 0,
            t_c: Instant::ZERO,
            child: Slot::new(0, Box::new(Bfifo::new(p.limit))),
            stats: QdiscStats::default(),
            wake: None,
        };
        t.apply(p);
        Ok(t)
    }

    fn apply(&mut self, p: TbfOpt) {
        self.p = p;
        self.buffer = l2t_ns(p.rate, p.burst);
        self.mtu_ns = p.peakrate.map_or(0, |pr| l2t_ns(pr, p.mtu));
        self.tokens = self.buffer;
        self.ptokens = self.mtu_ns;
    }
}

impl Qdisc for Tbf {
    fn kind(&self) -> &'static str {
        "tbf"
    }

    /// A `bfifo` of `txqueuelen` full frames. Linux: `tbf_graft` → `fifo_create_dflt`.
    fn dflt_child(&self, env: &QdiscEnv) -> Box<dyn Qdisc> {
        Box::new(Bfifo::new((env.txqueuelen * (env.mtu + 14)) as u64))
    }

    /// Linux: `tbf_enqueue`: a packet larger than the bucket can never leave and is dropped.
    fn enqueue(&mut self, buf: PacketBuf, now: Instant) -> Result<(), PacketBuf> {
        let len = buf.len();
        let too_big =
            len as u64 > self.p.burst || (self.p.peakrate.is_some() && len as u64 > self.p.mtu);
        if too_big {
            self.stats.drops += 1;
            return Err(buf);
        }
        match self.child.qdisc.enqueue(buf, now) {
            Ok(()) => {
                self.stats.enqueued(len);
                if self.child.qdisc.len() == 1 {
                    self.wake = None;
                }
                Ok(())
            }
            Err(b) => {
                self.stats.drops += 1;
                Err(b)
            }
        }
    }

    /// Linux: `tbf_dequeue`: send if both buckets hold the packet's cost, else arm the
    /// watchdog for when they will.
    fn dequeue(&mut self, now: Instant) -> Option<PacketBuf> {
        let Some(len) = self.child.qdisc.peek(now).map(|b| b.len() as u64) else {
            self.wake = self.child.qdisc.next_deadline();
            return None;
        };
        let elapsed = (now.saturating_since(self.t_c).as_nanos() as i64).min(self.buffer);
        let mut ptoks = 0;
        if let Some(pr) = self.p.peakrate {
            ptoks = (self.ptokens + elapsed).min(self.mtu_ns) - l2t_ns(pr, len);
        }
        let toks = (self.tokens + elapsed).min(self.buffer) - l2t_ns(self.p.rate, len);
        if toks >= 0 && ptoks >= 0 {
            let buf = self.child.qdisc.dequeue(now)?;
            self.t_c = now;
            self.tokens = toks;
            self.ptokens = ptoks;
            self.stats.dequeued(buf.len());
            self.wake = None;
            return Some(buf);
        }
        let wait_ns = (-toks).max(-ptoks) as u64;
        self.wake = Some(now + Duration::from_micros(wait_ns.div_ceil(1000)));
        self.stats.overlimits += 1;
        None
    }

    fn peek(&mut self, now: Instant) -> Option<&PacketBuf> {
        let len = self.child.qdisc.peek(now)?.len() as u64;
        let elapsed = (now.saturating_since(self.t_c).as_nanos() as i64).min(self.buffer);
        let toks = (self.tokens + elapsed).min(self.buffer) - l2t_ns(self.p.rate, len);
        let ptoks = match self.p.peakrate {
            Some(pr) => (self.ptokens + elapsed).min(self.mtu_ns) - l2t_ns(pr, len),
            None => 0,
        };
        if toks >= 0 && ptoks >= 0 {
            self.child.qdisc.peek(now)
        } else {
            None
        }
    }

    fn next_deadline(&self) -> Option<Instant> {
        if self.child.qdisc.is_empty() {
            return None;
        }
        self.wake
    }

    fn reset(&mut self) -> Vec<PacketBuf> {
        self.stats.qlen = 0;
        self.stats.backlog_bytes = 0;
        self.tokens = self.buffer;
        self.ptokens = self.mtu_ns;
        self.wake = None;
        self.child.qdisc.reset()
    }

    /// Queue lengths are the child's (it may drop inside, as fq_codel does). Linux:
    /// `qdisc_tree_reduce_backlog` keeps the parent's in step.
    fn stats(&self) -> QdiscStats {
        let c = self.child.qdisc.stats();
        QdiscStats {
            qlen: c.qlen,
            backlog_bytes: c.backlog_bytes,
            ..self.stats
        }
    }

    fn dump(&self) -> QdiscOpt {
        QdiscOpt::Tbf(self.p)
    }

    fn change(&mut self, opt: &QdiscOpt) -> Result<(), TcError> {
        let QdiscOpt::Tbf(p) = opt else {
            return Err(other_kind("tbf", opt));
        };
        tbf_check(p)?;
        if self.child.handle == 0 {
            // The default child follows the limit. Linux: `fifo_set_limit`.
            self.child.qdisc.change(&QdiscOpt::Bfifo(FifoOpt {
                limit: Some(p.limit),
            }))?;
        }
        self.apply(*p);
        Ok(())
    }

    fn children(&self) -> Vec<(u32, &Slot)> {
        vec![(1, &self.child)]
    }

    fn take_dropped(&mut self) -> Option<PacketBuf> {
        self.child.qdisc.take_dropped()
    }

    fn child_mut(&mut self, minor: u32) -> Option<&mut Slot> {
        (minor == 1).then_some(&mut self.child)
    }

    fn graft(&mut self, minor: u32, slot: Slot) -> Result<Slot, (TcError, Slot)> {
        if minor != 1 {
            return Err((tc_err!("tbf has only class 1"), slot));
        }
        self.stats.qlen = 0;
        self.stats.backlog_bytes = 0;
        Ok(std::mem::replace(&mut self.child, slot))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `rate R burst B limit L`.
    fn opt(rate: u64, burst: u64, limit: u64) -> TbfOpt {
        TbfOpt {
            rate,
            burst,
            limit,
            peakrate: None,
            mtu: 0,
        }
    }

    #[test]
    fn shapes_to_rate_after_the_burst() {
        // 8 Mbit/s = 1 byte/µs; burst 3000 bytes.
        // `rate 8mbit burst 3000 latency 100ms`.
        let mut q = Tbf::from_opt(&opt(8_000_000, 3000, 103_000)).unwrap();
        assert_eq!(q.dump(), QdiscOpt::Tbf(opt(8_000_000, 3000, 103_000)));
        let now = Instant::from_secs(1);
        for _ in 0..10 {
            q.enqueue(PacketBuf::from_slice(&[0; 1000], 0), now)
                .unwrap();
        }
        // The burst lets three out at once, then one per 1000 µs.
        for _ in 0..3 {
            assert!(q.dequeue(now).is_some());
        }
        assert!(q.dequeue(now).is_none());
        assert_eq!(q.next_deadline(), Some(now + Duration::from_micros(1000)));
        assert!(q.dequeue(now + Duration::from_micros(999)).is_none());
        assert!(q.dequeue(now + Duration::from_micros(1000)).is_some());
        assert!(q.stats().overlimits >= 2);
        // Too big for the bucket: dropped at once.
        assert!(q
            .enqueue(PacketBuf::from_slice(&[0; 3001], 0), now)
            .is_err());
    }

    #[test]
    fn peakrate_spaces_packets() {
        // `rate 1mbit burst 10kb limit 100kb peakrate 8mbit mtu 1500`.
        let mut q = Tbf::from_opt(&TbfOpt {
            peakrate: Some(8_000_000),
            mtu: 1500,
            ..opt(1_000_000, 10240, 102_400)
        })
        .unwrap();
        let now = Instant::from_secs(1);
        for _ in 0..3 {
            q.enqueue(PacketBuf::from_slice(&[0; 1000], 0), now)
                .unwrap();
        }
        assert!(q.dequeue(now).is_some());
        // The peak bucket (1500 bytes at 1 byte/µs) holds one more only after 500 µs.
        assert!(q.dequeue(now).is_none());
        assert_eq!(q.next_deadline(), Some(now + Duration::from_micros(500)));
        assert!(q.dequeue(now + Duration::from_micros(500)).is_some());
    }

    #[test]
    fn errors_name_the_problem() {
        let base = opt(1_000_000, 10240, 16_490);
        for (o, word) in [
            (TbfOpt { burst: 0, ..base }, "burst"),
            (
                TbfOpt {
                    peakrate: Some(2_000_000),
                    ..base
                },
                "mtu",
            ),
            (
                TbfOpt {
                    peakrate: Some(1_000_000),
                    mtu: 1500,
                    ..base
                },
                "peakrate",
            ),
        ] {
            let e = Tbf::from_opt(&o).unwrap_err();
            assert!(e.0.contains(word), "{o:?}: {e}");
        }
    }
}
