//! tbf's words into [`TbfOpt`] and back.
//!
//! Linux/iproute2: tc/q_tbf.c (`tbf_parse_opt`, `tbf_print_opt`).

use super::tc_err;
use super::units::{
    fmt_rate, fmt_size, fmt_time, parse_rate, parse_size, parse_time, Args, TcError,
};
use linnet::qdisc::opt::{QdiscOpt, TbfOpt};

/// `rate R burst B (limit L | latency T) [peakrate P mtu M]`; a latency becomes the limit it
/// allows, as iproute2 works it out. Linux/iproute2: `tbf_parse_opt`.
pub fn parse_opt(args: &[String]) -> Result<QdiscOpt, TcError> {
    let mut a = Args::new(args);
    let (mut rate, mut burst, mut limit, mut latency, mut peak, mut mtu) =
        (None, None, None, None, None, None);
    while let Some(w) = a.next() {
        match w {
            "rate" => rate = Some(parse_rate(a.value(w)?)?),
            "burst" | "buffer" | "maxburst" => {
                let v = a.value(w)?;
                // `burst 10kb/8` gives a cell size; it is accepted and ignored.
                let size = v.split_once('/').map_or(v, |(s, _)| s);
                burst = Some(parse_size(size)?);
            }
            "limit" => limit = Some(parse_size(a.value(w)?)?),
            "latency" | "lat" => latency = Some(parse_time(a.value(w)?)?),
            "peakrate" => peak = Some(parse_rate(a.value(w)?)?),
            "mtu" | "minburst" => mtu = Some(parse_size(a.value(w)?)?),
            _ => return Err(tc_err!("tbf: unknown option \"{w}\"")),
        }
    }
    let rate = rate.ok_or_else(|| tc_err!("tbf: \"rate\" is required"))?;
    let burst = burst.ok_or_else(|| tc_err!("tbf: \"burst\" is required"))?;
    if burst == 0 {
        return Err(tc_err!("tbf: \"burst\" must be positive"));
    }
    if peak.is_some() && mtu.is_none() {
        return Err(tc_err!("tbf: \"mtu\" is required with \"peakrate\""));
    }
    if let Some(p) = peak.filter(|&p| p <= rate) {
        return Err(tc_err!(
            "tbf: \"peakrate\" {} must exceed \"rate\" {}",
            fmt_rate(p),
            fmt_rate(rate)
        ));
    }
    let limit = match (limit, latency) {
        (Some(_), Some(_)) => {
            return Err(tc_err!(
                "tbf: give either \"limit\" or \"latency\", not both"
            ))
        }
        (None, None) => return Err(tc_err!("tbf: \"limit\" or \"latency\" is required")),
        (Some(l), None) => l,
        (None, Some(lat)) => {
            let mut l = (rate as u128 * lat as u128 / 8 / 1_000_000) as u64 + burst;
            if let (Some(p), Some(m)) = (peak, mtu) {
                l = l.min((p as u128 * lat as u128 / 8 / 1_000_000) as u64 + m);
            }
            l
        }
    };
    Ok(QdiscOpt::Tbf(TbfOpt {
        rate,
        burst,
        limit,
        peakrate: peak,
        mtu: mtu.unwrap_or(0),
    }))
}

/// Linux/iproute2: `tbf_print_opt` (the latency the limit allows, or the limit).
pub fn print_opt(p: &TbfOpt) -> String {
    let mut s = format!("rate {} burst {}", fmt_rate(p.rate), fmt_size(p.burst));
    let mut lat = (p.limit as f64 - p.burst as f64) * 8e6 / p.rate as f64;
    if let Some(pr) = p.peakrate {
        s += &format!(" peakrate {} minburst {}", fmt_rate(pr), fmt_size(p.mtu));
        let lat2 = (p.limit as f64 - p.mtu as f64) * 8e6 / pr as f64;
        lat = lat.max(lat2);
    }
    if lat >= 0.0 {
        s += &format!(" lat {}", fmt_time(lat.round() as u64));
    } else {
        s += &format!(" limit {}", fmt_size(p.limit));
    }
    s
}
