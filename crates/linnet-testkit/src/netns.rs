//! Linux network namespaces for tests and the bench, driven through the `ip` command.
//!
//! Linux: `ip netns` (iproute2) and `setns(2)` with `CLONE_NEWNET`. A [`NetNs`] is a named
//! namespace (`/var/run/netns/NAME`) removed again when the value is dropped, so a test that
//! panics half way still cleans up. Creating one needs root (`CAP_SYS_ADMIN`); tests declare
//! [`crate::Need::Netns`] and the harness reports them ignored otherwise.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

pub use crate::need::{have_netns, is_root};

/// Where `ip netns` keeps its namespace handles. iproute2: `NETNS_RUN_DIR`.
pub const NETNS_RUN_DIR: &str = "/var/run/netns";

/// Longest prefix kept in a generated namespace name (the rest of the name is
/// `-PID-COUNTER`), well within the file-name limit `ip netns` enforces.
const MAX_PREFIX: usize = 32;

/// How many names [`NetNs::new`] tries when one is already taken (a stale namespace left by
/// an earlier process with the same pid).
const NAME_ATTEMPTS: u32 = 8;

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A named network namespace, deleted (`ip netns del`) on drop.
#[derive(Debug)]
pub struct NetNs {
    name: String,
}

/// Keep the characters `ip netns` accepts in a name without fuss, at most [`MAX_PREFIX`].
fn sanitize_prefix(prefix: &str) -> String {
    let mut s: String = prefix
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(MAX_PREFIX)
        .collect();
    if s.is_empty() {
        s.push_str("linnet");
    }
    s
}

/// Run `ip args...`, turning a non-zero exit into an error carrying the command and output.
fn ip(args: &[&str]) -> io::Result<String> {
    let out = Command::new("ip").args(args).output()?;
    check_output(&format!("ip {}", args.join(" ")), out)
}

