//! The core below every protocol: socket identity, socket options, the TCP states.
//!
//! Linux: net/core/.

pub mod inet_addr;
pub mod sock;
pub mod sockopt;
pub mod tcp_states;
