//! `bfifo`: a first-in first-out queue bounded in bytes.
//!
//! Linux: `bfifo_qdisc_ops` (net/sched/sch_fifo.c); the default limit is
//! `txqueuelen * (mtu + link header)`.

use super::opt::FifoOpt;
use super::{other_kind, Qdisc, QdiscOpt, QdiscStats, TcError};
use crate::buf::PacketBuf;
use crate::time::Instant;
use std::collections::VecDeque;

/// A byte-bounded FIFO.
#[derive(Debug)]
pub struct Bfifo {
    queue: VecDeque<PacketBuf>,
    limit: u64,
    stats: QdiscStats,
}

impl Bfifo {
    /// A FIFO holding at most `limit` bytes.
    pub fn new(limit: u64) -> Bfifo {
        Bfifo {
            queue: VecDeque::new(),
            limit,
            stats: QdiscStats::default(),
        }
    }

    /// From its options, the limit defaulting to `txqueuelen` frames of the device's MTU.
    /// Linux: `fifo_init`.
    pub fn from_opt(opt: &FifoOpt, txqueuelen: usize, mtu: usize) -> Bfifo {
        Bfifo::new(opt.limit.unwrap_or((txqueuelen * (mtu + 14)) as u64))
    }
}

impl Qdisc for Bfifo {
    fn kind(&self) -> &'static str {
        "bfifo"
    }

    fn takes_gso(&self) -> bool {
        true
    }

    /// Linux: `bfifo_enqueue` (tail drop when the bytes would exceed the limit).
    fn enqueue(&mut self, buf: PacketBuf, _now: Instant) -> Result<(), PacketBuf> {
        if self.stats.backlog_bytes + buf.len() as u64 > self.limit {
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

    fn reset(&mut self) -> Vec<PacketBuf> {
        self.stats.backlog_bytes = 0;
        self.stats.qlen = 0;
        self.queue.drain(..).collect()
    }

    fn stats(&self) -> QdiscStats {
        self.stats
    }

    fn dump(&self) -> QdiscOpt {
        QdiscOpt::Bfifo(FifoOpt {
            limit: Some(self.limit),
        })
    }

    fn change(&mut self, opt: &QdiscOpt) -> Result<(), TcError> {
        match opt {
            QdiscOpt::Bfifo(o) => {
                if let Some(l) = o.limit {
                    self.limit = l;
                }
                Ok(())
            }
            o => Err(other_kind("bfifo", o)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_limit_tail_drops() {
        let mut q = Bfifo::from_opt(&FifoOpt { limit: Some(2048) }, 1000, 1500);
        assert_eq!(q.dump(), QdiscOpt::Bfifo(FifoOpt { limit: Some(2048) }));
        let now = Instant::ZERO;
        q.enqueue(PacketBuf::from_slice(&[1; 1000], 0), now)
            .unwrap();
        q.enqueue(PacketBuf::from_slice(&[2; 1000], 0), now)
            .unwrap();
        // 2000 + 100 > 2048: dropped, while a 48-byte packet still fits.
        assert!(q.enqueue(PacketBuf::from_slice(&[3; 100], 0), now).is_err());
        q.enqueue(PacketBuf::from_slice(&[4; 48], 0), now).unwrap();
        let s = q.stats();
        assert_eq!((s.qlen, s.backlog_bytes, s.drops), (3, 2048, 1));
        assert_eq!(q.dequeue(now).unwrap().data()[0], 1);
        // Without a limit: txqueuelen full-sized frames.
        let d = Bfifo::from_opt(&FifoOpt::default(), 1000, 1500);
        assert_eq!(
            d.dump(),
            QdiscOpt::Bfifo(FifoOpt {
                limit: Some(1_514_000)
            })
        );
    }
}
