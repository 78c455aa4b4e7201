//! TCP Small Queues: a socket keeps at most a couple of segments (or about a millisecond at
//! its pacing rate) in the qdisc and device queue at once. When it holds more, it defers
//! sending; when the qdisc hands one of its packets to the driver (or drops it), the socket
//! is resumed. Queueing then happens in the socket, where TCP's own control applies, rather
//! than in a long device queue that delays everyone else.
//!
//! Linux: `tcp_small_queue_check` (net/ipv4/tcp_output.c), `tcp_wfree` and the TSQ tasklet
//! (`tcp_tsq_handler`), `sysctl_tcp_limit_output_bytes`.

use crate::buf::PacketBuf;
use crate::core::sock::SockId;
use crate::stack::Stack;
use crate::time::Instant;

/// Most bytes a socket may have queued below it. Linux: `tcp_limit_output_bytes` (1 MiB).
pub const TCP_LIMIT_OUTPUT_BYTES: usize = 1 << 20;
/// What one queued full-sized segment costs, as Linux counts `skb->truesize`.
const SEGMENT_TRUESIZE_EXTRA: usize = 256;

#[derive(Debug, Clone, Copy)]
struct TsqEntry {
    ifindex: u32,
    bytes: usize,
    deferred: bool,
}

/// Bytes each socket has in device queues now; only sockets with something queued (or
/// deferred) have an entry. Entries sit in a vector indexed by the socket's slot in the
/// socket table (so it is no larger than that table), each tagged with the full [`SockId`]
/// so a reused slot never sees its previous owner's charges: a charge or uncharge is an
/// index and a compare, not a hash per packet (Linux keeps the count in the socket itself,
/// `sk->sk_wmem_alloc`).
#[derive(Debug, Default)]
pub struct TsqTable {
    slots: Vec<Option<(SockId, TsqEntry)>>,
    /// Entries in use (so a flush of an idle table costs nothing).
    live: usize,
    /// Socket ids to resume after a flush, kept to reuse its allocation.
    resume: Vec<SockId>,
    /// Times a socket deferred sending because its queue was full (Linux: `TCPTSQThrottled`
    /// is not a counter there; this one is for tests and `ss`).
    pub throttled: u64,
}

impl TsqTable {
    #[cfg(test)]
    /// Bytes socket `id` has queued below it.
    pub fn queued(&self, id: SockId) -> usize {
        self.get(id).map_or(0, |e| e.bytes)
    }

    fn get(&self, id: SockId) -> Option<&TsqEntry> {
        match self.slots.get(id.idx as usize) {
            Some(Some((k, e))) if *k == id => Some(e),
            _ => None,
        }
    }

    fn get_mut(&mut self, id: SockId) -> Option<&mut TsqEntry> {
        match self.slots.get_mut(id.idx as usize) {
            Some(Some((k, e))) if *k == id => Some(e),
            _ => None,
        }
    }

    /// The entry of `id`, created empty on `ifindex` if it has none (replacing a stale
    /// entry of the slot's previous owner, whose packets then uncharge nothing).
    fn entry(&mut self, id: SockId, ifindex: u32) -> &mut TsqEntry {
        let i = id.idx as usize;
        if i >= self.slots.len() {
            self.slots.resize(i + 1, None);
        }
        let slot = &mut self.slots[i];
        if !matches!(slot, Some((k, _)) if *k == id) {
            if slot.is_none() {
                self.live += 1;
            }
            *slot = None;
        }
        &mut slot
            .get_or_insert((
                id,
                TsqEntry {
                    ifindex,
                    bytes: 0,
                    deferred: false,
                },
            ))
            .1
    }

    fn remove(&mut self, id: SockId) {
        if let Some(slot) = self.slots.get_mut(id.idx as usize) {
            if matches!(slot, Some((k, _)) if *k == id) {
                *slot = None;
                self.live -= 1;
            }
        }
    }
}

impl Stack {
    /// The most socket `id` may have queued: two segments, or its pacing rate for ~1 ms,
    /// capped at [`TCP_LIMIT_OUTPUT_BYTES`].
    fn tsq_limit(&self, id: SockId) -> usize {
        let Ok(sk) = self.sockets.tcp(id) else {
            return TCP_LIMIT_OUTPUT_BYTES;
        };
        let mss = sk.mss as usize;
        let two_segs = 2 * (mss + SEGMENT_TRUESIZE_EXTRA);
        // Linux: sk_pacing_rate = 2 × cwnd / srtt (slow start), shifted by sk_pacing_shift 10.
        // The bytes actually in flight stand in for cwnd: Linnet's cwnd is not validated
        // against use (RFC 7661), so it can sit far above what the path carries.
        let pacing = match sk.rtt.srtt() {
            Some(srtt) if !srtt.is_zero() => {
                (2.0 * sk.pipe().min(sk.cc.cwnd()) as f64 / srtt.as_secs_f64()) as usize
            }
            _ => 0,
        };
        two_segs.max(pacing >> 10).min(TCP_LIMIT_OUTPUT_BYTES)
    }

