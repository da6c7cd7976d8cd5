//! Origin of a message: Received parsing and the trust path.
//!
//! Pure and synchronous: no I/O, no logging, no panics on any input.

pub mod networks;
pub mod received;
pub mod trust;

pub use networks::{NetworkError, NetworkList, canonical_ip, parse_ip_text};
pub use received::{Hop, parse_received};
pub use trust::{Origin, OriginMethod, TrustInput, find_origin};
