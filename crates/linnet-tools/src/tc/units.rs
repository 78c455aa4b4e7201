//! tc's units: rates, sizes, times, percentages and handles read as iproute2 reads them, and
//! sizes, times and percentages printed as it prints them (rates and handles print with the
//! stack's own [`fmt_rate`] and [`fmt_handle`], which its messages use too).
//!
//! Linux/iproute2: `get_rate64`, `get_size`, `get_time`, `get_percent`, `get_tc_classid`,
//! `sprint_size`, `sprint_time` (tc/tc_util.c).

use super::tc_err;
pub use linnet::qdisc::units::{fmt_handle, fmt_rate, TcError, ROOT_HANDLE};

/// Split a word into its leading number and unit suffix.
fn split_num(word: &str) -> Option<(f64, &str)> {
    let end = word
        .char_indices()
        .find(|&(_, c)| !(c.is_ascii_digit() || c == '.'))
        .map_or(word.len(), |(i, _)| i);
    if end == 0 {
        return None;
    }
    let n: f64 = word[..end].parse().ok()?;
    if !n.is_finite() {
        return None;
    }
    Some((n, &word[end..]))
}

/// A rate in bits per second. A bare number is bit/s; `kbit`, `mbit`, `gbit`, `tbit` are
/// 1000-based, `kibit`.. 1024-based; `bps` is bytes per second (`kbps`, `mbps`... 1000-based,
/// `kibps`.. 1024-based). Case does not matter. Linux: `get_rate64`.
pub fn parse_rate(word: &str) -> Result<u64, TcError> {
    let bad = || tc_err!("invalid rate \"{word}\" (use e.g. 10mbit, 500kbit, 1gbit, 125kbps)");
    let (n, unit) = split_num(word).ok_or_else(bad)?;
    let mult: f64 = match unit.to_ascii_lowercase().as_str() {
        "" | "bit" => 1.0,
        "kbit" => 1e3,
        "mbit" => 1e6,
        "gbit" => 1e9,
        "tbit" => 1e12,
        "kibit" => 1024.0,
        "mibit" => 1024.0 * 1024.0,
        "gibit" => 1024.0 * 1024.0 * 1024.0,
        "tibit" => 1024f64.powi(4),
        "bps" => 8.0,
        "kbps" => 8e3,
        "mbps" => 8e6,
        "gbps" => 8e9,
        "tbps" => 8e12,
        "kibps" => 8.0 * 1024.0,
        "mibps" => 8.0 * 1024.0 * 1024.0,
        "gibps" => 8.0 * 1024f64.powi(3),
        "tibps" => 8.0 * 1024f64.powi(4),
        _ => return Err(bad()),
    };
    let bits = n * mult;
    if bits < 1.0 || bits > u64::MAX as f64 / 2.0 {
        return Err(bad());
    }
    Ok(bits.round() as u64)
}

/// A size in bytes. A bare number or `b` is bytes; `k`/`kb`, `m`/`mb`, `g`/`gb` are
/// 1024-based bytes; `kbit`, `mbit`, `gbit` are 1024-based bits. Linux: `get_size`.
pub fn parse_size(word: &str) -> Result<u64, TcError> {
    let bad = || tc_err!("invalid size \"{word}\" (use e.g. 1514, 32kb, 1mb, 16kbit)");
    let (n, unit) = split_num(word).ok_or_else(bad)?;
    let mult: f64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" => 1024.0,
        "m" | "mb" => 1024.0 * 1024.0,
        "g" | "gb" => 1024.0 * 1024.0 * 1024.0,
        "kbit" => 1024.0 / 8.0,
        "mbit" => 1024.0 * 1024.0 / 8.0,
        "gbit" => 1024.0 * 1024.0 * 1024.0 / 8.0,
        _ => return Err(bad()),
    };
    let v = n * mult;
    if v > u32::MAX as f64 {
        return Err(bad());
    }
    Ok(v.round() as u64)
}

