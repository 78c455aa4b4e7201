//! Egress queueing disciplines (traffic control), a tree of them at the root of each device.
//!
//! Linux: `struct Qdisc` and `Qdisc_ops` / `Qdisc_class_ops` (include/net/sch_generic.h);
//! `dev_queue_xmit` enqueues, `qdisc_restart` dequeues towards the driver. Shaping qdiscs
//! never busy-wait: when they hold packets back they report [`Qdisc::next_deadline`], which
//! the stack folds into the deadline its driver sleeps until (Linux: `qdisc_watchdog`).

pub(crate) mod bfifo;
pub mod cls;
pub(crate) mod fq_codel;
pub(crate) mod htb;
pub(crate) mod netem;
pub mod opt;
pub(crate) mod pfifo;
pub mod pfifo_fast;
pub mod prio;
pub(crate) mod tbf;
pub mod tc;
pub mod units;

use crate::buf::PacketBuf;
use crate::time::Instant;
use serde::{Deserialize, Serialize};

pub use bfifo::Bfifo;
pub use cls::Filter;
pub use opt::{ClassOpt, QdiscOpt, TcOptions, XStats};
pub use pfifo::Pfifo;
pub use pfifo_fast::PfifoFast;
pub use units::TcError;

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

impl QdiscStats {
    /// Count a packet accepted into the queue.
    pub(crate) fn enqueued(&mut self, len: usize) {
        self.backlog_bytes += len as u64;
        self.qlen += 1;
    }

    /// Count a packet leaving towards the device. Linux: `qdisc_bstats_update`.
    pub(crate) fn dequeued(&mut self, len: usize) {
        self.backlog_bytes = self.backlog_bytes.saturating_sub(len as u64);
        self.qlen = self.qlen.saturating_sub(1);
        self.bytes += len as u64;
        self.packets += 1;
    }

    /// Count a queued packet dropped from inside the queue. Linux: `qdisc_qstats_drop` +
    /// `qdisc_qstats_backlog_dec`.
    pub(crate) fn dropped_queued(&mut self, len: usize) {
        self.backlog_bytes = self.backlog_bytes.saturating_sub(len as u64);
        self.qlen = self.qlen.saturating_sub(1);
        self.drops += 1;
    }
}

/// What a qdisc is built from: the device it sits on and a seed for its randomness.
#[derive(Debug, Clone, Copy)]
pub struct QdiscEnv {
    /// Device MTU (payload bytes).
    pub mtu: usize,
    /// Device `txqueuelen` (default fifo limits).
    pub txqueuelen: usize,
    /// Seed for random choices (netem, flow hash perturbation).
    pub seed: u64,
}

impl Default for QdiscEnv {
    fn default() -> Self {
        QdiscEnv {
            mtu: 1500,
            txqueuelen: pfifo::DEFAULT_LIMIT,
            seed: 1,
        }
    }
}

/// A qdisc with its handle, as held by a parent (or by the device at the root).
#[derive(Debug)]
pub struct Slot {
    /// Handle (`MAJ:0`); 0 for default qdiscs nobody named.
    pub handle: u32,
    /// The qdisc.
    pub qdisc: Box<dyn Qdisc>,
}

impl Slot {
    /// A slot.
    pub fn new(handle: u32, qdisc: Box<dyn Qdisc>) -> Slot {
        Slot { handle, qdisc }
    }

    /// The default child of a classful qdisc: a `pfifo` bounded by `txqueuelen`.
    /// Linux: `qdisc_create_dflt(..., &pfifo_qdisc_ops, ...)`.
    pub fn default_child(env: &QdiscEnv) -> Slot {
        Slot::new(0, Box::new(Pfifo::new(env.txqueuelen)))
    }
}

/// A class as `tc class show` prints it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClassInfo {
    /// Class id.
    pub classid: u32,
    /// Parent class id, or the qdisc handle for top classes.
    pub parent: u32,
    /// Handle of the leaf qdisc, if any.
    pub leaf: Option<u32>,
    /// Its options, if its kind has any.
    pub opts: Option<ClassOpt>,
    /// Counters.
    pub stats: QdiscStats,
    /// Its kind's own counters (`tokens`, `lended`, ...).
    pub xstats: Option<XStats>,
}

/// An egress queueing discipline. Linux: `struct Qdisc_ops` (+ `Qdisc_class_ops` for
/// classful ones).
pub trait Qdisc: Send + std::fmt::Debug {
    /// The qdisc's kind, as `tc` names it (`pfifo`, `tbf`...).
    fn kind(&self) -> &'static str;

    /// Queue a packet, or hand it back if it is dropped (the caller counts and recycles it).
    /// Linux: `ops->enqueue`.
    fn enqueue(&mut self, buf: PacketBuf, now: Instant) -> Result<(), PacketBuf>;

    /// The next packet to transmit, if one may go now. Linux: `ops->dequeue`.
    fn dequeue(&mut self, now: Instant) -> Option<PacketBuf>;

