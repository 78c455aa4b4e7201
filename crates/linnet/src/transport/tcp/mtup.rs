//! Packetization-layer path MTU discovery (RFC 4821): instead of trusting ICMP "fragmentation
//! needed" alone, TCP sends now and then one segment larger than its MSS (a probe, built from
//! the head of the unsent data) and learns from its fate. A probe that is acknowledged raises
//! the MSS to its size; one that is lost lowers the top of the search. The search is a binary
//! search between `search_low` (an MTU known to work, from `tcp_base_mss` at first) and
//! `search_high` (the peer's MSS, or the route's MTU), stopped when the range is narrower than
//! `tcp_probe_threshold`, and started again after `tcp_probe_interval`.
//!
//! `net.ipv4.tcp_mtu_probing`: 0 off; 2 always (the MSS then starts at what `search_low`
//! allows); 1 only after repeated retransmission timeouts suggest an ICMP black hole
//! (`tcp_mtu_probing` of the retransmission timer turns probing on, or halves `search_low`).
//!
//! Also the MSS's sizing for a path MTU with the probing bounds (`tcp_sync_mss`) and its
//! refresh when the route the socket uses changed MTU (`tcp_current_mss`'s cookie check).
//!
//! Linux: net/ipv4/tcp_output.c (`tcp_mtup_init`, `tcp_sync_mss`, `tcp_mss_to_mtu`,
//! `tcp_mtu_probe`, `tcp_mtu_check_reprobe`, `tcp_can_coalesce_send_queue_head`),
//! tcp_input.c (`tcp_mtup_probe_success`, `tcp_mtup_probe_failed`), tcp_timer.c
//! (`tcp_mtu_probing`).

use super::fastretrans::CaState;
use super::pmtu::tcp_mtu_to_mss;
use super::sock::{TcpConfig, TcpSock};
use crate::core::sock::SockId;
use crate::stack::Stack;
use crate::stats::TcpStats;
use crate::time::Instant;
use crate::wire::tcp::SeqNumber;
use std::time::Duration;

/// `tcp_base_mss`'s default. Linux: `TCP_BASE_MSS`.
pub const TCP_BASE_MSS: u32 = 1024;
/// `tcp_probe_threshold`'s default, bytes. Linux: `TCP_PROBE_THRESHOLD`.
pub const TCP_PROBE_THRESHOLD: u32 = 8;
/// `tcp_probe_interval`'s default. Linux: `TCP_PROBE_INTERVAL` (600 s).
pub const TCP_PROBE_INTERVAL: Duration = Duration::from_secs(600);
/// Fewest segments of congestion window a probe needs (it costs one more). Linux: the 11
/// of `tcp_mtu_probe`.
const TCP_MTU_PROBE_MIN_CWND: u32 = 11;
/// Retransmission timeouts after which black hole detection runs. Linux: `tcp_retries1`'s
/// default (`TCP_RETR1`).
pub const TCP_RETRIES1: u32 = 3;
/// IPv4 and TCP headers without options.
const HEADERS: u32 = 40;

/// A connection's probing state. Linux: `icsk->icsk_mtup`, `icsk_pmtu_cookie`,
/// `tp->mtu_probe`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Mtup {
    /// Probing on (`tcp_mtu_probing` 2, or 1 after a suspected black hole).
    pub enabled: bool,
    /// Smallest MTU not known to work.
    pub search_high: u32,
    /// Largest MTU known to work.
    pub search_low: u32,
    /// MTU of the probe in flight (0: none).
    pub probe_size: u32,
    /// When the current search started.
    pub probe_timestamp: Instant,
    /// Sequence range of the probe in flight.
    pub probe_seq_start: SeqNumber,
    /// One past its end.
    pub probe_seq_end: SeqNumber,
    /// The path MTU the MSS was last sized for (0: not yet). Linux: `icsk_pmtu_cookie`.
    pub pmtu_cookie: u32,
    /// The segment being built is the probe: one packet, not cut by GSO.
    pub(crate) in_xmit: bool,
}

impl TcpSock {
    /// The MTU a segment of `mss` payload bytes makes: headers and the options every
    /// segment carries added back. Linux: `tcp_mss_to_mtu`.
    pub fn tcp_mss_to_mtu(&self, mss: u32) -> u32 {
        mss + HEADERS + self.tcp_header_opts_len()
    }

