//! Making a frame fit its device before it is queued: software segmentation for a device
//! without TSO (or behind a qdisc that wants wire-sized frames), checksum completion for one
//! without checksum offload.
//!
//! Linux: `validate_xmit_skb`, `skb_csum_hwoffload_help` and `skb_checksum_help`
//! (net/core/dev.c).

use super::features::NetdevFeatures;
use super::gso::{skb_gso_segment, SegCsum};
use crate::buf::{CsumState, PacketBuf};
use crate::errno::Errno;
use crate::stack::Stack;
use crate::stats::DropReason;
use crate::time::Instant;
pub use crate::wire::checksum::skb_checksum_help;
use crate::wire::ethernet::HEADER_LEN as ETH_HLEN;

/// What [`Stack::validate_xmit_skb`] decided.
pub(crate) enum XmitCheck {
    /// Queue this buffer.
    Ready(PacketBuf),
    /// Already handled (segmented and queued, or dropped), with this result.
    Done(Result<(), Errno>),
}

impl Stack {
    /// Make a frame (link header at the data start) fit what the device can do: segment a
    /// GSO super-frame in software for a device without TSO, finish a partial checksum for a
    /// device without checksum offload. Linux: `validate_xmit_skb` (`skb_gso_segment`,
    /// `skb_csum_hwoffload_help`).
    pub(crate) fn validate_xmit_skb(
        &mut self,
        ifindex: u32,
        mut buf: PacketBuf,
        now: Instant,
    ) -> XmitCheck {
        if buf.meta.gso_size == 0 && !matches!(buf.meta.csum, CsumState::Partial { .. }) {
            return XmitCheck::Ready(buf);
        }
        let (f, fifo) = self
            .iface(ifindex)
            .map_or((NetdevFeatures::default(), true), |i| {
                (i.features, i.qdisc.takes_gso())
            });
        // A qdisc other than a plain FIFO gets wire-sized segments (`Qdisc::takes_gso`).
        if buf.meta.gso_size > 0 && (!f.tso || !fifo) {
            let csum = if f.hw_csum {
                SegCsum::Partial
            } else {
                SegCsum::Full
            };
            let mut segs = std::mem::take(&mut self.dev.gso_scratch);
            segs.clear();
            let headroom = buf.headroom();
            let r = skb_gso_segment(
                &self.dev.offloads,
                buf.data(),
                ETH_HLEN,
                usize::from(buf.meta.gso_size),
                csum,
                buf.meta,
                &mut self.pool,
                headroom,
                &mut segs,
            );
            if r.is_err() {
                self.dev.gso_scratch = segs;
                self.drops.core.tx_dropped += 1;
                self.drop_pkt(buf, DropReason::PktTooSmall);
                return XmitCheck::Done(Err(Errno::EINVAL));
            }
            self.pool.put(buf);
            let mut res = Ok(());
            for s in segs.drain(..) {
                let r = self.dev_queue_xmit(ifindex, s, now);
                if res.is_ok() {
                    res = r;
                }
            }
            self.dev.gso_scratch = segs;
            return XmitCheck::Done(res);
        }
        if let CsumState::Partial { start, offset } = buf.meta.csum {
            if !f.hw_csum {
                let ok = buf
                    .data_mut()
                    .get_mut(ETH_HLEN..)
                    .is_some_and(|d| skb_checksum_help(d, usize::from(start), usize::from(offset)));
                if !ok {
                    self.drops.core.tx_dropped += 1;
                    self.drop_pkt(buf, DropReason::PktTooSmall);
                    return XmitCheck::Done(Err(Errno::EINVAL));
                }
                buf.meta.csum = CsumState::None;
            }
        }
        XmitCheck::Ready(buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::gso::tests::{frame, payload, DST, SRC};
    use crate::wire::ipv4::Ipv4Packet;
    use crate::wire::tcp::{TcpFlags, TcpPacket};

    #[test]
    fn checksum_completion_matches_a_full_checksum() {
        for n in [0, 1, 2, 999, 1448, 4001] {
            let full = frame(&payload(n), TcpFlags::ACK | TcpFlags::PSH, false);
            let mut part = frame(&payload(n), TcpFlags::ACK | TcpFlags::PSH, true);
            assert_ne!(full, part);
            assert!(skb_checksum_help(&mut part[ETH_HLEN..], 20, 16));
            assert_eq!(full, part, "payload {n}");
            let ip = Ipv4Packet::new_unchecked(&part[ETH_HLEN..]);
            assert!(TcpPacket::new_unchecked(ip.payload()).verify_checksum(SRC, DST));
        }
        let mut short = frame(&[], TcpFlags::ACK, true);
        let before = short.clone();
        let len = short.len() - ETH_HLEN;
        assert!(!skb_checksum_help(&mut short[ETH_HLEN..], 20, len));
        assert!(!skb_checksum_help(&mut short[ETH_HLEN..], len + 1, 0));
        assert_eq!(short, before, "a refused completion changes nothing");
    }
}
