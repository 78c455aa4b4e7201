//! Seeing inside the stack: per-packet path traces, packet capture taps and the filter
//! language both share.
//!
//! **Trace.** When a trace is running, the first stage a packet reaches (driver receive in
//! [`Stack::receive`], or IP output for a locally generated datagram, or ARP output) asks the
//! trace filter whether to follow it; a followed packet gets a trace id in its buffer's
//! metadata (`meta.trace_id`) and every later stage appends a [`TraceRecord`] (packet id,
//! timestamp, [`Stage`] named after the Linux function, the decision taken) to a bounded ring
//! on the stack. When no trace runs, each trace point costs one predictable branch on a bool
//! and allocates nothing. Linux: the `skb:*`, `net:*` and `tcp:*` tracepoints and
//! `kfree_skb_reason`'s drop reasons, as `perf trace` or `pwru` show them.
//!
//! **Capture.** A capture tap copies matching frames (direction, interface, timestamp) into a
//! bounded queue (storage reserved at the start) that the runtime drains; a full queue counts
//! drops, the
//! way `tcpdump` reports "packets dropped by kernel". Linux: `dev_queue_xmit_nit` and the
//! `ptype_all` taps of `__netif_receive_skb_core` feeding an `AF_PACKET` socket.

pub(crate) mod capture;
pub(crate) mod filter;
pub mod pcapng;
pub mod summary;

use crate::buf::PacketBuf;
use crate::core::tcp_states::TcpState;
use crate::errno::Errno;
use crate::stack::Stack;
use crate::stats::DropReason;
use crate::time::Instant;
pub use capture::{Capture, CapturedFrame, Captures, Direction};
pub use filter::{Filter, FilterError, PktKey};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// Default number of records a trace ring holds before it counts losses.
pub const DEFAULT_TRACE_RING: usize = 4096;

/// A point on a packet's path, named after the Linux function that does the same work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Stage {
    /// A frame came from a driver (`netif_receive_skb`); printed as `DEV rx`.
    DevRx,
    /// Link header parsed (`eth_type_trans`).
    EthTypeTrans,
    /// ARP packet received (`arp_rcv`).
    ArpRcv,
    /// ARP packet sent (`arp_send`).
    ArpSend,
    /// IPv4 header checked (`ip_rcv`).
    IpRcv,
    /// Input route decided (`ip_route_input_noref`): local, forward, broadcast or error.
    IpRouteInput,
    /// Delivered to this host (`ip_local_deliver`).
    IpLocalDeliver,
    /// Fragment queued or datagram reassembled (`ip_defrag`).
    IpDefrag,
    /// Forwarded (`ip_forward`).
    IpForward,
    /// A locally generated datagram left its protocol (`ip_local_out`).
    IpLocalOut,
    /// Datagram on its way to a device (`ip_output`).
    IpOutput,
    /// Datagram fragmented (`ip_fragment`).
    IpFragment,
    /// Next hop's link address looked up (`neigh_output`): sent, or queued for ARP.
    NeighOutput,
    /// Frame queued on the device's qdisc (`dev_queue_xmit`).
    DevQueueXmit,
    /// Frame handed to the driver (`dev_hard_start_xmit`); printed as `DEV tx`.
    DevTx,
    /// TCP segment received, socket looked up (`tcp_v4_rcv`).
    TcpV4Rcv,
    /// TCP state machine (`tcp_rcv_state_process`): a state transition.
    TcpRcvStateProcess,
    /// TCP segment on an established connection (`tcp_rcv_established`).
    TcpRcvEstablished,
    /// In-order data queued to the socket (`tcp_data_queue`).
    TcpDataQueue,
    /// A TCP segment built and sent (`tcp_transmit_skb`).
    TcpTransmitSkb,
    /// A UDP datagram built and sent (`udp_send_skb`).
    UdpSendSkb,
    /// An ICMP message built and sent (`icmp_push_reply`).
    IcmpPushReply,
    /// UDP datagram received (`udp_rcv`).
    UdpRcv,
    /// ICMP message received (`icmp_rcv`).
    IcmpRcv,
    /// A socket's waiters woken (`sk_data_ready` → `sock_def_readable`); printed as `sk wake`.
    SkWake,
    /// A netfilter hook's verdict (`nf_hook_slow`); printed as `nf HOOK VERDICT`.
    NfHook,
    /// Dropped (`kfree_skb_reason`), with the reason.
    KfreeSkb,
}

