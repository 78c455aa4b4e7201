//! The Linux peers the tests drive, run inside a namespace, each bounded in time: servers
//! and clients started in the background ([`spawn`], stopped on drop), OpenBSD `nc` sending
//! or receiving a file, `ping` with its RTT summary, and `curl` retried while a server comes
//! up.

use crate::netns::NetNs;
use crate::proc::Reap;
use std::io;
use std::path::Path;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

/// How long an `nc` transfer may take before `timeout(1)` ends it.
const NC_LIMIT: Duration = Duration::from_secs(60);

/// `timeout -k 2 SECS`: the prefix that bounds a command in time (SIGTERM at the limit,
/// SIGKILL 2 s later).
fn timeout_prefix(limit: Duration) -> [String; 4] {
    [
        "timeout".into(),
        "-k".into(),
        "2".into(),
        format!("{:.3}", limit.as_secs_f64()),
    ]
}

/// Start `args` in `ns` in the background, ended by `timeout(1)` after `limit` at the latest
/// and stopped when the returned [`Reap`] drops: a Linux server, or a client left running.
/// Its stdin and stdout are `/dev/null`; its stderr is the test's.
pub fn spawn(ns: &NetNs, limit: Duration, args: &[&str]) -> io::Result<Reap> {
    let mut cmd = ns.command("timeout");
    cmd.args(&timeout_prefix(limit)[1..])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    cmd.spawn().map(Reap)
}

/// OpenBSD `nc` in `ns` sends `file` to `dst` `port`, half-closes when done (`-N`) and waits
/// up to 20 s for the peer to finish (`-w 20`); the whole run is bounded by a minute.
pub fn nc_send_file(ns: &NetNs, dst: &str, port: u16, file: &Path) -> io::Result<Output> {
    let port = port.to_string();
    let file = file.to_string_lossy();
    let mut args: Vec<&str> = Vec::new();
    let prefix = timeout_prefix(NC_LIMIT);
    args.extend(prefix.iter().map(String::as_str));
    args.extend([
        "sh",
        "-c",
        r#"exec nc -N -w 20 "$1" "$2" < "$3""#,
        "sh",
        dst,
        &port,
        &file,
    ]);
    ns.exec(&args)
}

/// OpenBSD `nc` in `ns` listens on `bind` `port` in the background and writes what one
/// client sends to `file` (`/dev/null` to discard it); it closes its side when the client
/// does (`-N`) and gives up after 20 s without data (`-w 20`), a minute at most. Wait on the
/// returned child for its exit status.
pub fn nc_receive_file(ns: &NetNs, bind: &str, port: u16, file: &Path) -> io::Result<Reap> {
    let port = port.to_string();
    let file = file.to_string_lossy();
    let mut cmd = ns.command("timeout");
    cmd.args(&timeout_prefix(NC_LIMIT)[1..])
        .args([
            "sh",
            "-c",
            r#"exec nc -l -w 20 -N "$1" "$2" > "$3""#,
            "sh",
            bind,
            &port,
            &file,
        ])
        .stdin(Stdio::null());
    cmd.spawn().map(Reap)
}

/// `ping -c COUNT -i INTERVAL -W 2 DST` in `ns` (each reply waited for at most 2 s).
pub fn ping(ns: &NetNs, dst: &str, count: u32, interval: &str) -> io::Result<Output> {
    let count = count.to_string();
    ns.exec(&["ping", "-c", &count, "-i", interval, "-W", "2", dst])
}

/// The average RTT in ms from ping's summary line (`rtt min/avg/max/mdev = a/b/c/d ms`).
/// Panics, showing the output, when there is none.
pub fn avg_rtt(out: &str) -> f64 {
    rtt_field(out, 1)
}

/// The minimum RTT in ms from ping's summary line: what a path adds, unlike the average,
/// which one late reply on a busy machine can move by milliseconds. Panics, showing the
/// output, when there is none.
pub fn min_rtt(out: &str) -> f64 {
    rtt_field(out, 0)
}

/// Field `n` (min, avg, max, mdev) of ping's summary line.
fn rtt_field(out: &str, n: usize) -> f64 {
    let line = out
        .lines()
        .find(|l| l.starts_with("rtt ") || l.starts_with("round-trip"))
        .unwrap_or_else(|| panic!("no rtt summary in {out}"));
    let nums = line.split('=').nth(1).expect("values").trim();
    nums.split('/')
        .nth(n)
        .and_then(|x| x.trim().trim_end_matches(" ms").parse().ok())
        .unwrap_or_else(|| panic!("no rtt field {n} in {line}"))
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
        assert_eq!(min_rtt(linux), 0.041);
        assert_eq!(min_rtt(bsd), 1.0);
    }

    #[test]
    #[should_panic(expected = "no rtt summary")]
    fn no_summary_is_a_clear_failure() {
        avg_rtt("100% packet loss");
    }
}
