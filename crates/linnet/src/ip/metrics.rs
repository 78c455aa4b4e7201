//! Route metrics: the per-route numbers TCP and IP take from the route a packet leaves by
//! (`ip route add ... mtu lock 1400 advmss 1360 initcwnd 20`), and their `ip route` syntax.
//!
//! Linux: the `RTAX_*` metrics of include/uapi/linux/rtnetlink.h, kept per `fib_info`
//! (`fib_convert_metrics`, `ip_metrics_convert`) and read through the route with
//! `dst_metric` / `dst_metric_locked`; iproute2's `ip route` parses them
//! (`parse_one_nh`/`iproute_modify`: `mtu [lock] N`, `advmss N`, ...).

use serde::{Deserialize, Serialize};

/// Largest MTU a route may carry. Linux: `IP_MAX_MTU` (0xFFF0).
pub const IP_MAX_MTU: u32 = 0xfff0;

/// A metric's slot. Linux: `RTAX_*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rtax {
    /// `mtu`: the path MTU towards the destination. Linux: `RTAX_MTU`.
    Mtu,
    /// `advmss`: the MSS TCP advertises in its SYN and SYN-ACK. Linux: `RTAX_ADVMSS`.
    Advmss,
    /// `initcwnd`: TCP's initial congestion window, segments. Linux: `RTAX_INITCWND`.
    Initcwnd,
}

/// The other metrics `ip route` knows, which Linnet does not keep: refused by name rather
/// than taken and ignored.
const UNSUPPORTED: [&str; 12] = [
    "window",
    "rtt",
    "rttvar",
    "ssthresh",
    "cwnd",
    "initrwnd",
    "quickack",
    "features",
    "rto_min",
    "hoplimit",
    "reordering",
    "congctl",
];

impl Rtax {
    /// Every metric Linnet keeps, in the order `ip route show` prints them.
    pub const ALL: [Rtax; 3] = [Rtax::Mtu, Rtax::Advmss, Rtax::Initcwnd];

    /// The keyword `ip route` uses.
    pub fn name(self) -> &'static str {
        match self {
            Rtax::Mtu => "mtu",
            Rtax::Advmss => "advmss",
            Rtax::Initcwnd => "initcwnd",
        }
    }

    /// The metric a keyword names.
    pub fn from_name(w: &str) -> Option<Rtax> {
        Rtax::ALL.into_iter().find(|m| m.name() == w)
    }

    /// Linux's `RTAX_*` number (the bit `RTAX_LOCK` sets for it is `1 << n`).
    pub fn number(self) -> u32 {
        match self {
            Rtax::Mtu => 2,
            Rtax::Advmss => 8,
            Rtax::Initcwnd => 11,
        }
    }

    /// The largest value kept; larger ones are lowered to it (`ip_metrics_convert`: the
    /// MTU to `IP_MAX_MTU`, the advertised MSS to 65535 - 40).
    fn max(self) -> u32 {
        match self {
            Rtax::Mtu => IP_MAX_MTU,
            Rtax::Advmss => 65535 - 40,
            Rtax::Initcwnd => u32::MAX,
        }
    }
}

/// A route's metrics; zero means unset (the default applies). Linux: the `RTAX_*` array of
/// a `fib_info` (`fib_metrics`) with its `RTAX_LOCK` bits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RouteMetrics {
    /// `mtu` (0: the device's).
    #[serde(default)]
    pub mtu: u32,
    /// `advmss` (0: from the MTU).
    #[serde(default)]
    pub advmss: u32,
    /// `initcwnd` (0: `TCP_INIT_CWND`).
    #[serde(default)]
    pub initcwnd: u32,
    /// Locked metrics: bit `1 << Rtax::number()`. A locked MTU is not lowered by path MTU
    /// discovery and lets routers fragment (DF is not set). Linux: `RTAX_LOCK`.
    #[serde(default)]
    pub locks: u32,
}

impl RouteMetrics {
    /// The value of `m` (0: unset). Linux: `dst_metric_raw`.
    pub fn get(&self, m: Rtax) -> u32 {
        match m {
            Rtax::Mtu => self.mtu,
            Rtax::Advmss => self.advmss,
            Rtax::Initcwnd => self.initcwnd,
        }
    }

    /// Set `m` to `v`.
    pub fn set(&mut self, m: Rtax, v: u32) {
        match m {
            Rtax::Mtu => self.mtu = v,
            Rtax::Advmss => self.advmss = v,
            Rtax::Initcwnd => self.initcwnd = v,
        }
    }