impl Stage {
    /// The Linux function (or the label) this stage prints as.
    pub fn name(self) -> &'static str {
        match self {
            Stage::DevRx => "rx",
            Stage::EthTypeTrans => "eth_type_trans",
            Stage::ArpRcv => "arp_rcv",
            Stage::ArpSend => "arp_send",
            Stage::IpRcv => "ip_rcv",
            Stage::IpRouteInput => "ip_route_input",
            Stage::IpLocalDeliver => "ip_local_deliver",
            Stage::IpDefrag => "ip_defrag",
            Stage::IpForward => "ip_forward",
            Stage::IpLocalOut => "ip_local_out",
            Stage::IpOutput => "ip_output",
            Stage::IpFragment => "ip_fragment",
            Stage::NeighOutput => "neigh_output",
            Stage::DevQueueXmit => "dev_queue_xmit",
            Stage::DevTx => "tx",
            Stage::TcpV4Rcv => "tcp_v4_rcv",
            Stage::TcpRcvStateProcess => "tcp_rcv_state_process",
            Stage::TcpRcvEstablished => "tcp_rcv_established",
            Stage::TcpDataQueue => "tcp_data_queue",
            Stage::TcpTransmitSkb => "tcp_transmit_skb",
            Stage::UdpSendSkb => "udp_send_skb",
            Stage::IcmpPushReply => "icmp_push_reply",
            Stage::UdpRcv => "udp_rcv",
            Stage::IcmpRcv => "icmp_rcv",
            Stage::SkWake => "sk wake",
            Stage::NfHook => "nf",
            Stage::KfreeSkb => "kfree_skb_reason",
        }
    }
}

/// What was decided or seen at a stage. `Copy` and allocation-free.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detail {
    /// Nothing to add.
    None,
    /// A word: a decision (`local`, `forward`) or a lookup result.
    Note(&'static str),
    /// Two words: a state transition (`SYN_SENT`, `ESTABLISHED`) printed `A→B`, or a
    /// netfilter hook and verdict printed `A B`.
    Pair(&'static str, &'static str),
    /// A word and a number (`len 512`, `mtu 1400`).
    Num(&'static str, u64),
    /// The reason of a drop.
    Drop(DropReason),
}

/// One stage a traced packet passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceRecord {
    /// The packet's trace id (from 1).
    pub id: u32,
    /// When (the `now` of the call that processed it).
    pub ts: Instant,
    /// Interface involved (0 if none).
    pub ifindex: u32,
    /// The stage.
    pub stage: Stage,
    /// The decision taken there.
    pub detail: Detail,
}

/// A trace record with names resolved, as the control socket carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceLine {
    /// Packet trace id.
    pub id: u32,
    /// Stack time in microseconds.
    pub ts_us: u64,
    /// Stage.
    pub stage: Stage,
    /// The stage as printed, with its decision (`ip_route_input: local`, `eth0 rx`).
    pub text: String,
    /// Drop reason, for drops.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drop: Option<DropReason>,
}

impl TraceLine {
    /// Render a record, naming interfaces with `ifname`.
    pub fn new<'a>(r: &TraceRecord, ifname: impl Fn(u32) -> Option<&'a str>) -> TraceLine {
        let dev = || {
            ifname(r.ifindex)
                .map(str::to_string)
                .unwrap_or_else(|| format!("if{}", r.ifindex))
        };
        let mut text = match r.stage {
            Stage::DevRx | Stage::DevTx => format!("{} {}", dev(), r.stage.name()),
            s => s.name().to_string(),
        };
        let mut drop = None;
        match r.detail {
            Detail::None => {}
            Detail::Note(n) => {
                text.push_str(": ");
                text.push_str(n);
            }
            Detail::Pair(a, b) if r.stage == Stage::NfHook => {
                text = format!("nf {a} {b}");
            }
            Detail::Pair(a, b) => text = format!("{text} {a}→{b}"),
            Detail::Num(w, n) => text = format!("{text}: {w} {n}"),
            Detail::Drop(reason) => {
                drop = Some(reason);
                let name = serde_json::to_value(reason)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_else(|| format!("{reason:?}"));
                text = format!("{text}: {name}");
            }
        }
        TraceLine {
            id: r.id,
            ts_us: r.ts.total_micros(),
            stage: r.stage,
            text,
            drop,
        }
    }
}

