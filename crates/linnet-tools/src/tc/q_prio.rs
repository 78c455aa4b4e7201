//! prio's words into [`PrioOpt`] and back (pfifo_fast prints the same way).
//!
//! Linux/iproute2: tc/q_prio.c (`prio_parse_opt`, `prio_print_opt`).

use super::tc_err;
use super::units::{parse_u32, Args, TcError};
use linnet::qdisc::opt::{PrioOpt, QdiscOpt};
use linnet::qdisc::pfifo_fast::PRIO2BAND;
use linnet::qdisc::prio::MAX_BANDS;

/// `[bands N] [priomap P0 .. P15]`. Linux/iproute2: `prio_parse_opt`.
pub fn parse_opt(args: &[String]) -> Result<QdiscOpt, TcError> {
    let mut a = Args::new(args);
    let mut bands = 3u32;
    let mut priomap = PRIO2BAND;
    while let Some(w) = a.next() {
        match w {
            "bands" => {
                let v = a.value(w)?;
                bands = parse_u32(v, "bands")?;
                if !(2..=MAX_BANDS as u32).contains(&bands) {
                    return Err(tc_err!("prio: \"bands {v}\" must be 2 to {MAX_BANDS}"));
                }
            }
            "priomap" => {
                for slot in priomap.iter_mut() {
                    let v = a.value("priomap")?;
                    *slot = parse_u32(v, "priomap band")?.min(255) as u8;
                }
            }
            _ => return Err(tc_err!("prio: unknown option \"{w}\"")),
        }
    }
    Ok(QdiscOpt::Prio(PrioOpt { bands, priomap }))
}

/// Linux/iproute2: `prio_print_opt`.
pub fn print_opt(o: &PrioOpt) -> String {
    let map: Vec<String> = o.priomap.iter().map(|b| b.to_string()).collect();
    format!("bands {} priomap {}", o.bands, map.join(" "))
}
