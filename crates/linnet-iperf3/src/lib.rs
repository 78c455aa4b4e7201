//! An iperf3-compatible server on Linnet sockets, used by linnet's `iperf3-server` example and
//! its `linux_iperf` test (Linux's stock `iperf3 -c` against it in a namespace).
//!
//! - [`proto`]: iperf3's control protocol: state bytes, the cookie, length-prefixed JSON, the
//!   parameter and result objects. Pure, no sockets.
//! - [`server`]: one test at a time over `linnet::{TcpListener, TcpStream}`: the control
//!   connection, the data streams (client to server, `-R` server to client, `--bidir` both), the
//!   results exchange, and a report of what was counted.

pub mod proto;
pub mod server;
