//! Rule reload on SIGHUP while mail flows: `wormsign run` behind a real
//! Postfix, a sender thread that keeps submitting messages, and two
//! reloads: a good rule set that changes the verdict of new messages, then
//! a broken one that must leave the good set running and log the file and
//! line. Postfix and the milter both tempfail on a milter error here, so a
//! message that was delayed or lost shows up as a failed send or a missing
//! delivery.

mod common;

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use common::{DOMAIN, Milter, Postfix, smtp_send};

const DELIVERY_TIMEOUT: Duration = Duration::from_secs(120);

/// How long to wait for the milter to log the outcome of a reload.
const RELOAD_TIMEOUT: Duration = Duration::from_secs(60);

/// Messages that must be sent in each phase before the next step.
const MESSAGES_PER_PHASE: usize = 5;

/// Every message carries both markers, so the rule named in its
/// X-Wormsign header shows which rule set scanned it.
const RULE_A: &str = "Reload_Rule_A";
const RULE_B: &str = "Reload_Rule_B";

fn rule(name: &str, marker: &str) -> String {
    format!(
        "rule {name}\n{{\n    meta:\n        family = \"Reload-Test\"\n        variant = \"{name}\"\n        \
         confidence = \"high\"\n        description = \"Reload test marker\"\n        \
         reference = \"tests/reload.rs\"\n    strings:\n        $m = \"{marker}\"\n    \
         condition:\n        object_kind == \"part\" and $m\n}}\n"
    )
}

/// A rule file whose line 3 does not compile.
const BROKEN_RULE: &str = "rule Reload_Broken\n{\n    condition: no_such_identifier\n}\n";

fn message(index: usize) -> Vec<u8> {
    format!(
        "From: sender@example.net\r\nTo: alice@{DOMAIN}\r\nSubject: reload {index}\r\n\
         Message-ID: <reload-{index}@example.net>\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n\
         --b\r\nContent-Type: text/plain\r\n\r\nhello\r\n\
         --b\r\nContent-Type: application/octet-stream; name=\"m.bin\"\r\n\r\n\
         RELOAD-MARKER-A RELOAD-MARKER-B\r\n--b--\r\n"
    )
    .into_bytes()
}

/// One submitted message: when its SMTP transaction started and ended.
struct Sent {
    index: usize,
    started: Instant,
    finished: Instant,
    result: Result<String, String>,
}

/// Submits messages one after another until `stop` is set.
fn keep_sending(port: u16, stop: Arc<AtomicBool>, log: Arc<Mutex<Vec<Sent>>>) {
    let recipient = format!("alice@{DOMAIN}");
    let mut index = 0;
    while !stop.load(Ordering::Relaxed) {
        let started = Instant::now();
        let result = smtp_send(port, "sender@example.net", &[&recipient], &message(index));
        log.lock().expect("send log").push(Sent {
            index,
            started,
            finished: Instant::now(),
            result,
        });
        index += 1;
    }
}

/// Waits until `count` more sends have started after `after`.
fn wait_for_sends_after(log: &Mutex<Vec<Sent>>, after: Instant, count: usize) {
    let deadline = Instant::now() + DELIVERY_TIMEOUT;
    loop {
        let done = log
            .lock()
            .expect("send log")
            .iter()
            .filter(|sent| sent.started > after)
            .count();
        if done >= count {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "sender stalled after {done} messages"
        );
        thread::sleep(Duration::from_millis(50));
    }
}

