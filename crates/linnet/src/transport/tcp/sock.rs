//! The TCP control block: one connection's (or listener's) state.
//!
//! Linux: `struct tcp_sock` (include/linux/tcp.h) with its `inet_connection_sock` and `sock`
//! parents folded in.

use super::assembler::Assembler;
use super::cong::{new_cc, CcAlgorithm, CongestionControl};
use super::fastretrans::{CaState, XmitTimer};
use super::recovery::Rack;
use super::ring::RingBuffer;
use super::rtt::RttEstimator;
use super::rtx_queue::RtxQueue;
use crate::buf::{PacketBuf, MAX_RX_SKBS};
use crate::core::sock::SockId;
pub use crate::core::tcp_states::TcpState;
use crate::errno::Errno;
use crate::time::Instant;
use crate::wire::tcp::SeqNumber;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::Duration;

/// A run of the unread in-order receive stream (see `TcpSock::rx_skbs`).
#[derive(Debug)]
pub enum RxSeg {
    /// This many bytes copied into the ring.
    Ring(usize),
    /// A received buffer, its data the unread payload (Linux: an skb on the receive queue).
    Buf(PacketBuf),
}

/// TCP tunables (Linux: the `net.ipv4.tcp_*` sysctls), defaults as in Linux.
#[derive(Debug, Clone)]
pub struct TcpConfig {
    /// `tcp_syn_retries` (6).
    pub syn_retries: u32,
    /// `tcp_synack_retries` (5).
    pub synack_retries: u32,
    /// `tcp_retries2` (15): retransmissions before a connection is dropped.
    pub retries2: u32,
    /// `tcp_fin_timeout` (60 s): how long an orphan waits in FIN-WAIT-2.
    pub fin_timeout: Duration,
    /// TIME-WAIT length, 2*MSL (Linux: `TCP_TIMEWAIT_LEN`, 60 s).
    pub time_wait: Duration,
    /// `tcp_keepalive_time` (7200 s).
    pub keepalive_time: Duration,
    /// `tcp_keepalive_intvl` (75 s).
    pub keepalive_intvl: Duration,
    /// `tcp_keepalive_probes` (9).
    pub keepalive_probes: u32,
    /// `tcp_syncookies` (1: send cookies when the SYN queue overflows).
    pub syncookies: bool,
    /// `tcp_max_syn_backlog`: upper bound of a listener's SYN queue.
    pub max_syn_backlog: u32,
    /// `somaxconn` (4096): upper bound of `listen()`'s backlog.
    pub somaxconn: u32,
    /// Default receive buffer, bytes of data (`tcp_rmem[1]`).
    pub rmem_default: usize,
    /// Default send buffer, bytes of data (`tcp_wmem[1]`).
    pub wmem_default: usize,
    /// Largest receive buffer autotuning may grow to (`tcp_rmem[2]`, 6 MiB).
    pub rmem_max: usize,
    /// Largest send buffer autotuning may grow to (`tcp_wmem[2]`, 4 MiB).
    pub wmem_max: usize,
    /// `tcp_moderate_rcvbuf` (1): grow receive buffers to twice what the application reads
    /// per round trip, and send buffers to twice the congestion window, up to the maxima.
    /// A socket whose buffer was set with `SO_RCVBUF`/`SO_SNDBUF` keeps that size.
    pub moderate_rcvbuf: bool,
    /// `tcp_window_scaling` (1).
    pub window_scaling: bool,
    /// `tcp_timestamps` (1).
    pub timestamps: bool,
    /// `tcp_sack` (1).
    pub sack: bool,
    /// `tcp_congestion_control` (cubic).
    pub congestion_control: CcAlgorithm,
    /// `tcp_ecn` (2): 0 off, 1 ask for ECN on outgoing connections and accept it on incoming
    /// ones, 2 only accept it.
    pub ecn: u8,
    /// CUBIC's hybrid slow start (on; Linux: the `hystart` parameter of `tcp_cubic`).
    pub hystart: bool,
    /// Delayed ACK timeout (Linux: `TCP_DELACK_MIN`, 40 ms).
    pub delack: Duration,
    /// `ip_local_port_range` (32768–60999).
    pub local_port_range: (u16, u16),
    /// `tcp_challenge_ack_limit`: challenge ACKs per second (RFC 5961).
    pub challenge_ack_limit: u32,
    /// Minimum retransmission timeout (Linux: `TCP_RTO_MIN`, 200 ms).
    pub rto_min: Duration,
    /// Initial retransmission timeout (Linux: `TCP_TIMEOUT_INIT`, 1 s).
    pub rto_initial: Duration,
    /// `tcp_reordering` (3): the initial reordering degree, in segments.
    pub reordering: u32,
    /// `tcp_max_reordering` (300): the largest reordering degree.
    pub max_reordering: u32,
    /// `tcp_frto` (2: on): F-RTO detection of spurious retransmission timeouts (RFC 5682).
    pub frto: bool,
    /// `tcp_fastopen` (1: client on): the `TFO_*` bits of [`super::fastopen`].
    pub fastopen: u32,
    /// `tcp_mtu_probing` (0): packetization-layer path MTU discovery (RFC 4821). 0: off;
    /// 1: on once an ICMP black hole is suspected (repeated RTOs); 2: always.
    pub mtu_probing: u8,
    /// `tcp_base_mss` (1024): the MSS the probing search starts from.
    pub base_mss: u32,
    /// `tcp_probe_threshold` (8): the search stops once its range is narrower (bytes).
    pub probe_threshold: u32,
    /// `tcp_probe_interval` (600 s): how long before a finished search starts again.
    pub probe_interval: Duration,
    /// `tcp_mtu_probe_floor` (48): lowest MSS black hole detection falls back to.
    pub mtu_probe_floor: u32,
    /// `tcp_backlog_ack_defer` (1): the ACK that in-order data earns (every second full
    /// segment) waits for the end of the receive batch, one per socket and batch (Linux defers
    /// it while the socket is owned by its user: `TCP_ACK_DEFERRED`, sent by
    /// `tcp_release_cb`); 0 sends it from the segment that earned it, as Linux's softirq
    /// path does for a socket nobody holds.
    pub backlog_ack_defer: bool,
    /// `tcp_comp_sack_nr` (44): most out-of-order ACKs held back (`super::comp_sack`);
    /// 0 sends every one at once.
    pub comp_sack_nr: u32,
    /// `tcp_comp_sack_delay_ns` (1 ms): longest an out-of-order ACK is held.
    pub comp_sack_delay: Duration,
    /// `tcp_comp_sack_slack_ns` (100 us): the compression timer's slack.
    pub comp_sack_slack: Duration,
}

impl TcpConfig {
    /// The window scale to offer for a receive buffer of `cap` bytes: big enough for the
    /// largest size autotuning may grow it to, unless the size is locked (Linux:
    /// `tcp_select_initial_window` with `max(tcp_rmem[2], rmem_max)`).
    pub fn rcv_wscale_for(&self, cap: usize, locked: bool) -> u8 {
        if locked || !self.moderate_rcvbuf {
            TcpSock::wscale_for(cap)
        } else {
            TcpSock::wscale_for(cap.max(self.rmem_max))
        }
    }
}

impl Default for TcpConfig {
    fn default() -> Self {
        TcpConfig {
            syn_retries: 6,
            synack_retries: 5,
            retries2: 15,
            fin_timeout: Duration::from_secs(60),
            time_wait: Duration::from_secs(60),
            keepalive_time: Duration::from_secs(7200),
            keepalive_intvl: Duration::from_secs(75),
            keepalive_probes: 9,
            syncookies: true,
            max_syn_backlog: 1024,
            somaxconn: 4096,
            rmem_default: 256 * 1024,
            wmem_default: 256 * 1024,
            rmem_max: 6 * 1024 * 1024,
            wmem_max: 4 * 1024 * 1024,
            moderate_rcvbuf: true,
            window_scaling: true,
            timestamps: true,
            sack: true,
            congestion_control: CcAlgorithm::Cubic,
            hystart: true,
            ecn: 2,
            delack: Duration::from_millis(40),
            local_port_range: (32768, 60999),
            challenge_ack_limit: 1000,
            rto_min: Duration::from_millis(200),
            rto_initial: Duration::from_secs(1),
            reordering: 3,
            max_reordering: 300,
            frto: true,
            fastopen: super::fastopen::TFO_CLIENT_ENABLE,
            mtu_probing: 0,
            base_mss: super::mtup::TCP_BASE_MSS,
            probe_threshold: super::mtup::TCP_PROBE_THRESHOLD,
            probe_interval: super::mtup::TCP_PROBE_INTERVAL,
            mtu_probe_floor: super::pmtu::TCP_MIN_SND_MSS,
            backlog_ack_defer: true,
            comp_sack_nr: super::comp_sack::COMP_SACK_NR,
            comp_sack_delay: super::comp_sack::COMP_SACK_DELAY,
            comp_sack_slack: super::comp_sack::COMP_SACK_SLACK,
        }
    }
}

