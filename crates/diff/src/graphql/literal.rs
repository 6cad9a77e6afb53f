//! String literals: the text of a `"..."` or `"""..."""` token → its value.
//!
//! In: the raw literal as written in the source. Out: the string the
//! GraphQL spec reads from it. Both readers use it for descriptions and
//! string values.

/// The value of a string literal as written in the source (`"..."` or
/// `"""..."""`), read as the GraphQL spec says: escapes resolved, and a
/// block string without its common indent and its blank first and last
/// lines.
pub(super) fn string_value(raw: &str) -> String {
    if let Some(body) = raw
        .strip_prefix("\"\"\"")
        .and_then(|s| s.strip_suffix("\"\"\""))
    {
        return block_string(body);
    }
    let body = raw
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or(raw);
    if !body.contains('\\') {
        return body.to_string();
    }
    let mut out = String::with_capacity(body.len());
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('b') => out.push('\u{8}'),
            Some('f') => out.push('\u{c}'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('t') => out.push('\t'),
            Some('u') => out.push(unicode_escape(&mut chars)),
            // `\"`, `\\` and `\/`: the lexer lets no other escape through.
            Some(c) => out.push(c),
            None => out.push('\\'),
        }
    }
    out
}

/// The character of a `\uXXXX` (a surrogate pair is two of them) or
/// `\u{X...}` escape, after its `\u`.
pub(super) fn unicode_escape(chars: &mut std::str::Chars<'_>) -> char {
    fn hex(chars: &mut std::str::Chars<'_>, n: usize) -> u32 {
        chars
            .by_ref()
            .take(n)
            .fold(0, |v, c| (v << 4) | c.to_digit(16).unwrap_or(0))
    }
    let value = if chars.as_str().starts_with('{') {
        chars.next();
        let mut v: u32 = 0;
        for c in chars.by_ref() {
            if c == '}' {
                break;
            }
            v = v
                .saturating_mul(16)
                .saturating_add(c.to_digit(16).unwrap_or(0));
        }
        v
    } else {
        let lead = hex(chars, 4);
        if (0xD800..=0xDBFF).contains(&lead) && chars.as_str().starts_with("\\u") {
            chars.nth(1);
            let trail = hex(chars, 4);
            (lead - 0xD800) * 0x400 + trail.saturating_sub(0xDC00) + 0x10000
        } else {
            lead
        }
    };
    char::from_u32(value).unwrap_or('\u{FFFD}')
}

/// The lines of a block string: split at `\r\n`, `\n` or `\r`.
pub(super) struct Lines<'a>(Option<&'a str>);

impl<'a> Iterator for Lines<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let s = self.0?;
        match s.bytes().position(|b| b == b'\r' || b == b'\n') {
            None => {
                self.0 = None;
                Some(s)
            }
            Some(i) => {
                let (line, rest) = s.split_at(i);
                let skip = if rest.starts_with("\r\n") { 2 } else { 1 };
                self.0 = rest.get(skip..);
                Some(line)
            }
        }
    }
}

/// A block string's value (the spec's `BlockStringValue`).
pub(super) fn block_string(raw: &str) -> String {
    if !raw.bytes().any(|b| b == b'\n' || b == b'\r') && !raw.contains("\\\"\"\"") {
        // One line: kept whole, unless blank.
        let blank = raw.bytes().all(|b| b == b' ' || b == b'\t');
        return if blank {
            String::new()
        } else {
            raw.to_string()
        };
    }
    let blank = |l: &str| l.bytes().all(|b| b == b' ' || b == b'\t');
    let indent = |l: &str| l.bytes().take_while(|&b| b == b' ' || b == b'\t').count();
    let common = Lines(Some(raw))
        .skip(1)
        .filter_map(|l| Some(indent(l)).filter(|&i| i < l.len()))
        .min()
        .unwrap_or(0);
    let mut out = String::with_capacity(raw.len());
    // The text up to the last line that is not blank.
    let mut end = 0;
    let mut started = false;
    for (i, line) in Lines(Some(raw)).enumerate() {
        let line = if i == 0 {
            line
        } else {
            line.get(common.min(line.len())..).unwrap_or(line)
        };
        if !started && blank(line) {
            continue;
        }
        if started {
            out.push('\n');
        }
        started = true;
        if line.contains("\\\"\"\"") {
            out.push_str(&line.replace("\\\"\"\"", "\"\"\""));
        } else {
            out.push_str(line);
        }
        if !blank(line) {
            end = out.len();
        }
    }
    out.truncate(end);
    out
}
