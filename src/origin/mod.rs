//! Origin of a message: Received parsing and the trust path.
//!
//! Pure and synchronous: no I/O, no logging, no panics on any input.

pub mod bounce;
pub mod headers;
pub mod networks;
pub mod received;
pub mod settings;
pub mod trust;

pub use networks::{NetworkError, NetworkList, canonical_ip, parse_ip_text};
pub use received::{Hop, parse_received};
pub use settings::{TrustError, TrustSettings};
pub use trust::{
    ORIGINATING_IP_HEADERS, Origin, OriginMethod, Relay, RelaySource, TrustInput, TrustPath,
    find_origin, trust_path,
};
