//! Compiling rule files into a [`RuleSet`] and scanning with it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use include_dir::{Dir, include_dir};
use yara::{Compiler, MetadataValue, Rules};

use super::{BOOL_EXTERNALS, Confidence, EXTERNALS, Match, MessageContext};
use crate::mime::ScanObject;

/// The rules in `signatures/`, embedded at build time as the default set.
static EMBEDDED: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/signatures");

/// One rule file that could not be used, with the compiler's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleFileError {
    pub file: PathBuf,
    /// Line of the error, 0 when the error is not tied to a line.
    pub line: usize,
    pub message: String,
}

impl std::fmt::Display for RuleFileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.line > 0 {
            write!(f, "{}:{}: {}", self.file.display(), self.line, self.message)
        } else {
            write!(f, "{}: {}", self.file.display(), self.message)
        }
    }
}

/// A rule set that could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RulesError {
    #[error("cannot read rules directory {path}")]
    ReadDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "no rule files (*.yar, *.yara) in {path}: point `signatures` at a directory of YARA rules"
    )]
    Empty { path: PathBuf },
    #[error("{} rule file error(s): {}", .errors.len(), join_errors(.errors))]
    Files { errors: Vec<RuleFileError> },
    #[error("libyara failed: {message}")]
    Yara { message: String },
}

fn join_errors(errors: &[RuleFileError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// Meta values of one rule, read once at compile time.
#[derive(Debug, Clone)]
struct RuleMeta {
    family: String,
    variant: Option<String>,
    confidence: Confidence,
    /// Meta `test_file`, see [`Match::test_file`].
    test_file: bool,
}

/// A compiled rule set, shared read-only by all workers.
pub struct RuleSet {
    rules: Rules,
    meta: HashMap<String, RuleMeta>,
    /// Source of the rules (directory or embedded set), for logs.
    pub source: String,
}

impl std::fmt::Debug for RuleSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuleSet")
            .field("source", &self.source)
            .field("rules", &self.meta.len())
            .finish()
    }
}

/// One rule file's name and text.
struct RuleFile {
    name: PathBuf,
    text: String,
}

impl RuleSet {
    /// Compiles the rules embedded in the binary.
    ///
    /// # Errors
    /// Only when the embedded rules are broken, which the test suite catches.
    pub fn embedded() -> Result<RuleSet, RulesError> {
        let mut files: Vec<RuleFile> = EMBEDDED
            .files()
            .filter(|file| is_rule_file(file.path()))
            .map(|file| RuleFile {
                name: PathBuf::from("signatures").join(file.path()),
                text: String::from_utf8_lossy(file.contents()).into_owned(),
            })
            .collect();
        files.sort_by(|a, b| a.name.cmp(&b.name));
        compile(&files, "embedded signatures".to_string())
    }

    /// Compiles every `*.yar` and `*.yara` file in `dir`.
    ///
    /// # Errors
    /// The directory cannot be read, contains no rule files, or any file fails
    /// to compile or lacks the required meta; every broken file is listed.
    pub fn from_dir(dir: &Path) -> Result<RuleSet, RulesError> {
        let files = read_dir(dir)?;
        compile(&files, dir.display().to_string())
    }

    /// Loads from `dir`, or the embedded rules when `dir` is `None`.
    pub fn load(dir: Option<&Path>) -> Result<RuleSet, RulesError> {
        match dir {
            Some(dir) => RuleSet::from_dir(dir),
            None => RuleSet::embedded(),
        }
    }

    /// Number of rules in the set.
    pub fn len(&self) -> usize {
        self.meta.len()
    }

    pub fn is_empty(&self) -> bool {
        self.meta.is_empty()
    }

    /// Returns the distinct meta `family` values of the rules, sorted.
    pub fn families(&self) -> Vec<String> {
        let mut families: Vec<String> = self.meta.values().map(|m| m.family.clone()).collect();
        families.sort();
        families.dedup();
        families
    }