/// The kernel's name of a TCP state (`tcp_state_name`-style, without the `TCP_` prefix).
pub fn tcp_state_name(s: TcpState) -> &'static str {
    match s {
        TcpState::Closed => "CLOSE",
        TcpState::Listen => "LISTEN",
        TcpState::SynSent => "SYN_SENT",
        TcpState::SynReceived => "SYN_RECV",
        TcpState::Established => "ESTABLISHED",
        TcpState::FinWait1 => "FIN_WAIT1",
        TcpState::FinWait2 => "FIN_WAIT2",
        TcpState::CloseWait => "CLOSE_WAIT",
        TcpState::Closing => "CLOSING",
        TcpState::LastAck => "LAST_ACK",
        TcpState::TimeWait => "TIME_WAIT",
    }
}

/// What a stack offers to look inside it: the trace sink and the capture taps.
#[derive(Debug, Default)]
pub(crate) struct Obs {
    /// `linnet trace`. Linux: the skb tracepoints and a perf buffer.
    pub(crate) trace: Tracer,
    /// `linnet capture`. Linux: `ptype_all` (the `AF_PACKET` taps).
    pub(crate) capture: Captures,
}

/// The trace sink of a stack: off by default.
#[derive(Debug, Default)]
pub struct Tracer {
    on: bool,
    filter: Filter,
    ring: VecDeque<TraceRecord>,
    cap: usize,
    next_id: u32,
    lost: u64,
    /// The id of the packet being processed where no buffer is at hand (TCP state changes,
    /// wakeups, drops counted inside TCP); 0 when none.
    cur: u32,
    now: Instant,
}

impl Tracer {
    /// Whether a trace is running. The one branch every trace point costs when off.
    #[inline(always)]
    pub fn on(&self) -> bool {
        self.on
    }

    /// Records lost because the ring was full.
    pub fn lost(&self) -> u64 {
        self.lost
    }

    /// Out of line and cold: a trace point's inline part is only its test.
    #[cold]
    #[inline(never)]
    fn push(&mut self, id: u32, ifindex: u32, stage: Stage, detail: Detail) {
        if self.ring.len() >= self.cap {
            self.lost += 1;
            return;
        }
        self.ring.push_back(TraceRecord {
            id,
            ts: self.now,
            ifindex,
            stage,
            detail,
        });
    }

    /// Give the next packet an id if the filter wants it. The trace's clock never goes back:
    /// the runtime's threads read the clock at slightly different moments, and a frame cannot
    /// leave before it was queued.
    fn begin(&mut self, matched: bool, now: Instant) -> u32 {
        self.now = self.now.max(now);
        if !matched {
            return 0;
        }
        self.next_id = self.next_id.wrapping_add(1).max(1);
        self.next_id
    }
}

impl Stack {
    /// Start a trace of the packets `filter` selects, keeping up to `ring` records until
    /// drained. Fails with `EALREADY` if one is running.
    pub fn trace_start(&mut self, filter: Filter, ring: usize) -> Result<(), Errno> {
        if self.obs.trace.on {
            return Err(Errno::EALREADY);
        }
        let cap = ring.clamp(16, 1 << 20);
        self.obs.trace = Tracer {
            on: true,
            filter,
            ring: VecDeque::with_capacity(cap),
            cap,
            next_id: 0,
            lost: 0,
            cur: 0,
            now: Instant::ZERO,
        };
        Ok(())
    }

    /// Stop tracing and free the ring.
    pub fn trace_stop(&mut self) {
        self.obs.trace = Tracer::default();
    }

    /// The trace sink.
    pub fn tracer(&self) -> &Tracer {
        &self.obs.trace
    }

    /// Move the records gathered so far into `out`.
    pub fn trace_drain(&mut self, out: &mut Vec<TraceRecord>) {
        out.extend(self.obs.trace.ring.drain(..));
    }

    /// A record with names resolved (`eth0 rx`, `ip_route_input: local`).
    pub fn trace_line(&self, r: &TraceRecord) -> TraceLine {
        TraceLine::new(r, |i| self.iface(i).map(|f| f.name.as_str()))
    }

    // ----- trace points (each called from one line at its site) -----

    /// Record that `buf` passed `stage` with `detail`. One predictable branch when tracing
    /// is off. This is the helper other layers call (netfilter:
    /// `self.trace(&buf, Stage::NfHook, Detail::Pair("PRE_ROUTING", "ACCEPT"))`).
    #[inline(always)]
    pub fn trace(&mut self, buf: &PacketBuf, stage: Stage, detail: Detail) {
        self.obs.trace(buf, stage, detail);
    }

