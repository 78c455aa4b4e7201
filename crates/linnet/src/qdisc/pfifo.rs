//! `pfifo`: a first-in first-out queue bounded in packets.
//!
//! Linux: `pfifo_qdisc_ops` (net/sched/sch_fifo.c). Used with the device's `txqueuelen` as its
//! limit until the classful qdiscs arrive.

use super::{Qdisc, QdiscStats};
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
}

impl Qdisc for Pfifo {
    fn kind(&self) -> &'static str {
        "pfifo"
    }

    /// Linux: `pfifo_enqueue` (tail drop).
    fn enqueue(&mut self, buf: PacketBuf, _now: Instant) -> Result<(), PacketBuf> {
        if self.queue.len() >= self.limit {
            self.stats.drops += 1;
            return Err(buf);
        }
        self.stats.backlog_bytes += buf.len() as u64;
        self.queue.push_back(buf);
        Ok(())
    }

    fn dequeue(&mut self, _now: Instant) -> Option<PacketBuf> {
        let buf = self.queue.pop_front()?;
        let len = buf.len() as u64;
        self.stats.backlog_bytes -= len;
        self.stats.bytes += len;
        self.stats.packets += 1;
        Some(buf)
    }

    fn len(&self) -> usize {
        self.queue.len()
    }

    fn reset(&mut self) -> Vec<PacketBuf> {
        self.stats.backlog_bytes = 0;
        self.queue.drain(..).collect()
    }

    fn stats(&self) -> QdiscStats {
        QdiscStats {
            qlen: self.queue.len() as u64,
            ..self.stats
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
        assert_eq!(q.dequeue(now).unwrap().data()[0], 1);
        let s = q.stats();
        assert_eq!(
            (s.packets, s.bytes, s.drops, s.qlen, s.backlog_bytes),
            (1, 10, 1, 1, 20)
        );
        assert_eq!(q.reset().len(), 1);
        assert!(q.is_empty());
    }
}
