//! `pfifo`: a first-in first-out queue bounded in packets.
//!
//! Linux: `pfifo_qdisc_ops` (net/sched/sch_fifo.c). The default child of classful qdiscs.

use super::opt::FifoOpt;
use super::{other_kind, Qdisc, QdiscOpt, QdiscStats, TcError};
use crate::buf::PacketBuf;
use crate::time::Instant;
use std::collections::VecDeque;

/// Linux's default `txqueuelen`.
pub const DEFAULT_LIMIT: usize = 1000;

/// A packet-bounded FIFO.
#[derive(Debug)]
pub struct Pfifo {
    queue: VecDeque<PacketBuf>,
    limit: usize,
    stats: QdiscStats,
}

impl Default for Pfifo {
    fn default() -> Self {
        Pfifo::new(DEFAULT_LIMIT)
    }
}

impl Pfifo {
    /// A FIFO holding at most `limit` packets.
    pub fn new(limit: usize) -> Pfifo {
        Pfifo {
            queue: VecDeque::new(),
            limit,
            stats: QdiscStats::default(),
        }
    }

    /// From its options, the limit defaulting to `txqueuelen`. Linux: `fifo_init`.
    pub fn from_opt(opt: &FifoOpt, txqueuelen: usize) -> Pfifo {
        Pfifo::new(opt.limit.map_or(txqueuelen, |l| l as usize))
    }
}

impl Qdisc for Pfifo {
    fn kind(&self) -> &'static str {
        "pfifo"
    }

    fn takes_gso(&self) -> bool {
        true
    }

    /// Linux: `pfifo_enqueue` (tail drop).
    fn enqueue(&mut self, buf: PacketBuf, _now: Instant) -> Result<(), PacketBuf> {
        if self.queue.len() >= self.limit {
            self.stats.drops += 1;
            return Err(buf);
        }
        self.stats.enqueued(buf.len());
        self.queue.push_back(buf);
        Ok(())
    }

    fn dequeue(&mut self, _now: Instant) -> Option<PacketBuf> {
        let buf = self.queue.pop_front()?;
        self.stats.dequeued(buf.len());
        Some(buf)
    }

    fn peek(&mut self, _now: Instant) -> Option<&PacketBuf> {
        self.queue.front()
    }

    fn len(&self) -> usize {
        self.queue.len()
    }

    fn reset(&mut self) -> Vec<PacketBuf> {
        self.stats.backlog_bytes = 0;
        self.stats.qlen = 0;
        self.queue.drain(..).collect()
    }

    fn stats(&self) -> QdiscStats {
        self.stats
    }

    fn dump(&self) -> QdiscOpt {
        QdiscOpt::Pfifo(FifoOpt {
            limit: Some(self.limit as u64),
        })
    }

    fn change(&mut self, opt: &QdiscOpt) -> Result<(), TcError> {
        match opt {
            QdiscOpt::Pfifo(o) => {
                if let Some(l) = o.limit {
                    self.limit = l as usize;
                }
                Ok(())
            }
            o => Err(other_kind("pfifo", o)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_drops_beyond_limit_and_counts() {
        let mut q = Pfifo::new(2);
        let now = Instant::ZERO;
        q.enqueue(PacketBuf::from_slice(&[1; 10], 0), now).unwrap();
        q.enqueue(PacketBuf::from_slice(&[2; 20], 0), now).unwrap();
        assert!(q.enqueue(PacketBuf::from_slice(&[3; 5], 0), now).is_err());
        assert_eq!(q.stats().backlog_bytes, 30);
        assert_eq!(q.peek(now).unwrap().data()[0], 1);
        assert_eq!(q.dequeue(now).unwrap().data()[0], 1);
        let s = q.stats();
        assert_eq!(
            (s.packets, s.bytes, s.drops, s.qlen, s.backlog_bytes),
            (1, 10, 1, 1, 20)
        );
        assert_eq!(q.reset().len(), 1);
        assert!(q.is_empty());
        let two = QdiscOpt::Pfifo(FifoOpt { limit: Some(2) });
        assert_eq!(q.dump(), two);
        let bad = q.change(&QdiscOpt::Bfifo(FifoOpt { limit: Some(9) }));
        assert!(bad.unwrap_err().0.contains("\"bfifo\""));
        assert_eq!(q.dump(), two);
    }
}
