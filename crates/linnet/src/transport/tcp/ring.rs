//! A fixed-capacity byte ring: the storage of TCP's send and receive queues.
//!
//! Linux keeps socket data as lists of skbs; Linnet copies payload once into a ring per
//! direction, which bounds memory by `SO_SNDBUF`/`SO_RCVBUF` and lets out-of-order data be
//! written in place beyond the in-order end ("unallocated" space). On the receive side,
//! in-order segments of the fast path may instead stay in their packet buffers
//! (`TcpSock::rx_skbs`): their bytes are enqueued in the ring unwritten
//! ([`RingBuffer::enqueue_unallocated`]) and skipped when read
//! ([`RingBuffer::dequeue_allocated`]), so the ring's length and free space still account
//! for every unread byte and its end stays at `rcv_nxt`.

/// The ring. Its storage is allocated once, on the first write (a socket that never carries
/// data, or carries it one way only, costs no buffer memory, as in Linux where queues hold
/// skbs only while there is data); after that no operation allocates.
#[derive(Debug)]
pub struct RingBuffer {
    /// Empty until the first write, then `cap` bytes.
    buf: Box<[u8]>,
    cap: usize,
    /// Index of the first enqueued byte.
    head: usize,
    /// Bytes enqueued.
    len: usize,
}

impl RingBuffer {
    /// A ring of `capacity` bytes.
    pub fn new(capacity: usize) -> RingBuffer {
        RingBuffer {
            buf: Box::default(),
            cap: capacity,
            head: 0,
            len: 0,
        }
    }

    /// Capacity in bytes.
    pub fn capacity(&self) -> usize {
        self.cap
    }

    /// Bytes enqueued.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Nothing enqueued.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// No free space.
    pub fn is_full(&self) -> bool {
        self.len == self.capacity()
    }

    /// Free bytes.
    pub fn window(&self) -> usize {
        self.capacity() - self.len
    }

    /// Drop everything.
    pub fn clear(&mut self) {
        self.head = 0;
        self.len = 0;
    }

    /// Physical index of logical offset `off` from the head.
    fn idx(&self, off: usize) -> usize {
        let cap = self.capacity();
        if cap == 0 {
            return 0;
        }
        (self.head + off) % cap
    }

    /// Copy `data` into the ring at logical offset `off` (from the head), clamped to capacity;
    /// returns bytes written. Does not change `len`.
    fn write_at(&mut self, off: usize, data: &[u8]) -> usize {
        let cap = self.capacity();
        if off >= cap {
            return 0;
        }
        let n = data.len().min(cap - off);
        if n == 0 {
            return 0;
        }
        if self.buf.len() != cap {
            self.buf = vec![0u8; cap].into_boxed_slice();
        }
        let start = self.idx(off);
        let first = n.min(cap - start);
        self.buf[start..start + first].copy_from_slice(&data[..first]);
        self.buf[..n - first].copy_from_slice(&data[first..n]);
        n
    }

    /// Copy bytes from logical offset `off` into `out`, clamped to what is enqueued.
    fn read_at(&self, off: usize, out: &mut [u8]) -> usize {
        if off >= self.len {
            return 0;
        }
        let (a, b) = self.get_allocated(off, out.len());
        out[..a.len()].copy_from_slice(a);
        out[a.len()..a.len() + b.len()].copy_from_slice(b);
        a.len() + b.len()
    }

    /// Raise the capacity to `new_cap` (no-op if not larger), keeping every byte: the
    /// enqueued ones and any written past them out of order. Allocates only when storage
    /// exists already; buffer autotuning calls this a few times per connection.
    pub fn grow(&mut self, new_cap: usize) {
        if new_cap <= self.cap {
            return;
        }
        if self.buf.len() == self.cap && self.cap > 0 {
            let mut nb = vec![0u8; new_cap].into_boxed_slice();
            let first = self.cap - self.head;
            nb[..first].copy_from_slice(&self.buf[self.head..]);
            nb[first..self.cap].copy_from_slice(&self.buf[..self.head]);
            self.buf = nb;
            self.head = 0;
        }
        self.cap = new_cap;
    }