/// What the receiver read in the current measurement round trip. Linux: `tp->rcvq_space`.
#[derive(Debug, Clone, Copy, Default)]
pub struct RcvqSpace {
    /// Bytes read in the last round trip that grew the buffer (0: not started).
    pub space: usize,
    /// `bytes_copied` at the start of this round trip.
    pub copied_mark: u64,
    /// When this round trip started.
    pub time: Instant,
}

/// Per-connection counters and facts for `ss -ti`. Linux: `struct tcp_info`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TcpInfo {
    /// State name.
    pub state: String,
    /// Smoothed RTT in microseconds.
    pub rtt_us: u64,
    /// RTT variance in microseconds.
    pub rttvar_us: u64,
    /// Current RTO in microseconds.
    pub rto_us: u64,
    /// Congestion window in bytes.
    pub cwnd: u32,
    /// Slow-start threshold in bytes (`u32::MAX`: infinite).
    pub ssthresh: u32,
    /// Send MSS.
    pub mss: u32,
    /// Congestion control name.
    pub cc: String,
    /// Segments retransmitted.
    pub retrans: u64,
    /// Bytes sent (first transmissions).
    pub bytes_sent: u64,
    /// Bytes acknowledged by the peer.
    pub bytes_acked: u64,
    /// Bytes received in order.
    pub bytes_received: u64,
    /// Bytes waiting in the send queue (unacked + unsent).
    pub send_q: u32,
    /// Bytes waiting in the receive queue (unread).
    pub recv_q: u32,
    /// Peer's window in bytes.
    pub snd_wnd: u32,
    /// Our advertised window in bytes.
    pub rcv_wnd: u32,
    /// Window scale shifts (ours to receive, theirs).
    pub wscale: (u8, u8),
    /// Options in use: timestamps, SACK.
    pub ts: bool,
    /// SACK in use.
    pub sack: bool,
    /// Delivery rate in bytes per second (0 until measured).
    #[serde(default)]
    pub delivery_rate: u64,
    /// Segments retransmitted and not yet acknowledged (`tcpi_retrans`).
    #[serde(default)]
    pub retrans_out: u32,
    /// Segments deemed lost (`tcpi_lost`).
    #[serde(default)]
    pub lost: u32,
    /// Segments SACKed (`tcpi_sacked`).
    #[serde(default)]
    pub sacked: u32,
    /// Reordering degree in segments (`tcpi_reordering`).
    #[serde(default)]
    pub reordering: u32,
    /// Times reordering was detected (`tcpi_reord_seen`).
    #[serde(default)]
    pub reord_seen: u32,
    /// D-SACKs received (`tcpi_dsack_dups`).
    #[serde(default)]
    pub dsack_dups: u32,
    /// Congestion-avoidance state (`tcpi_ca_state`: open, disorder, cwr, recovery, loss).
    #[serde(default)]
    pub ca_state: String,
    /// The SYN's data was acknowledged (client) or accepted (server): Linux's
    /// `TCPI_OPT_SYN_DATA`.
    #[serde(default)]
    pub syn_data: bool,
    /// Why the client's Fast Open failed (`tcpi_fastopen_client_fail`).
    #[serde(default)]
    pub fastopen_client_fail: super::fastopen::FastOpenClientFail,
    /// Pacing rate in bytes per second (0: not paced). Linux: `tcpi_pacing_rate`.
    #[serde(default)]
    pub pacing_rate: u64,
    /// BBR's model when BBR runs. Linux: `struct tcp_bbr_info`.
    #[serde(default)]
    pub bbr: Option<super::bbr::BbrInfo>,
    /// ECN negotiated (`ss`: `ecn`; Linux: `TCPI_OPT_ECN`).
    #[serde(default)]
    pub ecn: bool,
    /// ECT or CE seen on received data (`ss`: `ecnseen`; Linux: `TCPI_OPT_ECN_SEEN`).
    #[serde(default)]
    pub ecn_seen: bool,
}

/// What the sender is doing, for `tcp_info`'s time accounting. Linux: `enum tcp_chrono`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Chrono {
    /// Nothing queued or in flight.
    #[default]
    Idle,
    /// Data queued or in flight (`TCP_CHRONO_BUSY`).
    Busy,
    /// Held back by the peer's receive window (`TCP_CHRONO_RWND_LIMITED`).
    RwndLimited,
}

/// What a socket remembers of its input route: the route generation, input interface and
/// mark it was found for (Linux: `sk->sk_rx_dst`, `sk_rx_dst_ifindex`).
pub(crate) type RxDst = (u64, u32, u32);

/// A TCP socket. Fields are grouped as in RFC 9293's TCB.
#[derive(Debug)]
pub struct TcpSock {
    /// Connection state.
    pub state: TcpState,
    /// Local address and port (unspecified address/port 0 while unbound).
    pub local: SocketAddr,
    /// Remote address and port (unspecified until connected).
    pub remote: SocketAddr,
    /// An AF_INET6 socket (bound at `[::]`, or accepted from such a listener): the socket
    /// API names its IPv4 addresses v4-mapped. Linux: `sk->sk_family == AF_INET6`.
    pub inet6: bool,

    // --- send sequence space ---
    /// Initial send sequence number.
    pub iss: SeqNumber,
    /// Oldest unacknowledged sequence number.
    pub snd_una: SeqNumber,
    /// Next sequence number to send.
    pub snd_nxt: SeqNumber,
    /// Highest sequence number sent so far, plus one (BSD's `snd_max`).
    pub snd_max: SeqNumber,
    /// Peer's window, in bytes (already scaled).
    pub snd_wnd: u32,
    /// Largest window the peer has offered.
    pub max_snd_wnd: u32,
    /// Segment sequence number of the last window update.
    pub snd_wl1: SeqNumber,
    /// Segment acknowledgment number of the last window update.
    pub snd_wl2: SeqNumber,
    /// Peer's window scale shift.
    pub snd_wscale: u8,
    /// Effective send MSS (payload bytes per segment). Linux: `tp->mss_cache`.
    pub mss: u32,
    /// MSS we advertise.
    pub adv_mss: u16,
    /// Largest MSS the peer takes: the MSS option of its SYN (536 without one), lowered by
    /// `TCP_MAXSEG`. Linux: `tp->rx_opt.mss_clamp`.
    pub mss_clamp: u32,
    /// Path MTU probing (RFC 4821) and the path MTU the MSS was last sized for
    /// (see `super::mtup`). Linux: `icsk->icsk_mtup`, `icsk_pmtu_cookie`, `tp->mtu_probe`.
    pub mtup: super::mtup::Mtup,

    // --- receive sequence space ---
    /// Initial receive sequence number.
    pub irs: SeqNumber,
    /// Next sequence number expected.
    pub rcv_nxt: SeqNumber,
    /// Right edge of the window we last advertised (never moves left).
    pub rcv_adv: SeqNumber,
    /// The largest window advertised so far: the bound a read's window update is judged
    /// against (Linux: `tcp_cleanup_rbuf` through `__tcp_select_window`, bounded by
    /// `rcv_ssthresh`).
    pub rcv_wnd_max: u32,
    /// How far the advertised window may open: the initial window, then grown by two
    /// segments (or twice the data) for each segment received while the buffer has room
    /// beyond it, each such segment ACKed at once so the sender hears of the larger window.
    /// Linux: `tp->rcv_ssthresh` (`tcp_grow_window`, bounding `__tcp_select_window`).
    pub rcv_ssthresh: u32,
    /// Our window scale shift.
    pub rcv_wscale: u8,

    // --- options ---
    /// Timestamps negotiated (RFC 7323).
    pub ts_ok: bool,
    /// SACK negotiated (RFC 2018).
    pub sack_ok: bool,
    /// Window scaling negotiated.
    pub ws_ok: bool,
    /// Most recent valid TSval from the peer (TS.Recent).
    pub ts_recent: u32,
    /// When `ts_recent` was updated.
    pub ts_recent_stamp: Instant,
    /// Offset added to our timestamp clock for this connection.
    pub ts_offset: u32,
    /// The last TSval sent: TSvals never go backwards, even if a caller's `now` does
    /// (RFC 7323 section 5.4; a peer's PAWS would drop the segment).
    pub ts_last: Option<u32>,
    /// The TSval of our first SYN: a SYN-ACK must echo one between it and now. Linux:
    /// `tp->retrans_stamp` in SYN-SENT.
    pub syn_tsval: Option<u32>,
    /// Last ACK we sent (for `ts_recent` updates, RFC 7323 4.3).
    pub last_ack_sent: SeqNumber,

