//! The effective configuration as TOML, for `wormsign config check`.

use std::fmt::Write;

use super::{Action, Config, ListenAddr, OnError};

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
        let trust_keys = [
            ("trusted_networks", &self.trusted_networks_text),
            ("internal_networks", &self.internal_networks_text),
            ("msa_networks", &self.msa_networks_text),
        ];
        for (key, entries) in trust_keys {
            match entries {
                Some(entries) => {
                    let quoted: Vec<String> = entries.iter().map(|n| quote(n)).collect();
                    let _ = writeln!(out, "{key} = [{}]", quoted.join(", "));
                }
                None => {
                    let _ = writeln!(out, "# {key}: not set");
                }
            }
        }
        if self.trust.is_inferred() {
            out.push_str(
                "# trust is inferred: private ranges and authenticated relays are trusted\n",
            );
        }
        let action = match self.action {
            Action::Accept => "accept",
            Action::Reject => "reject",
            Action::Quarantine => "quarantine",
            Action::Discard => "discard",
        };
        let _ = writeln!(out, "action = \"{action}\"");
        let on_error = match self.on_error {
            OnError::Accept => "accept",
            OnError::Tempfail => "tempfail",
        };
        let _ = writeln!(out, "on_error = \"{on_error}\"");
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
        out
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
}
