//! What a test needs from the machine, checked once per process, with the reason when it is
//! missing. The harness ([`crate::harness`]) reports a test whose needs are not met as
//! ignored with that reason; as root on a machine with the tools, every test runs.

use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// One requirement of a test.
#[derive(Debug, Clone, Copy)]
pub enum Need {
    /// Running as root (effective uid 0): TAP devices and `ip link` changes.
    Root,
    /// Network namespaces can be made here: root, iproute2's `ip netns`, and a probe
    /// namespace that could really be added and deleted (an unprivileged user namespace
    /// that maps root passes the uid check and still cannot mount `/run/netns`).
    Netns,
    /// `/dev/net/tun` exists (TAP devices).
    Tun,
    /// A program on `PATH` (`command -v NAME`).
    Tool(&'static str),
    /// Anything else: a description for the reason, and the check.
    Other(&'static str, fn() -> bool),
}

/// True when the process runs as root (effective uid 0).
pub fn is_root() -> bool {
    // SAFETY: geteuid(2) cannot fail and touches no memory.
    unsafe { libc::geteuid() == 0 }
}

/// True when `cmd` is a program on `PATH` (the shell's `command -v`).
pub fn have(cmd: &str) -> bool {
    Command::new("sh")
        .args(["-c", "command -v \"$1\"", "sh", cmd])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// True when network namespaces can be used here (see [`Need::Netns`]). The probe runs once
/// per process.
pub fn have_netns() -> bool {
    netns_probe().is_ok()
}

/// Why namespaces cannot be used, or `Ok` (the first call adds and deletes a namespace).
fn netns_probe() -> Result<(), String> {
    static PROBE: OnceLock<Result<(), String>> = OnceLock::new();
    PROBE
        .get_or_init(|| {
            if !is_root() {
                return Err(ROOT_REASON.to_string());
            }
            if !have("ip") {
                return Err("needs iproute2's `ip` on PATH".to_string());
            }
            crate::netns::NetNs::new("lnprobe").map(drop).map_err(|e| {
                let e = e.to_string();
                // Keep the command's own complaint (`ip` says what it could not do).
                let why = e.rsplit("stderr: ").next().unwrap_or(&e).trim_matches('"');
                format!("cannot make a network namespace here: {why}")
            })
        })
        .clone()
}

/// The reason given for [`Need::Root`].
const ROOT_REASON: &str = "needs root for network namespaces and TAP devices";

impl Need {
    /// `Ok` when the requirement is met, otherwise the reason, as the harness prints it.
    pub fn check(&self) -> Result<(), String> {
        match *self {
            Need::Root if is_root() => Ok(()),
            Need::Root => Err(ROOT_REASON.to_string()),
            Need::Netns => netns_probe(),
            Need::Tun if std::path::Path::new("/dev/net/tun").exists() => Ok(()),
            Need::Tun => Err("needs /dev/net/tun (TAP devices)".to_string()),
            Need::Tool(t) if have(t) => Ok(()),
            Need::Tool(t) => Err(format!("needs `{t}` on PATH")),
            Need::Other(_, check) if check() => Ok(()),
            Need::Other(what, _) => Err(format!("needs {what}")),
        }
    }
}

/// The first unmet requirement's reason, or `None` when all are met. Root comes first so a
/// non-root run says so rather than naming a tool.
pub fn unmet(needs: &[Need]) -> Option<String> {
    let first = needs
        .iter()
        .filter(|n| matches!(n, Need::Root | Need::Netns));
    let rest = needs
        .iter()
        .filter(|n| !matches!(n, Need::Root | Need::Netns));
    first.chain(rest).find_map(|n| n.check().err())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tools_are_found_on_path_and_missing_ones_named() {
        assert!(have("sh"));
        assert!(!have("no-such-tool-linnet"));
        assert!(!have("sh; true"), "the name is not shell code");
        assert!(Need::Tool("sh").check().is_ok());
        let why = Need::Tool("no-such-tool-linnet").check().unwrap_err();
        assert!(why.contains("`no-such-tool-linnet`"), "{why}");
        assert_eq!(
            Need::Other("a miracle", || false).check().unwrap_err(),
            "needs a miracle"
        );
        assert_eq!(unmet(&[Need::Tool("sh"), Need::Other("x", || true)]), None);
    }

    #[test]
    fn root_is_reported_before_a_missing_tool() {
        let why = unmet(&[Need::Tool("no-such-tool-linnet"), Need::Root]).unwrap();
        if is_root() {
            assert!(why.contains("no-such-tool-linnet"), "{why}");
        } else {
            assert!(why.starts_with("needs root"), "{why}");
        }
    }
}
