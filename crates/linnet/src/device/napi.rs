//! The NAPI poll's hand-off: a batch of frames read from one device goes into GRO, and what
//! GRO completes or hands back goes on to the stack (`Stack::receive`); a segment whose
//! checksum GRO found bad goes to TCP's hand-off (`Stack::gro_csum_error`). GRO itself is
//! `device/gro.rs`, which does not know the stack.
//!
//! Linux: `napi_gro_receive`, `napi_gro_flush` and `gro_normal_list` (net/core/gro.c) as a
//! driver's NAPI poll calls them.

use crate::buf::PacketBuf;
use crate::device::gro::GroResult;
use crate::stack::Stack;
use crate::time::Instant;

impl Stack {
    /// Receive a batch of frames read from one device in one go (Linux: one NAPI poll):
    /// TCP segments go through GRO, and whatever is held is delivered at the end. Frames
    /// that do not merge are delivered in arrival order relative to their own flow.
    pub fn receive_batch(
        &mut self,
        ifindex: u32,
        frames: impl IntoIterator<Item = PacketBuf>,
        now: Instant,
    ) {
        if self.dev.gro.is_off(ifindex) {
            // Linux: `napi_gro_receive` on a device without `NETIF_F_GRO` is
            // `netif_receive_skb`, one frame at a time.
            for f in frames {
                self.receive(ifindex, f, now);
            }
            return;
        }
        for f in frames {
            self.napi_gro_receive(ifindex, f, now);
        }
        self.napi_gro_flush(ifindex, now);
    }

    /// Turn GRO on or off for interface `ifindex` (on by default). Linux: `ethtool -K DEV gro
    /// on|off` (`NETIF_F_GRO` in `dev->features`).
    pub fn set_gro(&mut self, ifindex: u32, on: bool) {
        self.dev.gro.set_gro(ifindex, on);
    }

    /// Offer one frame to GRO (`GroList::dev_gro_receive`) and deliver what it completes,
    /// then the frame itself if it was neither merged nor held. Linux: `napi_gro_receive`.
    pub fn napi_gro_receive(&mut self, ifindex: u32, buf: PacketBuf, now: Instant) {
        let frame = match self
            .dev
            .gro
            .dev_gro_receive(&self.dev.offloads, &mut self.pool, buf)
        {
            GroResult::Merged | GroResult::Held => None,
            GroResult::Normal(buf) => Some(buf),
            GroResult::CsumBad(buf, pp) => {
                // A corrupted segment for us is counted and dropped where its sum was taken,
                // costing no early delivery of its flow's train; one for another host goes
                // on as it is, after its flow's train.
                let Some(buf) = self.gro_csum_error(buf) else {
                    return;
                };
                if let Some(i) = pp {
                    self.dev.gro.napi_gro_complete(&self.dev.offloads, i);
                }
                Some(buf)
            }
        };
        self.gro_deliver_done(ifindex, now);
        if let Some(buf) = frame {
            self.receive(ifindex, buf, now);
        }
    }

    /// Deliver every held train. Linux: `napi_gro_flush`.
    pub fn napi_gro_flush(&mut self, ifindex: u32, now: Instant) {
        self.dev.gro.napi_gro_flush(&self.dev.offloads);
        self.gro_deliver_done(ifindex, now);
    }

    /// Hand the trains GRO completed to the stack, in order. Linux: `gro_normal_list`.
    fn gro_deliver_done(&mut self, ifindex: u32, now: Instant) {
        if !self.dev.gro.has_done() {
            return;
        }
        let mut done = self.dev.gro.take_done();
        for buf in done.drain(..) {
            self.receive(ifindex, buf, now);
        }
        self.dev.gro.put_done(done);
    }
}
