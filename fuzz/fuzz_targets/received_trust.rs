//! The Received parser and the trust walk.
//!
//! The input is a header block: each Received field is parsed alone, then
//! the trust path runs over all of them as the milter runs it, with
//! 192.0.2.0/24 and 10/8 trusted, no MSA, and a trusted client.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use wormsign::analysis::received_headers;
use wormsign::origin::{self, TrustInput, TrustSettings};

fn settings() -> &'static TrustSettings {
    static SETTINGS: OnceLock<TrustSettings> = OnceLock::new();
    SETTINGS.get_or_init(|| {
        TrustSettings::parse(Some(&["192.0.2.0/24", "10.0.0.0/8"][..]), None, None)
            .expect("valid networks")
    })
}

fuzz_target!(|data: &[u8]| {
    let received = received_headers(data);
    for value in &received {
        let _ = origin::parse_received(value);
    }
    // The raw bytes as one header value too, so the parser also sees
    // input that the header splitter would never produce.
    let _ = origin::parse_received(&String::from_utf8_lossy(data));
    let originating = origin::headers::values(data, &origin::ORIGINATING_IP_HEADERS);

    for authenticated in [false, true] {
        let input = TrustInput {
            client_ip: Some([192, 0, 2, 25].into()),
            client_authenticated: authenticated,
            received: &received,
            originating: &originating,
        };
        let path = origin::trust_path(&input, settings());
        // Without MSA networks, a trusted or loopback host is never the
        // origin, authenticated or not.
        if let Some(found) = path.origin {
            assert!(!settings().is_trusted(found.ip), "trusted origin {found:?}");
        }
    }
});