    // --- queues ---
    /// Send queue: bytes from `snd_una` (data part) on, acknowledged bytes removed.
    pub sndbuf: RingBuffer,
    /// Receive queue: in-order bytes not yet read, out-of-order bytes beyond them. Its
    /// length counts every unread in-order byte, also those held in packet buffers (see
    /// `rx_skbs`), whose place in the ring is reserved but never written: so the ring's end
    /// is always `rcv_nxt`, and its free space is the receive buffer's room.
    pub rcvbuf: RingBuffer,
    /// The unread in-order stream, front first, as runs of bytes copied into the ring and
    /// received packet buffers queued as they arrived (data trimmed to the unread payload):
    /// the header-prediction fast path queues a segment's buffer here instead of copying it.
    /// Its lengths add up to `rcvbuf.len()`. Linux: `sk_receive_queue`.
    pub rx_skbs: VecDeque<RxSeg>,
    /// Unread payload bytes held in packet buffers in `rx_skbs`.
    pub rx_skb_bytes: usize,
    /// Storage held by `rx_skbs` (sum of their capacities), bounded by the ring's capacity
    /// (see [`TcpSock::rx_skb_fits`]). Linux: the `truesize` part of `sk_rmem_alloc`.
    pub rx_skb_truesize: usize,
    /// Packet buffers in `rx_skbs`.
    pub rx_skb_count: usize,
    /// Out-of-order bookkeeping, offsets relative to `rcv_nxt`.
    pub ofo: Assembler,
    /// The SACK and D-SACK blocks to report (Linux: `selective_acks`, `duplicate_sack`).
    pub rx_sack: super::rx_sack::RxSack,
    /// `SO_RCVBUF` was set: no receive buffer autotuning (Linux: `SOCK_RCVBUF_LOCK`).
    pub rcvbuf_locked: bool,
    /// `SO_SNDBUF` was set: no send buffer autotuning (Linux: `SOCK_SNDBUF_LOCK`).
    pub sndbuf_locked: bool,
    /// Bytes the application has read, in total.
    pub bytes_copied: u64,
    /// Receive-side dynamic right-sizing state. Linux: `tp->rcvq_space`.
    pub rcvq_space: RcvqSpace,
    /// Receiver's RTT estimate in microseconds, times 8 (0: none yet), from the timestamps
    /// the peer echoes. Linux: `tp->rcv_rtt_est.rtt_us`.
    pub rcv_rtt_us8: u32,
    /// The user asked to stop sending (shutdown(SHUT_WR) or close): the FIN's sequence
    /// number, right after the last data byte.
    pub fin_at: Option<SeqNumber>,
    /// The peer's FIN has been received (and queued after its data).
    pub fin_rcvd: bool,
    /// Reading has been shut down locally (shutdown(SHUT_RD)).
    pub rd_shutdown: bool,

    // --- congestion and loss recovery ---
    /// Congestion control.
    pub cc: Box<dyn CongestionControl>,
    /// RTT estimator and RTO.
    pub rtt: RttEstimator,
    /// Segment being timed when timestamps are not in use (Karn's algorithm).
    pub rtt_seq: Option<(SeqNumber, Instant)>,
    /// The retransmit queue's scoreboard (one record per segment sent, SACKED / LOST /
    /// RETRANS bits, the byte counts). Linux: `tcp_rtx_queue` with `sacked_out`, `lost_out`,
    /// `retrans_out`.
    pub rtx: RtxQueue,
    /// Congestion-avoidance state. Linux: `icsk_ca_state`.
    pub ca_state: CaState,
    /// `snd_nxt` when the current recovery / reduction began (RFC 6582 "recover").
    /// Linux: `tp->high_seq`.
    pub high_seq: SeqNumber,
    /// `snd_una` when the reduction that may be undone began. Linux: `tp->undo_marker`.
    pub undo_marker: Option<SeqNumber>,
    /// Retransmitted bytes not yet reported duplicate by D-SACK (-1: none yet). Linux:
    /// `tp->undo_retrans`.
    pub undo_retrans: i64,
    /// TSval of the first retransmission of this episode (Eifel). Linux: `tp->retrans_stamp`.
    pub retrans_stamp: Option<u32>,
    /// ssthresh before the reduction (0: no undo possible). Linux: `tp->prior_ssthresh`.
    pub prior_ssthresh: u32,
    /// cwnd before the reduction. Linux: `tp->prior_cwnd`.
    pub prior_cwnd: u32,
    /// PRR: bytes delivered since the reduction began. Linux: `tp->prr_delivered`.
    pub prr_delivered: u32,
    /// PRR: bytes sent since the reduction began. Linux: `tp->prr_out`.
    pub prr_out: u32,
    /// Reordering degree in segments. Linux: `tp->reordering`.
    pub reordering: u32,
    /// Upper bound of `reordering` (`tcp_max_reordering`).
    pub max_reordering: u32,
    /// Times reordering was seen. Linux: `tp->reord_seen`.
    pub reord_seen: u32,
    /// D-SACKs received. Linux: `tp->dsack_dups`.
    pub dsack_dups: u32,
    /// RACK's state.
    pub rack: Rack,
    /// `snd_nxt` when a tail loss probe went out, until its fate is known. Linux:
    /// `tp->tlp_high_seq`.
    pub tlp_high_seq: Option<SeqNumber>,
    /// The probe was a retransmission (not new data). Linux: `tp->tlp_retrans`.
    pub tlp_retrans: bool,
    /// F-RTO is running for this timeout. Linux: `tp->frto`.
    pub frto: bool,
    /// F-RTO step 2b: send new data before any retransmission on this output run.
    pub rexmit_new: bool,
    /// Bytes delivered (acknowledged or SACKed). Linux: `tp->delivered`.
    pub delivered: u64,
    /// Segments delivered, as Linux counts `tp->delivered` (`tcpi_delivered`): each
    /// acknowledged or SACKed segment (a TSO segment by its MSS-sized parts), the handshake's
    /// SYN or SYN-ACK, each duplicate ACK without SACK.
    pub delivered_segs: u32,
    /// One past the highest SACKed byte. Linux: `tp->highest_sack`.
    pub highest_sack: Option<SeqNumber>,
    /// What `rto_at` stands for. Linux: `icsk_pending`.
    pub xmit_timer: XmitTimer,
    /// The sender used all of cwnd in this window. Linux: `tp->is_cwnd_limited`.
    pub is_cwnd_limited: bool,
    /// Most bytes outstanding in this window. Linux: `tp->max_packets_out`.
    pub max_packets_out: u32,
    /// End of the window `is_cwnd_limited` describes. Linux: `tp->cwnd_usage_seq`.
    pub cwnd_usage_seq: SeqNumber,
    /// TSecr of the ACK being processed (Eifel). Linux: `tp->rx_opt.rcv_tsecr`.
    pub rcv_tsecr: Option<u32>,
    /// Explicit Congestion Notification state (Linux: `tp->ecn_flags`).
    pub ecn: super::ecn::TcpEcn,
    /// Consecutive retransmission timeouts (RFC 6298 backoff count).
    pub retransmits: u32,
    /// Data was sent and we wait for the peer: the retransmission timer.
    pub rto_at: Option<Instant>,
    /// Zero-window probe timer (Linux: the `ICSK_TIME_PROBE0` timer).
    pub persist_at: Option<Instant>,
    /// Zero-window probes sent in a row.
    pub probes: u32,
    /// Send a runt the windows allow once (set by the persist timer).
    pub force_push: bool,
    /// The last new segment was refused by the local qdisc (Linux: `tcp_transmit_skb`
    /// returning `NET_XMIT_DROP`): the probe timer retries it.
    pub local_drop: bool,
    /// Delayed-ACK timer.
    pub delack_at: Option<Instant>,
    /// In-order data with PSH arrived since the last ACK (Linux: `ICSK_ACK_PUSHED`): a read
    /// that empties the receive queue ACKs at once.
    pub ack_pushed: bool,
    /// Keepalive timer.
    pub keepalive_at: Option<Instant>,
    /// Keepalive probes sent without answer.
    pub keepalive_probes_sent: u32,
    /// TIME-WAIT expiry, or the FIN-WAIT-2 timeout of an orphan.
    pub tw_at: Option<Instant>,
    /// When the peer was last heard from.
    pub last_rcv: Instant,
    /// When we last sent data (for the idle restart of the congestion window).
    pub last_send: Instant,

