//! Linnet's test kit: what the tests that talk to the Linux kernel share, so that each test
//! file states what it checks and not how a namespace is made.
//!
//! - [`netns`]: network namespaces ([`NetNs`], removed on drop even when a test panics),
//!   veth pairs, moving a TAP or veth end into a namespace with its address, commands run
//!   inside a namespace (with a time limit), code run inside one ([`NetNs::run_in`]).
//! - [`need`]: what a test needs from the machine (root, a tool on `PATH`, `/dev/net/tun`),
//!   checked once, with the reason when it is missing.
//! - [`harness`]: a test harness (for `[[test]] harness = false` binaries) on `libtest-mimic`
//!   that reports a test whose needs are not met as *ignored*, with the reason, instead of
//!   letting it pass having done nothing. Filters, `--nocapture`, `--test-threads`,
//!   `--list`, `--exact` and `--skip` work as with Rust's own harness.
//! - [`proc`]: child processes killed and reaped on drop, unique interface names, bounded
//!   waits for an interface, a port or any condition.
//! - [`peer`]: the Linux peers the tests drive (servers under `timeout`, `nc` file transfers,
//!   `ping`, `curl`), each with a bound.
//! - [`addr`]: the documentation addresses (RFC 5737) the tests use, and only those.
//!
//! This crate does not depend on `linnet`: it is the Linux side of the tests. Each crate's
//! own `tests/common` keeps what needs Linnet's types (a Linnet host on a TAP, for example).

pub mod addr;
pub mod harness;
pub mod need;
pub mod netns;
pub mod peer;
pub mod proc;

pub use harness::{run, Test};
pub use need::Need;
pub use netns::NetNs;
