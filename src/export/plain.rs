//! Plain text: one IP address per line, in canonical form, each line ending
//! in `\n`. An empty list is an empty file.

use super::Entry;

pub(super) fn render(entries: &[Entry<'_>]) -> String {
    let mut out = String::new();
    for entry in entries {
        out.push_str(&entry.ip.to_string());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::tests::sample_listings;
    use super::super::{ExportOptions, Format, render};

    #[test]
    fn plain_lists_listable_ips() {
        let out = render(
            Format::Plain,
            &sample_listings(),
            &ExportOptions::default(),
            0,
        );
        assert_eq!(out, "192.0.2.1\n2001:db8::25\n203.0.113.9\n");
    }

    #[test]
    fn plain_empty_is_empty() {
        assert_eq!(render(Format::Plain, &[], &ExportOptions::default(), 0), "");
    }
}