    /// Append as much of `data` as fits; returns the count.
    pub fn enqueue_slice(&mut self, data: &[u8]) -> usize {
        let n = data.len().min(self.window());
        let written = self.write_at(self.len, &data[..n]);
        self.len += written;
        written
    }

    /// Copy out and remove up to `out.len()` bytes from the front.
    pub fn dequeue_slice(&mut self, out: &mut [u8]) -> usize {
        let n = self.read_at(0, out);
        self.dequeue_allocated(n);
        n
    }

    /// Remove `n` bytes from the front without copying (clamped).
    pub fn dequeue_allocated(&mut self, n: usize) -> usize {
        let n = n.min(self.len);
        self.head = self.idx(n);
        self.len -= n;
        // The head never jumps back when the ring empties: out-of-order bytes may sit past it.
        n
    }

    /// Copy bytes starting `offset` after the front, without removing them.
    pub fn peek(&self, offset: usize, out: &mut [u8]) -> usize {
        self.read_at(offset, out)
    }

    /// The enqueued bytes `[offset, offset + len)` (clamped) as at most two slices.
    pub fn get_allocated(&self, offset: usize, len: usize) -> (&[u8], &[u8]) {
        if offset >= self.len {
            return (&[], &[]);
        }
        let len = len.min(self.len - offset);
        let cap = self.capacity();
        let start = self.idx(offset);
        let first = len.min(cap - start);
        (&self.buf[start..start + first], &self.buf[..len - first])
    }

    /// All enqueued bytes as two slices, front first.
    pub fn read_slices(&self) -> (&[u8], &[u8]) {
        self.get_allocated(0, self.len)
    }

    /// Write `data` at `offset` bytes past the end of the enqueued data (out-of-order
    /// placement), clamped to the free space; returns bytes written.
    pub fn write_unallocated(&mut self, offset: usize, data: &[u8]) -> usize {
        let free = self.window();
        if offset >= free {
            return 0;
        }
        let n = data.len().min(free - offset);
        self.write_at(self.len + offset, &data[..n])
    }

