//! `struct tcp_info` with Linux's exact layout (include/uapi/linux/tcp.h, 6.18: 280 bytes),
//! filled from a Linnet TCP socket.
//!
//! Linux: `tcp_get_info` (net/ipv4/tcp.c). Fields Linnet does not track are zero, as Linux
//! leaves fields it cannot know.

use linnet::transport::tcp::sock::{TcpSock, TcpState};
use linnet::Instant;

/// `tcpi_options` bits.
const TCPI_OPT_TIMESTAMPS: u8 = 1;
const TCPI_OPT_SACK: u8 = 2;
const TCPI_OPT_WSCALE: u8 = 4;
/// The SYN's data was acknowledged (client) or accepted (server): TCP Fast Open.
const TCPI_OPT_SYN_DATA: u8 = 32;
/// `TCP_INFINITE_SSTHRESH`.
const TCP_INFINITE_SSTHRESH: u32 = 0x7fff_ffff;
/// Linux's delayed-ACK timeout when nothing better is known (`TCP_ATO_MIN`, 40 ms).
const ATO_US: u32 = 40_000;

/// Linux's `struct tcp_info`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
#[allow(missing_docs)]
pub struct TcpInfoC {
    pub tcpi_state: u8,
    pub tcpi_ca_state: u8,
    pub tcpi_retransmits: u8,
    pub tcpi_probes: u8,
    pub tcpi_backoff: u8,
    pub tcpi_options: u8,
    /// `tcpi_snd_wscale:4` (low bits), `tcpi_rcv_wscale:4` (high bits).
    pub tcpi_wscale: u8,
    /// `tcpi_delivery_rate_app_limited:1`, `tcpi_fastopen_client_fail:2`.
    pub tcpi_flags: u8,
    pub tcpi_rto: u32,
    pub tcpi_ato: u32,
    pub tcpi_snd_mss: u32,
    pub tcpi_rcv_mss: u32,
    pub tcpi_unacked: u32,
    pub tcpi_sacked: u32,
    pub tcpi_lost: u32,
    pub tcpi_retrans: u32,
    pub tcpi_fackets: u32,
    pub tcpi_last_data_sent: u32,
    pub tcpi_last_ack_sent: u32,
    pub tcpi_last_data_recv: u32,
    pub tcpi_last_ack_recv: u32,
    pub tcpi_pmtu: u32,
    pub tcpi_rcv_ssthresh: u32,
    pub tcpi_rtt: u32,
    pub tcpi_rttvar: u32,
    pub tcpi_snd_ssthresh: u32,
    pub tcpi_snd_cwnd: u32,
    pub tcpi_advmss: u32,
    pub tcpi_reordering: u32,
    pub tcpi_rcv_rtt: u32,
    pub tcpi_rcv_space: u32,
    pub tcpi_total_retrans: u32,
    pub tcpi_pacing_rate: u64,
    pub tcpi_max_pacing_rate: u64,
    pub tcpi_bytes_acked: u64,
    pub tcpi_bytes_received: u64,
    pub tcpi_segs_out: u32,
    pub tcpi_segs_in: u32,
    pub tcpi_notsent_bytes: u32,
    pub tcpi_min_rtt: u32,
    pub tcpi_data_segs_in: u32,
    pub tcpi_data_segs_out: u32,
    pub tcpi_delivery_rate: u64,
    pub tcpi_busy_time: u64,
    pub tcpi_rwnd_limited: u64,
    pub tcpi_sndbuf_limited: u64,
    pub tcpi_delivered: u32,
    pub tcpi_delivered_ce: u32,
    pub tcpi_bytes_sent: u64,
    pub tcpi_bytes_retrans: u64,
    pub tcpi_dsack_dups: u32,
    pub tcpi_reord_seen: u32,
    pub tcpi_rcv_ooopack: u32,
    pub tcpi_snd_wnd: u32,
    pub tcpi_rcv_wnd: u32,
    pub tcpi_rehash: u32,
    pub tcpi_total_rto: u16,
    pub tcpi_total_rto_recoveries: u16,
    pub tcpi_total_rto_time: u32,
    pub tcpi_received_ce: u32,
    pub tcpi_delivered_e1_bytes: u32,
    pub tcpi_delivered_e0_bytes: u32,
    pub tcpi_delivered_ce_bytes: u32,
    pub tcpi_received_e1_bytes: u32,
    pub tcpi_received_e0_bytes: u32,
    pub tcpi_received_ce_bytes: u32,
    /// `tcpi_ecn_mode:2, tcpi_accecn_opt_seen:2, tcpi_accecn_fail_mode:4, tcpi_options2:24`.
    pub tcpi_ecn_bits: u32,
}

/// `sizeof(struct tcp_info)` on Linux 6.18.
pub const TCP_INFO_SIZE: usize = 280;
const _: () = assert!(std::mem::size_of::<TcpInfoC>() == TCP_INFO_SIZE);

impl TcpInfoC {
    /// The struct's bytes, as `getsockopt` copies them out.
    pub fn as_bytes(&self) -> &[u8] {
        // SAFETY: TcpInfoC is repr(C), Copy, made only of integers and has no padding (its
        // size is the sum of its fields, checked at compile time above), so every byte of it
        // is initialized.
        unsafe { std::slice::from_raw_parts(self as *const TcpInfoC as *const u8, TCP_INFO_SIZE) }
    }
}

