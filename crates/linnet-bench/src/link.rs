//! The in-memory link both stacks run on: a pair of frame queues.
//!
//! One [`FrameLink`] holds two directions, each a queue of whole Ethernet frames, with the
//! same MTU and the same queue limit for both stacks. Each stack's device moves frames in its
//! own zero-copy way, as a real NIC driver would: smoltcp's `phy::Device`
//! ([`crate::smol_pair`]) fills and reads `Vec<u8>` frames in place (the link keeps a free
//! list of them), and Linnet's driver loop ([`crate::linnet_pair`]) hands its packet buffers
//! over as they are (the two stacks' buffer pools are kept level, like a shared page pool).
//! Neither copies a frame on the link, so the only difference measured is the stacks.
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

/// Something the link carries: a whole Ethernet frame.
pub trait Frame {
    /// Bytes of the frame.
    fn frame_len(&self) -> usize;
}

impl Frame for Vec<u8> {
    fn frame_len(&self) -> usize {
        self.len()
    }
}

impl Frame for linnet::buf::PacketBuf {
    fn frame_len(&self) -> usize {
        self.len()
    }
}

/// Two frame queues (and, for `Vec<u8>` frames, a free list of frame storage).
#[derive(Debug)]
pub struct FrameLink<F = Vec<u8>> {
    /// `queues[d]` holds frames travelling towards side `d`.
    queues: [VecDeque<F>; 2],
    spare: Vec<F>,
    mtu: usize,
    /// Frames carried, per direction (index: the receiving side).
    pub frames: [u64; 2],
    /// Payload bytes carried (Ethernet frames), per direction.
    pub bytes: [u64; 2],
    /// Frames dropped because a queue was full or the frame exceeded the MTU.
    pub drops: u64,
}

/// A shared handle on a link.
pub type LinkRef<F = Vec<u8>> = Rc<RefCell<FrameLink<F>>>;

impl<F: Frame> FrameLink<F> {
    /// A link with this MTU (IP bytes; frames may be `mtu + 14` long).
    pub fn new(mtu: usize) -> LinkRef<F> {
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

    /// Queue a frame from side `from` towards the other side. A frame that is too long, or
    /// meets a full queue, is dropped (counted) and handed back for its storage to be reused.
    pub fn push(&mut self, from: usize, frame: F) -> Result<(), F> {
        let to = 1 - from;
        let len = frame.frame_len();
        if len > self.mtu + ETH_HLEN || self.queues[to].len() >= QUEUE_LIMIT {
            self.drops += 1;
            return Err(frame);
        }
        self.frames[to] += 1;
        self.bytes[to] += len as u64;
        self.queues[to].push_back(frame);
        Ok(())
    }

    /// The next frame waiting for side `side`.
    pub fn pop(&mut self, side: usize) -> Option<F> {
        self.queues[side].pop_front()
    }

    /// Total frames carried in both directions.
    pub fn total_frames(&self) -> u64 {
        self.frames[0] + self.frames[1]
    }
}

impl FrameLink<Vec<u8>> {
    /// Storage for a frame of `len` bytes (recycled when possible), for the sender to fill
    /// before [`FrameLink::push_vec`].
    pub fn frame(&mut self, len: usize) -> Vec<u8> {
        let mut v = self.spare.pop().unwrap_or_default();
        v.clear();
        v.resize(len, 0);
        v
    }

    /// Queue a `Vec` frame, recycling its storage if it is dropped.
    pub fn push_vec(&mut self, from: usize, frame: Vec<u8>) {
        if let Err(v) = self.push(from, frame) {
            self.recycle(v);
        }
    }

    /// Give frame storage back.
    pub fn recycle(&mut self, frame: Vec<u8>) {
        if self.spare.len() < 2 * QUEUE_LIMIT {
            self.spare.push(frame);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_cross_and_storage_is_recycled() {
        let l: LinkRef = FrameLink::new(100);
        let mut l = l.borrow_mut();
        let mut f = l.frame(5);
        f.copy_from_slice(b"hello");
        l.push_vec(0, f);
        assert!(l.pop(0).is_none());
        let f = l.pop(1).unwrap();
        assert_eq!(f, b"hello");
        let p = f.as_ptr();
        l.recycle(f);
        let g = l.frame(3);
        assert_eq!(g.as_ptr(), p, "storage reused");
        assert_eq!(g, [0, 0, 0]);
        l.push_vec(1, vec![0u8; 115]);
        assert_eq!(l.drops, 1, "longer than mtu + 14 is dropped");
        assert_eq!(l.total_frames(), 1);
    }
}
