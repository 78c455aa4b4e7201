//! What the stack's tc errors need: the error type, handles as tc prints them and rates as
//! its messages name them. Reading and printing tc's words is user space's
//! (`linnet-tools`' tc/units.rs).
//!
//! Linux/iproute2: `sprint_rate`, `print_tc_classid` (tc/tc_util.c).

use std::fmt;

/// A user error in a tc command: the message names the bad word. Nothing was changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcError(pub String);

impl fmt::Display for TcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TcError {}

/// Build a [`TcError`] from a format string.
macro_rules! tc_err {
    ($($t:tt)*) => { $crate::qdisc::units::TcError(format!($($t)*)) };
}
pub(crate) use tc_err;

/// Print a rate as tc does (`10Mbit`, `1500Kbit`, `300bit`). Linux: `sprint_rate`.
pub fn fmt_rate(bits: u64) -> String {
    const UNITS: [&str; 5] = ["", "K", "M", "G", "T"];
    let mut r = bits as f64;
    let mut i = 0;
    while i < UNITS.len() - 1 {
        if r < 1000.0 || (r % 1000.0 != 0.0 && r < 1e6) {
            break;
        }
        r /= 1000.0;
        i += 1;
    }
    format!("{r:.0}{}bit", UNITS[i])
}

/// The `root` pseudo-handle (Linux: `TC_H_ROOT`).
pub const ROOT_HANDLE: u32 = 0xffff_ffff;

/// Print a handle as tc does: `1:` for a qdisc (minor 0), `1:10` for a class.
pub fn fmt_handle(h: u32) -> String {
    if h == ROOT_HANDLE {
        return "root".into();
    }
    let (maj, min) = (h >> 16, h & 0xffff);
    if min == 0 {
        format!("{maj:x}:")
    } else {
        format!("{maj:x}:{min:x}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_and_handles_as_tc_prints_them() {
        assert_eq!(fmt_rate(10_000_000), "10Mbit");
        assert_eq!(fmt_rate(1_500_000), "1500Kbit");
        assert_eq!(fmt_rate(300), "300bit");
        assert_eq!(fmt_rate(1_000_000_000), "1Gbit");
        assert_eq!(fmt_handle(0x10010), "1:10");
        assert_eq!(fmt_handle(0x100000), "10:");
        assert_eq!(fmt_handle(ROOT_HANDLE), "root");
    }
}
