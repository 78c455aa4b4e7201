//! The core below every protocol: socket identity.
//!
//! Linux: net/core/.

pub mod sock;
