//! `tc` lines of a script's shell commands, applied to the stack under test. The harness's
//! `tc` shim appends each invocation's arguments as one line (arguments separated by the
//! unit separator, 0x1f) to the file `.tc` of the sysctl directory; before every socket
//! call the library runs the new lines through Linnet's `tc` ([`linnet_tools::tc::Tc`]), so
//! `tc qdisc add dev tun0 root pfifo limit 0` installs that qdisc on the device the stack
//! sends through. A line Linnet refuses (a qdisc it does not have, as `fq`) changes nothing,
//! as a failing `tc` leaves Linux's device as it was.
//!
//! Linux: `tc_modify_qdisc` (net/sched/sch_api.c) behind iproute2's tc.

use linnet::{Instant, Stack};
use linnet_tools::tc::Tc;

/// The file the shim appends to, in the sysctl directory.
pub const TC_FILE: &str = ".tc";

/// Where the shim's lines are read from, and how far they were applied.
#[derive(Debug)]
pub struct TcLog {
    path: String,
    done: usize,
}

impl TcLog {
    /// Follow `DIR/.tc`.
    pub fn new(dir: String) -> TcLog {
        TcLog {
            path: format!("{dir}/{TC_FILE}"),
            done: 0,
        }
    }

    /// Run the lines appended since the last call.
    pub fn apply_new(&mut self, stack: &mut Stack, now: Instant) {
        let Ok(text) = std::fs::read(&self.path) else {
            return;
        };
        if text.len() <= self.done {
            return;
        }
        let new = &text[self.done..];
        // Only whole lines: the shim may be writing the last one.
        let Some(end) = new.iter().rposition(|&b| b == b'\n') else {
            return;
        };
        for line in new[..=end].split(|&b| b == b'\n') {
            let argv: Vec<String> = line
                .split(|&b| b == 0x1f)
                .filter(|a| !a.is_empty())
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect();
            if !argv.is_empty() {
                let _ = stack.tc(&argv, now);
            }
        }
        self.done += end + 1;
    }
}
