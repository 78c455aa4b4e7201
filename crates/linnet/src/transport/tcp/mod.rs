//! TCP (RFC 9293). Linux: net/ipv4/tcp*.c.
//!
//! Pieces, one concern a file:
//! - [`cong`]: congestion control (Reno/NewReno and CUBIC, RFC 5681 / RFC 9438).
//! - `bbr`: BBR v1 (BtlBw/RTprop model, pacing gains), on `rate`'s samples.
//! - `pacing`: pacing in the stack (`tcp_wstamp_ns`, the pacing timer, TSO autosizing).
//! - `ecn`: Explicit Congestion Notification (RFC 3168: negotiation, ECE/CWR, ECT(0)).
//! - `rtt`: round-trip estimation and the retransmission timeout (RFC 6298).
//! - `isn`: initial sequence numbers (RFC 6528), keyed with `siphash`.
//! - `syncookie`: SYN cookies, used when the SYN queue overflows.
//! - `ring`: the byte ring buffers behind the send and receive queues.
//! - `assembler`: out-of-order bookkeeping on receive (bounded by memory, pruned like Linux).
//! - `rx_sack`: the SACK and D-SACK blocks a receiver reports (RFC 2018, RFC 2883);
//!   `comp_sack`: holding back the ACKs of out-of-order data (SACK compression).
//! - [`sock`]: the control block (`struct tcp_sock`) and tunables.
//! - `hash`: lookup tables and port allocation (`inet_hashtables`).
//! - `input`: `tcp_v4_rcv` and the state machine; `listen`: passive opens and cookies.
//! - `output`: segment building and `tcp_write_xmit`; `timer`: the timers.
//! - `pmtu`: shrinking the MSS when the path MTU drops (`tcp_v4_mtu_reduced`).
//! - `mtup`: path MTU probing (RFC 4821: `tcp_mtu_probe`, `tcp_mtup_probe_success`), the
//!   MSS sized for the route's MTU (`tcp_sync_mss`), the route's `initcwnd` (`tcp_init_transfer`).
//! - `rate`: the delivery rate `ss -ti` shows.
//! - `rtx_queue`: the retransmit queue's scoreboard (`tcp_skb_cb` records, `tcp_fragment`,
//!   `tcp_clean_rtx_queue`); `sacktag`: SACK and D-SACK blocks into it
//!   (`tcp_sacktag_write_queue`).
//! - `recovery`: RACK-TLP loss detection (RFC 8985, `tcp_recovery.c`).
//! - `fastretrans`: the recovery state machine (`tcp_fastretrans_alert`, PRR, undo, F-RTO,
//!   `tcp_enter_loss`, NewReno).
//! - `user`: the socket calls (`tcp_sendmsg`, `tcp_recvmsg`, `tcp_close`...).
//! - [`fastopen`]: TCP Fast Open (RFC 7413): cookies, data in the SYN, the client's cache.
//! - `sndmem`: the not-sent low-water mark and the skb size a write fills (`tcp_stream_memory_free`).
//! - `user_timeout`: `TCP_USER_TIMEOUT` (`retransmits_timed_out`, the timer clamps).
//! - `tsq`: TCP Small Queues, the backpressure from device queues (`tcp_small_queue_check`).

pub(crate) mod abort;
pub(crate) mod assembler;
pub(crate) mod bbr;
pub(crate) mod comp_sack;
pub mod cong;
pub(crate) mod cubic;
pub(crate) mod ecn;
pub mod fastopen;
pub(crate) mod fastretrans;
pub(crate) mod hash;
pub(crate) mod hystart;
pub(crate) mod input;
pub(crate) mod isn;
pub(crate) mod listen;
pub(crate) mod md5;
pub(crate) mod md5sig;
pub(crate) mod mtup;
pub(crate) mod offload;
pub(crate) mod output;
pub(crate) mod pacing;
pub(crate) mod pmtu;
pub(crate) mod rate;
pub(crate) mod recovery;
pub(crate) mod ring;
pub(crate) mod rtt;
pub(crate) mod rtx_queue;
pub(crate) mod rx_sack;
pub(crate) mod sacktag;
pub(crate) mod siphash;
pub(crate) mod sndmem;
pub mod sock;
pub(crate) mod syncookie;
pub(crate) mod timer;
pub(crate) mod tsq;
pub(crate) mod urg;
pub(crate) mod user;
pub(crate) mod user_timeout;
pub(crate) mod wqueue;

pub use crate::wire::tcp::SeqNumber;
pub use sock::{TcpConfig, TcpInfo, TcpSock, TcpState};
