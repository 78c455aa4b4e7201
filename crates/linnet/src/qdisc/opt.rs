//! Each kind's tc options, typed: what a change carries to the stack and what `show` reports
//! back. tc's words for them are user space's (`linnet-tools`, as iproute2's `q_*.c`
//! `parse_opt`/`print_opt`); the stack checks the values and builds its qdiscs from them.
//!
//! Linux: the `TCA_OPTIONS` attribute of each kind (include/uapi/linux/pkt_sched.h:
//! `tc_fifo_qopt`, `tc_prio_qopt`, `tc_tbf_qopt`, `tc_netem_qopt` with its corrupt, reorder,
//! rate and loss-model attributes, `TCA_FQ_CODEL_*`, `tc_htb_glob`, `tc_htb_opt`), the
//! `TCA_XSTATS` of each kind (`tc_fq_codel_xstats`, `tc_htb_xstats`...) and the classifiers'
//! selectors (pkt_cls.h).

use super::cls::FilterKind;
use super::units::{tc_err, TcError};
use serde::{Deserialize, Serialize};

/// Largest size option, in bytes (tc's sizes are 32-bit: `get_size`).
pub const MAX_SIZE: u64 = u32::MAX as u64;

/// Largest time option, in µs (tc's times are 32-bit in its units: `get_time`).
pub const MAX_TIME_US: u64 = u32::MAX as u64 * 1000;

/// `v` of option `what` if it is at most `max`, else the error naming it.
pub(crate) fn at_most(kind: &str, what: &str, v: u64, max: u64) -> Result<u64, TcError> {
    if v > max {
        return Err(tc_err!("{kind}: \"{what}\" {v} is above {max}"));
    }
    Ok(v)
}

/// A qdisc's options. A field left `None` is an attribute the command did not give: the
/// stack's default (on create) or the current value (on change, for kinds that merge).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QdiscOpt {
    /// `pfifo_fast`: a fixed priomap over three bands (it takes no options).
    PfifoFast(PrioOpt),
    /// `pfifo`: `limit` in packets.
    Pfifo(FifoOpt),
    /// `bfifo`: `limit` in bytes.
    Bfifo(FifoOpt),
    /// `tbf`.
    Tbf(TbfOpt),
    /// `netem`.
    Netem(NetemOpt),
    /// `prio`.
    Prio(PrioOpt),
    /// `fq_codel`.
    FqCodel(FqCodelOpt),
    /// `htb` (the qdisc's own options; classes have [`HtbClassOpt`]).
    Htb(HtbGlob),
}

impl QdiscOpt {
    /// The kind the options belong to, as tc names it.
    pub fn kind(&self) -> &'static str {
        match self {
            QdiscOpt::PfifoFast(_) => "pfifo_fast",
            QdiscOpt::Pfifo(_) => "pfifo",
            QdiscOpt::Bfifo(_) => "bfifo",
            QdiscOpt::Tbf(_) => "tbf",
            QdiscOpt::Netem(_) => "netem",
            QdiscOpt::Prio(_) => "prio",
            QdiscOpt::FqCodel(_) => "fq_codel",
            QdiscOpt::Htb(_) => "htb",
        }
    }
}

/// `pfifo`/`bfifo`. Linux: `struct tc_fifo_qopt`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FifoOpt {
    /// Packets (pfifo) or bytes (bfifo); `None`: from the device's `txqueuelen`.
    pub limit: Option<u64>,
}

/// `prio` and `pfifo_fast`. Linux: `struct tc_prio_qopt`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrioOpt {
    /// Bands (2–16).
    pub bands: u32,
    /// The band of each of the 16 priorities.
    pub priomap: [u8; 16],
}

/// `tbf`, as iproute2 resolves it (a `latency` is already turned into `limit`).
/// Linux: `struct tc_tbf_qopt` + `TCA_TBF_BURST`/`TCA_TBF_PBURST`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TbfOpt {
    /// Rate, bit/s.
    pub rate: u64,
    /// Bucket size, bytes.
    pub burst: u64,
    /// Bytes that may wait.
    pub limit: u64,
    /// Peak rate, bit/s.
    pub peakrate: Option<u64>,
    /// Peak bucket size (`mtu`/`minburst`), bytes; 0 without a peak rate.
    pub mtu: u64,
}