    // --- ACK state ---
    /// An ACK must go out (immediately on the next output run).
    pub ack_now: bool,
    /// In-order data asked for an ACK that waits for the end of the receive batch, so that
    /// the frames of one batch get one ACK (the socket is on `super::hash::TcpTables`'s
    /// deferred list; any segment carrying an ACK clears it). Linux: `TCP_ACK_DEFERRED`.
    pub ack_deferred: bool,
    /// Received full segments not yet acknowledged (ACK every second one).
    pub rcv_unacked_segs: u32,
    /// Quick-ACK budget: ACK at once for the first segments (Linux's quickack mode).
    pub quickack: u32,
    /// When in-order data last arrived (None before the first). Linux: `icsk_ack.lrcvtime`.
    pub lrcvtime: Option<Instant>,
    /// ACKs of out-of-order data held back (`super::comp_sack`). Linux:
    /// `tp->compressed_ack`.
    pub compressed_ack: u32,
    /// When the held ACK goes out at the latest. Linux: `tp->compressed_ack_timer`.
    pub compressed_ack_at: Option<Instant>,
    /// `RCV.NXT` when the duplicate ACKs were last counted. Linux:
    /// `tp->compressed_ack_rcv_nxt`.
    pub compressed_ack_rcv_nxt: Option<SeqNumber>,
    /// Duplicate ACKs sent at once for that `RCV.NXT`. Linux: `tp->dup_ack_counter`.
    pub dup_ack_counter: u32,
    /// Interactive (request/response) mode: data went out while a delayed ACK was pending
    /// soon after data came in, so ACKs wait to ride on the answers rather than going at
    /// once. Linux: `inet_csk_in_pingpong_mode` (`icsk_ack.pingpong`).
    pub pingpong: bool,
    /// Writers blocked on this socket (waiting for the connection or for room): a SYN-ACK
    /// then leaves its ACK to the data they send. Linux: `sk->sk_write_pending`.
    pub write_pending: u32,
    /// Offloads of the device the route leaves by, refreshed before sending (Linux:
    /// `sk->sk_route_caps`): TSO lets output build super-segments, checksum offload leaves
    /// checksums partial.
    pub route_caps: crate::device::features::NetdevFeatures,
    /// The route generation `route_caps` was computed at (`u64::MAX`: never); a change of
    /// routes, rules, addresses, link state or device features moves the generation on.
    /// Linux: the `dst` cached on the socket, checked by `__sk_dst_check`.
    pub route_caps_genid: u64,
    /// `TCP_MD5SIG` keys (RFC 2385; see `super::md5sig`). Linux: `tp->md5sig_info`.
    pub md5: super::md5sig::TcpMd5Keys,
    /// The urgent byte announced by the peer (see `super::urg`). Linux: `tp->urg_seq`,
    /// `tp->urg_data`.
    pub urg: Option<super::urg::Urg>,
    /// `SO_OOBINLINE`: urgent bytes stay in the stream. Linux: `SOCK_URGINLINE`.
    pub urg_inline: bool,
    /// The output route and the route generation it was found at: a connected socket routes
    /// once, not per segment. Linux: `sk->sk_dst_cache`.
    pub dst_cache: Option<(u64, crate::ip::route::OutputRoute)>,
    /// The input route its segments last took, when it was local delivery: the route
    /// generation, input interface and mark it was found for. Early demux skips the route
    /// lookup while these hold. Linux: `sk->sk_rx_dst` with `sk_rx_dst_ifindex`.
    pub(crate) rx_dst: Option<RxDst>,

    // --- user settings ---
    /// `TCP_NODELAY`: disable Nagle.
    pub nodelay: bool,
    /// `TCP_CORK`: hold partial segments (Linux: `TCP_NAGLE_CORK`).
    pub cork: bool,
    /// The last send had `MSG_MORE`: hold partial segments, and leave its end unpushed.
    pub more: bool,
    /// Send what a cork holds, once (setting `TCP_NODELAY`; Linux: `TCP_NAGLE_PUSH`).
    pub nagle_push: bool,
    /// The end of the last less-than-full segment of new data sent: Nagle holds a small
    /// segment only while that one is unacknowledged (Minshall's variant). Linux:
    /// `tp->snd_sml`.
    pub snd_sml: Option<SeqNumber>,
    /// Output runs from the user's send (where `MSG_MORE` holds partial segments).
    pub in_sendmsg: bool,
    /// Ends of records written with `MSG_EOR` not yet acknowledged: no segment carries bytes
    /// from both sides of one (Linux: the `eor` bit of an skb, `tcp_skb_can_collapse_to`).
    pub eor_marks: VecDeque<SeqNumber>,
    /// The unsent skbs' boundaries and PSH marks, and the burst being sent (see
    /// `super::wqueue`).
    pub wq: super::wqueue::WriteQueue,
    /// `TCP_MAXSEG` (0: none): clamps the MSS we offer. Linux: `tp->rx_opt.user_mss`.
    pub user_mss: u32,
    /// `TCP_USER_TIMEOUT` (zero: off). Linux: `icsk->icsk_user_timeout`.
    pub user_timeout: Duration,
    /// When the first segment of the current retransmission run was sent (see
    /// `super::user_timeout`). Linux: `tp->retrans_stamp` as `retransmits_timed_out` reads
    /// it (the Eifel TSval of the same name is `retrans_stamp`).
    pub rto_stamp: Option<Instant>,
    /// When the current run of zero-window probes began. Linux: `icsk_probes_tstamp`.
    pub probes_tstamp: Option<Instant>,
    /// `TCP_NOTSENT_LOWAT` / `net.ipv4.tcp_notsent_lowat` (`u32::MAX`: off).
    /// Linux: `tp->notsent_lowat` (or the sysctl when that is zero).
    pub notsent_lowat: u32,
    /// Where the skb a write appends to begins (see `super::sndmem`). Linux:
    /// `TCP_SKB_CB(tcp_write_queue_tail(sk))->seq`.
    pub write_skb_start: SeqNumber,
    /// `SO_SNDBUF` as Linux keeps it (`sk_sndbuf`: twice the value set, at least
    /// `SOCK_MIN_SNDBUF`), a budget of skb memory rather than of data bytes (see
    /// `super::sndmem`); `None` until the option is set.
    pub sndbuf_limit: Option<usize>,
    /// The sender's current state for `tcp_info`'s chrono. Linux: `chrono_type`.
    pub chrono: Chrono,
    /// Since when the sender is in [`chrono`](Self::chrono). Linux: `chrono_start`.
    pub chrono_start: Instant,
    /// The time spent busy and receive-window limited so far (µs). Linux: `chrono_stat`.
    pub chrono_stat: [u64; 2],
    /// `SO_KEEPALIVE`.
    pub keepalive: bool,
    /// `SO_LINGER` (`Some(0)`: abort with RST on close).
    pub linger: Option<Duration>,
    /// `TCP_KEEPIDLE` / `TCP_KEEPINTVL` / `TCP_KEEPCNT` overrides.
    pub keep_idle: Duration,
    /// Interval between keepalive probes.
    pub keep_intvl: Duration,
    /// Probes before giving up.
    pub keep_cnt: u32,
    /// Pending error for the user (`sk_err`).
    pub error: Option<Errno>,
    /// The user closed the socket: it lives on only to finish the protocol (an orphan).
    pub orphan: bool,

    // --- listener / child ---
    /// Listen backlog (accept queue bound).
    pub backlog: u32,
    /// Established children waiting for `accept` (listener only).
    pub accept_queue: VecDeque<SockId>,
    /// Children in SYN-RECEIVED (listener only).
    pub syn_qlen: u32,
    /// The listener this child came from, until it is accepted.
    pub parent: Option<SockId>,
    /// SYN-ACK / SYN retransmissions so far.
    pub syn_retries: u32,
    /// `TCP_SYNCNT`: SYN retransmissions before `connect` gives up (0: `tcp_syn_retries`).
    /// Linux: `icsk_syn_retries`.
    pub syn_count: u8,

