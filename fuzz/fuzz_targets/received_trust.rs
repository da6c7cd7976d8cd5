//! The Received parser and the trust walk.
//!
//! The input is a header block: each Received field is parsed alone, then
//! the trust path runs over all of them as the milter runs it, with
//! 192.0.2.0/24 and 10/8 trusted and a trusted client.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use wormsign::analysis::received_headers;
use wormsign::origin::{self, NetworkList, TrustInput};

fn trusted() -> &'static NetworkList {
    static TRUSTED: OnceLock<NetworkList> = OnceLock::new();
    TRUSTED.get_or_init(|| {
        NetworkList::parse(&["192.0.2.0/24", "10.0.0.0/8"]).expect("valid networks")
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

    for authenticated in [false, true] {
        let input = TrustInput {
            client_ip: Some([192, 0, 2, 25].into()),
            client_authenticated: authenticated,
            received: &received,
        };
        let Some(found) = origin::find_origin(&input, trusted()) else {
            continue;
        };
        // A trusted or loopback host is the origin only as an authenticated
        // submitter: the SMTP client or a client that a trusted relay
        // recorded as authenticated (ESMTPA, ESMTPSA).
        let is_trusted = found.ip.is_loopback() || trusted().contains(found.ip);
        let submitted = authenticated || found.relay.as_ref().is_some_and(|hop| hop.authenticated);
        assert!(!is_trusted || submitted, "trusted origin {found:?}");
    }
});