    /// Start (or not) a probing search for a connection that is being set up: between the
    /// peer's MSS and `tcp_base_mss`. Linux: `tcp_mtup_init`.
    pub fn tcp_mtup_init(&mut self, cfg: &TcpConfig, now: Instant) {
        self.mtup.enabled = cfg.mtu_probing > 1;
        self.mtup.search_high = self.mss_clamp + HEADERS;
        self.mtup.search_low = self.tcp_mss_to_mtu(cfg.base_mss);
        self.mtup.probe_size = 0;
        if self.mtup.enabled {
            self.mtup.probe_timestamp = now;
        }
    }

    /// Size the MSS for path MTU `pmtu`: what fits it (at most the peer's MSS), and while
    /// probing no more than the search has proved; the search's top never above `pmtu`.
    /// The congestion window keeps its size in segments. Linux: `tcp_sync_mss`.
    pub fn tcp_sync_mss(&mut self, pmtu: u32) -> u32 {
        if self.mtup.search_high > pmtu {
            self.mtup.search_high = pmtu;
        }
        let mut mss = tcp_mtu_to_mss(self, pmtu as usize);
        self.mtup.pmtu_cookie = pmtu;
        if self.mtup.enabled {
            mss = mss.min(tcp_mtu_to_mss(self, self.mtup.search_low as usize));
        }
        self.mss = mss;
        self.cc.set_mss(mss);
        mss
    }

    /// A search that ended (range below the threshold, or the next probe above the top)
    /// starts again from the current MSS once `tcp_probe_interval` has passed.
    /// Linux: `tcp_mtu_check_reprobe`.
    fn tcp_mtu_check_reprobe(&mut self, cfg: &TcpConfig, now: Instant) {
        if now.saturating_since(self.mtup.probe_timestamp) < cfg.probe_interval {
            return;
        }
        let mss = self.current_mss();
        self.mtup.probe_size = 0;
        self.mtup.search_high = self.mss_clamp + HEADERS;
        self.mtup.search_low = self.tcp_mss_to_mtu(mss);
        self.mtup.probe_timestamp = now;
    }

    /// The probe was acknowledged: its size becomes the floor of the search and the MSS;
    /// the congestion window keeps about the same bytes (fewer, larger segments).
    /// Linux: `tcp_mtup_probe_success`.
    pub(crate) fn tcp_mtup_probe_success(&mut self, stats: &mut TcpStats) {
        let old_mss = self.mss.max(1);
        let segs = u64::from(self.cc.cwnd() / old_mss);
        let probe = u64::from(self.mtup.probe_size.max(1));
        let segs = (segs * u64::from(self.tcp_mss_to_mtu(old_mss)) / probe).max(1) as u32;
        self.mtup.search_low = self.mtup.probe_size;
        self.mtup.probe_size = 0;
        let pmtu = self.mtup.pmtu_cookie;
        let mss = self.tcp_sync_mss(pmtu);
        self.cc.set_cwnd(segs.saturating_mul(mss));
        stats.mtup_success += 1;
    }

    /// The probe was lost (the ACKs stop at its start): the search's top comes down below
    /// it, and the window it took back. Linux: `tcp_mtup_probe_failed` and its caller in
    /// `tcp_fastretrans_alert` (which restores the segment of window the probe cost).
    pub(crate) fn tcp_mtup_probe_failed(&mut self, stats: &mut TcpStats) {
        self.mtup.search_high = self.mtup.probe_size.saturating_sub(1);
        self.mtup.probe_size = 0;
        let cwnd = self.cc.cwnd().saturating_add(self.mss);
        self.cc.set_cwnd(cwnd);
        stats.mtup_fail += 1;
    }

    /// Whether a dubious ACK says the probe in flight was lost rather than anything else:
    /// not in recovery, and the peer still waits for the probe's first byte.
    /// Linux: the "MTU probe failure: don't reduce cwnd" test of `tcp_fastretrans_alert`.
    pub(crate) fn tcp_mtup_probe_lost(&self) -> bool {
        self.ca_state < CaState::Cwr
            && self.mtup.probe_size != 0
            && self.snd_una == self.mtup.probe_seq_start
    }