    // --- statistics ---
    /// Segments retransmitted.
    pub total_retrans: u64,
    /// Data bytes sent for the first time.
    pub bytes_sent: u64,
    /// Data bytes acknowledged.
    pub bytes_acked: u64,
    /// Data bytes received in order.
    pub bytes_received: u64,
    /// Out-of-order payload bytes accepted (duplicates included): with `bytes_received`,
    /// what bounds the buffer growth out-of-order data may cause.
    pub ofo_bytes_rcvd: u64,
    /// Delivery rate estimate.
    pub delivery: super::rate::DeliveryRate,
    /// TCP Fast Open state (RFC 7413).
    pub fastopen: super::fastopen::TcpFastOpen,
    /// Per-ACK delivery rate samples for congestion controls that run on them (BBR).
    pub rate: super::rate::TcpRateSampler,
    /// Pacing state (Linux: `tcp_wstamp_ns` and the pacing timer).
    pub pacing: super::pacing::Pacing,
    /// The timer entry the stack holds for this socket (see `tcp_sched`).
    pub(crate) scheduled_at: Option<Instant>,
}

/// The IPv4 address of a TCP endpoint address. TCP runs over IPv4 only so far (issue 18):
/// the socket API unmaps v4-mapped addresses and refuses other IPv6 ones, so every address
/// here is IPv4; an IPv6 one would read as 0.0.0.0.
pub(crate) fn tcp_v4_addr(ip: IpAddr) -> Ipv4Addr {
    match ip {
        IpAddr::V4(a) => a,
        IpAddr::V6(a) => a.to_ipv4_mapped().unwrap_or(Ipv4Addr::UNSPECIFIED),
    }
}

impl TcpSock {
    /// The local IPv4 address. Linux: `inet->inet_saddr`.
    #[inline]
    pub(crate) fn inet_saddr(&self) -> Ipv4Addr {
        tcp_v4_addr(self.local.ip())
    }

    /// The remote IPv4 address. Linux: `inet->inet_daddr`.
    #[inline]
    pub(crate) fn inet_daddr(&self) -> Ipv4Addr {
        tcp_v4_addr(self.remote.ip())
    }

    /// A closed socket with buffers of the given sizes. Linux: `tcp_init_sock`.
    pub fn new(cfg: &TcpConfig, rcvbuf: usize, sndbuf: usize) -> TcpSock {
        let unspec = SocketAddr::V4(SocketAddrV4::new(std::net::Ipv4Addr::UNSPECIFIED, 0));
        let mss = 536;
        TcpSock {
            state: TcpState::Closed,
            local: unspec,
            remote: unspec,
            inet6: false,
            iss: SeqNumber(0),
            snd_una: SeqNumber(0),
            snd_nxt: SeqNumber(0),
            snd_max: SeqNumber(0),
            snd_wnd: 0,
            max_snd_wnd: 0,
            snd_wl1: SeqNumber(0),
            snd_wl2: SeqNumber(0),
            snd_wscale: 0,
            mss,
            adv_mss: 1460,
            mss_clamp: 536,
            mtup: Default::default(),
            irs: SeqNumber(0),
            rcv_nxt: SeqNumber(0),
            rcv_adv: SeqNumber(0),
            rcv_wnd_max: 0,
            rcv_ssthresh: rcvbuf.min(u32::MAX as usize) as u32,
            rcv_wscale: 0,
            ts_ok: false,
            sack_ok: false,
            ws_ok: false,
            ts_recent: 0,
            ts_recent_stamp: Instant::ZERO,
            ts_offset: 0,
            ts_last: None,
            syn_tsval: None,
            last_ack_sent: SeqNumber(0),
            sndbuf: RingBuffer::new(sndbuf),
            rcvbuf: RingBuffer::new(rcvbuf),
            rx_skbs: VecDeque::new(),
            rx_skb_bytes: 0,
            rx_skb_truesize: 0,
            rx_skb_count: 0,
            ofo: Assembler::new(),
            rx_sack: Default::default(),
            rcvbuf_locked: false,
            sndbuf_locked: false,
            bytes_copied: 0,
            rcvq_space: RcvqSpace::default(),
            rcv_rtt_us8: 0,
            fin_at: None,
            fin_rcvd: false,
            rd_shutdown: false,
            cc: {
                let mut cc = new_cc(cfg.congestion_control, mss);
                cc.set_hystart(cfg.hystart);
                cc
            },
            rtt: RttEstimator::with_bounds(cfg.rto_min, Duration::from_secs(120), cfg.rto_initial),
            rtt_seq: None,
            rtx: RtxQueue::default(),
            ca_state: CaState::Open,
            high_seq: SeqNumber(0),
            undo_marker: None,
            undo_retrans: -1,
            retrans_stamp: None,
            prior_ssthresh: 0,
            prior_cwnd: 0,
            prr_delivered: 0,
            prr_out: 0,
            reordering: cfg.reordering.max(1),
            max_reordering: cfg.max_reordering.max(1),
            reord_seen: 0,
            dsack_dups: 0,
            rack: Rack::default(),
            tlp_high_seq: None,
            tlp_retrans: false,
            frto: false,
            rexmit_new: false,
            delivered: 0,
            delivered_segs: 0,
            highest_sack: None,
            xmit_timer: XmitTimer::Retrans,
            is_cwnd_limited: false,
            max_packets_out: 0,
            cwnd_usage_seq: SeqNumber(0),
            rcv_tsecr: None,
            ecn: Default::default(),
            retransmits: 0,
            rto_at: None,
            persist_at: None,
            probes: 0,
            force_push: false,
            local_drop: false,
            delack_at: None,
            ack_pushed: false,
            keepalive_at: None,
            keepalive_probes_sent: 0,
            tw_at: None,
            last_rcv: Instant::ZERO,
            last_send: Instant::ZERO,
            ack_now: false,
            ack_deferred: false,
            rcv_unacked_segs: 0,
            quickack: 16,
            lrcvtime: None,
            compressed_ack: 0,
            compressed_ack_at: None,
            compressed_ack_rcv_nxt: None,
            dup_ack_counter: 0,
            pingpong: false,
            write_pending: 0,
            route_caps: Default::default(),
            route_caps_genid: u64::MAX,
            md5: Default::default(),
            urg: None,
            urg_inline: false,
            dst_cache: None,
            rx_dst: None,
            nodelay: false,
            cork: false,
            more: false,
            nagle_push: false,
            snd_sml: None,
            in_sendmsg: false,
            eor_marks: VecDeque::new(),
            wq: Default::default(),
            user_mss: 0,
            user_timeout: Duration::ZERO,
            rto_stamp: None,
            probes_tstamp: None,
            notsent_lowat: u32::MAX,
            write_skb_start: SeqNumber(0),
            sndbuf_limit: None,
            chrono: Chrono::Idle,
            chrono_start: Instant::ZERO,
            chrono_stat: [0; 2],
            keepalive: false,
            linger: None,
            keep_idle: cfg.keepalive_time,
            keep_intvl: cfg.keepalive_intvl,
            keep_cnt: cfg.keepalive_probes,
            error: None,
            orphan: false,
            backlog: 0,
            accept_queue: VecDeque::new(),
            syn_qlen: 0,
            parent: None,
            syn_retries: 0,
            syn_count: 0,
            total_retrans: 0,
            bytes_sent: 0,
            bytes_acked: 0,
            bytes_received: 0,
            ofo_bytes_rcvd: 0,
            delivery: Default::default(),
            fastopen: Default::default(),
            rate: Default::default(),
            pacing: Default::default(),
            scheduled_at: None,
        }
    }

    /// The window scale shift to offer for a receive buffer of `cap` bytes: the smallest that
    /// lets the whole buffer be advertised. Linux: `tcp_select_initial_window`.
    pub fn wscale_for(cap: usize) -> u8 {
        let mut s = 0u8;
        while s < 14 && (cap >> s) > 0xffff {
            s += 1;
        }
        s
    }

    /// The right edge of the peer's window. It counts from the first data byte: a Fast Open
    /// child whose SYN-ACK is not yet acknowledged may fill the SYN's whole window (Linux:
    /// `tcp_wnd_end`, with the child's `snd_una` set past the SYN-ACK by
    /// `tcp_create_openreq_child`).
    pub fn tcp_wnd_end(&self) -> SeqNumber {
        self.data_seq() + self.snd_wnd as usize
    }

    /// Sequence number of the first data byte in the send queue.
    pub fn data_seq(&self) -> SeqNumber {
        // The SYN occupies iss; data starts at iss + 1. Once the SYN is acknowledged,
        // snd_una is the first unacknowledged data byte.
        if self.snd_una == self.iss {
            self.iss + 1
        } else {
            self.snd_una
        }
    }

