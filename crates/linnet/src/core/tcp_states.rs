//! The TCP states, below the protocols: the socket table, `ss` and the trace points name
//! them without importing TCP.
//!
//! Linux: include/net/tcp_states.h (`enum tcp_states`, kept in `sk->sk_state`).

use serde::{Deserialize, Serialize};
use std::fmt;

/// The eleven states of RFC 9293 section 3.3.2. Linux: `enum tcp_states` (`TCP_ESTABLISHED`...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TcpState {
    /// No connection.
    Closed,
    /// Waiting for a connection request.
    Listen,
    /// SYN sent, waiting for SYN-ACK.
    SynSent,
    /// SYN received and SYN-ACK sent, waiting for the ACK.
    SynReceived,
    /// Open.
    Established,
    /// FIN sent, waiting for its ACK or the peer's FIN.
    FinWait1,
    /// Our FIN acknowledged, waiting for the peer's FIN.
    FinWait2,
    /// Peer's FIN received, waiting for the local close.
    CloseWait,
    /// Both FINs crossed, waiting for the ACK of ours.
    Closing,
    /// Peer closed first, our FIN sent, waiting for its ACK.
    LastAck,
    /// Waiting out old duplicates (2*MSL).
    TimeWait,
}

impl TcpState {
    /// The name `ss` prints (`ESTAB`, `LISTEN`, `SYN-SENT`...).
    pub fn ss_name(self) -> &'static str {
        match self {
            TcpState::Closed => "UNCONN",
            TcpState::Listen => "LISTEN",
            TcpState::SynSent => "SYN-SENT",
            TcpState::SynReceived => "SYN-RECV",
            TcpState::Established => "ESTAB",
            TcpState::FinWait1 => "FIN-WAIT-1",
            TcpState::FinWait2 => "FIN-WAIT-2",
            TcpState::CloseWait => "CLOSE-WAIT",
            TcpState::Closing => "CLOSING",
            TcpState::LastAck => "LAST-ACK",
            TcpState::TimeWait => "TIME-WAIT",
        }
    }

    /// Synchronized states (RFC 9293): a SYN has been exchanged both ways.
    pub fn is_synchronized(self) -> bool {
        !matches!(
            self,
            TcpState::Closed | TcpState::Listen | TcpState::SynSent | TcpState::SynReceived
        )
    }

    /// States in which the peer may still send us data.
    pub fn can_receive(self) -> bool {
        matches!(
            self,
            TcpState::SynReceived | TcpState::Established | TcpState::FinWait1 | TcpState::FinWait2
        )
    }

    /// States in which we may still send data.
    pub fn can_send(self) -> bool {
        matches!(self, TcpState::Established | TcpState::CloseWait)
    }
}

impl fmt::Display for TcpState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.ss_name())
    }
}
