//! The effective configuration as TOML, for `wormsign config check`.

use std::fmt::Write;

use super::{Config, ListenAddr};
use crate::origin::settings::INFERRED_TRUSTED;

impl Config {
    /// Renders every setting, defaults included, as a TOML file that
    /// [`Config::parse`] reads back to the same configuration.
    pub fn to_toml(&self) -> String {
        let mut out = String::new();
        let quote = |text: &str| toml_string(text);
        let listen = match &self.listen {
            ListenAddr::Inet(addr) => format!("inet:{addr}"),
            ListenAddr::Unix(path) => format!("unix:{}", path.display()),
        };
        let _ = writeln!(out, "listen = {}", quote(&listen));
        if let Some(mode) = self.socket_mode {
            let _ = writeln!(out, "socket_mode = \"{mode:04o}\"");
        }
        let _ = writeln!(
            out,
            "database = {}",
            quote(&self.database.display().to_string())
        );
        let _ = writeln!(
            out,
            "spool = {}",
            quote(&self.spool_path().display().to_string())
        );
        match &self.signatures {
            Some(dir) => {
                let _ = writeln!(out, "signatures = {}", quote(&dir.display().to_string()));
            }
            None => {
                out.push_str("# signatures: not set, the rules embedded in the binary are used\n")
            }
        }
        self.trust_to_toml(&mut out);
        let _ = writeln!(out, "action = \"{}\"", self.action);
        let _ = writeln!(out, "on_error = \"{}\"", self.on_error);
        let _ = writeln!(out, "max_message_bytes = {}", self.max_message_bytes);
        let _ = writeln!(out, "scan_timeout_secs = {}", self.scan_timeout.as_secs());
        let _ = writeln!(out, "max_sessions = {}", self.max_sessions);
        let _ = writeln!(out, "max_concurrent_scans = {}", self.max_concurrent_scans);
        let _ = writeln!(out, "idle_timeout_secs = {}", self.idle_timeout.as_secs());

        let limits = &self.limits;
        out.push_str("\n[limits]\n");
        let _ = writeln!(out, "max_parts = {}", limits.max_parts);
        let _ = writeln!(out, "max_mime_depth = {}", limits.max_mime_depth);
        let _ = writeln!(out, "max_archive_depth = {}", limits.max_archive_depth);
        let _ = writeln!(out, "max_archive_entries = {}", limits.max_archive_entries);
        let _ = writeln!(
            out,
            "max_archive_total_bytes = {}",
            limits.max_archive_total_bytes
        );
        let _ = writeln!(
            out,
            "max_archive_member_bytes = {}",
            limits.max_archive_member_bytes
        );
        let _ = writeln!(
            out,
            "max_compression_ratio = {}",
            limits.max_compression_ratio
        );
        out.push_str(&self.dnsbl.to_toml());
        self.listing_to_toml(&mut out);
        self.export_to_toml(&mut out);
        out
    }

    /// Returns `trusted_networks` for logs in config syntax: the list as
    /// written, e.g. `["192.0.2.0/24"]`, or `inferred` when the key is
    /// absent.
    pub fn trusted_networks_for_log(&self) -> String {
        match &self.trusted_networks_text {
            Some(entries) => {
                let quoted: Vec<String> = entries.iter().map(|n| toml_string(n)).collect();
                format!("[{}]", quoted.join(", "))
            }
            None => "inferred".to_string(),
        }
    }

    /// Writes the three trust lists as written, and for an unset one a
    /// comment with the value in effect, so the output still reads back
    /// to the same settings.
    fn trust_to_toml(&self, out: &mut String) {
        let list = |entries: &[String]| {
            let quoted: Vec<String> = entries.iter().map(|n| toml_string(n)).collect();
            format!("[{}]", quoted.join(", "))
        };
        let inferred = || {
            let ranges: Vec<String> = INFERRED_TRUSTED.iter().map(|n| toml_string(n)).collect();
            format!("[{}]", ranges.join(", "))
        };
        match (&self.trusted_networks_text, &self.internal_networks_text) {
            (Some(trusted), Some(internal)) => {
                let _ = writeln!(out, "trusted_networks = {}", list(trusted));
                let _ = writeln!(out, "internal_networks = {}", list(internal));
            }
            (Some(trusted), None) => {
                let _ = writeln!(out, "trusted_networks = {}", list(trusted));
                let _ = writeln!(
                    out,
                    "# internal_networks: not set, so a copy of trusted_networks: {}",
                    list(trusted)
                );
            }
            (None, Some(internal)) => {
                let _ = writeln!(
                    out,
                    "# trusted_networks: not set, so a copy of internal_networks: {}",
                    list(internal)
                );
                let _ = writeln!(out, "internal_networks = {}", list(internal));
            }
            (None, None) => {
                let _ = writeln!(
                    out,
                    "# trusted_networks: not set, so trust is inferred: {}",
                    inferred()
                );
                let _ = writeln!(
                    out,
                    "# internal_networks: not set, so a copy of trusted_networks: {}",
                    inferred()
                );
            }
        }
        match &self.msa_networks_text {
            Some(msa) => {
                let _ = writeln!(out, "msa_networks = {}", list(msa));
            }
            None => out.push_str("# msa_networks: not set, so no relay is an MSA\n"),
        }
        out.push_str(
            "# loopback is always trusted and internal. An authenticated relay counts as\n\
             # trusted, but one outside trusted_networks is the origin (the user who logged in).\n",
        );
    }

