//! fq_codel's words into [`FqCodelOpt`] and back.
//!
//! Linux/iproute2: tc/q_fq_codel.c (`fq_codel_parse_opt`, `fq_codel_print_opt`,
//! `fq_codel_print_xstats`).

use super::tc_err;
use super::units::{fmt_size, fmt_time, parse_size, parse_time, parse_u32, Args, TcError};
use linnet::qdisc::opt::{FqCodelOpt, QdiscOpt};

/// Each option given sets its attribute; the stack checks the values. Linux/iproute2:
/// `fq_codel_parse_opt`.
pub fn parse_opt(args: &[String]) -> Result<QdiscOpt, TcError> {
    let mut o = FqCodelOpt::default();
    let mut a = Args::new(args);
    while let Some(w) = a.next() {
        match w {
            "limit" => o.limit = Some(parse_u32(a.value(w)?, "limit")?),
            "flows" => o.flows = Some(parse_u32(a.value(w)?, "flows")?),
            "quantum" => {
                let v = parse_size(a.value(w)?)?;
                o.quantum = Some(v.min(u32::MAX as u64) as u32);
            }
            "target" => o.target = Some(parse_time(a.value(w)?)?),
            "interval" => o.interval = Some(parse_time(a.value(w)?)?),
            "memory_limit" => o.memory_limit = Some(parse_size(a.value(w)?)?),
            "ecn" => o.ecn = Some(true),
            "noecn" => o.ecn = Some(false),
            "ce_threshold" => o.ce_threshold = Some(parse_time(a.value(w)?)?),
            "drop_batch" => o.drop_batch = Some(parse_u32(a.value(w)?, "drop_batch")?),
            _ => return Err(tc_err!("fq_codel: unknown option \"{w}\"")),
        }
    }
    Ok(QdiscOpt::FqCodel(o))
}

/// Linux/iproute2: `fq_codel_print_opt` (each attribute the stack reported).
pub fn print_opt(o: &FqCodelOpt) -> String {
    let mut s = Vec::new();
    if let Some(l) = o.limit {
        s.push(format!("limit {l}p"));
    }
    if let Some(f) = o.flows {
        s.push(format!("flows {f}"));
    }
    if let Some(q) = o.quantum {
        s.push(format!("quantum {q}"));
    }
    if let Some(t) = o.target {
        s.push(format!("target {}", fmt_time(t)));
    }
    if let Some(i) = o.interval {
        s.push(format!("interval {}", fmt_time(i)));
    }
    if let Some(m) = o.memory_limit {
        s.push(format!("memory_limit {}", fmt_size(m)));
    }
    if o.ecn == Some(true) {
        s.push("ecn".into());
    }
    if let Some(ce) = o.ce_threshold {
        s.push(format!("ce_threshold {}", fmt_time(ce)));
    }
    if let Some(b) = o.drop_batch {
        s.push(format!("drop_batch {b}"));
    }
    s.join(" ")
}
