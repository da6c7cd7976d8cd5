//! Tokenizer for Received header values: words, `[literals]`,
//! parentheses and semicolons.

/// A lexical element of a Received value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Token<'a> {
    /// The raw text after the first top-level `from`, up to white space.
    /// It is usually the client's HELO argument, so it is read whole,
    /// brackets and parentheses included, to keep a hostile HELO such as
    /// `x)(y` from changing how the rest of the header is read.
    Name(&'a str),
    Word(&'a str),
    /// The text inside `[...]`, brackets removed.
    Literal(&'a str),
    Open,
    Close,
    Semicolon,
}

const WORD_END: &[u8] = b"()[];";

/// Splits a Received value into tokens. An unclosed `[` runs to the end,
/// and a stray `]` is dropped.
pub(super) fn tokenize(value: &str) -> Vec<Token<'_>> {
    let bytes = value.as_bytes();
    let mut tokens = Vec::new();
    let mut depth = 0usize;
    let mut seen_from = false;
    let mut expect_name = false;
    let mut addresses = AddressEnds::default();
    let mut pos = 0;

    // Every delimiter is ASCII, so each slice boundary is a char boundary.
    while pos < bytes.len() {
        let byte = bytes[pos];
        if byte.is_ascii_whitespace() {
            pos += 1;
            continue;
        }
        if std::mem::take(&mut expect_name) {
            let end = scan(bytes, pos, |b| b.is_ascii_whitespace());
            if is_name(bytes, pos, end) {
                tokens.push(Token::Name(&value[pos..end]));
                pos = end;
                continue;
            }
        }
        match byte {
            b'(' => {
                tokens.push(Token::Open);
                depth += 1;
                pos += 1;
            }
            b')' => {
                tokens.push(Token::Close);
                depth = depth.saturating_sub(1);
                pos += 1;
            }
            b'[' => {
                let end = scan(bytes, pos + 1, |b| b == b']');
                tokens.push(Token::Literal(&value[pos + 1..end]));
                pos = (end + 1).min(bytes.len());
            }
            b']' => pos += 1,
            b';' => {
                tokens.push(Token::Semicolon);
                pos += 1;
            }
            // An address in angle brackets or a quoted local part comes
            // from the sender, so its parentheses or semicolons must not
            // open comments or end the header: `<"x)(authenticated ("@e>`
            // is one word.
            b'<' | b'"' if let Some(end) = addresses.end(bytes, pos) => {
                tokens.push(Token::Word(&value[pos..end]));
                pos = end;
            }
            _ => {
                let end = scan(bytes, pos, |b| {
                    b.is_ascii_whitespace() || WORD_END.contains(&b)
                });
                let word = &value[pos..end];
                if depth == 0 && !seen_from && word.eq_ignore_ascii_case("from") {
                    seen_from = true;
                    expect_name = true;
                }
                tokens.push(Token::Word(word));
                pos = end;
            }
        }
    }
    tokens
}

/// Decides whether the run `start..end` after `from` is a name. A run that
/// starts with `(` is a comment, as in ecelerity's `from ([ip] helo=x)`,
/// unless another comment follows it. Postfix and Sendmail always write
/// `from helo (rdns [ip])`, so this keeps a HELO argument such as `(a` or
/// `(x[192.0.2.1])` as one name that cannot swallow the real comment.
fn is_name(bytes: &[u8], start: usize, end: usize) -> bool {
    if bytes.get(start) != Some(&b'(') {
        return true;
    }
    let next = scan(bytes, end, |b| !b.is_ascii_whitespace());
    bytes.get(next) == Some(&b'(')
}

/// Memo of [`address_end`] over one value, so that a value full of
/// unclosed `<` or `"` is tokenized in linear time rather than rescanned to
/// its end from each of them.
#[derive(Default)]
struct AddressEnds {
    /// True once a quoted word ran to the end unclosed. Every later `"`
    /// then runs to the end as well: the failed scan passed it escaped and
    /// was in the quoted state right after it, which is where a scan from
    /// that `"` starts.
    quote_unclosed: bool,
    /// For each position, where an angle address whose `<` sits just
    /// before it ends ([`NO_END`] when it never closes). Built on the first
    /// unclosed `<`, because for `<` a failed scan does not decide the
    /// later ones.
    angle: Option<Vec<u32>>,
}

const NO_END: u32 = u32::MAX;

impl AddressEnds {
    /// Returns what [`address_end`] returns for `start`.
    fn end(&mut self, bytes: &[u8], start: usize) -> Option<usize> {
        if bytes[start] == b'"' {
            if self.quote_unclosed {
                return None;
            }
            let end = address_end(bytes, start);
            self.quote_unclosed = end.is_none();
            return end;
        }
        if let Some(angle) = &self.angle {
            return angle
                .get(start + 1)
                .filter(|&&end| end != NO_END)
                .map(|&end| end as usize);
        }
        let end = address_end(bytes, start);
        // Values past 4 GiB cannot index with u32; they keep the plain scan.
        if end.is_none() && u32::try_from(bytes.len()).is_ok() {
            self.angle = Some(angle_ends(bytes));
        }
        end
    }
}

/// Runs the `<` case of [`address_end`] from every position at once,
/// right to left. An unquoted scan from `p` ends after the first unquoted
/// `>`, and a `"` switches it to the quoted scan. In the quoted scan a `\`
/// skips one byte and a `"` switches back. Only the quoted results one and
/// two positions ahead are needed, so they are kept in two variables.
fn angle_ends(bytes: &[u8]) -> Vec<u32> {
    let length = bytes.len();
    let mut unquoted = vec![NO_END; length + 1];
    // Quoted-scan results at positions p + 1 and p + 2.
    let (mut quoted_next, mut quoted_after) = (NO_END, NO_END);
    for p in (0..length).rev() {
        let quoted_here = match bytes[p] {
            b'\\' => quoted_after,
            b'"' => unquoted[p + 1],
            _ => quoted_next,
        };
        unquoted[p] = match bytes[p] {
            // `p + 1 <= length`, which the caller checked fits in u32.
            b'>' => u32::try_from(p + 1).unwrap_or(NO_END),
            b'"' => quoted_next,
            _ => unquoted[p + 1],
        };
        quoted_after = quoted_next;
        quoted_next = quoted_here;
    }
    unquoted
}

/// Returns the end of an address word starting at `start` with `<` or `"`:
/// after the closing `>`, or after the closing quote and the rest of the
/// word (`"a b"@example.org`). `None` when it is not closed, so that a
/// stray `<` or `"` is read as an ordinary character.
fn address_end(bytes: &[u8], start: usize) -> Option<usize> {
    let mut pos = start + 1;
    let mut quoted = bytes[start] == b'"';
    while pos < bytes.len() {
        match bytes[pos] {
            b'\\' if quoted => pos += 1,
            b'"' => {
                quoted = !quoted;
                if bytes[start] == b'"' && !quoted {
                    let rest = scan(bytes, pos + 1, |b| {
                        b.is_ascii_whitespace() || WORD_END.contains(&b)
                    });
                    return Some(rest);
                }
            }
            b'>' if !quoted && bytes[start] == b'<' => return Some(pos + 1),
            _ => {}
        }
        pos += 1;
    }
    None
}

/// Returns the index of the first byte at or after `start` that matches
/// `stop`, or the length.
fn scan(bytes: &[u8], start: usize, stop: impl Fn(u8) -> bool) -> usize {
    bytes
        .iter()
        .skip(start)
        .position(|&b| stop(b))
        .map_or(bytes.len(), |offset| start + offset)
}

/// Returns the index of the last top-level `;`, which starts the date, or
/// the token count when there is none. Earlier top-level semicolons occur
/// in real headers (SquirrelMail writes `(...); by host`) and are ignored.
pub(super) fn date_start(tokens: &[Token<'_>]) -> usize {
    let mut depth = 0usize;
    let mut start = tokens.len();
    for (index, token) in tokens.iter().enumerate() {
        match token {
            Token::Open => depth += 1,
            Token::Close => depth = depth.saturating_sub(1),
            Token::Semicolon if depth == 0 => start = index,
            _ => {}
        }
    }
    start
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Returns every string of up to `length` bytes over `alphabet`.
    fn strings(alphabet: &[u8], length: usize) -> Vec<Vec<u8>> {
        let mut all = vec![Vec::new()];
        let mut last = vec![Vec::new()];
        for _ in 0..length {
            let mut next = Vec::new();
            for prefix in &last {
                for &byte in alphabet {
                    let mut text: Vec<u8> = prefix.clone();
                    text.push(byte);
                    next.push(text);
                }
            }
            all.extend(next.iter().cloned());
            last = next;
        }
        all
    }

    #[test]
    fn address_memo_matches_plain_scan() {
        for text in strings(b"<>\"\\a", 7) {
            let mut memo = AddressEnds::default();
            for start in 0..text.len() {
                if matches!(text[start], b'<' | b'"') {
                    let expected = address_end(&text, start);
                    let got = memo.end(&text, start);
                    assert_eq!(
                        got,
                        expected,
                        "{:?} at {start}",
                        String::from_utf8_lossy(&text)
                    );
                }
            }
        }
    }
}