    fn listing_to_toml(&self, out: &mut String) {
        let policy = &self.listing;
        let hours = |secs: Option<i64>| secs.map_or(0, |secs| secs / 3600);
        out.push_str("\n[listing]\n");
        let _ = writeln!(out, "min_sightings = {:?}", policy.min_sightings);
        let _ = writeln!(out, "window_hours = {}", hours(policy.window_secs));
        let _ = writeln!(
            out,
            "expire_after_hours = {}",
            hours(policy.expire_after_secs)
        );
        let allowlist: Vec<String> = policy
            .allowlist
            .iter()
            .map(|n| toml_string(&n.to_string()))
            .collect();
        let _ = writeln!(out, "allowlist = [{}]", allowlist.join(", "));
        let _ = writeln!(
            out,
            "list_documentation_ranges = {}",
            policy.list_documentation_ranges
        );
        let _ = writeln!(out, "return_code = \"{}\"", policy.return_code);
        let _ = writeln!(out, "txt_template = {}", toml_string(&policy.txt_template));
        let _ = writeln!(out, "txt_details = {}", policy.txt_details);
        let weights = &policy.weights;
        let _ = writeln!(
            out,
            "weights = {{ connect = {:?}, received = {:?}, bounce = {:?} }}",
            weights.connect, weights.received, weights.bounce
        );
        for rule in &policy.return_codes {
            out.push_str("[[listing.return_codes]]\n");
            if let Some(family) = &rule.family {
                let _ = writeln!(out, "family = {}", toml_string(family));
            }
            if let Some(confidence) = &rule.confidence {
                let _ = writeln!(out, "confidence = {}", toml_string(confidence));
            }
            let _ = writeln!(out, "code = \"{}\"", rule.code);
        }
    }

    fn export_to_toml(&self, out: &mut String) {
        let export = &self.export;
        out.push_str("\n[export]\n");
        if let Some(zone) = &export.zone {
            let _ = writeln!(out, "zone = {}", toml_string(zone));
        }
        if let Some(ttl) = export.ttl {
            let _ = writeln!(out, "ttl = {ttl}");
        }
        let nameservers: Vec<String> = export.nameservers.iter().map(|n| toml_string(n)).collect();
        let _ = writeln!(out, "nameservers = [{}]", nameservers.join(", "));
        if let Some(hostmaster) = &export.hostmaster {
            let _ = writeln!(out, "hostmaster = {}", toml_string(hostmaster));
        }
        let ipv4_type = if export.ip4tset { "ip4tset" } else { "ip4set" };
        let _ = writeln!(out, "rbldnsd_ipv4_type = \"{ipv4_type}\"");
        match export.ndjson_sensor_fields {
            Some(value) => {
                let _ = writeln!(out, "ndjson_sensor_fields = {value}");
            }
            None => out.push_str("# ndjson_sensor_fields = true (the default)\n"),
        }
        let _ = writeln!(
            out,
            "interval_secs = {}",
            export.interval.map_or(0, |i| i.as_secs())
        );
        for output in &export.outputs {
            out.push_str("[[export.outputs]]\n");
            let _ = writeln!(out, "format = \"{}\"", output.format);
            let _ = writeln!(
                out,
                "path = {}",
                toml_string(&output.path.display().to_string())
            );
            if let Some(path6) = &output.path6 {
                let _ = writeln!(out, "path6 = {}", toml_string(&path6.display().to_string()));
            }
        }
    }
}