    /// Record a stage of the packet being processed when no buffer is at hand (inside TCP).
    #[inline(always)]
    pub(crate) fn trace_cur(&mut self, stage: Stage, detail: Detail) {
        if self.obs.trace.on && self.obs.trace.cur != 0 {
            self.obs.trace.push(self.obs.trace.cur, 0, stage, detail);
        }
    }

    /// `buf` becomes the current packet, for stages deep inside TCP that only see the socket
    /// (state changes, wakeups, drops counted there). Pair with [`Stack::trace_leave`].
    #[inline(always)]
    pub(crate) fn trace_enter(&mut self, buf: &PacketBuf) {
        if self.obs.trace.on {
            self.obs.trace.cur = buf.meta.trace_id;
        }
    }

    /// No current packet any more.
    #[inline(always)]
    pub(crate) fn trace_leave(&mut self) {
        if self.obs.trace.on {
            self.obs.trace.cur = 0;
        }
    }

    /// `dev_queue_xmit`, with the qdisc the frame goes to.
    #[inline(always)]
    pub(crate) fn trace_dev_queue_xmit(&mut self, buf: &PacketBuf) {
        if self.obs.trace.on && buf.meta.trace_id != 0 {
            self.trace_dev_queue_xmit_slow(buf);
        }
    }

    #[cold]
    fn trace_dev_queue_xmit_slow(&mut self, buf: &PacketBuf) {
        let q = match self.iface(buf.meta.ifindex) {
            Some(i) if i.kind == crate::stack::LinkKind::Loopback => "loopback_xmit",
            Some(i) => i.qdisc.kind(),
            None => "no device",
        };
        self.trace(buf, Stage::DevQueueXmit, Detail::Note(q));
    }

    /// Record a TCP state change of the current packet's socket.
    #[inline(always)]
    pub(crate) fn trace_tcp_state(&mut self, from: TcpState, to: TcpState) {
        if self.obs.trace.on && from != to {
            self.trace_cur(
                Stage::TcpRcvStateProcess,
                Detail::Pair(tcp_state_name(from), tcp_state_name(to)),
            );
        }
    }

    /// Record a segment's entry into the TCP state machine: `tcp_rcv_established` (with the
    /// segment's flags) for an established socket; other states show their transitions.
    #[inline(always)]
    pub(crate) fn trace_tcp_rcv(&mut self, state: TcpState, flags: u8) {
        if self.obs.trace.on && self.obs.trace.cur != 0 && state == TcpState::Established {
            self.obs.trace.push(
                self.obs.trace.cur,
                0,
                Stage::TcpRcvEstablished,
                Detail::Note(summary::tcp_flags_name(flags)),
            );
        }
    }

    /// After a segment was processed outside ESTABLISHED: record the state that handled it,
    /// or the state change (transitions to ESTABLISHED are recorded in place, before the
    /// wakeup they cause).
    #[inline(always)]
    pub(crate) fn trace_tcp_state_after(&mut self, from: TcpState, id: crate::core::sock::SockId) {
        if self.obs.trace.on && self.obs.trace.cur != 0 {
            self.trace_tcp_state_after_slow(from, id);
        }
    }

    #[cold]
    fn trace_tcp_state_after_slow(&mut self, from: TcpState, id: crate::core::sock::SockId) {
        let to = self.tcp_state(id).unwrap_or(TcpState::Closed);
        if to == TcpState::Established {
            return;
        }
        if from == to {
            // No transition: say which state handled it.
            self.trace_cur(
                Stage::TcpRcvStateProcess,
                Detail::Note(tcp_state_name(from)),
            );
        } else {
            self.trace_tcp_state(from, to);
        }
    }

    /// Start capturing frames of `ifindex` (all devices if `None`) that `filter` selects,
    /// keeping up to `queue` frames of up to `snaplen` bytes until drained; returns the
    /// capture's id. `ENODEV` for an unknown device, `ENOBUFS` when
    /// `capture::MAX_CAPTURES` run already.
    pub fn capture_start(
        &mut self,
        ifindex: Option<u32>,
        filter: Filter,
        snaplen: usize,
        queue: usize,
    ) -> Result<u32, Errno> {
        if let Some(i) = ifindex {
            self.iface(i).ok_or(Errno::ENODEV)?;
        }
        self.obs
            .capture
            .start(Capture::new(ifindex, filter, snaplen, queue))
            .ok_or(Errno::ENOBUFS)
    }

