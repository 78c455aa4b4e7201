//! The text of Linnet's user-space tools, apart from the stack: iptables's command lines,
//! listings and iptables-save/-restore files, turned into the typed rules and table changes
//! the stack takes, and back; tc's command lines and `show` output. As on Linux, where iptables(8) and its `libxt_*` extensions
//! parse and print in user space and the kernel's x_tables takes binary rules.
//!
//! The CLI (`linnet iptables`) drives a daemon through its control socket; programs and tests
//! that embed a [`linnet::Stack`] use the same front end on it directly
//! ([`iptables::Iptables`]).

#![warn(missing_docs)]

pub mod iptables;
pub mod tc;
