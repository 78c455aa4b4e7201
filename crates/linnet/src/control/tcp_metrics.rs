//! `ip tcp_metrics`: the client's TCP Fast Open cache (cookie and MSS per destination).
//!
//! Linux: net/ipv4/tcp_metrics.c (`tcp_metrics_nl_cmd_get`, `tcp_metrics_nl_cmd_del`), whose
//! `fo_*` attributes are what Linnet keeps.

use super::Response;
use crate::stack::Stack;
use crate::time::Instant;
use crate::wire::Ipv4Addr;
use serde::{Deserialize, Serialize};

/// One destination. Linux: a `tcp_metrics_block` as `ip tcp_metrics show` prints it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TcpMetricsEntry {
    /// Destination.
    pub addr: Ipv4Addr,
    /// Milliseconds since the entry was last updated (`age`).
    pub age_ms: u64,
    /// The server's MSS (`fo_mss`, 0: unknown).
    pub fo_mss: u16,
    /// The server's cookie in hex (`fo_cookie`), empty if none.
    pub fo_cookie: String,
    /// SYNs with Fast Open lost in a row (`fo_syn_drops`).
    pub fo_syn_drops: u16,
    /// Milliseconds since the last such loss.
    pub fo_syn_drop_age_ms: u64,
}

/// Show or flush the cache (one destination or all).
pub fn tcp_metrics(
    stack: &mut Stack,
    flush: bool,
    addr: Option<Ipv4Addr>,
    now: Instant,
) -> Response {
    if flush {
        match addr {
            Some(a) => stack.tcp_fastopen_cache_remove(a),
            None => stack.tcp_fastopen_cache_flush(),
        }
        return Response::Ok;
    }
    let mut entries: Vec<TcpMetricsEntry> = stack
        .tcp_fastopen_cache()
        .iter()
        .filter(|(a, _)| addr.is_none_or(|x| x == **a))
        .map(|(a, m)| TcpMetricsEntry {
            addr: *a,
            age_ms: now.saturating_since(m.stamp).as_millis() as u64,
            fo_mss: m.mss,
            fo_cookie: m
                .cookie
                .map(|c| c.bytes().iter().map(|b| format!("{b:02x}")).collect())
                .unwrap_or_default(),
            fo_syn_drops: m.syn_loss,
            fo_syn_drop_age_ms: now.saturating_since(m.last_syn_loss).as_millis() as u64,
        })
        .collect();
    entries.sort_by_key(|e| e.addr);
    Response::TcpMetrics { entries }
}

#[cfg(test)]
mod tests {
    use super::super::{handle, Request};
    use super::*;
    use crate::wire::tcp::FastOpenCookie;

    #[test]
    fn show_and_flush() {
        let mut s = Stack::default();
        let t = Instant::from_secs(5);
        let c = FastOpenCookie::new(&[0xab, 0xcd, 0x12, 0x34], false);
        for last in [1, 2] {
            s.tcp_fastopen_cache_set(Ipv4Addr::new(192, 0, 2, last), 1460, c, Instant::ZERO);
        }
        let show = |s: &mut Stack| match handle(
            s,
            Request::TcpMetrics {
                flush: false,
                addr: None,
            },
            t,
        ) {
            Response::TcpMetrics { entries } => entries,
            r => panic!("{r:?}"),
        };
        let e = show(&mut s);
        assert_eq!(e.len(), 2);
        assert_eq!(
            (e[0].fo_mss, e[0].fo_cookie.as_str(), e[0].age_ms),
            (1460, "abcd1234", 5000)
        );
        let one = Request::TcpMetrics {
            flush: true,
            addr: Some(Ipv4Addr::new(192, 0, 2, 1)),
        };
        assert_eq!(handle(&mut s, one, t), Response::Ok);
        assert_eq!(show(&mut s)[0].addr, Ipv4Addr::new(192, 0, 2, 2));
        handle(
            &mut s,
            Request::TcpMetrics {
                flush: true,
                addr: None,
            },
            t,
        );
        assert!(show(&mut s).is_empty());
    }
}