/// Linux's `TCP_*` state numbers (`TCP_ESTABLISHED` = 1 ... `TCP_CLOSING` = 11).
pub fn linux_state(s: TcpState) -> u8 {
    match s {
        TcpState::Established => 1,
        TcpState::SynSent => 2,
        TcpState::SynReceived => 3,
        TcpState::FinWait1 => 4,
        TcpState::FinWait2 => 5,
        TcpState::TimeWait => 6,
        TcpState::Closed => 7,
        TcpState::CloseWait => 8,
        TcpState::LastAck => 9,
        TcpState::Listen => 10,
        TcpState::Closing => 11,
    }
}

fn ms_since(now: Instant, t: Instant) -> u32 {
    if t == Instant::ZERO {
        return 0;
    }
    now.saturating_since(t).as_millis().min(u32::MAX as u128) as u32
}

/// Fill `struct tcp_info` for `sk` at `now`. Linux: `tcp_get_info`.
pub fn tcp_get_info(sk: &TcpSock, now: Instant, notsent: u32) -> TcpInfoC {
    let mss = sk.mss.max(1);
    let mut i = TcpInfoC {
        tcpi_state: linux_state(sk.state),
        ..TcpInfoC::default()
    };
    if sk.state == TcpState::Listen {
        // Linux: a listener reports its accept queue in unacked and its backlog in sacked.
        i.tcpi_unacked = sk.accept_queue.len() as u32;
        i.tcpi_sacked = sk.backlog;
        return i;
    }
    i.tcpi_ca_state = sk.ca_state as u8;
    i.tcpi_retransmits = sk.retransmits.min(255) as u8;
    i.tcpi_probes = sk.probes.min(255) as u8;
    i.tcpi_backoff = sk.rtt.backoff_count().min(255) as u8;
    if sk.ts_ok {
        i.tcpi_options |= TCPI_OPT_TIMESTAMPS;
    }
    if sk.sack_ok {
        i.tcpi_options |= TCPI_OPT_SACK;
    }
    if sk.ws_ok && sk.state != TcpState::SynSent {
        i.tcpi_options |= TCPI_OPT_WSCALE;
        i.tcpi_wscale = (sk.snd_wscale & 0xf) | ((sk.rcv_wscale & 0xf) << 4);
    }
    if sk.fastopen.syn_data_acked {
        i.tcpi_options |= TCPI_OPT_SYN_DATA;
    }
    i.tcpi_rto = sk.rtt.rto().as_micros().min(u32::MAX as u128) as u32;
    i.tcpi_ato = ATO_US;
    i.tcpi_snd_mss = sk.mss;
    i.tcpi_rcv_mss = u32::from(sk.adv_mss).min(sk.mss.max(536));
    let outstanding = (sk.snd_nxt - sk.snd_una).max(0) as u32;
    i.tcpi_unacked = outstanding.div_ceil(mss);
    i.tcpi_sacked = sk.rtx.sacked_out.div_ceil(mss);
    i.tcpi_lost = sk.rtx.lost_out.div_ceil(mss);
    i.tcpi_retrans = sk.rtx.retrans_out.div_ceil(mss);
    i.tcpi_dsack_dups = sk.dsack_dups;
    i.tcpi_reord_seen = sk.reord_seen;
    i.tcpi_last_data_sent = ms_since(now, sk.last_send);
    i.tcpi_last_data_recv = ms_since(now, sk.last_rcv);
    i.tcpi_last_ack_recv = ms_since(now, sk.last_rcv);
    i.tcpi_pmtu = sk.mss + 40;
    i.tcpi_rcv_ssthresh = sk.rcv_space() as u32;
    let srtt = sk.rtt.srtt().map_or(0, |d| d.as_micros() as u32);
    i.tcpi_rtt = srtt;
    i.tcpi_rttvar = sk.rtt.rttvar().as_micros() as u32;
    let ss = sk.cc.ssthresh();
    i.tcpi_snd_ssthresh = if ss == u32::MAX {
        TCP_INFINITE_SSTHRESH
    } else {
        ss / mss
    };
    i.tcpi_snd_cwnd = sk.cc.cwnd() / mss;
    i.tcpi_advmss = u32::from(sk.adv_mss);
    i.tcpi_reordering = sk.reordering;
    i.tcpi_rcv_rtt = sk.rcv_rtt_us8 / 8;
    i.tcpi_rcv_space = sk.rcvq_space.space as u32;
    i.tcpi_total_retrans = sk.total_retrans.min(u32::MAX as u64) as u32;
    i.tcpi_bytes_acked = sk.bytes_acked;
    i.tcpi_bytes_received = sk.bytes_received;
    i.tcpi_notsent_bytes = notsent;
    i.tcpi_min_rtt = sk.rtt.min_rtt().map_or(u32::MAX, |d| d.as_micros() as u32);
    i.tcpi_delivery_rate = sk.delivery.bytes_per_sec;
    i.tcpi_bytes_sent = sk.bytes_sent;
    i.tcpi_delivered = sk.delivered_segs;
    let (busy, rwnd) = sk.tcp_chrono_stats(now);
    i.tcpi_busy_time = busy;
    i.tcpi_rwnd_limited = rwnd;
    i.tcpi_snd_wnd = sk.snd_wnd;
    i.tcpi_rcv_wnd = (sk.rcv_adv - sk.rcv_nxt).max(0) as u32;
    i
}
