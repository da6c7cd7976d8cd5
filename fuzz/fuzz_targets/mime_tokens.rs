//! The MIME walk over a narrowed alphabet: each input byte picks one
//! fragment of MIME structure (a header, a delimiter, a uuencode line, a
//! zip signature, ...), so the fuzzer builds deep, malformed structure far
//! sooner than from raw bytes. Runs the walk alone, without YARA.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wormsign::mime::{self, Limits};

const FRAGMENTS: &[&[u8]] = &[
    b"\r\n",
    b"\n",
    b"\r",
    b"MIME-Version: 1.0\r\n",
    b"Content-Type: multipart/mixed; boundary=\"b\"\r\n",
    b"Content-Type: multipart/mixed\r\n",
    b"Content-Type: message/rfc822\r\n",
    b"Content-Type: text/plain; name=\"=?UTF-8?Q?a?= =?UTF-8?Q?b.pif?=\"\r\n",
    b"Content-Type: application/octet-stream\r\n",
    b"Content-Disposition: attachment; filename*0*=UTF-8''a%2E; filename*1=\"exe\"\r\n",
    b"Content-Transfer-Encoding: base64\r\n",
    b"Content-Transfer-Encoding: quoted-printable\r\n",
    b"Content-Transfer-Encoding: x-uuencode\r\n",
    b"Content-Transfer-Encoding: 7bit\r\n",
    b"--b\r\n",
    b"--b--\r\n",
    b"--c\r\n",
    b"begin 644 a.exe\r\n",
    b"#0V%T\r\n",
    b"`\r\nend\r\n",
    b"TVqQAAMAAAAEAAAA//8AALgAAAAAAAAAQAAAAAAAAAA=\r\n",
    b"UEsDBBQAAAAIAAAAIQA=\r\n",
    b"=ZZ=\r\n",
    b"PK\x03\x04",
    b"PK\x01\x02",
    b"PK\x05\x06",
    b"Subject: x\r\n",
    b" folded\r\n",
    b"\0",
    b"\xff\xfe",
    b"hello ",
    b"MZ",
];

fuzz_target!(|tokens: &[u8]| {
    let mut raw = Vec::with_capacity(tokens.len() * 16);
    for &token in tokens {
        raw.extend_from_slice(FRAGMENTS[usize::from(token) % FRAGMENTS.len()]);
    }
    let limits = Limits {
        max_parts: 100,
        ..Limits::default()
    };
    let walk = mime::walk(&raw, &limits);
    assert!(walk.objects.len() <= limits.max_parts);
    assert!(
        walk.anomalies
            .iter()
            .all(|anomaly| !anomaly.path.is_empty())
    );
});
