//! Plain text: one listed IPv4 address or IPv6 /64 network
//! (`2001:db8::/64`) per line, each line ending in `\n`. An empty list is an
//! empty file.

use super::network_text;
use crate::listing::Listed;

pub(super) fn render(listed: &[Listed]) -> String {
    let mut out = String::new();
    for entry in listed {
        out.push_str(&network_text(entry));
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
        )
        .unwrap();
        assert_eq!(out, "192.0.2.1\n2001:db8::/64\n203.0.113.9\n");
    }

    #[test]
    fn plain_empty_is_empty() {
        assert_eq!(
            render(Format::Plain, &[], &ExportOptions::default(), 0).unwrap(),
            ""
        );
    }
}
