//! `bfifo`: a first-in first-out queue bounded in bytes.
//!
//! Linux: `bfifo_qdisc_ops` (net/sched/sch_fifo.c); the default limit is
//! `txqueuelen * (mtu + link header)`.

use super::units::{fmt_size, parse_size, tc_err, Args};
use super::{Qdisc, QdiscStats, TcError};
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

    /// From tc words (`limit SIZE`). Linux: `fifo_init`.
    pub fn from_args(args: &[String], txqueuelen: usize, mtu: usize) -> Result<Bfifo, TcError> {
        let mut q = Bfifo::new((txqueuelen * (mtu + 14)) as u64);
        q.change(args)?;
        Ok(q)
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

    fn dump(&self) -> String {
        format!("limit {}", fmt_size(self.limit))
    }

    fn change(&mut self, args: &[String]) -> Result<(), TcError> {
        let mut a = Args::new(args);
        let mut limit = self.limit;
        while let Some(w) = a.next() {
            match w {
                "limit" => limit = parse_size(a.value(w)?)?,
                _ => return Err(tc_err!("bfifo: unknown option \"{w}\"")),
            }
        }
        self.limit = limit;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_limit_tail_drops() {
        let mut q = Bfifo::from_args(&["limit".into(), "2kb".into()], 1000, 1500).unwrap();
        assert_eq!(q.dump(), "limit 2Kb");
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
        assert!(Bfifo::from_args(&["limit".into(), "2kq".into()], 1000, 1500).is_err());
        assert!(Bfifo::from_args(&["size".into()], 1000, 1500)
            .unwrap_err()
            .0
            .contains("\"size\""));
    }
}