    /// Sequence number of the FIN, once the user has queued it: right after the last byte.
    pub fn fin_seq(&self) -> Option<SeqNumber> {
        self.fin_at
    }

    /// Queue a FIN after the data (shutdown for writing). Idempotent.
    pub fn queue_fin(&mut self) {
        if self.fin_at.is_none() {
            self.fin_at = Some(self.data_seq() + self.sndbuf.len());
        }
    }

    /// Sequence number just past the last byte of queued data.
    pub fn data_end(&self) -> SeqNumber {
        self.data_seq() + self.sndbuf.len()
    }

    /// Whether our FIN has been sent.
    pub fn fin_sent(&self) -> bool {
        match self.fin_seq() {
            Some(f) => self.snd_max > f,
            None => false,
        }
    }

    /// Whether our FIN has been acknowledged.
    pub fn fin_acked(&self) -> bool {
        match self.fin_seq() {
            Some(f) => self.snd_una > f,
            None => false,
        }
    }

    /// Bytes in flight (RFC 6675 "pipe"). Linux: `tcp_packets_in_flight`.
    pub fn pipe(&self) -> u32 {
        self.tcp_packets_in_flight()
    }

    /// Whether fast recovery or the RTO's Loss state is running.
    pub fn in_recovery(&self) -> bool {
        self.ca_state.in_recovery_or_loss()
    }

    /// The receive window to advertise, in bytes, before scaling. RFC 9293 3.8.6.2.2
    /// (receiver-side silly window avoidance) and never shrinking the right edge.
    /// Linux: `tcp_select_window` / `__tcp_select_window`.
    pub fn select_window(&mut self) -> u32 {
        let free = self.rcv_space() as u32;
        let cap = self.rcvbuf.capacity() as u32;
        let cur = (self.rcv_adv - self.rcv_nxt).max(0) as u32;
        // No further than rcv_ssthresh (Linux: __tcp_select_window).
        let mut wnd = free.min(self.rcv_ssthresh);
        // Do not open the window by less than min(cap/2, mss) at a time.
        if wnd > cur && wnd - cur < (cap / 2).min(self.mss) && wnd < cap {
            wnd = cur;
        }
        // Never shrink the advertised right edge.
        wnd = wnd.max(cur);
        // Round down to the scale granularity (but never below what is already promised).
        let gran = 1u32 << self.rcv_wscale;
        let rounded = (wnd / gran) * gran;
        let wnd = if rounded >= cur { rounded } else { wnd };
        let max = 0xffffu32 << self.rcv_wscale;
        let wnd = wnd.min(max);
        let edge = self.rcv_nxt + wnd as usize;
        if edge > self.rcv_adv {
            self.rcv_adv = edge;
        }
        self.rcv_wnd_max = self.rcv_wnd_max.max(wnd);
        wnd
    }

    /// Take a receiver RTT sample from the timestamp the peer echoes on an in-order data
    /// segment: the age of our TSval it carries (millisecond clock, at least 1 ms), folded
    /// in with gain 1/8. Linux: `tcp_rcv_rtt_measure_ts` + `tcp_rcv_rtt_update`.
    pub fn rcv_rtt_measure_ts(&mut self, tsecr: u32, now: Instant) {
        if tsecr == 0 {
            return;
        }
        let ours = super::output::tcp_time_stamp(now).wrapping_add(self.ts_offset);
        let delta_ms = ours.wrapping_sub(tsecr) as i32;
        // An echo from the future or older than ten seconds says nothing about the path.
        if !(0..=10_000).contains(&delta_ms) {
            return;
        }
        let m = delta_ms.max(1) as u32 * 1000;
        if self.rcv_rtt_us8 == 0 {
            self.rcv_rtt_us8 = m << 3;
        } else {
            // rtt8 += m - rtt8/8
            self.rcv_rtt_us8 = (self.rcv_rtt_us8 - (self.rcv_rtt_us8 >> 3)).saturating_add(m);
        }
    }

    /// Receive buffer autotuning ("dynamic right-sizing"), after the application read:
    /// once per receiver round trip, if it read more than in the round trip that last grew
    /// the buffer, make room for twice that plus 16 segments (more when the rate is still
    /// rising), up to `tcp_rmem[2]`. Nothing happens with `SO_RCVBUF` set or
    /// `tcp_moderate_rcvbuf` off. Returns whether the buffer grew. Linux:
    /// `tcp_rcv_space_adjust`.
    pub fn rcv_space_adjust(&mut self, cfg: &TcpConfig, now: Instant) -> bool {
        if self.rcvbuf_locked || !cfg.moderate_rcvbuf {
            return false;
        }
        let rtt_us = if self.rcv_rtt_us8 != 0 {
            self.rcv_rtt_us8 >> 3
        } else {
            match self.rtt.srtt() {
                Some(d) => (d.as_micros() as u32).max(1),
                None => return false,
            }
        };
        let q = &mut self.rcvq_space;
        if q.space == 0 {
            // Linux: tcp_init_buffer_space, at most an initial window of segments.
            q.space = (super::cong::INIT_CWND_SEGS as usize * self.adv_mss as usize)
                .min(self.rcvbuf.capacity());
            q.copied_mark = self.bytes_copied;
            q.time = now;
            return false;
        }
        if now.saturating_since(q.time) < Duration::from_micros(u64::from(rtt_us)) {
            return false;
        }
        let copied = (self.bytes_copied - q.copied_mark) as usize;
        q.copied_mark = self.bytes_copied;
        q.time = now;
        if copied > q.space {
            return self.tcp_rcvbuf_grow(cfg, copied, usize::MAX);
        }
        false
    }

    /// Make room for `newval` bytes a round trip (the new measure, or the current one when
    /// out-of-order data arrives): twice that plus 16 segments, more while the rate is still
    /// rising, plus the span the out-of-order queue already reaches beyond `RCV.NXT` (a
    /// reordering or lossy path needs the window to cover the hole and what lies past it),
    /// up to `tcp_rmem[2]` and `limit`. Returns whether the buffer grew. Linux: `tcp_rcvbuf_grow`
    /// (6.16: also from `tcp_data_queue_ofo`, with the `ooo_last_skb` span).
    pub fn tcp_rcvbuf_grow(&mut self, cfg: &TcpConfig, newval: usize, limit: usize) -> bool {
        let old = self.rcvq_space.space;
        self.rcvq_space.space = newval;
        if self.rcvbuf_locked || !cfg.moderate_rcvbuf {
            return false;
        }
        let mut rcvwin = 2 * newval + 16 * self.adv_mss as usize;
        // Growing fast: allow for the next round trip growing as much again.
        let grow = rcvwin.saturating_mul(newval.saturating_sub(old)) / old.max(1);
        rcvwin = rcvwin.saturating_add(2 * grow);
        rcvwin = rcvwin.saturating_add(self.ofo.end_offset());
        let rcvwin = rcvwin.min(cfg.rmem_max).min(limit);
        if rcvwin > self.rcvbuf.capacity() {
            self.rcvbuf.grow(rcvwin);
            return true;
        }
        false
    }

    /// Send buffer autotuning after an ACK of new data: room for twice the congestion
    /// window (at least ten segments' worth), growing at least by half each time, up to
    /// `wmem_max`; nothing with `SO_SNDBUF` set. Linux: `tcp_sndbuf_expand` (from
    /// `tcp_new_space`).
    pub fn sndbuf_expand(&mut self, wmem_max: usize) {
        if self.sndbuf_locked {
            return;
        }
        let cap = self.sndbuf.capacity();
        let cwnd =
            (self.cc.cwnd() as usize).max(super::cong::INIT_CWND_SEGS as usize * self.mss as usize);
        let want = 2 * cwnd;
        if want <= cap || cap >= wmem_max {
            return;
        }
        self.sndbuf.grow(want.max(cap + cap / 2).min(wmem_max));
    }

    /// How much the window would grow if advertised now (for window-update decisions).
    pub fn window_growth(&self) -> u32 {
        let free = self.rcv_space() as u32;
        let cur = (self.rcv_adv - self.rcv_nxt).max(0) as u32;
        free.saturating_sub(cur)
    }

    /// Readable bytes.
    pub fn recv_q(&self) -> usize {
        self.rcv_queued()
    }

    /// Unread in-order bytes, held in packet buffers or copied into the ring. Linux: what
    /// `tcp_inq` / `SIOCINQ` report (`rcv_nxt - copied_seq`).
    pub fn rcv_queued(&self) -> usize {
        self.rcvbuf.len()
    }