    /// Stop capture `id` and free its queue.
    pub fn capture_stop(&mut self, id: u32) {
        self.obs.capture.stop(id);
    }

    /// Capture `id`.
    pub fn capture(&self, id: u32) -> Option<&Capture> {
        self.obs.capture.get(id)
    }

    /// Capture `id`, to drain it.
    pub fn capture_mut(&mut self, id: u32) -> Option<&mut Capture> {
        self.obs.capture.get_mut(id)
    }

    /// Whether any capture runs.
    pub fn capturing(&self) -> bool {
        self.obs.capture.on()
    }
}

/// Where an Ethernet frame's unfinished checksum starts and lies, from the frame's start.
fn partial_csum(buf: &PacketBuf) -> Option<(usize, usize)> {
    match buf.meta.csum {
        crate::buf::CsumState::Partial { start, offset } => Some((
            crate::wire::ethernet::HEADER_LEN + start as usize,
            offset as usize,
        )),
        _ => None,
    }
}

impl Obs {
    /// Record that `buf` passed `stage` with `detail`: one predictable branch when tracing
    /// is off.
    #[inline(always)]
    pub(crate) fn trace(&mut self, buf: &PacketBuf, stage: Stage, detail: Detail) {
        if self.trace.on && buf.meta.trace_id != 0 {
            self.trace
                .push(buf.meta.trace_id, buf.meta.ifindex, stage, detail);
        }
    }

    /// The receive taps: copy the frame to a running capture, and start following it if a
    /// trace wants it. Linux: the `ptype_all` delivery in `__netif_receive_skb_core`.
    #[cold]
    pub(crate) fn netif_rx_taps(&mut self, buf: &mut PacketBuf, now: Instant) {
        if self.capture.on() {
            self.capture.tap(
                buf.meta.ifindex,
                Direction::In,
                buf.data(),
                partial_csum(buf),
                now.total_micros(),
            );
        }
        if self.trace.on() {
            self.trace_rx(buf, now);
        }
    }

    /// First stage of a received frame: decide whether to follow it, record `DEV rx` and
    /// Called from [`Stack::receive`] only when tracing is on.
    fn trace_rx(&mut self, buf: &mut PacketBuf, now: Instant) {
        if buf.meta.trace_id == 0 {
            let m = self.trace.filter.matches_frame(buf.data());
            buf.meta.trace_id = self.trace.begin(m, now);
        } else {
            self.trace.now = self.trace.now.max(now);
        }
        if buf.meta.trace_id != 0 {
            self.trace.push(
                buf.meta.trace_id,
                buf.meta.ifindex,
                Stage::DevRx,
                Detail::None,
            );
        }
    }

    /// First stage of a locally generated datagram (IPv4 header at the data start): decide
    /// whether to follow it and record the protocol's transmit function. Linux: the point
    /// where `tcp_transmit_skb` / `udp_send_skb` / `icmp_push_reply` call `ip_local_out`.
    #[inline]
    pub(crate) fn trace_local_out(&mut self, buf: &mut PacketBuf, now: Instant) {
        if !self.trace.on {
            return;
        }
        self.trace_local_out_slow(buf, now);
    }

    #[cold]
    fn trace_local_out_slow(&mut self, buf: &mut PacketBuf, now: Instant) {
        if buf.meta.trace_id == 0 {
            let m = self.trace.filter.matches_ipv4(buf.data());
            buf.meta.trace_id = self.trace.begin(m, now);
        }
        let d = buf.data();
        let id = buf.meta.trace_id;
        if id == 0 || d.len() < 20 {
            return;
        }
        // Unchecked: 20 bytes are there (tested above); the header length is only used
        // through `get`.
        let iph = crate::wire::Ipv4Packet::new_unchecked(d);
        let l4 = d.get(iph.header_len()..).unwrap_or(&[]);
        let (stage, detail) = match iph.protocol().0 {
            // Unchecked: the flags byte is there (the guard).
            6 if l4.len() >= 14 => (
                Stage::TcpTransmitSkb,
                Detail::Note(summary::tcp_flags_name(
                    crate::wire::tcp::TcpPacket::new_unchecked(l4).flags().0,
                )),
            ),
            6 => (Stage::TcpTransmitSkb, Detail::None),
            17 => (
                Stage::UdpSendSkb,
                Detail::Num("len", l4.len().saturating_sub(8) as u64),
            ),
            1 => (
                Stage::IcmpPushReply,
                Detail::Note(summary::icmp_type_name(l4.first().copied().unwrap_or(255))),
            ),
            _ => (Stage::IpLocalOut, Detail::None),
        };
        self.trace.push(id, 0, stage, detail);
        self.trace.push(id, 0, Stage::IpLocalOut, Detail::None);
    }