    /// Scans one object. `timeout_secs` bounds libyara's scan time.
    ///
    /// # Errors
    /// libyara failed or timed out on this object.
    pub fn scan(
        &self,
        object: &ScanObject,
        context: &MessageContext,
        timeout_secs: i32,
    ) -> Result<Vec<Match>, RulesError> {
        let yara_error = |e: yara::YaraError| RulesError::Yara {
            message: e.to_string(),
        };
        let mut scanner = self.rules.scanner().map_err(yara_error)?;
        scanner.set_timeout(timeout_secs.max(1));
        // Fast mode stops recording a string after its first match unless
        // a condition counts or locates it (`#s`, `@s`, `!s`), which libyara
        // marks at compile time. Without it, text that repeats a short
        // string such as "sober" megabytes long stores one match record per
        // occurrence per rule: about 1 GB for 5 MiB of text.
        // Reporting matching rules only matters for speed: with neither
        // report flag set, libyara reports every rule, and the yara crate
        // builds a `Rule` with its metadata for each one it then drops. That
        // was about 10% of the milter's perf samples on clean mail.
        scanner.set_flags(yara::ScanFlags::FAST_MODE | yara::ScanFlags::REPORT_RULES_MATCHING);
        let values: [(&str, &str); 11] = [
            ("file_name", object.file_name.as_deref().unwrap_or("")),
            ("content_type", object.content_type.as_deref().unwrap_or("")),
            ("object_path", &object.path),
            ("object_kind", object.kind.as_str()),
            ("subject", &context.subject),
            ("from_domain", &context.from_domain),
            ("attachment_names", &context.attachment_names),
            ("helo", &context.helo),
            ("envelope_from", &context.envelope_from),
            ("recipient_domains", &context.recipient_domains),
            ("recipient_language", &context.recipient_language),
        ];
        for (name, value) in values {
            // libyara takes C strings: a NUL inside a value would end it early.
            let value = value.replace('\0', "");
            scanner
                .define_variable(name, value.as_str())
                .map_err(yara_error)?;
        }
        scanner
            .define_variable("has_executable", context.has_executable)
            .map_err(yara_error)?;
        scanner
            .define_variable("has_zip", context.has_zip)
            .map_err(yara_error)?;
        scanner
            .define_variable("helo_matches_sober_g", context.helo_matches_sober_g)
            .map_err(yara_error)?;

        let hits = scanner.scan_mem(&object.data).map_err(yara_error)?;
        Ok(hits
            .iter()
            .filter_map(|hit| {
                let meta = self.meta.get(hit.identifier)?;
                Some(Match {
                    rule: hit.identifier.to_string(),
                    family: meta.family.clone(),
                    variant: meta.variant.clone(),
                    confidence: meta.confidence,
                    object: object.path.clone(),
                    test_file: meta.test_file,
                })
            })
            .collect())
    }
}

/// Compiles each file of `dir` on its own and returns every broken file.
/// An empty result means the directory is a usable rule set.
///
/// # Errors
/// The directory cannot be read or contains no rule files.
pub fn check_dir(dir: Option<&Path>) -> Result<Vec<RuleFileError>, RulesError> {
    match RuleSet::load(dir) {
        Ok(_) => Ok(Vec::new()),
        Err(RulesError::Files { errors }) => Ok(errors),
        Err(other) => Err(other),
    }
}

fn is_rule_file(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yar" | "yara")
    )
}

fn read_dir(dir: &Path) -> Result<Vec<RuleFile>, RulesError> {
    let read_error = |source| RulesError::ReadDir {
        path: dir.to_path_buf(),
        source,
    };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(read_error)? {
        let path = entry.map_err(read_error)?.path();
        if !is_rule_file(&path) {
            continue;
        }
        let text = std::fs::read(&path).map_err(read_error)?;
        files.push(RuleFile {
            name: path,
            text: String::from_utf8_lossy(&text).into_owned(),
        });
    }
    if files.is_empty() {
        return Err(RulesError::Empty {
            path: dir.to_path_buf(),
        });
    }
    files.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(files)
}

