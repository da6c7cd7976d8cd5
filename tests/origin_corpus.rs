//! The Received parser, the trust walk and the bounce reader over every
//! message of the SpamAssassin public corpus (6,046 real messages): none
//! may panic, and every origin found must be an address of the chain.
//!
//! `tests/run-all.sh` fetches the corpus and sets `WORMSIGN_SA_CORPUS`;
//! `tests/corpus/fetch-spamassassin.sh DIR` does it by hand.

use std::path::{Path, PathBuf};

use wormsign::origin::{
    ORIGINATING_IP_HEADERS, TrustInput, TrustSettings, bounce, headers, parse_received, trust_path,
};

/// Messages in the corpus package; fewer means a broken fetch.
const CORPUS_MESSAGES: usize = 6046;

fn files_under(dir: &Path, found: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read directory {}: {e}", dir.display()));
    for entry in entries {
        let path = entry.unwrap().path();
        let hidden = path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'));
        if hidden {
            continue;
        }
        if path.is_dir() {
            files_under(&path, found);
        } else {
            found.push(path);
        }
    }
}

#[test]
fn corpus_received_headers_never_panic() {
    let corpus = std::env::var("WORMSIGN_SA_CORPUS").unwrap_or_else(|_| {
        panic!(
            "WORMSIGN_SA_CORPUS is not set: run tests/run-all.sh, or fetch the corpus with \
             tests/corpus/fetch-spamassassin.sh DIR and set WORMSIGN_SA_CORPUS=DIR"
        )
    });
    let mut files = Vec::new();
    files_under(Path::new(&corpus), &mut files);
    assert!(
        files.len() >= CORPUS_MESSAGES,
        "found {} files under {corpus}, expected at least {CORPUS_MESSAGES}",
        files.len()
    );

    let settings = [
        TrustSettings::default(),
        TrustSettings::parse(
            Some(&["192.168/16", "!192.168.1.1", "2001:db8::/32"]),
            None,
            None,
        )
        .unwrap(),
        TrustSettings::parse(
            Some(&["10/8", "64/8"]),
            Some(&["10/8"]),
            Some(&["10.1.1.1"]),
        )
        .unwrap(),
    ];
    let mut headers_seen = 0usize;
    let mut hops = 0usize;
    for file in &files {
        let raw = std::fs::read(file).unwrap();
        let received = headers::received(&raw);
        let originating = headers::values(&raw, &ORIGINATING_IP_HEADERS);
        headers_seen += received.len();
        hops += received
            .iter()
            .filter(|value| parse_received(value).is_some())
            .count();

        for trust in &settings {
            let input = TrustInput {
                received: &received,
                originating: &originating,
                ..TrustInput::default()
            };
            let path = trust_path(&input, trust);
            if let Some(origin) = &path.origin {
                assert!(
                    path.relays.iter().any(|relay| relay.ip == origin.ip),
                    "{}: origin {} is not a relay of the chain",
                    file.display(),
                    origin.ip
                );
            }
        }
        if let Some(embedded) = bounce::find_embedded(&raw) {
            let _ = bounce::embedded_origin(&embedded);
        }
    }

    println!(
        "{} messages, {headers_seen} Received headers, {hops} with a relay address",
        files.len()
    );
    assert!(headers_seen > files.len(), "too few Received headers read");
    assert!(
        hops > headers_seen / 2,
        "only {hops} of {headers_seen} headers parsed"
    );
}
