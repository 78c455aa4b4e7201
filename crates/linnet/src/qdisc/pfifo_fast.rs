//! `pfifo_fast`: the default root qdisc, three FIFO bands served in strict priority, the band
//! chosen from the packet's priority (derived from its TOS) through the priomap.
//!
//! Linux: `pfifo_fast_ops` (net/sched/sch_generic.c), `prio2band`.

use super::cls::tos_priority;
use super::opt::PrioOpt;
use super::units::tc_err;
use super::{other_kind, Qdisc, QdiscOpt, QdiscStats, TcError};
use crate::buf::PacketBuf;
use crate::time::Instant;
use std::collections::VecDeque;

/// Linux: `prio2band`: priority (0–15) to band (0 is served first).
pub const PRIO2BAND: [u8; 16] = [1, 2, 2, 2, 1, 2, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1];

/// Its options, which are fixed: three bands mapped by [`PRIO2BAND`].
pub const OPT: PrioOpt = PrioOpt {
    bands: 3,
    priomap: PRIO2BAND,
};

/// Three bands bounded together by the device's `txqueuelen`.
#[derive(Debug)]
pub struct PfifoFast {
    bands: [VecDeque<PacketBuf>; 3],
    limit: usize,
    stats: QdiscStats,
}

impl Default for PfifoFast {
    fn default() -> Self {
        PfifoFast::new(super::pfifo::DEFAULT_LIMIT)
    }
}

impl PfifoFast {
    /// A pfifo_fast bounded at `limit` packets (the device's `txqueuelen`).
    pub fn new(limit: usize) -> PfifoFast {
        PfifoFast {
            bands: Default::default(),
            limit,
            stats: QdiscStats::default(),
        }
    }

    /// Packets queued in each band.
    pub fn band_lens(&self) -> [usize; 3] {
        [
            self.bands[0].len(),
            self.bands[1].len(),
            self.bands[2].len(),
        ]
    }
}

impl Qdisc for PfifoFast {
    fn kind(&self) -> &'static str {
        "pfifo_fast"
    }

    fn takes_gso(&self) -> bool {
        true
    }

    /// Linux: `pfifo_fast_enqueue`.
    fn enqueue(&mut self, buf: PacketBuf, _now: Instant) -> Result<(), PacketBuf> {
        if self.stats.qlen as usize >= self.limit {
            self.stats.drops += 1;
            return Err(buf);
        }
        let band = PRIO2BAND[tos_priority(&buf) as usize] as usize;
        self.stats.enqueued(buf.len());
        self.bands[band].push_back(buf);
        Ok(())
    }

    /// Linux: `pfifo_fast_dequeue`: the first non-empty band.
    fn dequeue(&mut self, _now: Instant) -> Option<PacketBuf> {
        let buf = self.bands.iter_mut().find_map(|b| b.pop_front())?;
        self.stats.dequeued(buf.len());
        Some(buf)
    }

    fn peek(&mut self, _now: Instant) -> Option<&PacketBuf> {
        self.bands.iter().find_map(|b| b.front())
    }

    fn reset(&mut self) -> Vec<PacketBuf> {
        self.stats.backlog_bytes = 0;
        self.stats.qlen = 0;
        self.bands.iter_mut().flat_map(|b| b.drain(..)).collect()
    }

    fn stats(&self) -> QdiscStats {
        self.stats
    }

    /// The queue length without copying out all the counters (asked after every dequeue).
    fn len(&self) -> usize {
        self.stats.qlen as usize
    }

    fn dump(&self) -> QdiscOpt {
        QdiscOpt::PfifoFast(OPT)
    }

    /// Its options are fixed: only those it has are taken.
    fn change(&mut self, opt: &QdiscOpt) -> Result<(), TcError> {
        match opt {
            QdiscOpt::PfifoFast(o) if *o == OPT => Ok(()),
            QdiscOpt::PfifoFast(_) => Err(tc_err!("pfifo_fast: takes no options")),
            o => Err(other_kind("pfifo_fast", o)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::qdisc::cls::test_frame;

    #[test]
    fn bands_by_tos_and_shared_limit() {
        let mut q = PfifoFast::new(3);
        let now = Instant::ZERO;
        // Bulk (TOS 0x08 → priority 2 → band 2), best effort (band 1), low delay (band 0).
        q.enqueue(test_frame([1; 4], [2; 4], 6, 1, 2, 0x08, 60), now)
            .unwrap();
        q.enqueue(test_frame([1; 4], [2; 4], 6, 1, 2, 0x00, 61), now)
            .unwrap();
        q.enqueue(test_frame([1; 4], [2; 4], 6, 1, 2, 0x10, 62), now)
            .unwrap();
        assert_eq!(q.band_lens(), [1, 1, 1]);
        assert!(q
            .enqueue(test_frame([1; 4], [2; 4], 6, 1, 2, 0x10, 63), now)
            .is_err());
        assert_eq!(q.peek(now).unwrap().len(), 62);
        let order: Vec<usize> = std::iter::from_fn(|| q.dequeue(now))
            .map(|b| b.len())
            .collect();
        assert_eq!(order, vec![62, 61, 60]);
        let s = q.stats();
        assert_eq!((s.packets, s.drops, s.qlen, s.bytes), (3, 1, 0, 183));
        assert_eq!(q.dump(), QdiscOpt::PfifoFast(OPT));
        let other = PrioOpt { bands: 4, ..OPT };
        assert!(q
            .change(&QdiscOpt::PfifoFast(other))
            .unwrap_err()
            .0
            .contains("no options"));
    }
}