fn new_compiler() -> Result<Compiler, RulesError> {
    let yara_error = |e: yara::YaraError| RulesError::Yara {
        message: e.to_string(),
    };
    let mut compiler = Compiler::new().map_err(yara_error)?;
    for name in EXTERNALS {
        compiler.define_variable(name, "").map_err(yara_error)?;
    }
    for name in BOOL_EXTERNALS {
        compiler.define_variable(name, false).map_err(yara_error)?;
    }
    Ok(compiler)
}

/// Namespace of a file: its stem, so equal rule names in two files do not clash.
fn namespace(file: &RuleFile) -> String {
    file.name
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "default".to_string())
}

/// Compiles one file alone; libyara's compiler is unusable after an error,
/// so this is how each broken file is found.
fn compile_one(file: &RuleFile) -> Result<Rules, Vec<RuleFileError>> {
    let compiler = new_compiler().map_err(|e| vec![file_error(file, 0, e.to_string())])?;
    let compiled = compiler
        .add_rules_str_with_namespace(&file.text, &namespace(file))
        .and_then(|c| c.compile_rules().map_err(yara::Error::from));
    match compiled {
        Ok(rules) => Ok(rules),
        Err(yara::Error::Compile(errors)) => Err(errors
            .iter()
            .filter(|e| e.level == yara::CompileErrorLevel::Error)
            .map(|e| file_error(file, e.line, e.message.clone()))
            .collect()),
        Err(other) => Err(vec![file_error(file, 0, other.to_string())]),
    }
}

fn file_error(file: &RuleFile, line: usize, message: String) -> RuleFileError {
    RuleFileError {
        file: file.name.clone(),
        line,
        message,
    }
}

fn compile(files: &[RuleFile], source: String) -> Result<RuleSet, RulesError> {
    let mut errors = Vec::new();
    let mut meta = HashMap::new();
    let mut defined_at = HashMap::new();
    for file in files {
        match compile_one(file) {
            Ok(rules) => errors.extend(read_meta(file, &rules, &mut meta, &mut defined_at)),
            Err(file_errors) => errors.extend(file_errors),
        }
    }
    if !errors.is_empty() {
        return Err(RulesError::Files { errors });
    }

    let mut compiler = new_compiler()?;
    for file in files {
        compiler = compiler
            .add_rules_str_with_namespace(&file.text, &namespace(file))
            .map_err(|e| RulesError::Yara {
                message: e.to_string(),
            })?;
    }
    let rules = compiler.compile_rules().map_err(|e| RulesError::Yara {
        message: e.to_string(),
    })?;
    Ok(RuleSet {
        rules,
        meta,
        source,
    })
}

/// Reads `family`, `variant`, `confidence` and `test_file` of every rule in `rules`.
/// A rule without a family or with an unknown confidence is an error: the
/// verdict could not say what it found or whether to act on it.
/// `defined_at` maps each rule read so far to its file and line, so that a
/// rule name used again in a later file is reported with both places.
fn read_meta(
    file: &RuleFile,
    rules: &Rules,
    meta: &mut HashMap<String, RuleMeta>,
    defined_at: &mut HashMap<String, (PathBuf, usize)>,
) -> Vec<RuleFileError> {
    let mut errors = Vec::new();
    for rule in rules.get_rules() {
        let text = |key: &str| {
            rule.metadatas.iter().find_map(|m| match m.value {
                MetadataValue::String(value) if m.identifier == key => Some(value.to_string()),
                _ => None,
            })
        };
        let Some(family) = text("family").filter(|f| !f.is_empty()) else {
            errors.push(file_error(
                file,
                rule_line(&file.text, rule.identifier),
                format!(
                    "rule {} has no meta family: add e.g. family = \"Sober\"",
                    rule.identifier
                ),
            ));
            continue;
        };
        let confidence_text = text("confidence").unwrap_or_default();
        let Some(confidence) = Confidence::parse(&confidence_text) else {
            errors.push(file_error(
                file,
                rule_line(&file.text, rule.identifier),
                format!(
                    "rule {} has confidence {confidence_text:?}: use \"high\", \"medium\" or \"low\"",
                    rule.identifier
                ),
            ));
            continue;
        };
        let line = rule_line(&file.text, rule.identifier);
        if let Some((first_file, first_line)) = defined_at.get(rule.identifier) {
            errors.push(file_error(
                file,
                line,
                format!(
                    "rule {} is already defined at {}:{first_line}: rule names must be unique \
                     across files, so rename one of them",
                    rule.identifier,
                    first_file.display()
                ),
            ));
            continue;
        }
        let test_file = rule.metadatas.iter().find(|m| m.identifier == "test_file");
        let test_file = match test_file.map(|m| &m.value) {
            None => false,
            Some(MetadataValue::Boolean(value)) => *value,
            // A quoted "true" would silently turn the rule into one that lists.
            Some(_) => {
                errors.push(file_error(
                    file,
                    rule_line(&file.text, rule.identifier),
                    format!(
                        "rule {} has a meta test_file that is not a boolean: write test_file = true without quotes",
                        rule.identifier
                    ),
                ));
                continue;
            }
        };
        defined_at.insert(rule.identifier.to_string(), (file.name.clone(), line));
        let variant = text("variant").filter(|v| !v.is_empty());
        meta.insert(
            rule.identifier.to_string(),
            RuleMeta {
                family,
                variant,
                confidence,
                test_file,
            },
        );
    }
    errors
}