    /// Repeated retransmission timeouts: perhaps a black hole swallows our larger segments
    /// (and the ICMP that would say so). With `tcp_mtu_probing` on, start probing, or if
    /// probing already, halve the floor of the search (not below `tcp_mtu_probe_floor`), and
    /// size the MSS anew. Linux: `tcp_mtu_probing` (tcp_timer.c).
    pub(crate) fn tcp_mtu_probing(&mut self, cfg: &TcpConfig, now: Instant) {
        if cfg.mtu_probing == 0 {
            return;
        }
        if !self.mtup.enabled {
            self.mtup.enabled = true;
            self.mtup.probe_timestamp = now;
        } else {
            let mss = tcp_mtu_to_mss(self, self.mtup.search_low as usize) >> 1;
            let mss = mss
                .min(cfg.base_mss)
                .max(cfg.mtu_probe_floor)
                .max(super::pmtu::TCP_MIN_SND_MSS);
            self.mtup.search_low = self.tcp_mss_to_mtu(mss);
        }
        let pmtu = self.mtup.pmtu_cookie;
        if pmtu != 0 {
            self.tcp_sync_mss(pmtu);
        }
    }

    /// Whether the unsent data from `snd_nxt` can make one segment of `len` bytes: no
    /// record end (`MSG_EOR`) falls inside it. Linux: `tcp_can_coalesce_send_queue_head`.
    fn tcp_can_coalesce_send_queue_head(&self, len: usize) -> bool {
        let (from, to) = (self.snd_nxt, self.snd_nxt + len);
        !self.eor_marks.iter().any(|&m| m > from && m < to)
    }
}

/// What [`Stack::tcp_mtu_probe`] decided. Linux: its -1 / 0 / 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ProbeVerdict {
    /// No probe now: send as usual.
    No,
    /// A probe is due but the windows must drain first: send nothing now.
    Wait,
    /// Send this many bytes from `snd_nxt` as the probe.
    Send(usize),
}

impl Stack {
    /// A connection just became established: start its probing search, and take the initial
    /// congestion window from the route's `initcwnd` when it has one. An active opener sizes
    /// its MSS again for the search first (a passive one keeps the MSS of its SYN-ACK until
    /// the route's MTU changes). Linux: `tcp_rcv_synsent_state_process` (`tcp_mtup_init`,
    /// `tcp_sync_mss`), then `tcp_init_transfer` (`tcp_mtup_init` again, `tcp_init_cwnd`).
    pub(crate) fn tcp_init_transfer(&mut self, id: SockId, active: bool, now: Instant) {
        let Ok(sk) = self.sockets.tcp(id) else {
            return;
        };
        let (remote, local) = (sk.inet_daddr(), sk.inet_saddr());
        let rt = match sk.dst_cache {
            Some((_, rt)) => Some(rt),
            None => self.ip_route_output(remote, Some(local)).ok(),
        };
        let initcwnd = rt.map_or(0, |rt| rt.metrics.initcwnd);
        let cfg = &self.config.tcp;
        let Ok(sk) = self.sockets.tcp_mut(id) else {
            return;
        };
        if active && sk.mtup.pmtu_cookie != 0 {
            sk.tcp_mtup_init(cfg, now);
            sk.tcp_sync_mss(sk.mtup.pmtu_cookie);
        }
        sk.tcp_mtup_init(cfg, now);
        if initcwnd != 0 {
            sk.cc.set_cwnd(initcwnd.saturating_mul(sk.mss));
        }
    }

    /// Whether to send a probe now, and of what size: halfway through the search range,
    /// when probing, in the Open state with at least 11 segments of window and no SACK
    /// blocks to send, enough unsent data for the probe and the segments that would report
    /// its loss (`(reordering + 1)` more), and the peer's window for all of it.
    /// Linux: the checks of `tcp_mtu_probe`.
    pub(crate) fn tcp_mtu_probe_check(&mut self, id: SockId, now: Instant) -> ProbeVerdict {
        let cfg = &self.config.tcp;
        let Ok(sk) = self.sockets.tcp_mut(id) else {
            return ProbeVerdict::No;
        };
        let mss_cache = sk.mss.max(1);
        if !sk.mtup.enabled
            || sk.mtup.probe_size != 0
            || sk.ca_state != CaState::Open
            || sk.cc.cwnd() / mss_cache < TCP_MTU_PROBE_MIN_CWND
            || sk.rx_sack.option_blocks(4) > 0
        {
            return ProbeVerdict::No;
        }
        let (hi, lo) = (sk.mtup.search_high, sk.mtup.search_low);
        let probe_size = tcp_mtu_to_mss(sk, ((hi + lo) >> 1) as usize);
        let size_needed = probe_size + (sk.reordering + 1) * mss_cache;
        if probe_size > tcp_mtu_to_mss(sk, hi as usize)
            || hi.saturating_sub(lo) < cfg.probe_threshold
        {
            sk.tcp_mtu_check_reprobe(cfg, now);
            return ProbeVerdict::No;
        }
        let unsent = (sk.data_end() - sk.snd_nxt).max(0) as u32;
        if unsent < size_needed || sk.snd_wnd < size_needed {
            return ProbeVerdict::No;
        }
        if sk.snd_nxt + size_needed as usize > sk.tcp_wnd_end() {
            return ProbeVerdict::Wait;
        }
        // Room in the window for the probe and the segment it will count as.
        let in_flight = sk.tcp_packets_in_flight();
        if in_flight + 2 * mss_cache > sk.cc.cwnd() {
            return if in_flight == 0 {
                ProbeVerdict::No
            } else {
                ProbeVerdict::Wait
            };
        }
        if !sk.tcp_can_coalesce_send_queue_head(probe_size as usize) {
            return ProbeVerdict::No;
        }
        ProbeVerdict::Send(probe_size as usize)
    }

