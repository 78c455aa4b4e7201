//! TCP (RFC 9293). Linux: net/ipv4/tcp*.c.
//!
//! Pieces, one concern a file:
//! - [`cong`]: congestion control (Reno/NewReno and CUBIC, RFC 5681 / RFC 9438).
//! - [`rtt`]: round-trip estimation and the retransmission timeout (RFC 6298).
//! - [`isn`]: initial sequence numbers (RFC 6528), keyed with [`siphash`].
//! - [`syncookie`]: SYN cookies, used when the SYN queue overflows.
//! - [`ring`]: the byte ring buffers behind the send and receive queues.
//! - [`assembler`]: out-of-order bookkeeping on receive and the SACK blocks it yields.

pub mod assembler;
pub mod cong;
pub mod isn;
pub mod ring;
pub mod rtt;
pub mod siphash;
pub mod syncookie;
