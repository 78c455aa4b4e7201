//! The Linux peers the tests drive, run inside a namespace, each bounded in time: `ping`
//! with its RTT summary, and `curl` retried while a server comes up.

use crate::netns::NetNs;
use std::io;
use std::process::Output;
use std::time::{Duration, Instant};

/// `ping -c COUNT -i INTERVAL -W 2 DST` in `ns` (each reply waited for at most 2 s).
pub fn ping(ns: &NetNs, dst: &str, count: u32, interval: &str) -> io::Result<Output> {
    let count = count.to_string();
    ns.exec(&["ping", "-c", &count, "-i", interval, "-W", "2", dst])
}

/// The average RTT in ms from ping's summary line (`rtt min/avg/max/mdev = a/b/c/d ms`).
/// Panics, showing the output, when there is none.
pub fn avg_rtt(out: &str) -> f64 {
    let line = out
        .lines()
        .find(|l| l.starts_with("rtt ") || l.starts_with("round-trip"))
        .unwrap_or_else(|| panic!("no rtt summary in {out}"));
    let nums = line.split('=').nth(1).expect("values").trim();
    nums.split('/')
        .nth(1)
        .expect("avg")
        .parse()
        .expect("number")
}

/// `curl -sS --max-time 3 URL` from `ns` until it succeeds (the server may still be
/// starting), for at most `within`; the body, or the last attempt's output as the error.
pub fn curl_retry(ns: &NetNs, url: &str, within: Duration) -> Result<String, String> {
    let deadline = Instant::now() + within;
    loop {
        let o = ns
            .exec(&["curl", "-sS", "--max-time", "3", url])
            .map_err(|e| format!("curl {url}: {e}"))?;
        if o.status.success() {
            return Ok(String::from_utf8_lossy(&o.stdout).into_owned());
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "curl {url}: {} stdout: {} stderr: {}",
                o.status,
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn average_rtt_is_read_from_either_summary_style() {
        let linux = "3 packets transmitted, 3 received, 0% packet loss, time 402ms\n\
                     rtt min/avg/max/mdev = 0.041/0.050/0.061/0.008 ms\n";
        assert_eq!(avg_rtt(linux), 0.050);
        let bsd = "round-trip min/avg/max = 1.0/2.5/4.0 ms\n";
        assert_eq!(avg_rtt(bsd), 2.5);
    }

    #[test]
    #[should_panic(expected = "no rtt summary")]
    fn no_summary_is_a_clear_failure() {
        avg_rtt("100% packet loss");
    }
}
