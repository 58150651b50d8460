//! A fast reader for the block YAML that generators and people write most:
//! block mappings and sequences, one-line plain and quoted scalars, comments,
//! `[]`, `{}` and one-line flow sequences of scalars. It produces the same events
//! libyaml would (same scalars, styles and lines) for that subset, and gives up on
//! anything else — tabs, non-ASCII, CRLF, anchors, aliases, tags, block scalars,
//! multi-line scalars, escapes, flow mappings, empty values, odd indentation —
//! so the caller reads that document with libyaml. It never decides that input
//! is invalid: an error is always libyaml's.

use std::borrow::Cow;

/// A parse event; lines are 0-based within the document's text.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Event<'a> {
    MappingStart(usize),
    MappingEnd,
    SequenceStart(usize),
    SequenceEnd,
    Scalar {
        line: usize,
        value: Cow<'a, str>,
        style: Style,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Style {
    Plain,
    SingleQuoted,
    DoubleQuoted,
}

/// Deeper documents go to libyaml, which reports the depth limit.
const MAX_DEPTH: usize = 64;
/// YAML limits implicit keys to 1024 characters; longer ones go to libyaml.
const MAX_KEY: usize = 1000;

#[derive(Clone, Copy)]
struct Line<'a> {
    number: usize,
    indent: usize,
    text: &'a str,
}

/// The events of one document (its text starts at a document start or the
/// stream's start and holds no other document start), or `None` when the
/// document is outside the subset. An empty document gives no events.
pub(super) fn events(doc: &str) -> Option<Vec<Event<'_>>> {
    // Only printable ASCII and line feeds: no tabs, CR, BOM or other encodings.
    if !doc.bytes().all(|b| b == b'\n' || (0x20..0x7f).contains(&b)) {
        return None;
    }
    let mut lines = Vec::new();
    for (number, raw) in super::lines(doc).enumerate() {
        let text = raw.trim_end_matches(' ');
        if number == 0 {
            if let Some(rest) = text.strip_prefix("---") {
                if is_trailer(rest) {
                    continue;
                }
                return None; // content or a tag after `---`
            }
        }
        if text.starts_with("---") || text.starts_with("...") || text.starts_with('%') {
            return None;
        }
        let body = text.trim_start_matches(' ');
        if body.is_empty() || body.starts_with('#') {
            continue;
        }
        lines.push(Line {
            number,
            indent: text.len() - body.len(),
            text: body,
        });
    }
    let mut p = Reader {
        lines,
        pos: 0,
        out: Vec::new(),
        depth: 0,
    };
    if p.lines.is_empty() {
        return Some(Vec::new());
    }
    let first = p.lines[0];
    if is_entry(first.text) {
        p.sequence(first.indent)?;
    } else {
        p.mapping(first.indent)?;
    }
    (p.pos == p.lines.len()).then_some(p.out)
}

struct Reader<'a> {
    lines: Vec<Line<'a>>,
    pos: usize,
    out: Vec<Event<'a>>,
    depth: usize,
}

fn is_entry(text: &str) -> bool {
    text == "-" || text.starts_with("- ")
}

