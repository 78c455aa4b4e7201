//! Aborting connections from outside the socket's owner: what `ss -K` (sock_diag's
//! `SOCK_DESTROY`) does to one socket, done to all of them when the daemon shuts down, so
//! every peer learns at once that the connection is gone instead of waiting for its timers.

use crate::core::sock::SockId;
use crate::errno::Errno;
use crate::stack::Stack;
use crate::time::Instant;
use crate::transport::tcp::sock::TcpState;
use crate::transport::Socket;

impl Stack {
    /// Abort one connection: a RST to the peer if it is synchronized, the error
    /// `ECONNABORTED` for its user, and out of the tables. Linux: `tcp_abort`
    /// (net/ipv4/tcp.c).
    pub fn tcp_abort(&mut self, id: SockId, now: Instant) -> Result<(), Errno> {
        let state = self.sockets.tcp(id)?.state;
        match state {
            TcpState::Closed | TcpState::Listen | TcpState::TimeWait => return Ok(()),
            TcpState::SynSent => {}
            _ => {
                if matches!(state, TcpState::Established | TcpState::CloseWait) {
                    self.tcp.stats.estab_resets += 1;
                }
                self.tcp.stats.abort_on_close += 1;
                self.tcp_send_active_reset(id, now);
            }
        }
        self.tcp_reset(id, Errno::ECONNABORTED);
        Ok(())
    }

    /// Abort every connection the applications still hold (and those waiting to be
    /// accepted) with a RST; connections the application already closed keep the FIN they
    /// sent. Returns how many were aborted. Linux: `tcp_abort` on each socket, as
    /// `ss -K` does for all of them.
    pub fn tcp_abort_all(&mut self, now: Instant) -> usize {
        let victims: Vec<SockId> = self
            .sockets
            .iter()
            .filter_map(|(id, e)| match &e.sock {
                Socket::Tcp(t)
                    if !t.orphan
                        && !matches!(
                            t.state,
                            TcpState::Closed | TcpState::Listen | TcpState::TimeWait
                        ) =>
                {
                    Some(id)
                }
                _ => None,
            })
            .collect();
        let n = victims.len();
        for id in victims {
            let _ = self.tcp_abort(id, now);
        }
        n
    }
}