    /// First stage of an ARP packet we send (Ethernet frame in `buf`).
    #[inline]
    pub(crate) fn trace_arp_out(&mut self, buf: &mut PacketBuf, ifindex: u32, now: Instant) {
        if !self.trace.on {
            return;
        }
        if buf.meta.trace_id == 0 {
            let m = self.trace.filter.matches_frame(buf.data());
            buf.meta.trace_id = self.trace.begin(m, now);
        }
        if buf.meta.trace_id != 0 {
            let op = match buf.data().get(20..22) {
                Some([0, 1]) => "request",
                Some([0, 2]) => "reply",
                _ => "?",
            };
            self.trace
                .push(buf.meta.trace_id, ifindex, Stage::ArpSend, Detail::Note(op));
        }
    }

    /// Record a netfilter verdict for `buf`, printed `nf HOOK VERDICT` (for the netfilter
    /// layer: `self.trace_nf(&buf, "PRE_ROUTING", "ACCEPT")`).
    #[inline(always)]
    pub fn trace_nf(&mut self, buf: &PacketBuf, hook: &'static str, verdict: &'static str) {
        self.trace(buf, Stage::NfHook, Detail::Pair(hook, verdict));
    }

    /// Record a stage of the packet with trace id `id` (0: none) whose buffer has moved on
    /// (queued for ARP, queued to a socket).
    #[inline(always)]
    pub(crate) fn trace_by_id(&mut self, id: u32, ifindex: u32, stage: Stage, detail: Detail) {
        if self.trace.on && id != 0 {
            self.trace.push(id, ifindex, stage, detail);
        }
    }

    /// The last fragment of traced datagram `id` completed it: the reassembled datagram
    /// carries the id on.
    #[inline(always)]
    pub(crate) fn trace_defrag(&mut self, id: u32, mut whole: PacketBuf) -> PacketBuf {
        if self.trace.on && id != 0 {
            whole.meta.trace_id = id;
            self.trace.push(
                id,
                whole.meta.ifindex,
                Stage::IpDefrag,
                Detail::Note("reassembled"),
            );
        }
        whole
    }

    /// The datagram with trace id `id` waits for ARP (`neigh_output` queued it).
    #[inline(always)]
    pub(crate) fn trace_queued(&mut self, id: u32, ifindex: u32) -> Result<(), Errno> {
        self.trace_by_id(
            id,
            ifindex,
            Stage::NeighOutput,
            Detail::Note("queued for ARP"),
        );
        Ok(())
    }

    /// `ip_route_input`'s decision, as the routing code names it (`decision` is only
    /// asked when the packet is traced).
    #[inline(always)]
    pub(crate) fn trace_route_input(
        &mut self,
        buf: &PacketBuf,
        decision: impl FnOnce() -> &'static str,
    ) {
        if self.trace.on && buf.meta.trace_id != 0 {
            self.trace(buf, Stage::IpRouteInput, Detail::Note(decision()));
        }
    }

    /// `icmp_rcv`, with the message type.
    #[inline(always)]
    pub(crate) fn trace_icmp_rcv(&mut self, buf: &PacketBuf) {
        if self.trace.on && buf.meta.trace_id != 0 {
            let ty = buf.data().first().copied().unwrap_or(255);
            self.trace(
                buf,
                Stage::IcmpRcv,
                Detail::Note(summary::icmp_type_name(ty)),
            );
        }
    }

    /// Record a frame leaving by `ifindex` (capture tap and `DEV tx` trace point).
    /// Linux: `dev_queue_xmit_nit` in `dev_hard_start_xmit`.
    #[inline(always)]
    pub(crate) fn dev_tx_taps(&mut self, ifindex: u32, buf: &PacketBuf, now: Instant) {
        if self.capture.on() {
            self.capture.tap(
                ifindex,
                Direction::Out,
                buf.data(),
                partial_csum(buf),
                now.total_micros(),
            );
        }
        if self.trace.on && buf.meta.trace_id != 0 {
            self.trace.now = self.trace.now.max(now);
            self.trace
                .push(buf.meta.trace_id, ifindex, Stage::DevTx, Detail::None);
        }
    }
}
