//! Reading the TOML text into [`RawConfig`], with errors in an admin's
//! words: serde reports `invalid value: integer `-1`, expected u64` and
//! names no key, so the key's dotted path (from `serde_path_to_error`) and
//! the expected value in plain words are put in its place. An unknown key
//! that exists in another section is pointed there.

use super::RawConfig;

/// Keys of each section, by dotted section path (`""` is the top level).
/// The old `[dnsbl]` keys that only produce a "moved to" error are left
/// out, so they are never suggested. A unit test checks this table against
/// the keys serde accepts.
const SECTION_KEYS: &[(&str, &[&str])] = &[
    (
        "",
        &[
            "listen",
            "socket_mode",
            "database",
            "spool",
            "signatures",
            "trusted_networks",
            "internal_networks",
            "msa_networks",
            "action",
            "on_error",
            "max_message_bytes",
            "scan_timeout_secs",
            "max_sessions",
            "max_concurrent_scans",
            "idle_timeout_secs",
            "limits",
            "dnsbl",
            "listing",
            "export",
        ],
    ),
    (
        "limits",
        &[
            "max_parts",
            "max_mime_depth",
            "max_archive_depth",
            "max_archive_entries",
            "max_archive_total_bytes",
            "max_archive_member_bytes",
            "max_compression_ratio",
        ],
    ),
    (
        "dnsbl",
        &["listen", "zone", "poll_interval_ms", "max_tcp_connections"],
    ),
    (
        "listing",
        &[
            "min_sightings",
            "window_hours",
            "expire_after_hours",
            "weights",
            "allowlist",
            "list_documentation_ranges",
            "return_code",
            "return_codes",
            "txt_template",
            "txt_details",
        ],
    ),
    ("listing.weights", &["connect", "received", "bounce"]),
    ("listing.return_codes", &["family", "confidence", "code"]),
    (
        "export",
        &[
            "zone",
            "ttl",
            "nameservers",
            "hostmaster",
            "interval_secs",
            "rbldnsd_ipv4_type",
            "ndjson_sensor_fields",
            "outputs",
        ],
    ),
    ("export.outputs", &["format", "path", "path6"]),
];

/// Valid ranges of the integer keys, where they differ from "1 or more".
const INTEGER_RANGES: &[(&str, &str)] = &[
    ("scan_timeout_secs", "from 1 to 600"),
    ("max_concurrent_scans", "0 (one per CPU core) or more"),
    ("dnsbl.poll_interval_ms", "from 10 to 3600000"),
    ("dnsbl.max_tcp_connections", "from 1 to 65535"),
    ("listing.window_hours", "from 0 (no limit) to 876000"),
    ("listing.expire_after_hours", "from 0 (no limit) to 876000"),
    ("export.ttl", "from 1 to 4294967295"),
    ("export.interval_secs", "0 (never) or more"),
];

/// A TOML file that does not fit [`RawConfig`]: the 1-based line (1 when
/// the parser gives no position) and the message.
pub(super) struct ReadError {
    pub line: usize,
    pub message: String,
}

/// Parses `text` as TOML and deserializes it into [`RawConfig`].
pub(super) fn read_raw(text: &str) -> Result<RawConfig, ReadError> {
    let line_of = |error: &toml::de::Error| {
        error.span().map_or(1, |span| {
            let end = span.start.min(text.len());
            1 + text.as_bytes()[..end]
                .iter()
                .filter(|&&b| b == b'\n')
                .count()
        })
    };
    let deserializer = toml::Deserializer::parse(text).map_err(|error| ReadError {
        line: line_of(&error),
        message: error.message().to_string(),
    })?;
    serde_path_to_error::deserialize(deserializer).map_err(|error| {
        let key = error.path().to_string();
        let inner = error.into_inner();
        ReadError {
            line: line_of(&inner),
            message: describe(&key, inner.message()),
        }
    })
}

/// Rewrites serde's `message` about the value at dotted path `key`.
fn describe(key: &str, message: &str) -> String {
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let name = rest.split('`').next().unwrap_or(rest);
        // The path ends with the unknown key itself.
        let table = key.strip_suffix(name).unwrap_or(key).trim_end_matches('.');
        return unknown_key(&section_of(table), name);
    }
    if let Some(rest) = message.strip_prefix("missing field `") {
        let name = rest.split('`').next().unwrap_or(rest);
        let table = section_of(key.trim_start_matches('.'));
        return format!("{}: missing key `{name}`: add it", table_name(&table));
    }
    let Some((found, expected)) = message.rsplit_once(", expected ") else {
        return format!("{key}: {message}");
    };
    let found = found
        .strip_prefix("invalid type: ")
        .or_else(|| found.strip_prefix("invalid value: "))
        .unwrap_or(found);
    format!(
        "{key}: invalid value {}: expected {}",
        found_in_words(found),
        expected_in_words(key, expected)
    )
}