/// A time in microseconds. A bare number is µs; `s`/`sec`/`secs`, `ms`/`msec`/`msecs`,
/// `us`/`usec`/`usecs`. Linux: `get_time`.
pub fn parse_time(word: &str) -> Result<u64, TcError> {
    let bad = || tc_err!("invalid time \"{word}\" (use e.g. 50ms, 1s, 500us)");
    let (n, unit) = split_num(word).ok_or_else(bad)?;
    let mult: f64 = match unit.to_ascii_lowercase().as_str() {
        "s" | "sec" | "secs" => 1e6,
        "ms" | "msec" | "msecs" => 1e3,
        "" | "us" | "usec" | "usecs" => 1.0,
        _ => return Err(bad()),
    };
    let v = n * mult;
    if v > (u32::MAX as f64) * 1000.0 {
        return Err(bad());
    }
    Ok(v.round() as u64)
}

/// A percentage (`10%`, `10`, `0.5%`) as a fraction in [0, 1]. Linux: `get_percent`.
pub fn parse_percent(word: &str) -> Result<f64, TcError> {
    let bad = || tc_err!("invalid percentage \"{word}\" (use e.g. 10%, 0.5%)");
    let s = word.strip_suffix('%').unwrap_or(word);
    let (n, rest) = split_num(s).ok_or_else(bad)?;
    if !rest.is_empty() || n > 100.0 {
        return Err(bad());
    }
    Ok(n / 100.0)
}

/// An unsigned integer option (decimal or 0x hex).
pub fn parse_u32(word: &str, what: &str) -> Result<u32, TcError> {
    let r = match word.strip_prefix("0x") {
        Some(h) => u32::from_str_radix(h, 16),
        None => word.parse(),
    };
    r.map_err(|_| tc_err!("invalid {what} \"{word}\""))
}

/// Print a size as tc does (`32Kb`, `1Mb`, `1514b`). Linux: `sprint_size`.
pub fn fmt_size(bytes: u64) -> String {
    let b = bytes as f64;
    let mb = 1024.0 * 1024.0;
    if b >= mb && (mb * (b / mb).round() - b).abs() < 1024.0 {
        format!("{}Mb", (b / mb).round())
    } else if b >= 1024.0 && (1024.0 * (b / 1024.0).round() - b).abs() < 16.0 {
        format!("{}Kb", (b / 1024.0).round())
    } else {
        format!("{bytes}b")
    }
}

/// Print a time given in µs as tc does (`50ms`, `1s`, `500us`). Linux: `sprint_time`.
pub fn fmt_time(us: u64) -> String {
    let t = us as f64;
    let trim = |v: f64, unit: &str| {
        if (v - v.round()).abs() < 0.05 {
            format!("{}{unit}", v.round())
        } else {
            format!("{v:.1}{unit}")
        }
    };
    if t >= 1e6 {
        trim(t / 1e6, "s")
    } else if t >= 1e3 {
        trim(t / 1e3, "ms")
    } else {
        format!("{us}us")
    }
}

/// Print a fraction as a percentage (`10%`, `0.5%`).
pub fn fmt_percent(p: f64) -> String {
    let v = p * 100.0;
    if (v - v.round()).abs() < 1e-9 {
        format!("{}%", v.round())
    } else {
        format!("{}%", (v * 1000.0).round() / 1000.0)
    }
}

/// A handle or class id `MAJ:MIN` in hex (`1:`, `1:10`, `ffff:`), or `root`/`none`.
/// Linux: `get_tc_classid` / `get_qdisc_handle`.
pub fn parse_handle(word: &str) -> Result<u32, TcError> {
    let bad = || tc_err!("invalid handle \"{word}\" (use MAJOR: or MAJOR:MINOR in hex)");
    match word {
        "root" => return Ok(ROOT_HANDLE),
        "none" => return Ok(0),
        _ => {}
    }
    let (maj, min) = word.split_once(':').ok_or_else(bad)?;
    let maj = if maj.is_empty() {
        0
    } else {
        u32::from_str_radix(maj, 16).map_err(|_| bad())?
    };
    let min = if min.is_empty() {
        0
    } else {
        u32::from_str_radix(min, 16).map_err(|_| bad())?
    };
    if maj > 0xffff || min > 0xffff {
        return Err(bad());
    }
    Ok((maj << 16) | min)
}

/// Word-by-word access to the arguments of a tc command, with errors naming the word.
#[derive(Debug)]
pub struct Args<'a> {
    words: &'a [String],
    pos: usize,
}

impl<'a> Args<'a> {
    /// Iterate over `words`.
    pub fn new(words: &'a [String]) -> Args<'a> {
        Args { words, pos: 0 }
    }

    /// The next word.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Option<&'a str> {
        let w = self.words.get(self.pos)?;
        self.pos += 1;
        Some(w.as_str())
    }