    /// The probe went out: remember it, and take the segment of window it costs beyond
    /// the one it counts as. Linux: the end of `tcp_mtu_probe`.
    pub(crate) fn tcp_mtu_probe_sent(&mut self, id: SockId, seq: SeqNumber, len: usize) {
        let Ok(sk) = self.sockets.tcp_mut(id) else {
            return;
        };
        let cwnd = sk.cc.cwnd().saturating_sub(sk.mss);
        sk.cc.set_cwnd(cwnd);
        sk.mtup.probe_size = sk.tcp_mss_to_mtu(len as u32);
        sk.mtup.probe_seq_start = seq;
        sk.mtup.probe_seq_end = seq + len;
    }

    /// Size the MSS anew when the route the socket sends by has another MTU than the one
    /// it was sized for (a changed route, a path MTU learnt or expired). The socket's
    /// cached route is used as it is, even if a newer one awaits the next transmission.
    /// Linux: the `icsk_pmtu_cookie` check of `tcp_current_mss` (with `__sk_dst_get`).
    pub(crate) fn tcp_mss_refresh(&mut self, id: SockId, now: Instant) {
        let Ok(sk) = self.sockets.tcp(id) else {
            return;
        };
        let Some((_, rt)) = sk.dst_cache else {
            return;
        };
        if sk.mtup.pmtu_cookie == 0 {
            return;
        }
        let dst = sk.inet_daddr();
        let Some(mtu) = self.ipv4_mtu_of(&rt, dst, now) else {
            return;
        };
        let mtu = self.tcp_mtu_cap(mtu) as u32;
        if let Ok(sk) = self.sockets.tcp_mut(id) {
            if mtu != sk.mtup.pmtu_cookie {
                sk.tcp_sync_mss(mtu);
            }
        }
    }

    /// The path MTU TCP sizes segments for towards `dst`: the route's (see
    /// [`Stack::ipv4_mtu`]) within what a pool buffer holds; `fallback` without a route.
    pub(crate) fn tcp_dst_mtu(
        &self,
        dst: crate::wire::Ipv4Addr,
        fallback: usize,
        now: Instant,
    ) -> u32 {
        let mtu = self.ipv4_mtu(dst, now).unwrap_or(fallback);
        self.tcp_mtu_cap(mtu) as u32
    }

