//! Socket options as values: what `setsockopt(2)` sets at the SOL_SOCKET and IPPROTO_TCP
//! levels, typed, with the congestion control algorithms `TCP_CONGESTION` names. Below the
//! protocols so that TCP takes its options without importing the socket layer above it.
//!
//! Linux: the `optname`/`optval` pairs of include/uapi/asm-generic/socket.h and
//! include/uapi/linux/tcp.h; the algorithm names of `tcp_ca_find` (net/ipv4/tcp_cong.c).

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// A socket option, with its value. Linux: `setsockopt(2)` levels SOL_SOCKET and IPPROTO_TCP.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum SockOpt {
    /// `SO_REUSEADDR`.
    ReuseAddr(bool),
    /// `SO_RCVBUF` (bytes of data the receive queue holds).
    RcvBuf(usize),
    /// `SO_SNDBUF` (bytes of data the send queue holds).
    SndBuf(usize),
    /// `SO_KEEPALIVE`.
    KeepAlive(bool),
    /// `SO_LINGER` (`None`: off).
    Linger(Option<Duration>),
    /// `SO_BROADCAST` (UDP).
    Broadcast(bool),
    /// `IPV6_V6ONLY`: an IPv6 socket bound to `::` takes IPv6 only (else IPv4 too, as
    /// v4-mapped addresses). Set before `bind`/`connect` (`EINVAL` after, as Linux).
    V6Only(bool),
    /// `TCP_NODELAY`.
    NoDelay(bool),
    /// `TCP_CORK`: hold partial segments until uncorked.
    Cork(bool),
    /// `MSG_MORE` of the last send: hold partial segments like a cork, and do not push (no
    /// PSH) at the end of the data written with it.
    MsgMore(bool),
    /// `TCP_MAXSEG`: the user's MSS clamp (0: none).
    MaxSeg(u32),
    /// `TCP_USER_TIMEOUT`: how long sent data may stay unacknowledged before the connection
    /// is dropped (zero: the retransmission count decides).
    UserTimeout(Duration),
    /// `TCP_NOTSENT_LOWAT` (or the `net.ipv4.tcp_notsent_lowat` default; `u32::MAX`: off):
    /// writes stop and `POLLOUT` waits while this many bytes are queued but not sent.
    NotsentLowat(u32),
    /// `TCP_KEEPIDLE`.
    KeepIdle(Duration),
    /// `TCP_KEEPINTVL`.
    KeepIntvl(Duration),
    /// `TCP_KEEPCNT`.
    KeepCnt(u32),
    /// `TCP_SYNCNT`: SYN retransmissions before `connect` gives up (1..=127).
    SynCnt(u8),
    /// `TCP_CONGESTION`.
    Congestion(CcAlgorithm),
    /// `TCP_FASTOPEN`: a listener's Fast Open queue length (0: off).
    FastOpen(u32),
    /// `TCP_FASTOPEN_CONNECT`: `connect` returns at once, the first write goes in the SYN.
    FastOpenConnect(bool),
    /// `TCP_FASTOPEN_NO_COOKIE`: Fast Open without cookies on this socket.
    FastOpenNoCookie(bool),
    /// `TCP_FASTOPEN_KEY`: a listener's own cookie key (16 bytes), and optionally a backup
    /// key still accepted (the second 16 bytes of a 32-byte value).
    FastOpenKey {
        /// Makes and checks cookies.
        primary: [u8; 16],
        /// Only checks them.
        backup: Option<[u8; 16]>,
    },
    /// `SO_OOBINLINE`: urgent data stays in the stream.
    OobInline(bool),
    /// `TCP_MD5SIG` / `TCP_MD5SIG_EXT`: the RFC 2385 key for peers in `addr/prefixlen`
    /// (an empty key deletes it).
    Md5Sig {
        /// The peer (or network).
        addr: std::net::Ipv4Addr,
        /// Leading bits of `addr` that must match (32 for one peer).
        prefixlen: u8,
        /// The secret: its first `keylen` bytes (80 at most), in 16-byte pieces.
        key: [[u8; 16]; 5],
        /// The secret's length.
        keylen: u8,
    },
}

impl SockOpt {
    /// `TCP_MD5SIG` with a key of at most 80 bytes (`None` if longer).
    pub fn md5sig(addr: std::net::Ipv4Addr, prefixlen: u8, secret: &[u8]) -> Option<SockOpt> {
        if secret.len() > 80 {
            return None;
        }
        let mut key = [[0u8; 16]; 5];
        for (i, b) in secret.iter().enumerate() {
            key[i / 16][i % 16] = *b;
        }
        Some(SockOpt::Md5Sig {
            addr,
            prefixlen,
            key,
            keylen: secret.len() as u8,
        })
    }
}

/// Which algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CcAlgorithm {
    /// Reno with NewReno recovery.
    Reno,
    /// CUBIC (the Linux default).
    Cubic,
    /// BBR (version 1, Linux's tcp_bbr).
    Bbr,
}

impl CcAlgorithm {
    /// Every algorithm, as `net.ipv4.tcp_available_congestion_control` lists them.
    pub const ALL: [CcAlgorithm; 3] = [CcAlgorithm::Reno, CcAlgorithm::Cubic, CcAlgorithm::Bbr];
}

impl FromStr for CcAlgorithm {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "reno" => Ok(CcAlgorithm::Reno),
            "cubic" => Ok(CcAlgorithm::Cubic),
            "bbr" => Ok(CcAlgorithm::Bbr),
            _ => Err(format!(
                "unknown congestion control {s:?} (have: reno cubic bbr)"
            )),
        }
    }
}

impl fmt::Display for CcAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CcAlgorithm::Reno => "reno",
            CcAlgorithm::Cubic => "cubic",
            CcAlgorithm::Bbr => "bbr",
        })
    }
}