/// Returns the section path of `key` with array indexes removed, e.g.
/// `export.outputs` for `export.outputs[0]`.
fn section_of(key: &str) -> String {
    let mut out = String::new();
    let mut in_index = false;
    for c in key.chars() {
        match c {
            '[' => in_index = true,
            ']' => in_index = false,
            c if !in_index => out.push(c),
            _ => {}
        }
    }
    out
}

/// Returns how a section is written in the file, e.g. `[listing]`.
fn table_name(section: &str) -> String {
    match section {
        "" => "the top level".to_string(),
        "listing.return_codes" | "export.outputs" => format!("[[{section}]]"),
        section => format!("[{section}]"),
    }
}

/// Builds the message for key `name` written in `section`, which does not
/// have it: the sections that do, or the keys this one has.
fn unknown_key(section: &str, name: &str) -> String {
    let homes: Vec<String> = SECTION_KEYS
        .iter()
        .filter(|(other, keys)| *other != section && keys.contains(&name))
        .map(|(other, _)| match *other {
            "" => "at the top level".to_string(),
            other => format!("under {}", table_name(other)),
        })
        .collect();
    let place = match section {
        "" => "at the top level".to_string(),
        section => format!("in {}", table_name(section)),
    };
    if !homes.is_empty() {
        return format!(
            "unknown key `{name}` {place}: this key belongs {}",
            homes.join(" or ")
        );
    }
    let valid = SECTION_KEYS
        .iter()
        .find(|(other, _)| *other == section)
        .map_or(String::new(), |(_, keys)| keys.join(", "));
    format!("unknown key `{name}` {place}; the keys there are: {valid}")
}

/// Turns serde's description of a found value (``integer `-1` ``,
/// `string "10"`) into the value as written in TOML.
fn found_in_words(found: &str) -> String {
    let quoted = |prefix: &str| {
        found
            .strip_prefix(prefix)
            .and_then(|rest| rest.strip_prefix('`'))
            .and_then(|rest| rest.strip_suffix('`'))
            .map(str::to_string)
    };
    if let Some(value) = quoted("integer ")
        .or_else(|| quoted("floating point "))
        .or_else(|| quoted("boolean "))
    {
        return value;
    }
    if let Some(text) = found.strip_prefix("string ") {
        return format!("{text} (a quoted string)");
    }
    match found {
        "sequence" => "(a list)".to_string(),
        "map" => "(a table)".to_string(),
        other => other.to_string(),
    }
}