/// `Ok(stdout)` for a successful command, otherwise an error naming `what` with its output.
fn check_output(what: &str, out: Output) -> io::Result<String> {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if out.status.success() {
        return Ok(stdout);
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    Err(io::Error::other(format!(
        "`{what}` failed ({}): stdout: {:?} stderr: {:?}",
        out.status,
        stdout.trim(),
        stderr.trim()
    )))
}

impl NetNs {
    /// Create a namespace named `PREFIX-PID-COUNTER` (the prefix reduced to `[A-Za-z0-9_-]`
    /// and at most 32 characters) and bring its loopback interface up.
    /// Linux: `ip netns add NAME` + `ip -n NAME link set lo up`.
    pub fn new(prefix: &str) -> io::Result<NetNs> {
        let prefix = sanitize_prefix(prefix);
        let pid = std::process::id();
        for _ in 0..NAME_ATTEMPTS {
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let name = format!("{prefix}-{pid}-{n}");
            if std::path::Path::new(NETNS_RUN_DIR).join(&name).exists() {
                // Left over by an earlier process that had our pid; do not adopt it.
                continue;
            }
            ip(&["netns", "add", &name])?;
            // From here on, Drop removes the namespace whatever happens.
            let ns = NetNs { name };
            ip(&["-n", &ns.name, "link", "set", "lo", "up"])?;
            return Ok(ns);
        }
        Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("no free namespace name for prefix {prefix:?} after {NAME_ATTEMPTS} tries"),
        ))
    }

    /// The namespace's name, as `ip netns list` shows it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Run a command inside the namespace: `ip netns exec NAME args...`. The exit status is
    /// left to the caller; see [`NetNs::exec_ok`].
    pub fn exec(&self, args: &[&str]) -> io::Result<Output> {
        if args.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "NetNs::exec needs a command",
            ));
        }
        Command::new("ip")
            .args(["netns", "exec", &self.name])
            .args(args)
            .output()
    }

    /// Run a command inside the namespace and return its stdout, or an error carrying its
    /// stdout and stderr if it exits unsuccessfully.
    pub fn exec_ok(&self, args: &[&str]) -> io::Result<String> {
        let out = self.exec(args)?;
        check_output(
            &format!("ip netns exec {} {}", self.name, args.join(" ")),
            out,
        )
    }

    /// Make a veth pair: `name` in this namespace, its peer `peer_name` in `peer` (both down).
    /// They go when their namespaces do. `ip link add NAME type veth peer name PEER netns P`.
    pub fn add_veth(&self, name: &str, peer: &NetNs, peer_name: &str) -> io::Result<()> {
        let args = [
            "ip", "link", "add", name, "type", "veth", "peer", "name", peer_name, "netns",
            &peer.name,
        ];
        self.exec_ok(&args).map(drop)
    }

    /// Run `args` inside the namespace with a time limit: `timeout -k 2 SECS` kills it (and
    /// its children) if it runs longer, and the exit status says so (124). Output as
    /// [`NetNs::exec`].
    pub fn exec_timeout(&self, limit: Duration, args: &[&str]) -> io::Result<Output> {
        let secs = format!("{:.3}", limit.as_secs_f64());
        let mut cmd = vec!["timeout", "-k", "2", secs.as_str()];
        cmd.extend_from_slice(args);
        self.exec(&cmd)
    }

    /// A [`Command`] that runs `program` inside the namespace (`ip netns exec NAME program`),
    /// for a caller that wants to spawn it, pipe it or set its environment.
    pub fn command(&self, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name, program]);
        c
    }

    /// Give `dev` (already in this namespace) the address `cidr` and bring it up:
    /// `ip addr add CIDR dev DEV` + `ip link set DEV up`.
    pub fn addr_up(&self, dev: &str, cidr: &str) -> io::Result<()> {
        self.exec_ok(&["ip", "addr", "add", cidr, "dev", dev])?;
        self.exec_ok(&["ip", "link", "set", dev, "up"]).map(drop)
    }

    /// Move `dev` (a TAP or veth end in the caller's namespace) into this namespace, give it
    /// `cidr`, bring it up, and add a default route via `gateway` if given. The TAP's file
    /// descriptor stays valid in its owner. Linux: `ip link set DEV netns NAME` + `ip addr
    /// add` + `ip link set up` + `ip route add default via`.
    pub fn attach(&self, dev: &str, cidr: &str, gateway: Option<&str>) -> io::Result<()> {
        ip(&["link", "set", dev, "netns", &self.name])?;
        self.addr_up(dev, cidr)?;
        if let Some(gw) = gateway {
            self.exec_ok(&["ip", "route", "add", "default", "via", gw])?;
        }
        Ok(())
    }

    /// Run `f` on a new thread that has joined this namespace (`setns(fd, CLONE_NEWNET)`), and
    /// return its result. Sockets, TAP devices and ifreq ioctls made in `f` belong to the
    /// namespace and stay there after `f` returns. A panic in `f` is resumed in the caller.
    pub fn run_in<T: Send, F: FnOnce() -> T + Send>(&self, f: F) -> io::Result<T> {
        let path = std::path::Path::new(NETNS_RUN_DIR).join(&self.name);
        std::thread::scope(|s| {
            let handle = s.spawn(move || -> io::Result<T> {
                let file = File::open(&path).map_err(|e| {
                    io::Error::new(e.kind(), format!("open {}: {e}", path.display()))
                })?;
                // SAFETY: setns(2) on a descriptor we hold open; it only changes this
                // (freshly spawned, otherwise unused) thread's network namespace.
                let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
                if rc != 0 {
                    return Err(io::Error::last_os_error());
                }
                drop(file);
                Ok(f())
            });
            match handle.join() {
                Ok(r) => r,
                Err(panic) => std::panic::resume_unwind(panic),
            }
        })
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_are_sanitized() {
        assert_eq!(sanitize_prefix("a/b c"), "a_b_c");
        assert_eq!(sanitize_prefix(""), "linnet");
        assert_eq!(sanitize_prefix(&"x".repeat(100)).len(), MAX_PREFIX);
    }
}