fn hangup(milter: &Milter) -> Instant {
    let sent = Instant::now();
    let status = Command::new("kill")
        .args(["-HUP", &milter.pid().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -HUP failed");
    sent
}

/// Waits until the milter log contains `text` `count` times, then returns.
fn wait_for_log(milter: &Milter, text: &str, count: usize) -> Instant {
    let deadline = Instant::now() + RELOAD_TIMEOUT;
    while milter.log().matches(text).count() < count {
        assert!(
            Instant::now() < deadline,
            "no {text:?} in the milter log:\n{}",
            milter.log()
        );
        thread::sleep(Duration::from_millis(20));
    }
    Instant::now()
}

/// Returns the rule named in a delivered message's X-Wormsign header.
fn verdict_rule(message: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(message);
    let header = text
        .lines()
        .take_while(|line| !line.is_empty())
        .find(|line| line.starts_with("X-Wormsign: "))?;
    let rule = header.split("rule=").nth(1)?;
    Some(rule.split(';').next()?.trim().to_string())
}

fn subject_index(message: &[u8]) -> usize {
    let text = String::from_utf8_lossy(message);
    text.lines()
        .find_map(|line| line.strip_prefix("Subject: reload "))
        .and_then(|index| index.trim().parse().ok())
        .unwrap_or_else(|| panic!("delivered message without a test subject:\n{text}"))
}

fn write_rules(dir: &Path, files: &[(&str, String)]) {
    for entry in std::fs::read_dir(dir).expect("read rule directory") {
        std::fs::remove_file(entry.expect("rule file").path()).expect("remove rule file");
    }
    for (name, text) in files {
        std::fs::write(dir.join(name), text).expect("write rule file");
    }
}

#[test]
fn sighup_swaps_rules_while_mail_flows() {
    common::require_tool("postfix");
    let rules = tempfile::tempdir().expect("rule directory");
    write_rules(rules.path(), &[("a.yar", rule(RULE_A, "RELOAD-MARKER-A"))]);
    let milter = Milter::start(&format!(
        "signatures = \"{}\"\naction = \"accept\"\non_error = \"tempfail\"\n",
        rules.path().display()
    ));
    let postfix = Postfix::start_with(Some(&milter.socket()), &[("PF_MILTER_DEFAULT", "tempfail")]);

    let stop = Arc::new(AtomicBool::new(false));
    let log = Arc::new(Mutex::new(Vec::new()));
    let sender = {
        let (port, stop, log) = (postfix.port(), stop.clone(), log.clone());
        thread::spawn(move || keep_sending(port, stop, log))
    };

    // Phase 1: rule A only.
    let start = Instant::now();
    wait_for_sends_after(&log, start, MESSAGES_PER_PHASE);

    // Phase 2: a good set with rule B in place of rule A.
    write_rules(rules.path(), &[("b.yar", rule(RULE_B, "RELOAD-MARKER-B"))]);
    let good_hup = hangup(&milter);
    let good_reloaded = wait_for_log(&milter, "rules reloaded", 1);
    wait_for_sends_after(&log, good_reloaded, MESSAGES_PER_PHASE);

    // Phase 3: a broken file next to rule B, so rule B must stay in use.
    write_rules(
        rules.path(),
        &[
            ("b.yar", rule(RULE_B, "RELOAD-MARKER-B")),
            ("broken.yar", BROKEN_RULE.to_string()),
        ],
    );
    hangup(&milter);
    let broken_failed = wait_for_log(&milter, "rule reload failed", 1);
    wait_for_sends_after(&log, broken_failed, MESSAGES_PER_PHASE);

    stop.store(true, Ordering::Relaxed);
    sender.join().expect("sender thread");
    let sent = std::mem::take(&mut *log.lock().expect("send log"));
    let total = sent.len();
    for item in &sent {
        assert!(
            item.result.is_ok(),
            "message {} was not accepted: {:?}",
            item.index,
            item.result
        );
    }

    let delivered = postfix.wait_for_messages("alice", total, DELIVERY_TIMEOUT);
    assert_eq!(
        delivered.len(),
        total,
        "every message delivered exactly once"
    );
    let mut rule_of = vec![None; total];
    for message in &delivered {
        let index = subject_index(message);
        assert!(rule_of[index].is_none(), "message {index} delivered twice");
        rule_of[index] = Some(verdict_rule(message));
    }

    for item in &sent {
        let rule = rule_of[item.index]
            .clone()
            .unwrap_or_else(|| panic!("message {} not delivered", item.index));
        let expected: &[&str] = if item.finished < good_hup {
            &[RULE_A]
        } else if item.started > good_reloaded {
            &[RULE_B]
        } else {
            // In flight during the reload: either set, but scanned.
            &[RULE_A, RULE_B]
        };
        assert!(
            rule.as_deref().is_some_and(|rule| expected.contains(&rule)),
            "message {} got rule {rule:?}, expected one of {expected:?}",
            item.index
        );
    }

    let milter_log = milter.log();
    assert!(
        milter_log.contains("broken.yar:3"),
        "file and line not logged:\n{milter_log}"
    );
    assert!(milter_log.contains("rule reload failed"), "{milter_log}");
    assert_eq!(
        milter_log.matches("rules reloaded").count(),
        1,
        "{milter_log}"
    );
}