/// Describes in plain words what `key` takes, from serde's `expected`
/// (`u64`, `f64`, `a string`, `struct RawLimits`, ...).
fn expected_in_words(key: &str, expected: &str) -> String {
    let leaf = key.rsplit('.').next().unwrap_or(key);
    match expected {
        "u64" | "u32" | "u16" | "usize" => {
            let unit = if leaf.ends_with("_bytes") {
                "a whole number of bytes"
            } else if leaf.ends_with("_secs") || leaf == "ttl" {
                "a whole number of seconds"
            } else if leaf.ends_with("_hours") {
                "a whole number of hours"
            } else if leaf.ends_with("_ms") {
                "a whole number of milliseconds"
            } else {
                "a whole number"
            };
            let range = INTEGER_RANGES
                .iter()
                .find(|(name, _)| *name == key)
                .map_or("1 or more", |(_, range)| range);
            format!("{unit}, {range}, without quotes")
        }
        "f64" if leaf == "min_sightings" => {
            "a number above 0, such as 1 or 2.5, without quotes".to_string()
        }
        "f64" => "a number, 0 or more, such as 1 or 0.5, without quotes".to_string(),
        "a boolean" => "true or false, without quotes".to_string(),
        "a string" => "a quoted string".to_string(),
        "a sequence" if leaf == "nameservers" => "a list such as [\"ns1.example.org\"]".to_string(),
        "a sequence" if leaf.ends_with("networks") || leaf == "allowlist" => {
            "a list such as [\"192.0.2.0/24\"]".to_string()
        }
        "a sequence" => "a list in square brackets".to_string(),
        other if other.starts_with("struct ") => {
            format!("a {} table", table_name(&section_of(key)))
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(text: &str) -> String {
        match read_raw(text) {
            Ok(_) => panic!("{text:?} was accepted"),
            Err(error) => format!("line {}: {}", error.line, error.message),
        }
    }

    #[test]
    fn type_errors_name_key_and_range() {
        let cases = [
            (
                "max_message_bytes = -1",
                "line 1: max_message_bytes: invalid value -1: expected a whole number of bytes, 1 or more",
            ),
            (
                "scan_timeout_secs = \"10\"",
                "line 1: scan_timeout_secs: invalid value \"10\" (a quoted string): expected a whole number of seconds, from 1 to 600",
            ),
            (
                "\n[listing]\nmin_sightings = \"x\"",
                "line 3: listing.min_sightings: invalid value \"x\" (a quoted string): expected a number above 0",
            ),
            (
                "[limits]\nmax_parts = -3",
                "line 2: limits.max_parts: invalid value -3: expected a whole number, 1 or more",
            ),
            (
                "[listing]\nlist_documentation_ranges = \"yes\"",
                "line 2: listing.list_documentation_ranges: invalid value \"yes\" (a quoted string): expected true or false",
            ),
            (
                "[[export.outputs]]\nformat = 3\npath = \"x\"",
                "line 2: export.outputs[0].format: invalid value 3: expected a quoted string",
            ),
            (
                "trusted_networks = \"10/8\"",
                "line 1: trusted_networks: invalid value \"10/8\" (a quoted string): expected a list such as [\"192.0.2.0/24\"]",
            ),
            (
                "limits = 3",
                "line 1: limits: invalid value 3: expected a [limits] table",
            ),
            (
                "[export]\nttl = 1.5",
                "line 2: export.ttl: invalid value 1.5: expected a whole number of seconds, from 1 to 4294967295",
            ),
        ];
        for (text, expected) in cases {
            let message = message(text);
            assert!(message.starts_with(expected), "{text:?}: {message}");
        }
    }

    #[test]
    fn unknown_key_points_to_its_section() {
        let cases = [
            (
                "list_documentation_ranges = true",
                "line 1: unknown key `list_documentation_ranges` at the top level: this key belongs under [listing]",
            ),
            (
                "[listing]\n\nnameservers = []",
                "line 3: unknown key `nameservers` in [listing]: this key belongs under [export]",
            ),
            (
                "[export]\nlisten = \"x\"",
                "line 2: unknown key `listen` in [export]: this key belongs at the top level or under [dnsbl]",
            ),
            (
                "[[export.outputs]]\nformat = \"plain\"\npath = \"x\"\nzone = \"a\"",
                "line 4: unknown key `zone` in [[export.outputs]]: this key belongs under [dnsbl] or under [export]",
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(message(text), expected, "{text:?}");
        }
    }

    #[test]
    fn unknown_key_elsewhere_lists_section_keys() {
        let message = message("[limits]\nmax_partz = 3");
        assert!(
            message.starts_with(
                "line 2: unknown key `max_partz` in [limits]; the keys there are: max_parts, "
            ),
            "{message}"
        );
    }

    #[test]
    fn missing_key_names_table() {
        let message = message("[[export.outputs]]\nformat = \"plain\"");
        assert!(
            message.contains("[[export.outputs]]: missing key `path`"),
            "{message}"
        );
    }

    /// Serde's own list of the keys of each section, which the "expected
    /// one of" part of its unknown-field message carries.
    fn serde_keys(section: &str) -> Vec<String> {
        let text = match section {
            "" => "no_such_key = 1".to_string(),
            "listing.return_codes" | "export.outputs" => {
                format!("[[{section}]]\nno_such_key = 1")
            }
            section => format!("[{section}]\nno_such_key = 1"),
        };
        let error = toml::from_str::<RawConfig>(&text).unwrap_err();
        let message = error.message();
        let list = message
            .split_once("expected one of ")
            .unwrap_or_else(|| panic!("{section}: {message}"))
            .1;
        list.split(", ")
            .map(|key| key.trim_matches('`').to_string())
            .collect()
    }

    #[test]
    fn section_keys_match_serde() {
        let moved_dnsbl_keys = [
            "ttl",
            "negative_ttl",
            "soa_mname",
            "soa_rname",
            "ns",
            "txt_template",
            "min_sightings",
        ];
        for (section, keys) in SECTION_KEYS {
            let mut accepted = serde_keys(section);
            if *section == "dnsbl" {
                accepted.retain(|key| !moved_dnsbl_keys.contains(&key.as_str()));
            }
            assert_eq!(&accepted, keys, "section {section:?}");
        }
    }
}
