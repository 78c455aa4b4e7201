//! The in-memory link both stacks run on: a pair of frame queues.
//!
//! One [`FrameLink`] holds two directions, each a `VecDeque<Vec<u8>>` of whole Ethernet
//! frames, and a free list of frame vectors so that the link itself allocates nothing per
//! frame in steady state. Linnet's driver loop ([`crate::linnet_pair`]) and smoltcp's
//! `phy::Device` ([`crate::smol_pair`]) both move frames through this same type, with the same
//! MTU and the same queue limit, so the only difference measured is the stacks.
//!
//! Design choice (documented in the README): both ends are polled from ONE thread, in turn.
//! The machine this runs on has two cores shared with other work, and a single thread gives a
//! stable figure: it measures how much work each stack spends per byte (CPU cost of sender
//! plus receiver), which is what the ratio compares. The link is therefore an
//! `Rc<RefCell<_>>`, not a lock-free queue.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

/// Ethernet header bytes on top of the MTU.
pub const ETH_HLEN: usize = 14;

/// Frames queued per direction beyond which new frames are dropped (a NIC ring's size).
pub const QUEUE_LIMIT: usize = 4096;

/// Two frame queues and a free list of frame storage.
#[derive(Debug)]
pub struct FrameLink {
    /// `queues[d]` holds frames travelling towards side `d`.
    queues: [VecDeque<Vec<u8>>; 2],
    spare: Vec<Vec<u8>>,
    mtu: usize,
    /// Frames carried, per direction (index: the receiving side).
    pub frames: [u64; 2],
    /// Payload bytes carried (Ethernet frames), per direction.
    pub bytes: [u64; 2],
    /// Frames dropped because a queue was full or the frame exceeded the MTU.
    pub drops: u64,
}

/// A shared handle on a link.
pub type LinkRef = Rc<RefCell<FrameLink>>;

impl FrameLink {
    /// A link with this MTU (IP bytes; frames may be `mtu + 14` long).
    pub fn new(mtu: usize) -> LinkRef {
        Rc::new(RefCell::new(FrameLink {
            queues: [
                VecDeque::with_capacity(QUEUE_LIMIT),
                VecDeque::with_capacity(QUEUE_LIMIT),
            ],
            spare: Vec::with_capacity(2 * QUEUE_LIMIT),
            mtu,
            frames: [0; 2],
            bytes: [0; 2],
            drops: 0,
        }))
    }

    /// The MTU.
    pub fn mtu(&self) -> usize {
        self.mtu
    }

    /// Storage for a frame of `len` bytes (recycled when possible), for the sender to fill
    /// before [`FrameLink::push`].
    pub fn frame(&mut self, len: usize) -> Vec<u8> {
        let mut v = self.spare.pop().unwrap_or_default();
        v.clear();
        v.resize(len, 0);
        v
    }

    /// Queue a frame from side `from` towards the other side; drops it (and recycles the
    /// storage) when too long or when the queue is full.
    pub fn push(&mut self, from: usize, frame: Vec<u8>) {
        let to = 1 - from;
        if frame.len() > self.mtu + ETH_HLEN || self.queues[to].len() >= QUEUE_LIMIT {
            self.drops += 1;
            self.recycle(frame);
            return;
        }
        self.frames[to] += 1;
        self.bytes[to] += frame.len() as u64;
        self.queues[to].push_back(frame);
    }

    /// Copy `data` into a frame and queue it from side `from`.
    pub fn push_copy(&mut self, from: usize, data: &[u8]) {
        let mut v = self.spare.pop().unwrap_or_default();
        v.clear();
        v.extend_from_slice(data);
        self.push(from, v);
    }

    /// The next frame waiting for side `side`.
    pub fn pop(&mut self, side: usize) -> Option<Vec<u8>> {
        self.queues[side].pop_front()
    }

    /// Give frame storage back.
    pub fn recycle(&mut self, frame: Vec<u8>) {
        if self.spare.len() < 2 * QUEUE_LIMIT {
            self.spare.push(frame);
        }
    }

    /// Total frames carried in both directions.
    pub fn total_frames(&self) -> u64 {
        self.frames[0] + self.frames[1]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_cross_and_storage_is_recycled() {
        let l = FrameLink::new(100);
        let mut l = l.borrow_mut();
        l.push_copy(0, b"hello");
        assert!(l.pop(0).is_none());
        let f = l.pop(1).unwrap();
        assert_eq!(f, b"hello");
        let p = f.as_ptr();
        l.recycle(f);
        let g = l.frame(3);
        assert_eq!(g.as_ptr(), p, "storage reused");
        assert_eq!(g, [0, 0, 0]);
        l.push(1, vec![0u8; 115]);
        assert_eq!(l.drops, 1, "longer than mtu + 14 is dropped");
        assert_eq!(l.total_frames(), 1);
    }
}