    /// Make `n` bytes past the end (written with [`RingBuffer::write_unallocated`]) part of
    /// the enqueued data (clamped to the free space).
    pub fn enqueue_unallocated(&mut self, n: usize) -> usize {
        let n = n.min(self.window());
        self.len += n;
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grow_keeps_queued_and_out_of_order_bytes() {
        let mut r = RingBuffer::new(8);
        assert_eq!(r.enqueue_slice(b"abcdef"), 6);
        let mut out = [0u8; 4];
        assert_eq!(r.dequeue_slice(&mut out), 4); // head at 4, "ef" queued
        assert_eq!(r.enqueue_slice(b"gh"), 2); // wraps: "efgh"
        assert_eq!(r.write_unallocated(1, b"jk"), 2); // out of order: "efgh?jk"
        r.grow(16);
        assert_eq!(r.capacity(), 16);
        assert_eq!(r.window(), 12);
        assert_eq!(r.write_unallocated(0, b"i"), 1);
        assert_eq!(r.enqueue_unallocated(3), 3);
        let mut all = [0u8; 16];
        let n = r.dequeue_slice(&mut all);
        assert_eq!(&all[..n], b"efghijk");
        r.grow(4);
        assert_eq!(r.capacity(), 16, "never shrinks");
        let mut lazy = RingBuffer::new(4);
        lazy.grow(32);
        assert_eq!(lazy.capacity(), 32);
        assert_eq!(lazy.buf.len(), 0, "no storage before data");
    }

    #[test]
    fn storage_is_allocated_on_first_write_only() {
        let mut r = RingBuffer::new(1 << 20);
        assert_eq!(r.capacity(), 1 << 20);
        assert_eq!(r.window(), 1 << 20);
        let mut out = [0u8; 4];
        assert_eq!(r.dequeue_slice(&mut out), 0);
        assert_eq!(r.write_unallocated(0, &[]), 0);
        assert_eq!(r.buf.len(), 0, "no storage before data");
        assert_eq!(r.enqueue_slice(b"abcd"), 4);
        assert_eq!(r.buf.len(), 1 << 20);
        assert_eq!(r.dequeue_slice(&mut out), 4);
        assert_eq!(&out, b"abcd");
    }
    use proptest::prelude::*;
    use std::collections::VecDeque;

    #[test]
    fn wraps_around() {
        let mut r = RingBuffer::new(8);
        assert_eq!(r.enqueue_slice(b"abcdef"), 6);
        let mut out = [0u8; 4];
        assert_eq!(r.dequeue_slice(&mut out), 4);
        assert_eq!(&out, b"abcd");
        assert_eq!(r.enqueue_slice(b"ghijklmn"), 6);
        assert!(r.is_full());
        let (a, b) = r.read_slices();
        assert_eq!([a, b].concat(), b"efghijkl");
        let (a, b) = r.get_allocated(1, 5);
        assert_eq!([a, b].concat(), b"fghij");
        let mut p = [0u8; 3];
        assert_eq!(r.peek(6, &mut p), 2);
        assert_eq!(&p[..2], b"kl");
    }

    #[test]
    fn out_of_order_placement() {
        let mut r = RingBuffer::new(10);
        r.enqueue_slice(b"012");
        assert_eq!(r.write_unallocated(3, b"678"), 3);
        assert_eq!(r.write_unallocated(0, b"345"), 3);
        assert_eq!(r.enqueue_unallocated(6), 6);
        let (a, b) = r.read_slices();
        assert_eq!([a, b].concat(), b"012345678");
        assert_eq!(r.write_unallocated(1, b"xx"), 0);
        assert_eq!(r.write_unallocated(0, b"yy"), 1);
    }

    #[test]
    fn draining_keeps_out_of_order_bytes_in_place() {
        let mut r = RingBuffer::new(8);
        r.enqueue_slice(b"abc");
        r.write_unallocated(2, b"fg");
        let mut out = [0u8; 3];
        r.dequeue_slice(&mut out);
        assert!(r.is_empty());
        r.enqueue_slice(b"de");
        r.enqueue_unallocated(2);
        let (a, b) = r.read_slices();
        assert_eq!([a, b].concat(), b"defg");
    }

    #[test]
    fn zero_capacity() {
        let mut r = RingBuffer::new(0);
        assert_eq!(r.enqueue_slice(b"x"), 0);
        assert_eq!(r.write_unallocated(0, b"x"), 0);
        assert_eq!(r.dequeue_allocated(5), 0);
        assert_eq!(r.get_allocated(0, 4), (&[][..], &[][..]));
    }

    proptest! {
        #[test]
        fn behaves_like_a_deque(ops in proptest::collection::vec((0u8..4, 0usize..20), 1..200), cap in 0usize..32) {
            let mut r = RingBuffer::new(cap);
            let mut m: VecDeque<u8> = VecDeque::new();
            let mut next = 0u8;
            for (op, n) in ops {
                match op {
                    0 => {
                        let data: Vec<u8> = (0..n).map(|_| { next = next.wrapping_add(1); next }).collect();
                        let k = r.enqueue_slice(&data);
                        prop_assert_eq!(k, n.min(cap - m.len()));
                        m.extend(&data[..k]);
                    }
                    1 => {
                        let mut out = vec![0u8; n];
                        let k = r.dequeue_slice(&mut out);
                        let want: Vec<u8> = m.drain(..n.min(m.len())).collect();
                        prop_assert_eq!(&out[..k], &want[..]);
                    }
                    2 => {
                        let k = r.dequeue_allocated(n);
                        m.drain(..k);
                    }
                    _ => {
                        let mut out = vec![0u8; n];
                        let k = r.peek(1, &mut out);
                        let want: Vec<u8> = m.iter().skip(1).take(n).copied().collect();
                        prop_assert_eq!(&out[..k], &want[..]);
                    }
                }
                prop_assert_eq!(r.len(), m.len());
                let (a, b) = r.read_slices();
                prop_assert_eq!([a, b].concat(), m.iter().copied().collect::<Vec<_>>());
            }
        }
    }
}
