//! Send-queue memory as the writer sees it: the not-sent low-water mark
//! (`TCP_NOTSENT_LOWAT`, `net.ipv4.tcp_notsent_lowat`) and the size of the "skbs" a write
//! fills before it checks for room again.
//!
//! Linux: `tcp_stream_memory_free` (net/ipv4/tcp.c / include/net/tcp.h),
//! `sk_stream_is_writeable` (include/net/sock.h), `tcp_xmit_size_goal` and
//! `tcp_bound_to_half_wnd`. Linnet's send queue is a byte ring, not a list of skbs: the skb
//! a write appends to is `[write_skb_start, data_end)` (cut at `snd_nxt` once part of it was
//! sent, as `tso_fragment` cuts Linux's).

use super::sock::TcpSock;
use crate::device::gso;

/// The smallest segment `tcp_bound_to_half_wnd` allows (Linux: `68U - tp->tcp_header_len`).
const TCP_MIN_SIZE_GOAL: usize = 68 - 20;

/// What an skb of the send queue costs besides its data: the head Linux allocates for the
/// headers (`MAX_TCP_HEADER`, 320 bytes, from the small-head cache: 640 with the
/// `skb_shared_info`) and `struct sk_buff` (256 cache-aligned), as `SKB_TRUESIZE` counts
/// them on x86_64 (6.3 and later). Linux: `tcp_stream_alloc_skb`.
pub const TCP_SKB_OVERHEAD: usize = 320 + 256 + 320;
/// The smallest `sk_sndbuf`: room for two minimal skbs. Linux: `SOCK_MIN_SNDBUF`
/// (`2 * (2048 + SKB_DATA_ALIGN(sizeof(struct sk_buff)))`).
pub const SOCK_MIN_SNDBUF: usize = 2 * (2048 + 256);

impl TcpSock {
    /// Bytes written but not sent yet (`write_seq - snd_nxt`). Linux: `tcp_notsent_bytes`.
    pub fn tcp_notsent_bytes(&self) -> u32 {
        let nxt = self.snd_nxt.max(self.data_seq());
        (self.data_end() - nxt).max(0) as u32
    }

    /// Whether a writer may queue more: the unsent bytes (doubled when `wake`, for poll and
    /// wake-ups, so that a woken writer finds room for as much again) are below the
    /// socket's low-water mark. Linux: `tcp_stream_memory_free(sk, wake)`.
    pub fn tcp_stream_memory_free(&self, wake: bool) -> bool {
        let notsent = u64::from(self.tcp_notsent_bytes()) << u32::from(wake);
        notsent < u64::from(self.notsent_lowat)
    }

    /// The send queue's memory as Linux counts it against `sk_sndbuf`: the data and, for
    /// each skb (of [`TcpSock::tcp_xmit_size_goal`] bytes), `TCP_SKB_OVERHEAD`. Linux:
    /// `sk->sk_wmem_queued`.
    pub fn tcp_wmem_queued(&self) -> usize {
        let len = self.sndbuf.len();
        len + len.div_ceil(self.tcp_xmit_size_goal()) * TCP_SKB_OVERHEAD
    }

    /// Whether a write may open a new skb: the send queue's memory is below `SO_SNDBUF`
    /// (when set) and the unsent bytes below the low-water mark. Linux:
    /// `sk_stream_memory_free` (`__sk_stream_memory_free`).
    pub fn sk_stream_memory_free(&self) -> bool {
        self.sndbuf_limit
            .is_none_or(|limit| self.tcp_wmem_queued() < limit)
            && self.tcp_stream_memory_free(false)
    }

    /// How much of a write of `want` bytes the send queue takes under `SO_SNDBUF`: the
    /// unsent tail skb fills up to the size goal, then skbs of the size goal open while the
    /// queue's memory ([`TcpSock::tcp_wmem_queued`]) is below the limit (all of it without
    /// `SO_SNDBUF`). Linux: `tcp_sendmsg_locked` (`sk_stream_memory_free` at `new_segment`).
    pub fn tcp_sndbuf_budget(&self, want: usize) -> usize {
        let Some(limit) = self.sndbuf_limit else {
            return want;
        };
        let goal = self.tcp_xmit_size_goal().max(1);
        let unsent = self.tcp_notsent_bytes() as usize;
        let tail_room = if unsent > 0 {
            (goal - unsent % goal) % goal
        } else {
            0
        };
        let mut take = want.min(tail_room);
        let mut queued = self.sndbuf.len() + take;
        // Bounded: each round opens one skb, and the queue's memory grows by at least the
        // skb overhead until it reaches the limit.
        while take < want {
            let wmem = queued + queued.div_ceil(goal) * TCP_SKB_OVERHEAD;
            if wmem >= limit {
                break;
            }
            let k = (want - take).min(goal);
            take += k;
            queued += k;
        }
        take
    }

