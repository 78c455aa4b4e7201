//! The fifos' words (`pfifo`, `bfifo`: `limit`; `pfifo_fast`: none) into [`FifoOpt`] and
//! back.
//!
//! Linux/iproute2: tc/q_fifo.c (`fifo_parse_opt`, `fifo_print_opt`), q_prio.c for
//! pfifo_fast's priomap.

use super::tc_err;
use super::units::{fmt_size, parse_size, parse_u32, Args, TcError};
use linnet::qdisc::opt::{FifoOpt, QdiscOpt};
use linnet::qdisc::pfifo_fast;

/// `pfifo [limit PACKETS]` or `bfifo [limit BYTES]`. Linux/iproute2: `fifo_parse_opt`.
pub fn parse_opt(kind: &str, args: &[String]) -> Result<QdiscOpt, TcError> {
    let bytes = kind == "bfifo";
    let mut a = Args::new(args);
    let mut o = FifoOpt::default();
    while let Some(w) = a.next() {
        match w {
            "limit" if bytes => o.limit = Some(parse_size(a.value(w)?)?),
            "limit" => o.limit = Some(parse_u32(a.value(w)?, "limit")?.into()),
            _ => return Err(tc_err!("{kind}: unknown option \"{w}\"")),
        }
    }
    Ok(if bytes {
        QdiscOpt::Bfifo(o)
    } else {
        QdiscOpt::Pfifo(o)
    })
}

/// `pfifo_fast` takes no options: its fixed ones.
pub fn parse_pfifo_fast(args: &[String]) -> Result<QdiscOpt, TcError> {
    match args.first() {
        None => Ok(QdiscOpt::PfifoFast(pfifo_fast::OPT)),
        Some(w) => Err(tc_err!("pfifo_fast: takes no options, not \"{w}\"")),
    }
}

/// Linux/iproute2: `fifo_print_opt` (packets for pfifo, a size for bfifo).
pub fn print_opt(o: &FifoOpt, bytes: bool) -> String {
    let l = o.limit.unwrap_or(0);
    if bytes {
        format!("limit {}", fmt_size(l))
    } else {
        format!("limit {l}p")
    }
}