/// Line (1-based) of the `rule NAME` declaration in `text`, or 0 when it
/// is not found, so a meta error points at the rule.
fn rule_line(text: &str, identifier: &str) -> usize {
    for (index, line) in text.lines().enumerate() {
        let mut words = line
            .split(|c: char| c.is_whitespace() || c == '{' || c == ':')
            .filter(|word| !word.is_empty())
            .skip_while(|word| matches!(*word, "private" | "global"));
        if words.next() == Some("rule") && words.next() == Some(identifier) {
            return index + 1;
        }
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mime::ObjectKind;

    fn write_rules(dir: &Path, name: &str, text: &str) {
        std::fs::write(dir.join(name), text).unwrap();
    }

    fn object(name: &str, data: &[u8]) -> ScanObject {
        ScanObject {
            path: "2!".to_string() + name,
            kind: ObjectKind::ArchiveMember,
            file_name: Some(name.to_string()),
            content_type: None,
            data: data.to_vec(),
        }
    }

    const NAME_RULE: &str = r#"
rule test_exe_name {
  meta:
    family = "Test"
    variant = "A"
    confidence = "high"
  condition:
    file_name matches /\.exe$/ and object_kind == "archive_member"
}
"#;

    #[test]
    fn bundled_rules_have_all_meta() {
        const REQUIRED: [&str; 5] = [
            "family",
            "variant",
            "confidence",
            "description",
            "reference",
        ];
        for file in EMBEDDED.files().filter(|f| is_rule_file(f.path())) {
            let text = String::from_utf8_lossy(file.contents());
            let rules = new_compiler()
                .unwrap()
                .add_rules_str(&text)
                .unwrap()
                .compile_rules()
                .unwrap();
            for rule in rules.get_rules() {
                for key in REQUIRED {
                    assert!(
                        rule.metadatas.iter().any(|m| m.identifier == key),
                        "{}: rule {} has no meta {key}",
                        file.path().display(),
                        rule.identifier
                    );
                }
            }
        }
    }

    #[test]
    fn embedded_rules_compile() {
        let rules = RuleSet::embedded().unwrap();
        assert!(!rules.is_empty());
    }

    #[test]
    fn file_name_external_is_matched() {
        let dir = tempfile::tempdir().unwrap();
        write_rules(dir.path(), "test.yar", NAME_RULE);
        let rules = RuleSet::from_dir(dir.path()).unwrap();
        let context = MessageContext::default();

        let hits = rules.scan(&object("a.exe", b"MZ"), &context, 5).unwrap();
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].rule, "test_exe_name");
        assert_eq!(hits[0].family, "Test");
        assert_eq!(hits[0].variant.as_deref(), Some("A"));
        assert_eq!(hits[0].confidence, Confidence::High);
        assert_eq!(hits[0].object, "2!a.exe");

        let misses = rules.scan(&object("a.txt", b"MZ"), &context, 5).unwrap();
        assert!(misses.is_empty());
    }

    #[test]
    fn duplicate_rule_names_both_places() {
        let dir = tempfile::tempdir().unwrap();
        write_rules(dir.path(), "a.yar", NAME_RULE);
        write_rules(dir.path(), "b.yar", &format!("// copy\n\n{NAME_RULE}"));
        let errors = check_dir(Some(dir.path())).unwrap();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].file.ends_with("b.yar"), "{errors:?}");
        assert_eq!(errors[0].line, 4);
        let message = &errors[0].message;
        assert!(message.contains("rule test_exe_name"), "{message}");
        assert!(message.contains("a.yar:2"), "{message}");
    }

    #[test]
    fn broken_file_is_named_with_line() {
        let dir = tempfile::tempdir().unwrap();
        write_rules(dir.path(), "good.yar", NAME_RULE);
        write_rules(
            dir.path(),
            "bad.yar",
            "rule ok { condition: true }\n\nrule broken {\n  condition: nonsense_identifier\n}\n",
        );
        let errors = check_dir(Some(dir.path())).unwrap();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].file.ends_with("bad.yar"));
        assert_eq!(errors[0].line, 4);
        assert!(errors[0].message.contains("nonsense_identifier"));
    }

    #[test]
    fn test_file_meta_is_read() {
        let dir = tempfile::tempdir().unwrap();
        write_rules(
            dir.path(),
            "test.yar",
            "rule probe { meta: family = \"Probe\" confidence = \"high\" test_file = true condition: true }",
        );
        let rules = RuleSet::from_dir(dir.path()).unwrap();
        let hits = rules
            .scan(&object("a.txt", b"x"), &MessageContext::default(), 5)
            .unwrap();
        assert_eq!(hits.len(), 1);
        assert!(hits[0].test_file);

        let plain = RuleSet::from_dir(write_name_rule().path()).unwrap();
        let hits = plain
            .scan(&object("a.exe", b"MZ"), &MessageContext::default(), 5)
            .unwrap();
        assert!(!hits[0].test_file);
    }

    #[test]
    fn quoted_test_file_meta_is_rejected() {
        let dir = tempfile::tempdir().unwrap();
        write_rules(
            dir.path(),
            "test.yar",
            "rule probe { meta: family = \"Probe\" confidence = \"high\" test_file = \"true\" condition: true }",
        );
        let err = RuleSet::from_dir(dir.path()).unwrap_err().to_string();
        assert!(err.contains("probe"), "{err}");
        assert!(err.contains("test_file = true without quotes"), "{err}");
    }

    fn write_name_rule() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        write_rules(dir.path(), "name.yar", NAME_RULE);
        dir
    }

    #[test]
    fn rule_without_family_is_rejected() {
        let dir = tempfile::tempdir().unwrap();
        write_rules(
            dir.path(),
            "nometa.yar",
            "rule bare { meta: confidence = \"high\" condition: true }",
        );
        let err = RuleSet::from_dir(dir.path()).unwrap_err().to_string();
        assert!(err.contains("bare"), "{err}");
        assert!(err.contains("family"), "{err}");
    }

    #[test]
    fn meta_error_names_rule_line() {
        let dir = tempfile::tempdir().unwrap();
        write_rules(
            dir.path(),
            "meta.yar",
            "rule good {\n  meta:\n    family = \"X\"\n    confidence = \"low\"\n  condition:\n    true\n}\n\nprivate rule unsure: tag {\n  meta:\n    family = \"X\"\n    confidence = \"maybe\"\n  condition:\n    true\n}\n",
        );
        let errors = check_dir(Some(dir.path())).unwrap();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].line, 9, "{errors:?}");
        assert!(errors[0].message.contains("maybe"), "{errors:?}");
    }

    #[test]
    fn empty_dir_is_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let err = RuleSet::from_dir(dir.path()).unwrap_err();
        assert!(matches!(err, RulesError::Empty { .. }), "{err}");
    }
}