    /// Cap a segment size at half the largest window the peer offered (at least a minimal
    /// segment). Linux: `tcp_bound_to_half_wnd`.
    pub fn tcp_bound_to_half_wnd(&self, pktsize: usize) -> usize {
        let maxw = self.max_snd_wnd as usize;
        let cutoff = if maxw > 536 { maxw / 2 } else { maxw };
        if cutoff == 0 {
            return pktsize;
        }
        pktsize.min(cutoff).max(TCP_MIN_SIZE_GOAL)
    }

    /// How many bytes a write puts in one skb before checking for memory again: whole
    /// segments up to the GSO limit, bounded to half the peer's largest window. GSO is
    /// always on for TCP in Linux (segmented in software for a device without TSO), so the
    /// skb size does not depend on the device. Linux: `tcp_xmit_size_goal`.
    pub fn tcp_xmit_size_goal(&self) -> usize {
        let mss = (self.current_mss() as usize).max(1);
        let goal = self.tcp_bound_to_half_wnd(gso::GSO_MAX_SIZE);
        (goal / mss * mss).max(mss)
    }
}

#[cfg(test)]
mod tests {
    use super::super::sock::{TcpConfig, TcpSock};
    use super::{SOCK_MIN_SNDBUF, TCP_SKB_OVERHEAD};

    fn sock() -> TcpSock {
        let mut sk = TcpSock::new(&TcpConfig::default(), 1 << 16, 1 << 16);
        sk.mss = 1000;
        sk
    }

    #[test]
    fn memory_free_compares_unsent_bytes_with_the_mark() {
        let mut sk = sock();
        assert!(sk.tcp_stream_memory_free(false), "no mark: always room");
        sk.notsent_lowat = 4000;
        assert_eq!(sk.sndbuf.enqueue_slice(&[0u8; 2500]), 2500);
        assert_eq!(sk.tcp_notsent_bytes(), 2500);
        assert!(sk.tcp_stream_memory_free(false));
        // Poll's wake test doubles the unsent bytes: 5000 >= 4000.
        assert!(!sk.tcp_stream_memory_free(true));
        assert_eq!(sk.sndbuf.enqueue_slice(&[0u8; 1500]), 1500);
        assert!(!sk.tcp_stream_memory_free(false));
    }

    #[test]
    fn size_goal_is_whole_segments_in_half_the_largest_window() {
        let mut sk = sock();
        sk.max_snd_wnd = 257 << 7; // 32896
        assert_eq!(sk.tcp_xmit_size_goal(), 16000);
        sk.max_snd_wnd = 1 << 20;
        assert_eq!(sk.tcp_xmit_size_goal(), 65000);
        sk.max_snd_wnd = 1500;
        assert_eq!(sk.tcp_xmit_size_goal(), 1000, "at least one segment");
    }

    #[test]
    fn sndbuf_counts_skb_memory_not_data_bytes() {
        // Linux's partial-write case: SO_SNDBUF 1000 (sk_sndbuf 4608 at least), one
        // 988-byte segment per skb: the third skb may open, the fourth not.
        let mut sk = sock();
        sk.mss = 988;
        sk.max_snd_wnd = 2000;
        sk.sndbuf_limit = Some(SOCK_MIN_SNDBUF.max(2 * 1000));
        assert_eq!(sk.tcp_xmit_size_goal(), 988);
        for skbs in 0..3 {
            assert!(sk.sk_stream_memory_free(), "skb {skbs} may open");
            assert_eq!(sk.sndbuf.enqueue_slice(&[0u8; 988]), 988);
        }
        assert_eq!(sk.tcp_wmem_queued(), 3 * (988 + TCP_SKB_OVERHEAD));
        assert!(!sk.sk_stream_memory_free());
        // A write from empty takes the same three skbs.
        let mut sk2 = sock();
        sk2.mss = 988;
        sk2.max_snd_wnd = 2000;
        sk2.sndbuf_limit = Some(SOCK_MIN_SNDBUF);
        assert_eq!(sk2.tcp_sndbuf_budget(10_000), 3 * 988);
        assert_eq!(sk2.tcp_sndbuf_budget(500), 500);
        // Without SO_SNDBUF only the ring bounds a write.
        sk.sndbuf_limit = None;
        assert!(sk.sk_stream_memory_free());
    }
}
