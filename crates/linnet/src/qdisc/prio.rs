//! `prio`: a classful strict-priority scheduler. Filters pick the band (class `X:1`..`X:N`);
//! unmatched packets go by their priority through the priomap. Each band is a child qdisc
//! (`pfifo` unless another is grafted); band 0 is always served first.
//!
//! Linux: `prio_qdisc_ops` (net/sched/sch_prio.c), `prio_classify`.

use super::cls::{classify, tos_priority, Filter};
use super::opt::PrioOpt;
use super::units::tc_err;
use super::{other_kind, ClassInfo, Qdisc, QdiscEnv, QdiscOpt, QdiscStats, Slot, TcError};
use crate::buf::PacketBuf;
use crate::time::Instant;

/// Most bands. Linux: `TCQ_PRIO_BANDS`.
pub const MAX_BANDS: usize = 16;

/// The prio qdisc.
#[derive(Debug)]
pub struct Prio {
    bands: Vec<Slot>,
    priomap: [u8; 16],
    filters: Vec<Filter>,
    stats: QdiscStats,
    env: QdiscEnv,
}

/// Check `bands` and the priomap. Linux: `prio_tune`.
fn prio_tune(opt: &PrioOpt) -> Result<usize, TcError> {
    let bands = opt.bands as usize;
    if !(2..=MAX_BANDS).contains(&bands) {
        return Err(tc_err!("prio: \"bands {bands}\" must be 2 to {MAX_BANDS}"));
    }
    if let Some(b) = opt.priomap.iter().find(|&&b| b as usize >= bands) {
        return Err(tc_err!(
            "prio: priomap names band {b} but there are {bands} bands"
        ));
    }
    Ok(bands)
}

impl Prio {
    /// From its options. Linux: `prio_init` → `prio_tune`.
    pub fn from_opt(opt: &PrioOpt, env: &QdiscEnv) -> Result<Prio, TcError> {
        let n = prio_tune(opt)?;
        Ok(Prio {
            bands: (0..n).map(|_| Slot::default_child(env)).collect(),
            priomap: opt.priomap,
            filters: Vec::new(),
            stats: QdiscStats::default(),
            env: *env,
        })
    }

    /// Linux: `prio_classify`: a filter's class if it names a band, else the priomap.
    fn band_of(&self, buf: &PacketBuf) -> usize {
        if let Some(c) = classify(&self.filters, buf) {
            let minor = (c & 0xffff) as usize;
            if (1..=self.bands.len()).contains(&minor) {
                return minor - 1;
            }
        }
        self.priomap[tos_priority(buf) as usize] as usize
    }
}

