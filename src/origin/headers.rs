//! Reads top-level header fields from raw message bytes, for the trust
//! walk: Received and the originating-IP headers.
//!
//! The bytes are read directly rather than through a MIME parser, because
//! parsers drop fields that are not valid UTF-8 and a Received header from
//! a hostile client often is not. Invalid bytes become U+FFFD.

/// Returns the unfolded values of the top-level fields named `names`
/// (case-insensitive), in header order. Reading stops at the first empty
/// line; a header block with no empty line runs to the end of `raw`.
pub fn values(raw: &[u8], names: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    let mut current: Option<String> = None;
    for line in raw.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            break;
        }
        let text = String::from_utf8_lossy(line);
        if line[0] == b' ' || line[0] == b'\t' {
            if let Some(value) = current.as_mut() {
                value.push(' ');
                value.push_str(text.trim());
            }
            continue;
        }
        found.extend(current.take());
        if let Some((name, value)) = text.split_once(':')
            && names.iter().any(|n| name.trim().eq_ignore_ascii_case(n))
        {
            current = Some(value.trim().to_owned());
        }
    }
    found.extend(current);
    found
}

/// Returns the unfolded Received values of a header block, newest first.
pub fn received(raw: &[u8]) -> Vec<String> {
    values(raw, &["Received"])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_unfold_and_keep_order() {
        let raw = b"Received: from a (a [192.0.2.1])\r\n\tby b; date\r\nX-Originating-IP: [198.51.100.7]\r\nreceived: from c\r\n\r\nReceived: body\r\n";
        assert_eq!(
            received(raw),
            vec!["from a (a [192.0.2.1]) by b; date", "from c"]
        );
        assert_eq!(values(raw, &["x-originating-ip"]), vec!["[198.51.100.7]"]);
    }

    #[test]
    fn values_read_invalid_utf8() {
        let raw = b"Received: from \xff (x [192.0.2.1])\n";
        let found = received(raw);
        assert_eq!(found.len(), 1);
        assert!(found[0].contains("[192.0.2.1]"));
    }
}