/// A netem delay distribution. Linux: the `TCA_NETEM_DELAY_DIST` table tc loads by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dist {
    /// Uniform in `[delay - jitter, delay + jitter)` (no table).
    Uniform,
    /// Normal.
    Normal,
    /// Pareto (shape 3).
    Pareto,
    /// A mixture: a quarter normal, three quarters Pareto.
    ParetoNormal,
}

impl Dist {
    /// The name tc gives it.
    pub fn name(self) -> &'static str {
        match self {
            Dist::Uniform => "uniform",
            Dist::Normal => "normal",
            Dist::Pareto => "pareto",
            Dist::ParetoNormal => "paretonormal",
        }
    }
}

/// How netem loses packets. Probabilities are fractions in [0, 1]. Linux: `tc_netem_qopt.loss`
/// + `TCA_NETEM_CORR`, or `TCA_NETEM_LOSS` (`tc_netem_gimodel`, `tc_netem_gemodel`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NetemLoss {
    /// None.
    None,
    /// Independent (or correlated) random loss.
    Random {
        /// Probability.
        p: f64,
        /// Correlation.
        cor: f64,
    },
    /// The 4-state Markov model: p13, p31, p32, p23, p14.
    State {
        /// Transition probabilities.
        p: [f64; 5],
    },
    /// Gilbert-Elliott.
    Gemodel {
        /// Good → bad.
        p: f64,
        /// Bad → good.
        r: f64,
        /// Loss probability in the bad state (1-h).
        h1: f64,
        /// Loss probability in the good state (1-k).
        k1: f64,
    },
}

/// `netem`: every option at once (a change replaces them all). Times in µs, probabilities
/// and correlations as fractions in [0, 1]. Linux: `struct tc_netem_qopt` +
/// `tc_netem_corr`, `tc_netem_reorder`, `tc_netem_corrupt`, `tc_netem_rate`, `TCA_NETEM_ECN`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct NetemOpt {
    /// Packets that may wait.
    pub limit: u32,
    /// Delay, µs.
    pub latency: u64,
    /// Jitter, µs.
    pub jitter: u64,
    /// Delay correlation.
    pub delay_cor: f64,
    /// Jitter distribution.
    pub dist: Dist,
    /// Loss.
    pub loss: NetemLoss,
    /// Duplication probability and correlation.
    pub duplicate: (f64, f64),
    /// Reordering probability and correlation.
    pub reorder: (f64, f64),
    /// Reorder every `gap`th packet.
    pub gap: u32,
    /// Corruption probability and correlation.
    pub corrupt: (f64, f64),
    /// Rate limit, bit/s.
    pub rate: Option<u64>,
    /// Seed of the generator (else the stack's).
    pub seed: Option<u64>,
    /// `ecn`: a loss event marks an ECN-capable packet CE instead of dropping it.
    pub ecn: bool,
}

impl Default for NetemOpt {
    /// What `netem` with no options means (iproute2: `limit 1000`, nothing else).
    fn default() -> Self {
        NetemOpt {
            limit: 1000,
            latency: 0,
            jitter: 0,
            delay_cor: 0.0,
            dist: Dist::Uniform,
            loss: NetemLoss::None,
            duplicate: (0.0, 0.0),
            reorder: (0.0, 0.0),
            gap: 0,
            corrupt: (0.0, 0.0),
            rate: None,
            seed: None,
            ecn: false,
        }
    }
}

/// `fq_codel`: each option an attribute of its own. Times in µs. Linux: `TCA_FQ_CODEL_*`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FqCodelOpt {
    /// Packets that may wait.
    pub limit: Option<u32>,
    /// Flow queues (set at creation only).
    pub flows: Option<u32>,
    /// DRR quantum, bytes.
    pub quantum: Option<u32>,
    /// CoDel target, µs.
    pub target: Option<u64>,
    /// CoDel interval, µs.
    pub interval: Option<u64>,
    /// Memory limit, bytes.
    pub memory_limit: Option<u64>,
    /// ECN marking instead of dropping.
    pub ecn: Option<bool>,
    /// CE-mark above this sojourn time, µs.
    pub ce_threshold: Option<u64>,
    /// Most packets dropped at once when full.
    pub drop_batch: Option<u32>,
}