    /// Whether socket `id` must wait for its queued packets to leave before sending more
    /// (and, if so, mark it to be resumed). Linux: `tcp_small_queue_check`.
    pub(crate) fn tcp_small_queue_check(&mut self, id: SockId) -> bool {
        let Some(bytes) = self.tcp.tsq.get(id).map(|e| e.bytes) else {
            return false;
        };
        if bytes <= self.tsq_limit(id) {
            if let Some(e) = self.tcp.tsq.get_mut(id) {
                e.deferred = false;
            }
            return false;
        }
        if let Some(e) = self.tcp.tsq.get_mut(id) {
            e.deferred = true;
        }
        self.tcp.tsq.throttled += 1;
        true
    }

    /// A packet of a socket entered a device queue. Linux: `skb_set_owner_w`.
    pub(crate) fn tsq_charge(&mut self, buf_sk: Option<SockId>, ifindex: u32, len: usize) {
        if let Some(id) = buf_sk {
            let e = self.tcp.tsq.entry(id, ifindex);
            e.ifindex = ifindex;
            e.bytes += len + SEGMENT_TRUESIZE_EXTRA;
        }
    }

    /// A socket's packet left the device queue (sent or dropped): uncharge it and resume the
    /// socket if it was waiting. Linux: `tcp_wfree` → `tcp_tsq_handler` → `tcp_write_xmit`.
    pub(crate) fn tcp_wfree(&mut self, buf: &PacketBuf, now: Instant) {
        let Some(id) = buf.meta.sk else {
            return;
        };
        let resume = self.tcp.tsq.get(id).is_some_and(|e| e.deferred);
        self.tsq_uncharge(buf);
        if resume {
            if let Some(e) = self.tcp.tsq.get_mut(id) {
                e.deferred = false;
                if e.bytes == 0 {
                    self.tcp.tsq.remove(id);
                }
            }
            self.tcp_write_xmit(id, now);
        }
    }

    /// Uncharge a packet without resuming its socket (the caller is inside the socket's own
    /// transmit path, or the socket resumes at the next dequeue).
    pub(crate) fn tsq_uncharge(&mut self, buf: &PacketBuf) {
        let Some(id) = buf.meta.sk else {
            return;
        };
        let Some(e) = self.tcp.tsq.get_mut(id) else {
            return;
        };
        e.bytes = e.bytes.saturating_sub(buf.len() + SEGMENT_TRUESIZE_EXTRA);
        if e.bytes == 0 && !e.deferred {
            self.tcp.tsq.remove(id);
        }
    }

    /// A device queue is empty: whatever its sockets had charged is gone (packets dropped
    /// inside a qdisc, a reset); resume those that were waiting.
    pub(crate) fn tsq_flush(&mut self, ifindex: u32, now: Instant) {
        if self.tcp.tsq.live == 0 {
            return;
        }
        let mut resume = std::mem::take(&mut self.tcp.tsq.resume);
        resume.clear();
        let mut freed = 0;
        for slot in self.tcp.tsq.slots.iter_mut() {
            if let Some((id, e)) = slot {
                if e.ifindex == ifindex {
                    if e.deferred {
                        resume.push(*id);
                    }
                    *slot = None;
                    freed += 1;
                }
            }
        }
        self.tcp.tsq.live -= freed;
        for &id in &resume {
            self.tcp_write_xmit(id, now);
        }
        self.tcp.tsq.resume = resume;
    }

    /// After a dequeue from `ifindex`'s qdisc: recycle what the qdisc dropped inside (CoDel),
    /// uncharge the sockets of those and of the packet leaving, and when the queue is empty
    /// forget every charge against it. Linux: the skb destructors run by `kfree_skb` and
    /// `dev_hard_start_xmit` (`tcp_wfree`).
    pub(crate) fn qdisc_dequeued(&mut self, ifindex: u32, buf: Option<&PacketBuf>, now: Instant) {
        loop {
            let Some(iface) = self.iface_mut(ifindex) else {
                return;
            };
            let Some(dropped) = iface.qdisc.take_dropped() else {
                break;
            };
            self.tcp_wfree(&dropped, now);
            self.drop_pkt(dropped, crate::stats::DropReason::QdiscDrop);
        }
        match buf {
            Some(b) => self.tcp_wfree(b, now),
            None => {
                // Nothing charged (the common case): no need to ask the qdisc.
                if self.tcp.tsq.live > 0 && self.iface(ifindex).is_some_and(|i| i.qdisc.is_empty())
                {
                    self.tsq_flush(ifindex, now);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_keyed_by_the_whole_socket_id() {
        let mut t = TsqTable::default();
        let old = SockId { idx: 3, gen: 0 };
        let new = SockId { idx: 3, gen: 1 };
        t.entry(old, 2).bytes += 100;
        assert_eq!((t.queued(old), t.queued(new), t.live), (100, 0, 1));
        // The slot's next owner starts empty; the previous owner's charges are gone.
        t.entry(new, 2).bytes += 7;
        assert_eq!((t.queued(old), t.queued(new), t.live), (0, 7, 1));
        t.remove(old);
        assert_eq!(
            (t.queued(new), t.live),
            (7, 1),
            "a stale id removes nothing"
        );
        t.entry(SockId { idx: 0, gen: 0 }, 2).bytes += 1;
        assert_eq!(t.live, 2);
        t.remove(new);
        assert_eq!((t.queued(new), t.live), (0, 1));
    }
}
