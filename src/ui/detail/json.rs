//! Pretty-printing raw JSON for the detail pane, keeping the sender's key order (serde_json's
//! `Value` would sort keys) and tagging each token for highlighting. It never fails: text that is
//! not JSON is laid out as far as it goes.

use crate::ui::text::{Piece, TextLine, Tone, safe};

/// Indentation per level.
const INDENT: &str = "  ";

/// The lines of `raw`, pretty-printed and tagged.
pub fn pretty(raw: &str) -> Vec<TextLine> {
    let mut out = Printer::default();
    let chars: Vec<char> = raw.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            c if c.is_whitespace() => i += 1,
            '{' | '[' => {
                let close = if c == '{' { '}' } else { ']' };
                let next = skip_ws(&chars, i + 1);
                if chars.get(next) == Some(&close) {
                    out.push(format!("{c}{close}"), Tone::Plain);
                    i = next + 1;
                } else {
                    out.push(c.to_string(), Tone::Plain);
                    out.depth += 1;
                    out.newline();
                    i += 1;
                }
            }
            '}' | ']' => {
                out.depth = out.depth.saturating_sub(1);
                out.newline();
                out.push(c.to_string(), Tone::Plain);
                i += 1;
            }
            ',' => {
                out.push(",".into(), Tone::Plain);
                out.newline();
                i += 1;
            }
            ':' => {
                out.push(": ".into(), Tone::Plain);
                i += 1;
            }
            '"' => {
                let end = string_end(&chars, i);
                let text: String = chars[i..end].iter().collect();
                let is_key = chars.get(skip_ws(&chars, end)) == Some(&':');
                let tone = if is_key {
                    Tone::JsonKey
                } else {
                    Tone::JsonString
                };
                out.push(safe(&text).into_owned(), tone);
                i = end;
            }
            _ => {
                let end = (i..chars.len())
                    .find(|&j| {
                        matches!(chars[j], ',' | '}' | ']' | ':' | '"') || chars[j].is_whitespace()
                    })
                    .unwrap_or(chars.len())
                    .max(i + 1);
                let text: String = chars[i..end].iter().collect();
                let tone = match text.as_str() {
                    "true" | "false" => Tone::JsonBool,
                    "null" => Tone::JsonNull,
                    t if t.starts_with(|c: char| c == '-' || c.is_ascii_digit()) => {
                        Tone::JsonNumber
                    }
                    _ => Tone::Plain,
                };
                out.push(safe(&text).into_owned(), tone);
                i = end;
            }
        }
    }
    out.finish()
}

/// Index after the closing quote of the string starting at `start` (or the end of input).
fn string_end(chars: &[char], start: usize) -> usize {
    let mut j = start + 1;
    while j < chars.len() {
        match chars[j] {
            '\\' => j += 2,
            '"' => return j + 1,
            _ => j += 1,
        }
    }
    chars.len()
}

fn skip_ws(chars: &[char], from: usize) -> usize {
    (from..chars.len())
        .find(|&j| !chars[j].is_whitespace())
        .unwrap_or(chars.len())
}

#[derive(Default)]
struct Printer {
    lines: Vec<TextLine>,
    line: TextLine,
    depth: usize,
}

impl Printer {
    fn push(&mut self, text: String, tone: Tone) {
        if self.line.is_empty() && self.depth > 0 {
            self.line.push(Piece {
                text: INDENT.repeat(self.depth),
                tone: Tone::Plain,
            });
        }
        self.line.push(Piece { text, tone });
    }

    fn newline(&mut self) {
        if !self.line.is_empty() {
            self.lines.push(std::mem::take(&mut self.line));
        }
    }

    fn finish(mut self) -> Vec<TextLine> {
        self.newline();
        self.lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::text::plain;

    #[test]
    fn keeps_key_order_and_indents() {
        let lines = pretty(r#"{"type":"group","b":[1,true,null],"a":{},"n":{"x":"y, z"}}"#);
        let text: Vec<String> = lines.iter().map(|l| plain(l)).collect();
        assert_eq!(
            text,
            vec![
                "{",
                r#"  "type": "group","#,
                r#"  "b": ["#,
                "    1,",
                "    true,",
                "    null",
                "  ],",
                r#"  "a": {},"#,
                r#"  "n": {"#,
                r#"    "x": "y, z""#,
                "  }",
                "}",
            ]
        );
        assert_eq!(lines[1][1].tone, Tone::JsonKey);
        assert_eq!(lines[1][3].tone, Tone::JsonString);
        assert_eq!(lines[3][1].tone, Tone::JsonNumber);
        assert_eq!(lines[4][1].tone, Tone::JsonBool);
        assert_eq!(lines[5][1].tone, Tone::JsonNull);
    }

    #[test]
    fn escapes_and_broken_input_do_not_break_layout() {
        let lines = pretty("{\"k\":\"a\\\"b\x1b]0;x\x07\"");
        assert_eq!(plain(&lines[1]), "  \"k\": \"a\\\"b\\u{1b}]0;x\\u{7}\"");
        assert!(pretty("not json").len() == 1);
        assert!(pretty("").is_empty());
    }
}
