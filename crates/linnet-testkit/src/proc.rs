//! Processes and waits: a child killed and reaped on drop, names unique to this process, and
//! bounded waits (for an interface, a listening port, any condition), so a test never hangs
//! and never leaves a process behind.

use crate::netns::NetNs;
use std::path::Path;
use std::process::Child;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// Stops and reaps a child process when dropped, so a failed assertion leaves nothing behind:
/// SIGTERM first (a `timeout(1)` wrapper passes it on to its command, where SIGKILL would
/// leave the command running, orphaned), SIGKILL after half a second.
pub struct Reap(pub Child);

impl Drop for Reap {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(Some(_))) {
            return;
        }
        if let Ok(pid) = i32::try_from(self.0.id()) {
            // SAFETY: kill(2) on our own child's pid, which has not been reaped yet.
            unsafe { libc::kill(pid, libc::SIGTERM) };
        }
        for _ in 0..50 {
            if matches!(self.0.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A name made of `prefix`, this process's id and a counter: unique among the tests running
/// at once. Keep `prefix` to 4 bytes or so for interface names (at most 15 bytes).
pub fn unique(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    format!("{prefix}{}x{n}", std::process::id() % 100_000)
}

/// Call `cond` every `every` until it is true (returns true) or `limit` has passed (returns
/// false, after one last try).
pub fn wait_until(limit: Duration, every: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return cond();
        }
        std::thread::sleep(every);
    }
}

/// Wait (at most 5 s) for interface `name` to appear in the caller's namespace (a TAP that
/// another process opens). Panics naming it otherwise.
pub fn wait_for_link(name: &str) {
    let there = wait_until(Duration::from_secs(5), Duration::from_millis(20), || {
        Path::new("/sys/class/net").join(name).exists()
    });
    assert!(there, "{name} did not appear");
}

/// Wait (at most `limit`) until something listens on TCP `port` in `ns` (or here, when
/// `None`), as `ss -Hltn` shows it: for a Linux server started in the background. Returns
/// whether it did.
pub fn wait_for_port(ns: Option<&NetNs>, port: u16, limit: Duration) -> bool {
    let filter = format!("sport = :{port}");
    let args = ["ss", "-Hltn", filter.as_str()];
    wait_until(limit, Duration::from_millis(20), || {
        let out = match ns {
            Some(ns) => ns.exec(&args),
            None => std::process::Command::new(args[0])
                .args(&args[1..])
                .output(),
        };
        out.is_ok_and(|o| o.status.success() && !o.stdout.is_empty())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_fit_an_interface() {
        let (a, b) = (unique("lnt"), unique("lnt"));
        assert_ne!(a, b);
        assert!(a.len() <= 15, "{a}");
    }

    #[test]
    fn waits_are_bounded() {
        let t = Instant::now();
        assert!(!wait_until(
            Duration::from_millis(50),
            Duration::from_millis(10),
            || false
        ));
        assert!(t.elapsed() < Duration::from_secs(2));
        let mut n = 0;
        assert!(wait_until(Duration::from_secs(5), Duration::ZERO, || {
            n += 1;
            n == 3
        }));
    }

    #[test]
    fn a_listening_port_is_seen_and_a_closed_one_is_not() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        assert!(wait_for_port(None, port, Duration::from_secs(2)));
        drop(l);
        assert!(!wait_for_port(None, port, Duration::from_millis(100)));
    }

    #[test]
    fn reap_kills_its_child() {
        let child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let pid = child.id();
        drop(Reap(child));
        assert!(!Path::new(&format!("/proc/{pid}")).exists());
    }
}