impl<'a> Reader<'a> {
    fn current(&self) -> Option<Line<'a>> {
        self.lines.get(self.pos).copied()
    }

    /// The indentation of the next line, if any.
    fn next_indent(&self) -> Option<usize> {
        self.current().map(|l| l.indent)
    }

    fn enter(&mut self) -> Option<()> {
        self.depth += 1;
        (self.depth <= MAX_DEPTH).then_some(())
    }

    /// A block sequence whose entries start at column `indent`.
    fn sequence(&mut self, indent: usize) -> Option<()> {
        self.enter()?;
        let first = self.current()?;
        self.out.push(Event::SequenceStart(first.number));
        while let Some(line) = self.current() {
            if line.indent != indent || !is_entry(line.text) {
                break;
            }
            let rest = &line.text[1..];
            let content = rest.trim_start_matches(' ');
            if content.is_empty() {
                return None; // `-` alone: a null entry or a value below (rare)
            }
            let column = indent + 1 + (rest.len() - content.len());
            self.lines[self.pos] = Line {
                number: line.number,
                indent: column,
                text: content,
            };
            if is_entry(content) {
                self.sequence(column)?;
            } else if key_of(content)?.is_some() {
                self.mapping(column)?;
            } else {
                self.inline(content, line.number)?;
                self.pos += 1;
                // A deeper line would continue the scalar over lines.
                if self.next_indent().is_some_and(|n| n > indent) {
                    return None;
                }
            }
        }
        if self.next_indent().is_some_and(|n| n > indent) {
            return None;
        }
        self.out.push(Event::SequenceEnd);
        self.depth -= 1;
        Some(())
    }

    /// A block mapping whose keys start at column `indent`.
    fn mapping(&mut self, indent: usize) -> Option<()> {
        self.enter()?;
        let first = self.current()?;
        self.out.push(Event::MappingStart(first.number));
        while let Some(line) = self.current() {
            if line.indent != indent {
                break;
            }
            let (key, style, rest) = key_of(line.text)??;
            self.out.push(Event::Scalar {
                line: line.number,
                value: key,
                style,
            });
            let value = rest.trim_start_matches(' ');
            if value.is_empty() || value.starts_with('#') {
                // The value is the block below: deeper, or a sequence at this column.
                self.pos += 1;
                let next = self.current()?;
                if next.indent > indent {
                    if is_entry(next.text) {
                        self.sequence(next.indent)?;
                    } else {
                        self.mapping(next.indent)?;
                    }
                } else if next.indent == indent && is_entry(next.text) {
                    self.sequence(indent)?;
                } else {
                    return None; // an empty value (null)
                }
            } else {
                self.inline(value, line.number)?;
                self.pos += 1;
            }
            if self.next_indent().is_some_and(|n| n > indent) {
                return None;
            }
        }
        self.out.push(Event::MappingEnd);
        self.depth -= 1;
        Some(())
    }

    /// A value on the rest of a line: a scalar, or a flow collection that
    /// closes on the line.
    fn inline(&mut self, text: &'a str, line: usize) -> Option<()> {
        match text.as_bytes()[0] {
            b'[' | b'{' => {
                let rest = self.flow(text, line, 0)?;
                if !is_trailer(rest) {
                    return None;
                }
            }
            b'"' | b'\'' => {
                let (value, style, rest) = quoted(text)?;
                if !is_trailer(rest) {
                    return None;
                }
                self.out.push(Event::Scalar { line, value, style });
            }
            _ => {
                let value = plain_value(text)?;
                self.out.push(Event::Scalar {
                    line,
                    value: Cow::Borrowed(value),
                    style: Style::Plain,
                });
            }
        }
        Some(())
    }

    /// A flow node at the start of `text`: its events, and the text after it.
    fn flow(&mut self, text: &'a str, line: usize, depth: usize) -> Option<&'a str> {
        if depth > MAX_DEPTH {
            return None;
        }
        let (close, is_map) = match text.as_bytes().first()? {
            b'[' => (b']', false),
            b'{' => (b'}', true),
            b'"' | b'\'' => {
                let (value, style, rest) = quoted(text)?;
                self.out.push(Event::Scalar { line, value, style });
                return Some(rest);
            }
            _ => {
                let end = text.find([',', ']', '}']).unwrap_or(text.len());
                let value = text[..end].trim_end_matches(' ');
                if !is_flow_plain(value) {
                    return None;
                }
                self.out.push(Event::Scalar {
                    line,
                    value: Cow::Borrowed(value),
                    style: Style::Plain,
                });
                return Some(&text[end..]);
            }
        };
        self.out.push(if is_map {
            Event::MappingStart(line)
        } else {
            Event::SequenceStart(line)
        });
        let mut rest = text[1..].trim_start_matches(' ');
        if rest.as_bytes().first() != Some(&close) {
            loop {
                if is_map {
                    rest = self.flow_key(rest, line)?;
                }
                rest = self.flow(rest, line, depth + 1)?.trim_start_matches(' ');
                match rest.as_bytes().first()? {
                    b',' => {
                        rest = rest[1..].trim_start_matches(' ');
                        if rest.as_bytes().first().is_some_and(|b| b"]}".contains(b)) {
                            return None; // a trailing comma
                        }
                    }
                    b if *b == close => break,
                    _ => return None,
                }
            }
        }
        self.out
            .push(if is_map { Event::MappingEnd } else { Event::SequenceEnd });
        Some(&rest[1..])
    }

    /// `key: ` in a flow mapping: the key's event, and the text of its value.
    fn flow_key(&mut self, text: &'a str, line: usize) -> Option<&'a str> {
        let (key, style, rest) = match text.as_bytes().first()? {
            b'"' | b'\'' => quoted(text)?,
            _ => {
                let end = text.find(':')?;
                (Cow::Borrowed(&text[..end]), Style::Plain, &text[end..])
            }
        };
        if style == Style::Plain && (!is_flow_plain(&key) || key.ends_with(' ')) {
            return None;
        }
        let value = rest.strip_prefix(": ")?.trim_start_matches(' ');
        if value.is_empty() || value.as_bytes()[0] == b',' || value.as_bytes()[0] == b'}' {
            return None; // an empty value (null)
        }
        self.out.push(Event::Scalar {
            line,
            value: key,
            style,
        });
        Some(value)
    }
}

/// A plain scalar inside a flow collection, kept to what reads the same
/// everywhere: no indicators, colons or comments.
fn is_flow_plain(value: &str) -> bool {
    starts_plain(value) && !value.contains([':', '#', '[', ']', '{', '}', ','])
}

/// Nothing, or spaces and a comment.
fn is_trailer(rest: &str) -> bool {
    let trimmed = rest.trim_start_matches(' ');
    trimmed.is_empty() || (trimmed.starts_with('#') && trimmed.len() < rest.len())
}

/// Characters a plain scalar may not start with (YAML's indicators).
fn starts_plain(text: &str) -> bool {
    match text.as_bytes() {
        [] => false,
        [b'-', next, ..] => *next != b' ',
        [b'-'] => false,
        [first, ..] => !b"?:,[]{}#&*!|>'\"%@`".contains(first),
    }
}

/// `key: ...` → the key, its style and what follows the colon; `Some(None)`:
/// not a key line; `None`: outside the subset.
#[allow(clippy::type_complexity)]
fn key_of(text: &str) -> Option<Option<(Cow<'_, str>, Style, &str)>> {
    let (key, style, after) = match text.as_bytes()[0] {
        b'"' | b'\'' => {
            let (key, style, rest) = quoted(text)?;
            let rest = rest.trim_start_matches(' ');
            match rest.strip_prefix(':') {
                Some(after) if after.is_empty() || after.starts_with(' ') => (key, style, after),
                _ => return Some(None),
            }
        }
        _ => {
            let Some(colon) = find_separator(text) else {
                // A plain scalar line; with `: ` hidden behind a comment or not.
                return if starts_plain(text) && comment_start(text).is_none() {
                    Some(None)
                } else {
                    None
                };
            };
            let key = &text[..colon];
            if !starts_plain(key) || key.ends_with(' ') || comment_start(key).is_some() {
                return None;
            }
            (Cow::Borrowed(key), Style::Plain, &text[colon + 1..])
        }
    };
    if key.len() > MAX_KEY || key.is_empty() {
        return None;
    }
    Some(Some((key, style, after)))
}

/// Where ` #` (a comment after a space) starts: a byte scan, cheaper than a
/// substring search on these short texts.
fn comment_start(text: &str) -> Option<usize> {
    let b = text.as_bytes();
    memchr::memchr_iter(b'#', b)
        .find(|&i| i > 0 && b[i - 1] == b' ')
        .map(|i| i - 1)
}

/// The first `:` followed by a space or the end of the line.
fn find_separator(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    (0..bytes.len()).find(|&i| bytes[i] == b':' && bytes.get(i + 1).is_none_or(|b| *b == b' '))
}

/// A plain value: up to a comment, with no `: ` (which would open a mapping).
fn plain_value(text: &str) -> Option<&str> {
    if !starts_plain(text) {
        return None;
    }
    let value = match comment_start(text) {
        Some(i) => text[..i].trim_end_matches(' '),
        None => text,
    };
    if find_separator(value).is_some() {
        return None;
    }
    Some(value)
}

/// A quoted scalar that closes on its line: its value, style and the rest.
fn quoted(text: &str) -> Option<(Cow<'_, str>, Style, &str)> {
    let quote = text.as_bytes()[0];
    let body = &text[1..];
    if quote == b'"' {
        let end = body.find('"')?;
        if body[..end].contains('\\') {
            return None; // escapes: libyaml's
        }
        return Some((Cow::Borrowed(&body[..end]), Style::DoubleQuoted, &body[end + 1..]));
    }
    // Single quotes: `''` is a quote.
    let bytes = body.as_bytes();
    let mut i = 0;
    let mut doubled = false;
    while i < bytes.len() {
        if bytes[i] == b'\'' {
            if bytes.get(i + 1) == Some(&b'\'') {
                doubled = true;
                i += 2;
                continue;
            }
            let raw = &body[..i];
            let value = if doubled {
                Cow::Owned(raw.replace("''", "'"))
            } else {
                Cow::Borrowed(raw)
            };
            return Some((value, Style::SingleQuoted, &body[i + 1..]));
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    //! The fast reader must change nothing: for any text, documents, lines and
    //! errors are those of libyaml reading the whole stream.

    use super::super::{parse_documents, read_with_libyaml, Builder, LineMap, YamlDocument, YamlError, MAX_NODES};
    use super::*;

    #[test]
    fn comment_start_is_the_substring_search() {
        for text in ["", "#", " #", "a #b", "a#b #c", "a # b", "##", "x: '#' #"] {
            assert_eq!(comment_start(text), text.find(" #"), "{text:?}");
        }
    }

    fn libyaml_only(text: &str) -> Result<Vec<YamlDocument>, YamlError> {
        let mut docs = Vec::new();
        let mut builder = Builder::new(0, MAX_NODES, |d| docs.push(d));
        read_with_libyaml(&mut builder, text)?;
        drop(builder);
        Ok(docs)
    }

    type Outcome = Result<Vec<(serde_json::Value, usize, LineMap)>, YamlError>;

    fn outcome(r: Result<Vec<YamlDocument>, YamlError>) -> Outcome {
        r.map(|docs| docs.into_iter().map(|d| (d.value, d.start_line, d.lines)).collect())
    }

    /// Both readers agree on `text`; returns how many of its documents the fast
    /// reader took.
    fn agree(text: &str) -> usize {
        let fast = outcome(parse_documents(text));
        let slow = outcome(libyaml_only(text));
        if fast != slow {
            let _ = std::fs::write("/tmp/yaml-differ.txt", text);
        }
        assert_eq!(fast, slow, "the readers differ on:\n{text}");
        super::super::documents(text)
            .into_iter()
            .filter(|(r, _)| events(&text[r.clone()]).is_some_and(|e| !e.is_empty()))
            .count()
    }

    #[test]
    fn the_subset_reads_as_libyaml_does() {
        let cases = [
            "a: 1\nb: x\n",
            "a:\n  b:\n    c: d\n  e: [x, \"y\", 'z''s', 2]\nf: {}\ng: []\n",
            "items:\n- a\n- b\nnext: 1\n",
            "items:\n  - name: a\n    port: 80\n  -   name: b\n      ports:\n      - 1\n      - 2\nz: 0\n",
            "- - a\n  - b\n- c\n",
            "- a: 1\n  b: 2\n- c: 3\n",
            "# head\n\n---   # first\na: 1 # trailing\n   # indented comment\nb: 'x # not a comment'\nc: a#b\n",
            "\"quoted key\": 1\n'single': 2\n\"k\" : 3\n",
            "url: http://example.com:8080/x?y=1\nkey:value: 2\n",
            "n: null\nt: true\nf: False\ni: -12\nh: 0x1F\ne: 1e3\nv: 1.5.0\nt2: ~\ns: '080'\n",
            "a: 1\n---\nb: 2\n---\n---\n# only a comment\n",
            "k: v   \n  \nl: w\n",
            "-1: x\n-a: y\n",
            "a: [ x ,y ]\nb: [\"a,b\", c]\n",
            // Outside the subset (libyaml reads them), or errors (libyaml's).
            "a:\nb: 1\n",
            "a: x\n  continued\n",
            "a: |\n  text\n",
            "a: &x 1\nb: *x\n",
            "a: !!str 1\n",
            "a: \"esc\\\"aped\"\n",
            "a: b: c\n",
            "a:\n  b: 1\n c: 2\n",
            "a:\n  - x\n  b: 1\n",
            "a: 1\n\tb: 2\n",
            "a: [x,]\n",
            "a: [x, [y]]\n",
            "a: {b: 1, c: [x, {d: 'e'}], \"f\": g}\n",
            "a: {b: }\n",
            "a: {b:c}\n",
            "a: {b: 1,}\n",
            "a: [a:b]\n",
            "a: {b: 1} x\n",
            "a: {b: [1, 2]\n",
            "a: 'unterminated\n",
            "- \n- a\n",
            "-\n  a: 1\n",
            "? a\n: b\n",
            "a: 1\n...\nb: 2\n",
            "--- x\n",
            "--- !tag\na: 1\n",
            "%YAML 1.2\n---\na: 1\n",
            "a: 1\r\nb: 2\r\n",
            "\u{feff}a: 1\n",
            "a: é\n",
            "  a: 1\nb: 2\n",
            "a: \"x\"y\n",
            "a: \"x\"#y\n",
            "a: [x] y\n",
            "plain\n",
            "a: - b\n",
            "a: @x\n",
            "a:  # comment\n  b: 1\n",
            "a: 1\na: 2\n",
            "<<: {a: 1}\n",
            "[a, b]\n",
            "{\"a\": 1}\n",
        ];
        let mut fast = 0;
        for c in cases {
            fast += agree(c);
        }
        assert!(fast >= 18, "the fast reader took only {fast} documents");
    }

    /// xorshift64*, deterministic.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n.max(1) as u64) as usize
        }
    }

    fn corpus() -> Vec<String> {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let shared = root.join("../shared/istio/samples");
        assert!(shared.exists(), "{} is missing", shared.display());
        let mut files = Vec::new();
        for dir in [root.join("tests"), shared] {
            let mut stack = vec![dir];
            while let Some(d) = stack.pop() {
                for e in std::fs::read_dir(&d).unwrap().flatten() {
                    let p = e.path();
                    if p.is_dir() {
                        stack.push(p);
                    } else if p.extension().is_some_and(|x| x == "yaml" || x == "yml") {
                        files.push(p);
                    }
                }
            }
        }
        files.sort();
        let mut texts: Vec<String> = files.iter().filter_map(|p| std::fs::read_to_string(p).ok()).collect();
        let scale = crate::synthetic::Scale::PRODUCT.divided(1000);
        texts.extend(
            crate::synthetic::objects(&scale)
                .iter()
                .take(60)
                .map(crate::synthetic::to_yaml),
        );
        texts
    }

    #[test]
    fn every_corpus_file_reads_as_libyaml_does() {
        let texts = corpus();
        let fast: usize = texts.iter().map(|t| agree(t)).sum();
        let docs: usize = texts.iter().map(|t| super::super::documents(t).len()).sum();
        assert!(texts.len() > 100, "{} files", texts.len());
        // Most real manifests are in the subset.
        assert!(fast * 2 > docs, "the fast reader took {fast} of {docs} documents");
        println!("the fast reader took {fast} of {docs} documents");
    }

    /// Random edits of real manifests: indicators, spaces, line breaks, tabs,
    /// deleted characters, shifted lines. Whatever comes out, valid or not, the
    /// two readers must agree, errors included.
    #[test]
    fn mutated_manifests_read_as_libyaml_does() {
        let texts = corpus();
        let rounds: usize = std::env::var("MESHGATE_YAML_ROUNDS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(4000);
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let alphabet: Vec<char> = " -:#\"'[]{},\n\ta0&*!|>%?@.~\\".chars().collect();
        let mut fast = 0;
        for _ in 0..rounds {
            let base = &texts[rng.below(texts.len())];
            if base.len() > 20_000 {
                continue;
            }
            let mut text: Vec<char> = base.chars().collect();
            for _ in 0..1 + rng.below(3) {
                let at = rng.below(text.len() + 1);
                match rng.below(4) {
                    0 => text.insert(at, alphabet[rng.below(alphabet.len())]),
                    1 if at < text.len() => {
                        text.remove(at);
                    }
                    2 => {
                        // Shift the line holding `at` by a space, in or out.
                        let start = text[..at].iter().rposition(|c| *c == '\n').map_or(0, |i| i + 1);
                        if rng.below(2) == 0 {
                            text.insert(start, ' ');
                        } else if text.get(start) == Some(&' ') {
                            text.remove(start);
                        }
                    }
                    _ => text.insert(at, ' '),
                }
            }
            let text: String = text.into_iter().collect();
            fast += agree(&text);
        }
        assert!(
            fast > rounds,
            "the fast reader took only {fast} documents in {rounds} rounds"
        );
    }
}