/// A TOML basic string with `"`, `\` and control characters escaped.
fn toml_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::Action;

    #[test]
    fn to_toml_reads_back() {
        let text = "listen = \"unix:/run/w \\\"x\\\".sock\"\nsocket_mode = \"0660\"\n\
                    trusted_networks = [\"192.0.2.0/24\", \"!192.0.2.9\"]\naction = \"reject\"\n\
                    [limits]\nmax_parts = 50\n";
        let config = Config::parse(text, Path::new("a.toml")).unwrap();
        let rendered = config.to_toml();
        let again = Config::parse(&rendered, Path::new("b.toml")).unwrap();
        assert_eq!(again.to_toml(), rendered);
        assert_eq!(again.listen, config.listen);
        assert_eq!(again.socket_mode, Some(0o660));
        assert_eq!(again.action, Action::Reject);
        assert_eq!(again.limits.max_parts, 50);
        assert_eq!(again.trusted_networks_text, config.trusted_networks_text);
    }

    #[test]
    fn to_toml_reads_back_listing_and_export() {
        let text = "[listing]\nmin_sightings = 2.5\nwindow_hours = 48\nexpire_after_hours = 0\n\
                    allowlist = [\"198.51.100.0/24\"]\ntxt_template = \"see $\"\n\
                    weights = { bounce = 0 }\n\
                    [[listing.return_codes]]\nfamily = \"Sober\"\ncode = \"127.0.0.3\"\n\
                    [export]\nzone = \"bl.example.org\"\nnameservers = [\"ns1.example.org\"]\n\
                    interval_secs = 300\nrbldnsd_ipv4_type = \"ip4tset\"\n\
                    [[export.outputs]]\nformat = \"rbldnsd\"\npath = \"/tmp/bl\"\n";
        let config = Config::parse(text, Path::new("a.toml")).unwrap();
        let rendered = config.to_toml();
        let again = Config::parse(&rendered, Path::new("b.toml")).unwrap();
        assert_eq!(again.to_toml(), rendered);
        assert_eq!(again.listing, config.listing);
        assert_eq!(again.export, config.export);
        assert_eq!(again.listing.min_sightings, 2.5);
        assert_eq!(again.listing.window_secs, Some(48 * 3600));
        assert_eq!(again.listing.expire_after_secs, None);
        assert_eq!(again.listing.weights.bounce, 0.0);
        assert_eq!(again.export.outputs.len(), 1);
        assert!(again.export.ip4tset);
    }

    #[test]
    fn to_toml_shows_effective_trust() {
        let cases = [
            (
                "trusted_networks = [\"192.0.2.0/24\"]",
                "trusted_networks = [\"192.0.2.0/24\"]\n\
                 # internal_networks: not set, so a copy of trusted_networks: [\"192.0.2.0/24\"]\n",
            ),
            (
                "internal_networks = [\"192.0.2.0/24\"]",
                "# trusted_networks: not set, so a copy of internal_networks: [\"192.0.2.0/24\"]\n\
                 internal_networks = [\"192.0.2.0/24\"]\n",
            ),
            (
                "",
                "# trusted_networks: not set, so trust is inferred: [\"10/8\", ",
            ),
            ("", "# msa_networks: not set, so no relay is an MSA\n"),
            (
                "trusted_networks = [\"192.0.2.0/24\"]\nmsa_networks = [\"192.0.2.50\"]",
                "msa_networks = [\"192.0.2.50\"]\n",
            ),
        ];
        for (text, expected) in cases {
            let config = Config::parse(text, Path::new("a.toml")).unwrap();
            let rendered = config.to_toml();
            assert!(rendered.contains(expected), "{text}\n{rendered}");
            assert!(
                rendered.contains("# trusted, but one outside trusted_networks is the origin"),
                "{text}\n{rendered}"
            );
            let again = Config::parse(&rendered, Path::new("b.toml")).unwrap();
            assert_eq!(again.to_toml(), rendered, "{text}");
        }
    }

    #[test]
    fn trusted_networks_for_log_uses_config_syntax() {
        let cases = [
            ("", "inferred"),
            ("trusted_networks = []", "[]"),
            (
                "trusted_networks = [\"192.0.2.0/24\", \"!192.0.2.9\"]",
                "[\"192.0.2.0/24\", \"!192.0.2.9\"]",
            ),
        ];
        for (text, expected) in cases {
            let config = Config::parse(text, Path::new("a.toml")).unwrap();
            assert_eq!(config.trusted_networks_for_log(), expected, "{text}");
        }
    }

    #[test]
    fn listing_errors_name_line() {
        let text = "[listing]\nreturn_code = \"10.0.0.2\"\n";
        let error = Config::parse(text, Path::new("a.toml"))
            .unwrap_err()
            .to_string();
        assert!(error.contains("line 2"), "{error}");
        assert!(error.contains("10.0.0.2"), "{error}");
        let text = "[export]\nzone = \"bad zone.\"\n";
        let error = Config::parse(text, Path::new("a.toml"))
            .unwrap_err()
            .to_string();
        assert!(error.contains("zone"), "{error}");
    }
}
