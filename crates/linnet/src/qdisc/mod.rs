//! Egress queueing disciplines, one at the root of each device.
//!
//! Linux: `struct Qdisc` and `Qdisc_ops` (include/net/sch_generic.h); `dev_queue_xmit` enqueues,
//! `qdisc_restart` dequeues towards the driver.

pub mod pfifo;

use crate::buf::PacketBuf;
use crate::time::Instant;
use serde::{Deserialize, Serialize};

pub use pfifo::Pfifo;

/// Qdisc counters, as `tc -s qdisc show` prints them.
/// Linux: `struct gnet_stats_basic` + `struct gnet_stats_queue`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QdiscStats {
    /// Bytes dequeued towards the device.
    pub bytes: u64,
    /// Packets dequeued towards the device.
    pub packets: u64,
    /// Packets dropped.
    pub drops: u64,
    /// Times the qdisc throttled.
    pub overlimits: u64,
    /// Packets put back after a failed transmit.
    pub requeues: u64,
    /// Bytes queued now.
    pub backlog_bytes: u64,
    /// Packets queued now.
    pub qlen: u64,
}

/// An egress queueing discipline. Linux: `struct Qdisc_ops`.
pub trait Qdisc: Send + std::fmt::Debug {
    /// The qdisc's kind, as `tc` names it (`pfifo`, `tbf`...).
    fn kind(&self) -> &'static str;

    /// Queue a packet, or hand it back if it is dropped (the caller counts and recycles it).
    /// Linux: `ops->enqueue`.
    fn enqueue(&mut self, buf: PacketBuf, now: Instant) -> Result<(), PacketBuf>;

    /// The next packet to transmit, if one may go now. Linux: `ops->dequeue`.
    fn dequeue(&mut self, now: Instant) -> Option<PacketBuf>;

    /// When a packet held back now may be dequeued (shaping qdiscs); `None` if none is held.
    fn next_deadline(&self) -> Option<Instant> {
        None
    }

    /// Packets queued.
    fn len(&self) -> usize;

    /// True when nothing is queued.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drop everything queued, returning the buffers for recycling. Linux: `ops->reset`.
    fn reset(&mut self) -> Vec<PacketBuf>;

    /// Counters.
    fn stats(&self) -> QdiscStats;
}
