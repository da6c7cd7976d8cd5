//! The whole analysis of one message, as the milter runs it: MIME walk,
//! archive expansion, YARA scan of every scan object, trust path.
//!
//! The input is the raw message. The shipped rules are compiled once.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use wormsign::analysis::{self, Envelope, Settings};
use wormsign::mime::Limits;
use wormsign::scanner::RuleSet;

fn rules() -> &'static RuleSet {
    static RULES: OnceLock<RuleSet> = OnceLock::new();
    RULES.get_or_init(|| RuleSet::embedded().expect("the embedded rules compile"))
}

fn settings() -> &'static Settings {
    static SETTINGS: OnceLock<Settings> = OnceLock::new();
    SETTINGS.get_or_init(|| Settings {
        // Small limits keep each run fast, so the fuzzer reaches more
        // structure per second; every limit still trips somewhere.
        limits: Limits {
            max_parts: 200,
            max_archive_total_bytes: 4 * 1024 * 1024,
            max_archive_member_bytes: 1024 * 1024,
            ..Limits::default()
        },
        ..Settings::default()
    })
}

fuzz_target!(|raw: &[u8]| {
    let envelope = Envelope {
        client_ip: Some([203, 0, 113, 7].into()),
        ..Envelope::default()
    };
    let verdict = analysis::analyse(rules(), settings(), raw, &envelope, false);
    // The header texts must stay single lines whatever the input.
    if let Some(note) = verdict.incomplete_note() {
        assert!(!note.contains(['\r', '\n']), "note spans lines: {note:?}");
    }
    assert!(!verdict.header_value().contains(['\r', '\n']));
});
