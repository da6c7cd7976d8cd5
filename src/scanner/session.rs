//! External variables computed in Rust from the SMTP session, for facts
//! that YARA cannot derive because a condition cannot compare two
//! externals or split a list.

/// True when the HELO argument has the form Sober.G used: the envelope
/// sender's local part, then the last label of the sender's domain.
/// `foo@bar.com` gives `HELO foo.com`. Letter case is ignored, as the
/// Qsmtp mail server's `soberg` filter (DerDakon/Qsmtp,
/// qsmtpd/filters/soberg.c) ignores it.
///
/// Unlike that filter, a HELO equal to the sender domain is not a match:
/// `example@example.com` announcing itself as `example.com` fits the pattern
/// but is how a small domain's own server may greet.
pub fn helo_matches_sober_g(helo: &str, envelope_from: &str) -> bool {
    let sender = envelope_from
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>');
    let Some((local, domain)) = sender.rsplit_once('@') else {
        return false;
    };
    let Some((_, tld)) = domain.rsplit_once('.') else {
        return false;
    };
    if local.is_empty() || tld.is_empty() {
        return false;
    }
    let expected = format!("{local}.{tld}");
    let helo = helo.trim();
    helo.eq_ignore_ascii_case(&expected) && !helo.eq_ignore_ascii_case(domain)
}

/// Language Sober would have chosen for these recipient domains. It is
/// `de` when any domain ends in .de, .at, .ch or .li or contains `gmx` (the
/// 2005 variants' rule), `en` when domains are known and none is German,
/// and empty when no recipient is known (offline scans).
///
/// NOTE: Sober.C also wrote German to .be and Sober.D to .nl and .be. Those
/// are counted as English here, so a Sober.C or D rule must not require
/// `de` for them.
pub fn recipient_language<'a>(domains: impl IntoIterator<Item = &'a str>) -> &'static str {
    let mut any = false;
    for domain in domains {
        any = true;
        let domain = domain.trim_end_matches('.').to_ascii_lowercase();
        let tld = domain.rsplit('.').next().unwrap_or("");
        if matches!(tld, "de" | "at" | "ch" | "li") || domain.contains("gmx") {
            return "de";
        }
    }
    if any { "en" } else { "" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helo_fingerprint_cases() {
        let cases = [
            ("foo.com", "foo@bar.com", true),
            ("FOO.COM", "<Foo@Bar.COM>", true),
            ("foo.com", "foo@mail.bar.com", true),
            ("foo.de", "foo@bar.com", false),
            ("mail.bar.com", "foo@bar.com", false),
            ("foo.com", "", false),
            ("foo.com", "foo@com", false),
            ("example.com", "example@example.com", false),
            (".com", "@bar.com", false),
        ];
        for (helo, sender, expected) in cases {
            assert_eq!(
                helo_matches_sober_g(helo, sender),
                expected,
                "HELO {helo:?}, MAIL FROM {sender:?}"
            );
        }
    }

    #[test]
    fn recipient_language_cases() {
        let cases: [(&[&str], &str); 7] = [
            (&[], ""),
            (&["example.com"], "en"),
            (&["example.de"], "de"),
            (&["example.com", "example.CH"], "de"),
            (&["gmx.net"], "de"),
            (&["example.li."], "de"),
            (&["example.be"], "en"),
        ];
        for (domains, expected) in cases {
            assert_eq!(
                recipient_language(domains.iter().copied()),
                expected,
                "{domains:?}"
            );
        }
    }
}