    /// The packet [`Qdisc::dequeue`] would return now, left in place. Linux: `ops->peek`.
    fn peek(&mut self, now: Instant) -> Option<&PacketBuf>;

    /// Whether a GSO super-frame may be queued whole: true for a plain FIFO, which hands it
    /// on to the device as it came. A qdisc that shapes, schedules or delays packet by packet
    /// wants wire-sized segments instead, as Linux's tbf (`tbf_segment`) and netem segment
    /// GSO packets on enqueue, so a burst smaller than a super-frame cannot stall it.
    fn takes_gso(&self) -> bool {
        false
    }

    /// When a packet held back now may be dequeued (shaping qdiscs); `None` if none is held.
    /// Valid after the last [`Qdisc::dequeue`]. Linux: the `qdisc_watchdog` expiry.
    fn next_deadline(&self) -> Option<Instant> {
        None
    }

    /// Packets queued.
    fn len(&self) -> usize {
        self.stats().qlen as usize
    }

    /// True when nothing is queued.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drop everything queued, returning the buffers for recycling. Linux: `ops->reset`.
    fn reset(&mut self) -> Vec<PacketBuf>;

    /// Counters.
    fn stats(&self) -> QdiscStats;

    /// Its options, as `tc qdisc show` prints them. Linux: `ops->dump`.
    fn dump(&self) -> QdiscOpt;

    /// Its own counters for `tc -s` (`maxpacket 1514 drop_overlimit 0 ...`).
    /// Linux: `ops->dump_stats`.
    fn dump_stats(&self) -> Option<XStats> {
        None
    }

    /// Change options (`tc qdisc change`; `opt` is of this kind); on error nothing changes.
    /// Linux: `ops->change`.
    fn change(&mut self, opt: &QdiscOpt) -> Result<(), TcError>;

    /// The child qdiscs with the class each hangs from. Linux: `cops->walk` + `cops->leaf`.
    fn children(&self) -> Vec<(u32, &Slot)> {
        Vec::new()
    }

    /// The child hanging from class minor `minor`. Linux: `cops->find` + `cops->leaf`.
    fn child_mut(&mut self, _minor: u32) -> Option<&mut Slot> {
        None
    }

    /// Replace the child of class `minor` with `slot`, returning the old child (whose
    /// packets the caller drops). Linux: `cops->graft`.
    fn graft(&mut self, minor: u32, slot: Slot) -> Result<Slot, (TcError, Slot)> {
        let _ = minor;
        Err((tc_err!("qdisc {} is classless", self.kind()), slot))
    }

    /// The child a class gets back when its qdisc is deleted: a `pfifo` bounded by
    /// `txqueuelen`. Linux: `qdisc_create_dflt` in each qdisc's `graft` for a NULL child.
    fn dflt_child(&self, env: &QdiscEnv) -> Box<dyn Qdisc> {
        Box::new(Pfifo::new(env.txqueuelen))
    }

    /// Add (`create`) or change class `classid` with parent `parent` and options `opt`.
    /// Linux: `cops->change`.
    fn class_change(
        &mut self,
        classid: u32,
        parent: u32,
        create: bool,
        opt: Option<&ClassOpt>,
        env: &QdiscEnv,
        now: Instant,
    ) -> Result<(), TcError> {
        let _ = (classid, parent, create, opt, env, now);
        Err(tc_err!("qdisc {} has no classes to change", self.kind()))
    }

    /// Delete class `classid`, returning its queued packets. Linux: `cops->delete`.
    fn class_delete(&mut self, classid: u32) -> Result<Vec<PacketBuf>, TcError> {
        Err(tc_err!(
            "qdisc {} has no class {}",
            self.kind(),
            units::fmt_handle(classid)
        ))
    }

    /// Its classes. Linux: `cops->walk` + `cops->dump_class`.
    fn classes(&self) -> Vec<ClassInfo> {
        Vec::new()
    }

    /// The filter list attached to this qdisc, if it classifies. Linux: `cops->tcf_block`.
    fn filters_mut(&mut self) -> Option<&mut Vec<Filter>> {
        None
    }

    /// The attached filters, for `tc filter show`.
    fn filters(&self) -> &[Filter] {
        &[]
    }

    /// A packet the qdisc dropped inside during a dequeue (CoDel), for the stack to count,
    /// uncharge from its socket and recycle. Linux: `qdisc_drop` → `kfree_skb` from dequeue.
    fn take_dropped(&mut self) -> Option<PacketBuf> {
        None
    }
}

/// Most packets a qdisc keeps for [`Qdisc::take_dropped`]; beyond, they are freed at once.
pub const MAX_DROPPED_KEPT: usize = 256;

pub(crate) use units::tc_err;

/// The error for options of another kind than the qdisc's.
pub(crate) fn other_kind(kind: &str, opt: &QdiscOpt) -> TcError {
    tc_err!("cannot change {kind} into \"{}\" (use replace)", opt.kind())
}