    /// Room left in the receive buffer for in-order data; bytes held in packet buffers
    /// count against it as copied ones do. Linux: `tcp_space`.
    pub fn rcv_space(&self) -> usize {
        self.rcvbuf.window()
    }

    /// Whether a received buffer of `truesize` bytes of storage may be queued zero-copy:
    /// the buffers held never take more storage than the ring's capacity, so a connection
    /// holds at most twice its receive buffer whatever the segment sizes (a peer sending tiny
    /// segments gets them copied into the ring, not thousands of buffers pinned), and never
    /// more than [`MAX_RX_SKBS`] buffers, which the pool's idle bound allows for. Linux
    /// bounds `sk_rmem_alloc` (truesize) by `sk_rcvbuf` in `tcp_try_rmem_schedule`.
    pub fn rx_skb_fits(&self, truesize: usize) -> bool {
        self.rx_skb_count < MAX_RX_SKBS && self.rx_skb_truesize + truesize <= self.rcvbuf.capacity()
    }

    /// Queue `buf` (data: exactly the next in-order payload) at the end of the stream,
    /// reserving its bytes in the ring without copying them. The caller checked that the
    /// payload fits [`TcpSock::rcv_space`] and that nothing is out of order (whatever sits
    /// in the ring past its end is not kept). Returns the bytes queued: all, or none (and
    /// `buf` back) if they do not fit. Linux: `tcp_queue_rcv` (`__skb_queue_tail`).
    pub fn rx_skb_queue(&mut self, buf: PacketBuf) -> Result<usize, PacketBuf> {
        let n = buf.len();
        if n == 0 || n > self.rcvbuf.window() {
            return Err(buf);
        }
        self.rcvbuf.enqueue_unallocated(n);
        self.rx_skb_bytes += n;
        self.rx_skb_truesize += buf.capacity();
        self.rx_skb_count += 1;
        self.rx_skbs.push_back(RxSeg::Buf(buf));
        Ok(n)
    }

    /// Copy in-order `data` into the ring at the end of the stream, as much as fits;
    /// returns the count. Linux: the copying of `tcp_data_queue` (Linnet keeps copies in
    /// the ring rather than in skbs).
    pub fn rcv_queue_copy(&mut self, data: &[u8]) -> usize {
        let n = self.rcvbuf.enqueue_slice(data);
        self.rx_ring_run(n);
        n
    }

    /// Make `n` bytes written out of order right past the end (now in order) part of the
    /// stream; returns the count. Linux: `tcp_ofo_queue`.
    pub fn rcv_queue_ofo_front(&mut self, n: usize) -> usize {
        let n = self.rcvbuf.enqueue_unallocated(n);
        self.rx_ring_run(n);
        n
    }

    /// `n` more bytes of the stream are in the ring.
    fn rx_ring_run(&mut self, n: usize) {
        if n == 0 {
            return;
        }
        match self.rx_skbs.back_mut() {
            Some(RxSeg::Ring(m)) => *m += n,
            _ => self.rx_skbs.push_back(RxSeg::Ring(n)),
        }
    }

    /// Copy unread bytes into `out` in stream order, from queued buffers and the ring;
    /// consumed buffers go to `free` (the stack's pool), a partly read one keeps its
    /// remaining bytes. With `peek` nothing is consumed. Returns the count. Linux: the copy
    /// loop of `tcp_recvmsg_locked` (`skb_copy_datagram_msg`, `tcp_eat_recv_skb`).
    pub fn rcv_copy(
        &mut self,
        out: &mut [u8],
        peek: bool,
        mut free: impl FnMut(PacketBuf),
    ) -> usize {
        let mut n = 0;
        if peek {
            let mut off = 0;
            for seg in &self.rx_skbs {
                if n == out.len() {
                    break;
                }
                let room = out.len() - n;
                let k = match seg {
                    RxSeg::Ring(m) => self.rcvbuf.peek(off, &mut out[n..n + room.min(*m)]),
                    RxSeg::Buf(b) => {
                        let k = b.len().min(room);
                        out[n..n + k].copy_from_slice(&b.data()[..k]);
                        k
                    }
                };
                n += k;
                off += match seg {
                    RxSeg::Ring(m) => *m,
                    RxSeg::Buf(b) => b.len(),
                };
            }
            return n;
        }
        while n < out.len() {
            let room = out.len() - n;
            let done = match self.rx_skbs.front_mut() {
                None => break,
                Some(RxSeg::Ring(m)) => {
                    let k = self.rcvbuf.dequeue_slice(&mut out[n..n + room.min(*m)]);
                    *m -= k;
                    n += k;
                    if k == 0 && *m > 0 {
                        // The ring lost bytes the stream says it holds: never happens.
                        break;
                    }
                    *m == 0
                }
                Some(RxSeg::Buf(b)) => {
                    let k = b.len().min(room);
                    out[n..n + k].copy_from_slice(&b.data()[..k]);
                    b.pull(k);
                    // Their place in the ring was reserved, never written: skip it.
                    self.rcvbuf.dequeue_allocated(k);
                    self.rx_skb_bytes -= k;
                    n += k;
                    b.is_empty()
                }
            };
            if done {
                if let Some(RxSeg::Buf(b)) = self.rx_skbs.pop_front() {
                    self.rx_skb_truesize -= b.capacity();
                    self.rx_skb_count -= 1;
                    free(b);
                }
            }
        }
        n
    }

    /// Give up every unread byte, the queued buffers to `free` (the stack's pool), as when
    /// the socket goes away. Linux: `__skb_queue_purge(&sk->sk_receive_queue)`.
    pub fn rx_skb_purge(&mut self, mut free: impl FnMut(PacketBuf)) {
        for seg in self.rx_skbs.drain(..) {
            if let RxSeg::Buf(b) = seg {
                free(b);
            }
        }
        let n = self.rcvbuf.len();
        self.rcvbuf.dequeue_allocated(n);
        self.rx_skb_bytes = 0;
        self.rx_skb_truesize = 0;
        self.rx_skb_count = 0;
    }

    /// Enter chrono state `c` at `now`, accounting the time spent in the one left. Linux:
    /// `tcp_chrono_set`.
    pub fn tcp_chrono_set(&mut self, c: Chrono, now: Instant) {
        if c == self.chrono {
            return;
        }
        let spent = now.saturating_since(self.chrono_start).as_micros() as u64;
        match self.chrono {
            Chrono::Busy => self.chrono_stat[0] += spent,
            Chrono::RwndLimited => self.chrono_stat[1] += spent,
            Chrono::Idle => {}
        }
        self.chrono = c;
        self.chrono_start = now;
    }

    /// Microseconds busy (all states but idle) and receive-window limited, up to `now`.
    /// Linux: `tcp_get_info_chrono_stats`.
    pub fn tcp_chrono_stats(&self, now: Instant) -> (u64, u64) {
        let running = now.saturating_since(self.chrono_start).as_micros() as u64;
        let (mut busy, mut rwnd) = (self.chrono_stat[0], self.chrono_stat[1]);
        match self.chrono {
            Chrono::Busy => busy += running,
            Chrono::RwndLimited => rwnd += running,
            Chrono::Idle => {}
        }
        (busy + rwnd, rwnd)
    }

