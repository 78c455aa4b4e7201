//! A device's transmit queue state as the driver sees it: stopped while the device is full,
//! with the frames it refused kept at the head of the queue, still charged to their sockets.
//!
//! A TAP fed through an `AF_PACKET` socket, or a veth whose peer's backlog is full, has no
//! room for more frames now and again (the reader is slower than the writer). Losing the
//! frame there would be a loss TCP's own recovery must repair, at the cost of its congestion
//! window; Linux never does that to its own segments. Its driver returns `NETDEV_TX_BUSY`
//! (or stops its queue before it is full, `netif_tx_stop_queue`), the qdisc layer keeps the
//! refused skb (`dev_requeue_skb`) and dequeues nothing more until the driver wakes the queue
//! (`netif_tx_wake_queue`). Meanwhile the packets stay in the qdisc, charged to their
//! sockets, and TCP Small Queues holds everything else back in the sockets' write queues,
//! where TCP's own control applies.
//!
//! Linux: `struct netdev_queue` (its `__QUEUE_STATE_DRV_XOFF` bit), `dev_requeue_skb` and the
//! qdisc's `gso_skb` list (net/sched/sch_generic.c), `netif_tx_stop_queue` and
//! `netif_tx_wake_queue` (include/linux/netdevice.h).

use crate::buf::PacketBuf;
use crate::device::netns::NetnsDev;
use crate::stack::Stack;
use crate::time::Instant;
use std::collections::VecDeque;
use std::io;

/// Whether a driver's transmit error means "the device is full, the frame was not sent,
/// try again later" (Linux: `NETDEV_TX_BUSY`) rather than a fault or a drop.
pub fn is_tx_busy(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::WouldBlock
}

/// The error a driver returns for a frame its full device refused (see [`is_tx_busy`]).
pub fn tx_busy(dev: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::WouldBlock,
        format!("{dev}: device queue full, frame not sent"),
    )
}

/// A device's transmit queue state. Linux: `struct netdev_queue` + the qdisc's `gso_skb`.
#[derive(Debug, Default)]
pub struct TxQueue {
    /// Stopped by the driver: nothing is dequeued until it wakes. Linux:
    /// `__QUEUE_STATE_DRV_XOFF`.
    stopped: bool,
    /// Frames the driver refused, sent first once the queue wakes, in order. Linux:
    /// `q->gso_skb`.
    requeued: VecDeque<PacketBuf>,
    /// Frames put back after the driver refused them. Linux: `qstats.requeues`.
    requeues: u64,
}

impl TxQueue {
    /// Whether the driver stopped the queue. Linux: `netif_xmit_stopped`.
    pub fn stopped(&self) -> bool {
        self.stopped
    }

    /// Frames waiting to be retried.
    pub fn requeued(&self) -> usize {
        self.requeued.len()
    }

    /// Frames put back after the driver refused them, ever.
    pub fn requeues(&self) -> u64 {
        self.requeues
    }

    /// Forget everything (the device went down), returning the frames for recycling.
    pub(crate) fn reset(&mut self) -> Vec<PacketBuf> {
        self.stopped = false;
        self.requeued.drain(..).collect()
    }

    /// The next refused frame to retry, if the queue runs.
    pub(crate) fn pop(&mut self) -> Option<PacketBuf> {
        if self.stopped {
            return None;
        }
        self.requeued.pop_front()
    }
}

impl Stack {
    /// The driver of `ifindex` refused `buf` because its queue is full: keep the frame for a
    /// retry, after any refused before it and ahead of everything still in the qdisc, charged
    /// to its socket again (TCP Small Queues keeps the socket waiting), and stop the queue
    /// until `NetnsDev::netif_wake_queue`. Linux: `dev_requeue_skb` after `NETDEV_TX_BUSY`.
    pub fn dev_requeue_skb(&mut self, ifindex: u32, buf: PacketBuf) {
        if let Some(iface) = self.iface_mut(ifindex) {
            iface.txq.requeues += 1;
        }
        self.dev_requeue_untried(ifindex, buf);
    }

    /// Put back a frame taken for the driver of `ifindex` but not offered to it, because the
    /// driver refused one before it ([`Stack::dev_requeue_skb`]): it keeps its place, behind
    /// that one. (Linux's qdisc dequeues nothing once the driver stops its queue; Linnet's
    /// driver loop takes a batch first and writes it outside the stack's lock.)
    pub fn dev_requeue_untried(&mut self, ifindex: u32, buf: PacketBuf) {
        let (sk, len) = (buf.meta.sk, buf.len());
        let Some(iface) = self.iface_mut(ifindex) else {
            self.pool.put(buf);
            return;
        };
        if !iface.up {
            self.pool.put(buf);
            return;
        }
        iface.txq.stopped = true;
        iface.txq.requeued.push_back(buf);
        self.tsq_charge(sk, ifindex, len);
    }

    /// Whether the driver of `ifindex` stopped its queue. Linux: `netif_queue_stopped`.
    pub fn netif_queue_stopped(&self, ifindex: u32) -> bool {
        self.iface(ifindex).is_some_and(|i| i.txq.stopped)
    }

    /// The next frame for the driver of `ifindex`: a refused one first; None while the queue
    /// is stopped. Part of [`Stack::take_tx`]; `Err(())` means stopped (take nothing from the
    /// qdisc either). Linux: `dequeue_skb` taking `q->gso_skb` first.
    pub(crate) fn txq_take_requeued(
        &mut self,
        ifindex: u32,
        now: Instant,
    ) -> Result<Option<PacketBuf>, ()> {
        let Some(iface) = self.iface_mut(ifindex) else {
            return Ok(None);
        };
        if iface.txq.stopped {
            return Err(());
        }
        let Some(buf) = iface.txq.pop() else {
            return Ok(None);
        };
        // It leaves for the driver again: its socket's charge goes (and the socket resumes
        // if it waited).
        self.tcp_wfree(&buf, now);
        Ok(Some(buf))
    }
}

impl NetnsDev {
    /// The driver of `ifindex` has room again (or wants to find out): dequeue from it once
    /// more, refused frames first. Linux: `netif_tx_wake_queue`.
    pub(crate) fn netif_wake_queue(&mut self, ifindex: u32) {
        if let Some(iface) = self.dev_get_by_index_mut(ifindex) {
            iface.txq.stopped = false;
        }
    }
}
