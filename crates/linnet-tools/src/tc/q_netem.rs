//! netem's words into [`NetemOpt`] and back.
//!
//! Linux/iproute2: tc/q_netem.c (`netem_parse_opt`, `netem_print_opt`).

use super::tc_err;
use super::units::{
    fmt_percent, fmt_rate, fmt_time, parse_percent, parse_rate, parse_time, parse_u32, Args,
    TcError,
};
use linnet::qdisc::opt::{Dist, NetemLoss, NetemOpt, QdiscOpt};

/// `loss [random] P [COR] | state P13 [P31 [P32 [P23 [P14]]]] | gemodel P [R [1-H [1-K]]]`.
fn parse_loss(a: &mut Args, first: &str) -> Result<NetemLoss, TcError> {
    let pct = |a: &mut Args| a.optional(parse_percent).unwrap_or(0.0);
    Ok(match first {
        "random" => {
            let v = a.value("loss random")?;
            NetemLoss::Random {
                p: parse_percent(v)?,
                cor: pct(a),
            }
        }
        "state" => {
            let p13 = parse_percent(a.value("loss state")?)?;
            let mut s = [p13, 1.0 - p13, 0.0, 1.0, 0.0];
            for v in s.iter_mut().skip(1) {
                match a.optional(parse_percent) {
                    Some(x) => *v = x,
                    None => break,
                }
            }
            NetemLoss::State { p: s }
        }
        "gemodel" | "gmodel" => {
            let gp = parse_percent(a.value("loss gemodel")?)?;
            let r = a.optional(parse_percent).unwrap_or(1.0 - gp);
            let h1 = a.optional(parse_percent).unwrap_or(1.0);
            let k1 = a.optional(parse_percent).unwrap_or(0.0);
            NetemLoss::Gemodel { p: gp, r, h1, k1 }
        }
        v => NetemLoss::Random {
            p: parse_percent(v)?,
            cor: pct(a),
        },
    })
}

/// Linux/iproute2: `netem_parse_opt`.
pub fn parse_opt(args: &[String]) -> Result<QdiscOpt, TcError> {
    let mut a = Args::new(args);
    let mut p = NetemOpt::default();
    let mut dist_given = false;
    let pct = |a: &mut Args| a.optional(parse_percent).unwrap_or(0.0);
    while let Some(w) = a.next() {
        match w {
            "limit" => p.limit = parse_u32(a.value(w)?, "limit")?,
            "delay" | "latency" => {
                p.latency = parse_time(a.value(w)?)?;
                if let Some(j) = a.optional(parse_time) {
                    p.jitter = j;
                    p.delay_cor = pct(&mut a);
                }
            }
            "distribution" => {
                let d = a.value(w)?;
                p.dist = match d {
                    "uniform" => Dist::Uniform,
                    "normal" => Dist::Normal,
                    "pareto" => Dist::Pareto,
                    "paretonormal" => Dist::ParetoNormal,
                    _ => return Err(tc_err!("netem: unknown distribution \"{d}\"")),
                };
                dist_given = true;
            }
            "loss" | "drop" => {
                let first = a.value(w)?;
                p.loss = parse_loss(&mut a, first)?;
            }
            "duplicate" => p.duplicate = (parse_percent(a.value(w)?)?, pct(&mut a)),
            "reorder" => p.reorder = (parse_percent(a.value(w)?)?, pct(&mut a)),
            "gap" => p.gap = parse_u32(a.value(w)?, "gap")?,
            "corrupt" => p.corrupt = (parse_percent(a.value(w)?)?, pct(&mut a)),
            "rate" => p.rate = Some(parse_rate(a.value(w)?)?),
            "ecn" => p.ecn = true,
            "seed" => {
                let v = a.value(w)?;
                p.seed = Some(
                    v.parse()
                        .map_err(|_| tc_err!("netem: invalid seed \"{v}\""))?,
                );
            }
            _ => return Err(tc_err!("netem: unknown option \"{w}\"")),
        }
    }
    if dist_given && p.jitter == 0 {
        return Err(tc_err!(
            "netem: \"distribution\" needs a jitter (delay TIME JITTER)"
        ));
    }
    if p.reorder.0 > 0.0 || p.gap > 0 {
        if p.latency == 0 {
            return Err(tc_err!(
                "netem: \"reorder\" is not possible without a delay"
            ));
        }
        if p.gap == 0 {
            p.gap = 1;
        }
        if p.reorder.0 == 0.0 {
            // `gap N` alone: every Nth packet goes at once. Linux: reorder = ~0.
            p.reorder.0 = 1.0;
        }
    }
    Ok(QdiscOpt::Netem(p))
}

/// A correlation after its probability, when there is one.
fn cor(c: f64) -> String {
    if c > 0.0 {
        format!(" {}", fmt_percent(c))
    } else {
        String::new()
    }
}

/// Linux/iproute2: `netem_print_opt`.
pub fn print_opt(p: &NetemOpt) -> String {
    let mut s = format!("limit {}", p.limit);
    if p.latency > 0 || p.jitter > 0 {
        s += &format!(" delay {}", fmt_time(p.latency));
        if p.jitter > 0 {
            s += &format!("  {}{}", fmt_time(p.jitter), cor(p.delay_cor));
            if p.dist != Dist::Uniform {
                s += &format!(" distribution {}", p.dist.name());
            }
        }
    }
    s += &print_loss(&p.loss);
    if p.duplicate.0 > 0.0 {
        s += &format!(
            " duplicate {}{}",
            fmt_percent(p.duplicate.0),
            cor(p.duplicate.1)
        );
    }
    if p.reorder.0 > 0.0 {
        s += &format!(" reorder {}{}", fmt_percent(p.reorder.0), cor(p.reorder.1));
        if p.gap > 1 {
            s += &format!(" gap {}", p.gap);
        }
    }
    if p.corrupt.0 > 0.0 {
        s += &format!(" corrupt {}{}", fmt_percent(p.corrupt.0), cor(p.corrupt.1));
    }
    if let Some(r) = p.rate {
        s += &format!(" rate {}", fmt_rate(r));
    }
    if p.ecn {
        s += " ecn";
    }
    if let Some(seed) = p.seed {
        s += &format!(" seed {seed}");
    }
    s
}

/// The loss model, with a leading space (nothing without loss).
fn print_loss(loss: &NetemLoss) -> String {
    match *loss {
        NetemLoss::None => String::new(),
        NetemLoss::Random { p, cor: c } => format!(" loss {}{}", fmt_percent(p), cor(c)),
        NetemLoss::State { p } => format!(
            " loss state p13 {} p31 {} p32 {} p23 {} p14 {}",
            fmt_percent(p[0]),
            fmt_percent(p[1]),
            fmt_percent(p[2]),
            fmt_percent(p[3]),
            fmt_percent(p[4])
        ),
        NetemLoss::Gemodel { p, r, h1, k1 } => format!(
            " loss gemodel p {} r {} 1-h {} 1-k {}",
            fmt_percent(p),
            fmt_percent(r),
            fmt_percent(h1),
            fmt_percent(k1)
        ),
    }
}