    /// `struct tcp_info` for `ss`.
    pub fn info(&self) -> TcpInfo {
        TcpInfo {
            state: self.state.ss_name().to_string(),
            rtt_us: self.rtt.srtt().map_or(0, |d| d.as_micros() as u64),
            rttvar_us: self.rtt.rttvar().as_micros() as u64,
            rto_us: self.rtt.rto().as_micros() as u64,
            cwnd: self.cc.cwnd(),
            ssthresh: self.cc.ssthresh(),
            mss: self.mss,
            cc: self.cc.name().to_string(),
            retrans: self.total_retrans,
            bytes_sent: self.bytes_sent,
            bytes_acked: self.bytes_acked,
            bytes_received: self.bytes_received,
            send_q: self.sndbuf.len() as u32,
            recv_q: self.rcv_queued() as u32,
            snd_wnd: self.snd_wnd,
            rcv_wnd: (self.rcv_adv - self.rcv_nxt).max(0) as u32,
            wscale: (self.rcv_wscale, self.snd_wscale),
            ts: self.ts_ok,
            sack: self.sack_ok,
            delivery_rate: self.delivery.bytes_per_sec,
            retrans_out: self.rtx.retrans_out.div_ceil(self.mss.max(1)),
            lost: self.rtx.lost_out.div_ceil(self.mss.max(1)),
            sacked: self.rtx.sacked_out.div_ceil(self.mss.max(1)),
            reordering: self.reordering,
            reord_seen: self.reord_seen,
            dsack_dups: self.dsack_dups,
            ca_state: self.ca_state.name().to_string(),
            syn_data: self.fastopen.syn_data_acked,
            fastopen_client_fail: self.fastopen.client_fail,
            ecn: self.ecn.ok,
            ecn_seen: self.ecn.seen,
            pacing_rate: self.cc.pacing_rate().unwrap_or(0),
            bbr: self.cc.bbr_info(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// An established-looking socket with a receive buffer of `cap` bytes.
    fn sock(cap: usize) -> TcpSock {
        let mut sk = TcpSock::new(&TcpConfig::default(), cap, 4096);
        sk.state = TcpState::Established;
        sk.mss = 1000;
        sk.rcv_wscale = 7;
        sk.rcv_nxt = SeqNumber(1000);
        sk.rcv_adv = sk.rcv_nxt;
        sk
    }

    /// A received buffer of `cap` bytes of storage whose data is `payload`.
    fn skb(cap: usize, payload: &[u8]) -> PacketBuf {
        let mut b = PacketBuf::with_headroom(cap, 64);
        assert!(b.extend_from_slice(payload));
        b
    }

    #[test]
    fn reads_and_peeks_cross_queued_buffers_and_ring_runs_in_order() {
        let mut sk = sock(8192);
        assert_eq!(sk.rx_skb_queue(skb(512, b"abcde")).ok(), Some(5));
        assert_eq!(sk.rx_skb_queue(skb(512, b"fgh")).ok(), Some(3));
        assert_eq!(sk.rcv_queue_copy(b"ijk"), 3);
        assert_eq!(sk.rcv_queue_copy(b"lmn"), 3);
        assert_eq!(sk.rx_skb_queue(skb(512, b"opq")).ok(), Some(3));
        // Bytes written out of order past the end, then taken in order.
        assert_eq!(sk.rcvbuf.write_unallocated(0, b"rs"), 2);
        assert_eq!(sk.rcv_queue_ofo_front(2), 2);
        assert_eq!(sk.rx_skbs.len(), 5, "ring runs merge, buffers stay apart");
        assert_eq!((sk.rcv_queued(), sk.rcv_space()), (19, 8192 - 19));
        assert_eq!(
            (sk.rx_skb_bytes, sk.rx_skb_count, sk.rx_skb_truesize),
            (11, 3, 1536)
        );
        let mut freed = Vec::new();
        let mut out = [0u8; 19];
        // A peek sees everything in order and consumes nothing.
        assert_eq!(sk.rcv_copy(&mut out, true, |b| freed.push(b)), 19);
        assert_eq!(&out, b"abcdefghijklmnopqrs");
        assert_eq!(sk.rcv_queued(), 19);
        // A partial read leaves the rest of the first buffer.
        assert_eq!(sk.rcv_copy(&mut out[..2], false, |b| freed.push(b)), 2);
        assert_eq!(&out[..2], b"ab");
        assert_eq!((sk.rx_skbs.len(), sk.rx_skb_bytes, freed.len()), (5, 9, 0));
        assert_eq!(sk.rcv_copy(&mut out[..10], true, |b| freed.push(b)), 10);
        assert_eq!(&out[..10], b"cdefghijkl");
        // Across both buffers into the ring run; the emptied buffers are given back.
        assert_eq!(sk.rcv_copy(&mut out[..8], false, |b| freed.push(b)), 8);
        assert_eq!(&out[..8], b"cdefghij");
        assert_eq!((sk.rx_skbs.len(), sk.rx_skb_bytes, freed.len()), (3, 3, 2));
        assert_eq!(sk.rx_skb_truesize, 512);
        assert_eq!(sk.rcv_copy(&mut out, false, |b| freed.push(b)), 9);
        assert_eq!(&out[..9], b"klmnopqrs");
        assert_eq!((sk.rcv_queued(), sk.rx_skbs.len(), freed.len()), (0, 0, 3));
        // A buffer larger than the room left is refused, and handed back.
        let mut small = sock(4096);
        assert_eq!(small.rcv_queue_copy(&[7u8; 4000]), 4000);
        assert!(small.rx_skb_queue(skb(512, &[1u8; 100])).is_err());
        assert_eq!(small.rcv_queued(), 4000);
        small.rx_skb_queue(skb(512, &[1u8; 96])).unwrap();
        small.rx_skb_purge(|b| freed.push(b));
        assert_eq!(
            (small.rcv_queued(), small.rx_skb_truesize, freed.len()),
            (0, 0, 4)
        );
        assert!(small.rx_skbs.is_empty());
    }

    #[test]
    fn held_buffer_storage_is_bounded_by_the_buffer_size() {
        let mut sk = sock(8192);
        // One-byte segments in 2 KiB buffers: four fit, the fifth is refused (copied instead).
        let mut queued = 0;
        while sk.rx_skb_fits(2048) {
            sk.rx_skb_queue(skb(2048, b"z")).unwrap();
            queued += 1;
        }
        assert_eq!(queued, 4);
        assert_eq!(sk.rx_skb_truesize, 8192);
        assert_eq!(sk.rcv_space(), 8192 - 4);
        // However large the buffer, at most MAX_RX_SKBS buffers are held.
        let mut sk = sock(1 << 20);
        while sk.rx_skb_fits(256) {
            sk.rx_skb_queue(skb(256, b"z")).unwrap();
        }
        assert_eq!(sk.rx_skb_count, MAX_RX_SKBS);
    }

    proptest! {
        /// Whatever mix of queued buffers, ring data and partial reads, the advertised window
        /// never promises more than the buffer has room for, and the bytes come out in order.
        #[test]
        fn window_never_exceeds_the_buffer_with_queued_buffers(
            ops in proptest::collection::vec((0u8..4, 1usize..3000), 1..300),
            cap in 4096usize..20000,
        ) {
            let mut sk = sock(cap);
            sk.select_window();
            let mut next = 0u8;
            let mut expect = std::collections::VecDeque::new();
            let mut freed = 0usize;
            for (op, n) in ops {
                match op {
                    // A segment the way the fast path takes it: the buffer itself if its
                    // storage fits the bound, else a copy into the ring.
                    0 | 1 => {
                        let wnd = (sk.rcv_adv - sk.rcv_nxt).max(0) as usize;
                        let len = n.min(wnd).min(sk.rcv_space());
                        if len == 0 {
                            continue;
                        }
                        let data: Vec<u8> = (0..len).map(|_| { next = next.wrapping_add(1); next }).collect();
                        let b = skb(len + 128 + (op as usize) * 2000, &data);
                        if sk.rx_skb_fits(b.capacity()) {
                            prop_assert_eq!(sk.rx_skb_queue(b).ok(), Some(len));
                        } else {
                            prop_assert_eq!(sk.rcv_queue_copy(&data), len);
                        }
                        sk.rcv_nxt += len;
                        expect.extend(data);
                    }
                    2 => {
                        let mut out = vec![0u8; n];
                        let k = sk.rcv_copy(&mut out, true, |_| freed += 1);
                        let want: Vec<u8> = expect.iter().take(n).copied().collect();
                        prop_assert_eq!(&out[..k], &want[..]);
                    }
                    _ => {
                        let mut out = vec![0u8; n];
                        let k = sk.rcv_copy(&mut out, false, |_| freed += 1);
                        let want: Vec<u8> = expect.drain(..k).collect();
                        prop_assert_eq!(&out[..k], &want[..]);
                        prop_assert_eq!(k, n.min(want.len() + expect.len()));
                    }
                }
                sk.select_window();
                let wnd = (sk.rcv_adv - sk.rcv_nxt).max(0) as usize;
                prop_assert!(sk.rcv_queued() + wnd <= cap, "queued {} + window {wnd} > {cap}", sk.rcv_queued());
                prop_assert!(sk.rcv_queued() + sk.rcv_space() <= cap);
                prop_assert!(sk.rx_skb_truesize <= cap);
                prop_assert_eq!(sk.rcv_queued(), expect.len());
                let runs: usize = sk.rx_skbs.iter().map(|r| match r {
                    RxSeg::Ring(m) => *m,
                    RxSeg::Buf(b) => b.len(),
                }).sum();
                prop_assert_eq!(runs, sk.rcvbuf.len());
                prop_assert!(sk.window_growth() as usize <= cap - sk.rcv_queued());
            }
        }
    }
}