/// `htb`'s own options. Linux: `struct tc_htb_glob` + `TCA_HTB_DIRECT_QLEN`; what a change
/// leaves out goes back to its default (`default 0`, `r2q 10`, `direct_qlen` txqueuelen).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HtbGlob {
    /// Minor of the class unclassified packets go to; 0: the direct queue.
    pub default: Option<u32>,
    /// Rate to quantum divisor.
    pub r2q: Option<u32>,
    /// Packets the direct queue holds.
    pub direct_qlen: Option<u32>,
    /// Packets sent through the direct queue (reported; ignored in a change).
    pub direct_pkts: u64,
}

/// A class's options.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClassOpt {
    /// An htb class.
    Htb(HtbClassOpt),
}

/// An htb class. Rates in bit/s, sizes in bytes; on change, what is left out keeps its value
/// (`rate`, `ceil`, `prio`) or is worked out again (`burst`, `cburst`, `quantum`).
/// Linux: `struct tc_htb_opt` + `TCA_HTB_RATE64`/`TCA_HTB_CEIL64`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HtbClassOpt {
    /// Guaranteed rate.
    pub rate: Option<u64>,
    /// Most it may borrow up to.
    pub ceil: Option<u64>,
    /// Bucket for `rate`.
    pub burst: Option<u64>,
    /// Bucket for `ceil`.
    pub cburst: Option<u64>,
    /// Priority 0–7 (reported for leaves only).
    pub prio: Option<u32>,
    /// DRR quantum.
    pub quantum: Option<u64>,
}

/// A filter to add, change or replace. Linux: `tcm_info` (priority) + the classifier's
/// options (`TCA_U32_SEL`, `TCA_FW_MASK`) + `TCA_*_CLASSID`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FilterOpt {
    /// Priority (`pref`); `None`: one below the lowest there (49152 for the first).
    pub prio: Option<u32>,
    /// What it matches.
    pub kind: FilterKind,
    /// Where matches go.
    pub classid: u32,
}

/// The options of one tc change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TcOptions {
    /// A qdisc's.
    Qdisc(QdiscOpt),
    /// A class's.
    Class(ClassOpt),
    /// A filter's.
    Filter(FilterOpt),
    /// `tc filter del`: the priority whose filters go (all of them without one).
    FilterDel {
        /// Priority.
        prio: Option<u32>,
    },
}

/// A qdisc's or class's own counters (`tc -s`). Linux: `TCA_XSTATS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum XStats {
    /// `fq_codel`. Linux: `struct tc_fq_codel_qd_stats`.
    FqCodel {
        /// Largest packet seen.
        maxpacket: u64,
        /// Dropped because the qdisc was full.
        drop_overlimit: u64,
        /// Flows that became active.
        new_flow_count: u64,
        /// CE-marked instead of dropped.
        ecn_mark: u64,
        /// Flows in the new list.
        new_flows_len: u64,
        /// Flows in the old list.
        old_flows_len: u64,
    },
    /// `netem` (Linnet's own counts).
    Netem {
        /// Lost on purpose.
        lost: u64,
        /// Extra copies made.
        duplicated: u64,
        /// Sent ahead of their turn.
        reordered: u64,
        /// With a bit flipped.
        corrupted: u64,
        /// CE-marked instead of lost.
        ecn_marked: u64,
    },
    /// An htb class. Linux: `struct tc_htb_xstats`.
    HtbClass {
        /// Times it lent.
        lends: u64,
        /// Times it borrowed.
        borrows: u64,
        /// Packets over the MTU.
        giants: u64,
        /// Tokens: nanoseconds of transmission at `rate`, over 1000.
        tokens: i64,
        /// Ceil tokens: likewise at `ceil`.
        ctokens: i64,
    },
}