    /// An MTU within what one pool buffer can carry.
    pub(crate) fn tcp_mtu_cap(&self, mtu: usize) -> usize {
        let buf_room = self
            .pool
            .buf_size()
            .saturating_sub(crate::buf::MAX_HEADER + 60);
        mtu.min(buf_room)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sock(mtu_probing: u8) -> (TcpSock, TcpConfig) {
        let cfg = TcpConfig {
            mtu_probing,
            base_mss: 512,
            ..TcpConfig::default()
        };
        let mut sk = TcpSock::new(&cfg, 65536, 65536);
        sk.mss_clamp = 1460;
        (sk, cfg)
    }

    #[test]
    fn search_starts_between_base_mss_and_the_peer_mss() {
        let (mut sk, cfg) = sock(2);
        sk.tcp_mtup_init(&cfg, Instant::from_secs(1));
        assert!(sk.mtup.enabled);
        assert_eq!((sk.mtup.search_low, sk.mtup.search_high), (552, 1500));
        // Probing always: the MSS starts at what the search has proved.
        assert_eq!(sk.tcp_sync_mss(1500), 512);
        assert_eq!(sk.mtup.pmtu_cookie, 1500);
        // The route's MTU caps the search's top.
        assert_eq!(sk.tcp_sync_mss(1400), 512);
        assert_eq!(sk.mtup.search_high, 1400);
        let (mut off, cfg0) = sock(0);
        off.tcp_mtup_init(&cfg0, Instant::ZERO);
        assert!(!off.mtup.enabled);
        assert_eq!(off.tcp_sync_mss(1500), 1460);
        assert_eq!(off.tcp_sync_mss(9000), 1460, "never above the peer's MSS");
    }

    #[test]
    fn success_raises_the_floor_and_failure_lowers_the_top() {
        let (mut sk, cfg) = sock(2);
        sk.tcp_mtup_init(&cfg, Instant::ZERO);
        sk.tcp_sync_mss(1500);
        let mut st = TcpStats::default();
        sk.mtup.probe_size = 1026;
        let segs_before = sk.cc.cwnd() / sk.mss;
        sk.tcp_mtup_probe_success(&mut st);
        assert_eq!(sk.mtup.search_low, 1026);
        assert_eq!(sk.mss, 986);
        assert_eq!(st.mtup_success, 1);
        // About the same bytes in fewer, larger segments.
        assert_eq!(sk.cc.cwnd() / sk.mss, (segs_before * 552 / 1026).max(1));
        sk.mtup.probe_size = 1263;
        let cwnd = sk.cc.cwnd();
        sk.tcp_mtup_probe_failed(&mut st);
        assert_eq!(sk.mtup.search_high, 1262);
        assert_eq!(sk.mtup.probe_size, 0);
        assert_eq!(sk.cc.cwnd(), cwnd + sk.mss);
        assert_eq!(st.mtup_fail, 1);
    }

    #[test]
    fn black_hole_detection_turns_probing_on_then_halves_the_floor() {
        let (mut sk, cfg) = sock(1);
        sk.tcp_mtup_init(&cfg, Instant::ZERO);
        assert_eq!(sk.tcp_sync_mss(1500), 1460);
        sk.tcp_mtu_probing(&cfg, Instant::from_secs(3));
        assert!(sk.mtup.enabled);
        assert_eq!(sk.mss, 512, "down to the base MSS");
        sk.tcp_mtu_probing(&cfg, Instant::from_secs(9));
        assert_eq!(sk.mss, 256);
        for _ in 0..10 {
            sk.tcp_mtu_probing(&cfg, Instant::from_secs(20));
        }
        assert_eq!(sk.mss, 48, "not below tcp_mtu_probe_floor");
        // Off: timeouts change nothing.
        let (mut off, cfg0) = sock(0);
        off.tcp_mtup_init(&cfg0, Instant::ZERO);
        off.tcp_sync_mss(1500);
        off.tcp_mtu_probing(&cfg0, Instant::from_secs(3));
        assert_eq!((off.mtup.enabled, off.mss), (false, 1460));
    }

    #[test]
    fn a_probe_never_crosses_a_record_end() {
        let (mut sk, _) = sock(2);
        sk.snd_nxt = SeqNumber(1000);
        sk.eor_marks.push_back(SeqNumber(1500));
        assert!(!sk.tcp_can_coalesce_send_queue_head(986));
        assert!(
            sk.tcp_can_coalesce_send_queue_head(500),
            "ending at it is fine"
        );
        assert!(sk.tcp_can_coalesce_send_queue_head(400));
    }

    #[test]
    fn a_finished_search_restarts_after_the_probe_interval() {
        let (mut sk, cfg) = sock(2);
        sk.tcp_mtup_init(&cfg, Instant::ZERO);
        sk.tcp_sync_mss(1500);
        sk.mtup.search_low = 1496;
        sk.tcp_mtu_check_reprobe(&cfg, Instant::from_secs(599));
        assert_eq!(sk.mtup.search_low, 1496);
        sk.tcp_mtu_check_reprobe(&cfg, Instant::from_secs(600));
        assert_eq!(sk.mtup.search_low, 552, "from the MSS in use");
        assert_eq!(sk.mtup.search_high, 1500);
        assert_eq!(sk.mtup.probe_timestamp, Instant::from_secs(600));
    }
}