impl Qdisc for Prio {
    fn kind(&self) -> &'static str {
        "prio"
    }

    /// Linux: `prio_enqueue`.
    fn enqueue(&mut self, buf: PacketBuf, now: Instant) -> Result<(), PacketBuf> {
        let band = self.band_of(&buf);
        let len = buf.len();
        match self.bands[band].qdisc.enqueue(buf, now) {
            Ok(()) => {
                self.stats.enqueued(len);
                Ok(())
            }
            Err(b) => {
                self.stats.drops += 1;
                Err(b)
            }
        }
    }

    /// Linux: `prio_dequeue`: the first band with something to give.
    fn dequeue(&mut self, now: Instant) -> Option<PacketBuf> {
        let buf = self.bands.iter_mut().find_map(|b| b.qdisc.dequeue(now))?;
        self.stats.dequeued(buf.len());
        Some(buf)
    }

    fn peek(&mut self, now: Instant) -> Option<&PacketBuf> {
        let i = self
            .bands
            .iter_mut()
            .position(|b| b.qdisc.peek(now).is_some())?;
        self.bands[i].qdisc.peek(now)
    }

    fn next_deadline(&self) -> Option<Instant> {
        self.bands
            .iter()
            .filter_map(|b| b.qdisc.next_deadline())
            .min()
    }

    fn reset(&mut self) -> Vec<PacketBuf> {
        self.stats.qlen = 0;
        self.stats.backlog_bytes = 0;
        self.bands
            .iter_mut()
            .flat_map(|b| b.qdisc.reset())
            .collect()
    }

    /// Queue lengths are the bands' (children may drop inside).
    fn stats(&self) -> QdiscStats {
        let (qlen, backlog_bytes) = self.bands.iter().fold((0, 0), |(q, b), s| {
            let st = s.qdisc.stats();
            (q + st.qlen, b + st.backlog_bytes)
        });
        QdiscStats {
            qlen,
            backlog_bytes,
            ..self.stats
        }
    }

    fn dump(&self) -> QdiscOpt {
        QdiscOpt::Prio(PrioOpt {
            bands: self.bands.len() as u32,
            priomap: self.priomap,
        })
    }

    fn change(&mut self, opt: &QdiscOpt) -> Result<(), TcError> {
        let QdiscOpt::Prio(opt) = opt else {
            return Err(other_kind("prio", opt));
        };
        let n = prio_tune(opt)?;
        let priomap = opt.priomap;
        if n < self.bands.len() && self.bands[n..].iter().any(|b| !b.qdisc.is_empty()) {
            return Err(tc_err!("prio: cannot drop bands that hold packets"));
        }
        self.bands.truncate(n);
        while self.bands.len() < n {
            self.bands.push(Slot::default_child(&self.env));
        }
        self.priomap = priomap;
        Ok(())
    }

    fn children(&self) -> Vec<(u32, &Slot)> {
        self.bands
            .iter()
            .enumerate()
            .map(|(i, s)| (i as u32 + 1, s))
            .collect()
    }

    fn child_mut(&mut self, minor: u32) -> Option<&mut Slot> {
        self.bands.get_mut((minor as usize).checked_sub(1)?)
    }

    fn graft(&mut self, minor: u32, slot: Slot) -> Result<Slot, (TcError, Slot)> {
        let n = self.bands.len();
        let Some(band) = self.child_mut(minor) else {
            return Err((tc_err!("prio: no band {minor:x} (bands 1..{n:x})"), slot));
        };
        let old = std::mem::replace(band, slot);
        let s = old.qdisc.stats();
        self.stats.qlen = self.stats.qlen.saturating_sub(s.qlen);
        self.stats.backlog_bytes = self.stats.backlog_bytes.saturating_sub(s.backlog_bytes);
        Ok(old)
    }

    fn classes(&self) -> Vec<ClassInfo> {
        self.bands
            .iter()
            .enumerate()
            .map(|(i, s)| ClassInfo {
                classid: i as u32 + 1,
                parent: 0,
                leaf: Some(s.handle),
                opts: None,
                stats: s.qdisc.stats(),
                xstats: None,
            })
            .collect()
    }

    fn take_dropped(&mut self) -> Option<PacketBuf> {
        self.bands.iter_mut().find_map(|b| b.qdisc.take_dropped())
    }

    fn filters_mut(&mut self) -> Option<&mut Vec<Filter>> {
        Some(&mut self.filters)
    }

    fn filters(&self) -> &[Filter] {
        &self.filters
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::qdisc::cls::{insert_sorted, test_frame, FilterKind, U32Key};
    use crate::qdisc::Bfifo;

    #[test]
    fn filters_then_priomap_pick_bands_served_strictly() {
        let env = QdiscEnv::default();
        let four = PrioOpt {
            bands: 4,
            ..crate::qdisc::pfifo_fast::OPT
        };
        let mut q = Prio::from_opt(&four, &env).unwrap();
        // `u32 match ip dport 22 0xffff flowid 1:4`.
        let ssh_filter = Filter {
            prio: 1,
            kind: FilterKind::U32(vec![U32Key::Dport {
                port: 22,
                mask: 0xffff,
            }]),
            classid: 0x10004,
        };
        insert_sorted(q.filters_mut().unwrap(), ssh_filter);
        let now = Instant::ZERO;
        let ssh = test_frame([1; 4], [2; 4], 6, 9, 22, 0, 70);
        let be = test_frame([1; 4], [2; 4], 6, 9, 80, 0, 71);
        let lowdelay = test_frame([1; 4], [2; 4], 6, 9, 80, 0x10, 72);
        for b in [ssh, be, lowdelay] {
            q.enqueue(b, now).unwrap();
        }
        let lens: Vec<usize> = std::iter::from_fn(|| q.dequeue(now))
            .map(|b| b.len())
            .collect();
        assert_eq!(lens, vec![72, 71, 70]);
        // Graft a bfifo on band 1 and see it used.
        let old = q
            .graft(1, Slot::new(0x20000, Box::new(Bfifo::new(100))))
            .unwrap();
        assert_eq!(old.qdisc.kind(), "pfifo");
        assert!(q
            .enqueue(test_frame([1; 4], [2; 4], 6, 9, 80, 0x10, 200), now)
            .is_err());
        assert_eq!(q.stats().drops, 1);
        assert!(q.graft(9, Slot::default_child(&env)).is_err());
        let two = PrioOpt { bands: 2, ..four };
        assert!(Prio::from_opt(&two, &env)
            .unwrap_err()
            .0
            .contains("names band 2"));
        let one = PrioOpt { bands: 1, ..four };
        assert!(Prio::from_opt(&one, &env)
            .unwrap_err()
            .0
            .contains("bands 1"));
    }
}