    /// The next word without consuming it.
    pub fn peek(&self) -> Option<&'a str> {
        self.words.get(self.pos).map(|s| s.as_str())
    }

    /// The value following option `opt`, or an error naming it.
    pub fn value(&mut self, opt: &str) -> Result<&'a str, TcError> {
        self.next()
            .ok_or_else(|| tc_err!("option \"{opt}\" needs a value"))
    }

    /// The next word if it parses with `f` (else nothing is consumed).
    pub fn optional<T>(&mut self, f: impl Fn(&str) -> Result<T, TcError>) -> Option<T> {
        let v = f(self.peek()?).ok()?;
        self.pos += 1;
        Some(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_as_tc_reads_them() {
        assert_eq!(parse_rate("10mbit").unwrap(), 10_000_000);
        assert_eq!(parse_rate("10Mbit").unwrap(), 10_000_000);
        assert_eq!(parse_rate("500kbit").unwrap(), 500_000);
        assert_eq!(parse_rate("1gbit").unwrap(), 1_000_000_000);
        assert_eq!(parse_rate("1000").unwrap(), 1000);
        assert_eq!(parse_rate("125kbps").unwrap(), 1_000_000);
        assert_eq!(parse_rate("100bps").unwrap(), 800);
        assert_eq!(parse_rate("1mibit").unwrap(), 1_048_576);
        assert_eq!(parse_rate("1.5mbit").unwrap(), 1_500_000);
        for bad in ["", "mbit", "10mbitz", "ten", "-5kbit", "0", "1e3"] {
            let e = parse_rate(bad).unwrap_err();
            assert!(e.0.contains(&format!("\"{bad}\"")), "{e}");
        }
    }

    #[test]
    fn sizes_times_percents() {
        assert_eq!(parse_size("1514").unwrap(), 1514);
        assert_eq!(parse_size("32kb").unwrap(), 32 * 1024);
        assert_eq!(parse_size("32k").unwrap(), 32 * 1024);
        assert_eq!(parse_size("1mb").unwrap(), 1 << 20);
        assert_eq!(parse_size("16kbit").unwrap(), 2048);
        assert_eq!(parse_size("10b").unwrap(), 10);
        assert!(parse_size("10q").unwrap_err().0.contains("\"10q\""));
        assert_eq!(parse_time("50ms").unwrap(), 50_000);
        assert_eq!(parse_time("1s").unwrap(), 1_000_000);
        assert_eq!(parse_time("1.5ms").unwrap(), 1500);
        assert_eq!(parse_time("300").unwrap(), 300);
        assert_eq!(parse_time("20usec").unwrap(), 20);
        assert!(parse_time("5min").is_err());
        assert!((parse_percent("10%").unwrap() - 0.1).abs() < 1e-12);
        assert!((parse_percent("0.5").unwrap() - 0.005).abs() < 1e-12);
        assert!(parse_percent("101%").is_err());
        assert!(parse_percent("x%").is_err());
    }

    #[test]
    fn printing_like_tc() {
        assert_eq!(fmt_rate(10_000_000), "10Mbit");
        assert_eq!(fmt_rate(1_500_000), "1500Kbit");
        assert_eq!(fmt_rate(300), "300bit");
        assert_eq!(fmt_rate(1_000_000_000), "1Gbit");
        assert_eq!(fmt_size(32 * 1024), "32Kb");
        assert_eq!(fmt_size(1 << 20), "1Mb");
        assert_eq!(fmt_size(1514), "1514b");
        assert_eq!(fmt_time(50_000), "50ms");
        assert_eq!(fmt_time(1_500), "1.5ms");
        assert_eq!(fmt_time(2_000_000), "2s");
        assert_eq!(fmt_time(200), "200us");
        assert_eq!(fmt_percent(0.1), "10%");
        assert_eq!(parse_handle("1:").unwrap(), 0x10000);
        assert_eq!(parse_handle("1:10").unwrap(), 0x10010);
        assert_eq!(parse_handle("root").unwrap(), ROOT_HANDLE);
        assert_eq!(fmt_handle(0x10010), "1:10");
        assert_eq!(fmt_handle(0x100000), "10:");
        assert!(parse_handle("x:1").unwrap_err().0.contains("\"x:1\""));
        assert!(parse_handle("12345:").is_err());
    }
}
