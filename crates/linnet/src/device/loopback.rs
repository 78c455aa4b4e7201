//! The loopback device: what is transmitted is received again.
//!
//! Linux: `loopback_xmit` (drivers/net/loopback.c), which hands the skb straight to `netif_rx`.
//! It needs no I/O, so it lives inside the core: the stack queues frames here on output and
//! feeds them back into its receive path on the next poll.

use super::DeviceStats;
use crate::buf::PacketBuf;
use std::collections::VecDeque;

/// Linux's loopback MTU.
pub const LOOPBACK_MTU: usize = 65536;

/// Default bound on frames waiting to loop back (Linux: `netdev_max_backlog`, 1000).
pub const DEFAULT_BACKLOG: usize = 1000;

/// The loopback device's queue and counters.
#[derive(Debug)]
pub struct Loopback {
    backlog: VecDeque<PacketBuf>,
    limit: usize,
    stats: DeviceStats,
}

impl Default for Loopback {
    fn default() -> Self {
        Loopback::new(DEFAULT_BACKLOG)
    }
}

impl Loopback {
    /// A loopback device holding at most `limit` frames in flight.
    pub fn new(limit: usize) -> Loopback {
        Loopback {
            backlog: VecDeque::new(),
            limit,
            stats: DeviceStats::default(),
        }
    }

    /// Transmit: queue the frame to be received again. Returns it back if the backlog is full
    /// (counted as a drop). Linux: `loopback_xmit`.
    pub fn xmit(&mut self, buf: PacketBuf) -> Result<(), PacketBuf> {
        if self.backlog.len() >= self.limit {
            self.stats.tx_dropped += 1;
            return Err(buf);
        }
        self.stats.count_tx(buf.len());
        self.stats.count_rx(buf.len());
        self.backlog.push_back(buf);
        Ok(())
    }

    /// The next frame to receive. Linux: `process_backlog`.
    pub fn recv(&mut self) -> Option<PacketBuf> {
        self.backlog.pop_front()
    }

    /// Frames waiting.
    pub fn pending(&self) -> usize {
        self.backlog.len()
    }

    /// Counters.
    pub fn stats(&self) -> DeviceStats {
        self.stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loops_back_in_order_and_bounds_backlog() {
        let mut lo = Loopback::new(2);
        lo.xmit(PacketBuf::from_slice(b"one", 0)).unwrap();
        lo.xmit(PacketBuf::from_slice(b"two", 0)).unwrap();
        assert!(lo.xmit(PacketBuf::from_slice(b"three", 0)).is_err());
        assert_eq!(lo.recv().unwrap().data(), b"one");
        assert_eq!(lo.recv().unwrap().data(), b"two");
        assert!(lo.recv().is_none());
        let s = lo.stats();
        assert_eq!((s.tx_packets, s.rx_packets, s.tx_dropped), (2, 2, 1));
    }
}
