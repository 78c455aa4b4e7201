//! An iperf3-compatible server on Linnet sockets, shared by the `iperf3-server` example and the
//! `linux_iperf` test (which includes this directory with `#[path]`).
//!
//! - [`proto`]: iperf3's control protocol: state bytes, the cookie, length-prefixed JSON, the
//!   parameter and result objects. Pure, no sockets.
//! - [`server`]: one test at a time over `linnet::api::{TcpListener, TcpStream}`: the control
//!   connection, the data streams (client to server, `-R` server to client, `--bidir` both), the
//!   results exchange, and a report of what was counted.

// The example and the test each use a different part of the module.
#![allow(dead_code)]

pub mod proto;
pub mod server;