    /// Whether `m` is locked. Linux: `dst_metric_locked`.
    pub fn locked(&self, m: Rtax) -> bool {
        self.locks & (1 << m.number()) != 0
    }

    /// Whether the route's MTU is locked. Linux: `ip_mtu_locked` (the route part).
    pub fn mtu_locked(&self) -> bool {
        self.locked(Rtax::Mtu)
    }

    /// Whether no metric is set.
    pub fn is_empty(&self) -> bool {
        *self == RouteMetrics::default()
    }

    /// Take `w` (and the words after it) if it names a metric: `mtu [lock] N`,
    /// `advmss [lock] N`, `initcwnd [lock] N` (0 unsets it; too large a value is lowered to
    /// the largest). Returns `Ok(false)` when `w` is no metric keyword, an error naming the
    /// word when the value is missing or not a number, or the metric one Linnet does not keep.
    /// Linux: iproute2's `iproute_modify` metric words, `ip_metrics_convert`'s checks.
    pub fn parse_word<'a, I>(&mut self, w: &str, rest: &mut I) -> Result<bool, String>
    where
        I: Iterator<Item = &'a str>,
    {
        if UNSUPPORTED.contains(&w) {
            return Err(format!(
                "Error: route metric \"{w}\" is not supported (Linnet keeps mtu, advmss, initcwnd)."
            ));
        }
        let Some(m) = Rtax::from_name(w) else {
            return Ok(false);
        };
        let mut v = rest
            .next()
            .ok_or_else(|| format!("Error: argument \"{w}\" needs a value."))?;
        let mut lock = false;
        if v == "lock" {
            lock = true;
            v = rest
                .next()
                .ok_or_else(|| format!("Error: argument \"{w} lock\" needs a value."))?;
        }
        let n: u32 = v
            .parse()
            .map_err(|_| format!("Error: argument \"{v}\" is wrong: \"{w}\" value is invalid"))?;
        self.set(m, n.min(m.max()));
        if lock {
            self.locks |= 1 << m.number();
        } else {
            self.locks &= !(1 << m.number());
        }
        Ok(true)
    }

    /// The metrics as `ip route show` prints them after the route (` mtu lock 1400 advmss
    /// 1360`), empty when none is set.
    pub fn show(&self) -> String {
        let mut s = String::new();
        for m in Rtax::ALL {
            let v = self.get(m);
            if v == 0 {
                continue;
            }
            s.push(' ');
            s.push_str(m.name());
            if self.locked(m) {
                s.push_str(" lock");
            }
            s.push_str(&format!(" {v}"));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> Result<RouteMetrics, String> {
        let mut m = RouteMetrics::default();
        let mut it = line.split_whitespace();
        while let Some(w) = it.next() {
            if !m.parse_word(w, &mut it)? {
                return Err(format!("not a metric: {w}"));
            }
        }
        Ok(m)
    }

    #[test]
    fn metric_words_parse_and_print_back() {
        let m = parse("advmss 600 mtu lock 640 initcwnd 11").unwrap();
        assert_eq!((m.mtu, m.advmss, m.initcwnd), (640, 600, 11));
        assert!(m.mtu_locked());
        assert!(!m.locked(Rtax::Advmss));
        assert_eq!(m.show(), " mtu lock 640 advmss 600 initcwnd 11");
        // A later unlocked value unlocks it, as a new `ip route change` line would.
        let m = parse("mtu lock 640 mtu 1500").unwrap();
        assert!(!m.mtu_locked());
        assert_eq!(m.show(), " mtu 1500");
        assert!(RouteMetrics::default().is_empty());
        // Too large is lowered (Linux: ip_metrics_convert), 0 unsets.
        let m = parse("mtu 70000 advmss 65500").unwrap();
        assert_eq!((m.mtu, m.advmss), (IP_MAX_MTU, 65495));
        assert!(parse("initcwnd 0").unwrap().is_empty());
    }

    #[test]
    fn bad_metric_values_are_named() {
        for (line, word) in [
            ("mtu", "mtu"),
            ("mtu lock", "mtu lock"),
            ("mtu big", "big"),
            ("initcwnd -1", "-1"),
            ("initrwnd 20", "initrwnd"),
        ] {
            let e = parse(line).unwrap_err();
            assert!(e.contains(word), "{line}: {e}");
        }
        let mut m = RouteMetrics::default();
        assert_eq!(m.parse_word("via", &mut std::iter::empty()), Ok(false));
    }
}
