//! Sampling a sender's congestion state while it sends (`LINNET_IMPAIR_SAMPLE=1`): its
//! congestion window, slow-start threshold, smoothed RTT and recovery state, read every
//! [`EVERY`] from Linux's `TCP_INFO` or Linnet's `tcp_info`, summed up per transfer. Counts
//! of the window a sender kept, unlike transfer times, hold on a busy machine. With
//! `LINNET_IMPAIR_SERIES=DIR` as well, every sample of every transfer is written to
//! `DIR/NN-linux.txt` / `NN-linnet.txt` (µs since the start, cwnd, ssthresh, srtt in µs,
//! recovering 0/1), to follow the windows over time.

use linnet::Handle;
use linnet::SockId;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Environment variable that turns sampling on.
pub const SAMPLE_ENV: &str = "LINNET_IMPAIR_SAMPLE";

/// Time between samples.
pub const EVERY: Duration = Duration::from_micros(100);

/// Whether sampling was asked for.
pub fn wanted() -> bool {
    std::env::var_os(SAMPLE_ENV).is_some()
}

/// Where a sender's state is read.
pub enum Probe {
    /// A Linux socket (`getsockopt(TCP_INFO)` on its descriptor).
    Linux(RawFd),
    /// A Linnet socket.
    Linnet(Handle, SockId),
}

/// One reading, windows in segments.
#[derive(Debug, Clone, Copy)]
struct Sample {
    cwnd: u32,
    ssthresh: u32,
    srtt_us: u32,
    /// In recovery or loss (`TCP_CA_Recovery`, `TCP_CA_Loss`).
    recovering: bool,
}

impl Probe {
    fn read(&self) -> Option<Sample> {
        match self {
            Probe::Linux(fd) => {
                // SAFETY: `tcp_info` is plain old data; all-zero bytes are a valid value.
                let mut ti: libc::tcp_info = unsafe { std::mem::zeroed() };
                let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
                // SAFETY: `ti` and `len` are valid for writes of the size given; a closed or
                // reused descriptor only makes the call fail or read another socket's info.
                let rc = unsafe {
                    libc::getsockopt(
                        *fd,
                        libc::IPPROTO_TCP,
                        libc::TCP_INFO,
                        (&mut ti as *mut libc::tcp_info).cast(),
                        &mut len,
                    )
                };
                (rc == 0).then_some(Sample {
                    cwnd: ti.tcpi_snd_cwnd,
                    ssthresh: ti.tcpi_snd_ssthresh,
                    srtt_us: ti.tcpi_rtt,
                    recovering: ti.tcpi_ca_state >= 3,
                })
            }
            Probe::Linnet(h, id) => {
                let info = h.call(|s, _| s.tcp_info(*id)).ok()??;
                let mss = info.mss.max(1);
                Some(Sample {
                    cwnd: info.cwnd / mss,
                    ssthresh: if info.ssthresh == u32::MAX {
                        u32::MAX
                    } else {
                        info.ssthresh / mss
                    },
                    srtt_us: info.rtt_us as u32,
                    recovering: matches!(info.ca_state.as_str(), "recovery" | "loss"),
                })
            }
        }
    }
}

/// What the samples of one transfer say.
#[derive(Debug, Clone, Copy, Default)]
pub struct Summary {
    /// Samples taken.
    pub n: u64,
    /// Mean and largest congestion window (segments).
    pub mean_cwnd: f64,
    /// Largest congestion window (segments).
    pub max_cwnd: u32,
    /// Mean slow-start threshold over the samples where it was set (segments).
    pub mean_ssthresh: f64,
    /// Mean smoothed RTT (microseconds).
    pub mean_srtt_us: f64,
    /// Share of samples in recovery or loss.
    pub recovering: f64,
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "cwnd mean {:.1} max {} ssthresh mean {:.1} srtt {:.0} us, {:.0}% in recovery ({} samples)",
            self.mean_cwnd,
            self.max_cwnd,
            self.mean_ssthresh,
            self.mean_srtt_us,
            self.recovering * 100.0,
            self.n
        )
    }
}

/// Sample `probe` every [`EVERY`] until `stop`; the summary.
pub fn run(probe: &Probe, stop: &AtomicBool) -> Summary {
    let (mut n, mut cwnd, mut srtt, mut rec) = (0u64, 0f64, 0f64, 0u64);
    let (mut ss_n, mut ss) = (0u64, 0f64);
    let mut max_cwnd = 0;
    let mut series = std::env::var_os("LINNET_IMPAIR_SERIES").map(|_| String::new());
    let t0 = std::time::Instant::now();
    // Bounded: the transfer's own deadline sets `stop`.
    while !stop.load(Ordering::SeqCst) {
        if let Some(s) = probe.read() {
            if let Some(out) = series.as_mut() {
                out.push_str(&format!(
                    "{} {} {} {} {}\n",
                    t0.elapsed().as_micros(),
                    s.cwnd,
                    s.ssthresh.min(99999),
                    s.srtt_us,
                    u8::from(s.recovering)
                ));
            }
            n += 1;
            cwnd += f64::from(s.cwnd);
            max_cwnd = max_cwnd.max(s.cwnd);
            srtt += f64::from(s.srtt_us);
            rec += u64::from(s.recovering);
            if s.ssthresh < 1 << 20 {
                ss_n += 1;
                ss += f64::from(s.ssthresh);
            }
        }
        std::thread::sleep(EVERY);
    }
    if let (Some(out), Some(dir)) = (series, std::env::var_os("LINNET_IMPAIR_SERIES")) {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let k = N.fetch_add(1, Ordering::Relaxed);
        let who = if matches!(probe, Probe::Linux(_)) {
            "linux"
        } else {
            "linnet"
        };
        let _ = std::fs::write(
            std::path::Path::new(&dir).join(format!("{k:02}-{who}.txt")),
            out,
        );
    }
    let d = n.max(1) as f64;
    Summary {
        n,
        mean_cwnd: cwnd / d,
        max_cwnd,
        mean_ssthresh: if ss_n > 0 { ss / ss_n as f64 } else { 0.0 },
        mean_srtt_us: srtt / d,
        recovering: rec as f64 / d,
    }
}

/// The loss-recovery counters compared between the senders, by their Linux `TcpExt` names.
pub const COUNTERS: [&str; 10] = [
    "TCPSackRecovery",
    "TCPLossProbes",
    "TCPLossProbeRecovery",
    "TCPDSACKRecv",
    "TCPFullUndo",
    "TCPPartialUndo",
    "TCPDSACKUndo",
    "TCPSACKReorder",
    "TCPHystartTrainDetect",
    "TCPHystartDelayDetect",
];

/// Linnet's values of [`COUNTERS`] (0 where it has no such counter).
pub fn linnet_counters(h: &Handle) -> [u64; 10] {
    h.call(|s, _| {
        let t = s.snmp().tcp;
        [
            t.sack_recovery,
            t.loss_probes,
            t.loss_probe_recovery,
            t.dsack_recv,
            t.full_undo,
            t.partial_undo,
            t.dsack_undo,
            t.sack_reorder,
            t.hystart_train_exits,
            t.hystart_exits,
        ]
    })
    .unwrap_or([0; 10])
}

/// The counters that moved, `name delta` each.
pub fn counter_deltas(before: &[u64; 10], after: &[u64; 10]) -> String {
    COUNTERS
        .iter()
        .zip(before.iter().zip(after))
        .filter(|(_, (b, a))| a > b)
        .map(|(n, (b, a))| format!("{n} {}", a - b))
        .collect::<Vec<_>>()
        .join(", ")
}
