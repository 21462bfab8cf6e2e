//! Flattening without building a `serde_json::Value`: a walk over the raw text that writes the
//! same pairs the `Value` path would, for the shapes real traits have (keys and strings without
//! escapes, plain numbers, nested objects, arrays of scalars).
//!
//! It only answers when it is sure of the answer: anything else (an escape, an object inside an
//! array, deep nesting, text it cannot read) returns `None`, and the caller takes the `Value`
//! path, which decides. The text it is given has already been validated as JSON.

use super::{FlatTraits, MAX_TRAITS_PER_CALL};

/// Nesting deeper than this is left to the `Value` path (and its limit and message).
const MAX_DEPTH: usize = 32;

/// The fast walk stopped: not a shape it vouches for (or too many keys, whose error the
/// `Value` path reports, so that it reads the same whatever else the text holds).
pub(super) struct Stop;

/// One object member as the walk found it: key and raw value.
type Member<'a> = (&'a str, &'a str);

/// Appends the pairs of the object `raw` (its members in key order, the last of a repeated key
/// winning, as a JSON map holds them), like `flatten_traits`.
pub(super) fn object(raw: &str, out: &mut FlatTraits) -> Result<(), Stop> {
    let start = out.len();
    let mut prefix = String::with_capacity(64);
    let members = members(raw.trim())?;
    for (key, value) in members {
        walk(&mut prefix, key, value, out, start, false, 0)?;
    }
    Ok(())
}

/// Appends the pairs of one member `key: raw`, like `flatten_member`.
pub(super) fn member(key: &str, raw: &str, out: &mut FlatTraits) -> Result<(), Stop> {
    let start = out.len();
    walk(
        &mut String::with_capacity(64),
        key,
        raw.trim(),
        out,
        start,
        false,
        0,
    )
}

fn walk(
    prefix: &mut String,
    key: &str,
    value: &str,
    out: &mut FlatTraits,
    start: usize,
    nested: bool,
    depth: usize,
) -> Result<(), Stop> {
    if depth > MAX_DEPTH {
        return Err(Stop);
    }
    let len = prefix.len();
    if nested {
        prefix.push('.');
    }
    prefix.push_str(key);
    let children = if value.starts_with('{') {
        members(value)?
    } else {
        Vec::new()
    };
    if children.is_empty() {
        if out.len() - start >= MAX_TRAITS_PER_CALL {
            return Err(Stop);
        }
        // Written straight after the key: on `Stop` the caller drops the partial pair.
        let text = out.begin(prefix);
        if value.starts_with('{') {
            text.push_str("{}");
        } else {
            canonical(value, text)?;
        }
        out.end();
    } else {
        for (k, v) in children {
            walk(prefix, k, v, out, start, true, depth + 1)?;
        }
    }
    prefix.truncate(len);
    Ok(())
}

/// The members of the object `text`, sorted by key, the last of a repeated key kept.
fn members(text: &str) -> Result<Vec<Member<'_>>, Stop> {
    let mut c = Cursor::new(text);
    // Room for the members of most objects at once (growing from empty reallocated twice or
    // three times per object).
    let mut out: Vec<Member<'_>> = Vec::with_capacity(16);
    c.expect(b'{')?;
    c.ws();
    if c.eat(b'}') {
        return Ok(out);
    }
    loop {
        c.ws();
        let key = c.plain_string()?;
        c.ws();
        c.expect(b':')?;
        c.ws();
        let at = c.i;
        c.skip_value(0)?;
        out.push((key, text.get(at..c.i).ok_or(Stop)?));
        c.ws();
        if c.eat(b',') {
            continue;
        }
        c.expect(b'}')?;
        break;
    }
    // A stable sort keeps repeated keys in input order; the last one wins, as in a map.
    out.sort_by(|a, b| a.0.cmp(b.0));
    out.dedup_by(|later, earlier| {
        let same = later.0 == earlier.0;
        if same {
            *earlier = *later;
        }
        same
    });
    Ok(out)
}

/// Writes a scalar or array as compact JSON, exactly as `serde_json::Value` would print it.
fn canonical(value: &str, out: &mut String) -> Result<(), Stop> {
    let mut c = Cursor::new(value);
    c.canonical(out, 0)?;
    c.ws();
    if c.i != value.len() {
        return Err(Stop);
    }
    Ok(())
}

struct Cursor<'a> {
    text: &'a str,
    i: usize,
}

impl<'a> Cursor<'a> {
    fn new(text: &'a str) -> Self {
        Cursor { text, i: 0 }
    }

    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.i).copied()
    }

    /// The bytes from here on (`Stop` past the end, which valid JSON never reaches).
    fn rest(&self) -> Result<&'a [u8], Stop> {
        self.text.as_bytes().get(self.i..).ok_or(Stop)
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\n' | b'\t' | b'\r')) {
            self.i += 1;
        }
    }

    fn eat(&mut self, b: u8) -> bool {
        let yes = self.peek() == Some(b);
        if yes {
            self.i += 1;
        }
        yes
    }

    fn expect(&mut self, b: u8) -> Result<(), Stop> {
        if self.eat(b) { Ok(()) } else { Err(Stop) }
    }

    /// A string without escapes: its content (which is then also its canonical form).
    fn plain_string(&mut self) -> Result<&'a str, Stop> {
        self.expect(b'"')?;
        let rest = self.rest()?;
        let end = memchr::memchr2(b'"', b'\\', rest).ok_or(Stop)?;
        if rest[end] == b'\\' {
            return Err(Stop);
        }
        let s = self.text.get(self.i..self.i + end).ok_or(Stop)?;
        self.i += end + 1;
        Ok(s)
    }

    /// Skips any value of already-validated JSON (strings may hold escapes here).
    fn skip_value(&mut self, depth: usize) -> Result<(), Stop> {
        if depth > MAX_DEPTH {
            return Err(Stop);
        }
        match self.peek().ok_or(Stop)? {
            b'"' => {
                self.i += 1;
                loop {
                    let rest = self.rest()?;
                    let at = memchr::memchr2(b'"', b'\\', rest).ok_or(Stop)?;
                    self.i += at + 1;
                    if rest[at] == b'"' {
                        return Ok(());
                    }
                    // The escaped byte cannot end the string.
                    self.i += 1;
                }
            }
            open @ (b'{' | b'[') => {
                let close = if open == b'{' { b'}' } else { b']' };
                self.i += 1;
                self.ws();
                if self.eat(close) {
                    return Ok(());
                }
                loop {
                    self.ws();
                    if open == b'{' {
                        self.skip_value(depth + 1)?;
                        self.ws();
                        self.expect(b':')?;
                        self.ws();
                    }
                    self.skip_value(depth + 1)?;
                    self.ws();
                    if self.eat(b',') {
                        continue;
                    }
                    return self.expect(close);
                }
            }
            _ => {
                let rest = self.rest()?;
                let len = rest
                    .iter()
                    .position(|b| matches!(b, b',' | b'}' | b']' | b' ' | b'\n' | b'\t' | b'\r'))
                    .unwrap_or(rest.len());
                if len == 0 {
                    return Err(Stop);
                }
                self.i += len;
                Ok(())
            }
        }
    }

    /// Writes the value here as `serde_json::Value`'s compact form would; objects inside
    /// arrays (whose keys a map would reorder) are left to the `Value` path.
    fn canonical(&mut self, out: &mut String, depth: usize) -> Result<(), Stop> {
        if depth > MAX_DEPTH {
            return Err(Stop);
        }
        match self.peek().ok_or(Stop)? {
            b'"' => {
                let s = self.plain_string()?;
                out.push('"');
                out.push_str(s);
                out.push('"');
            }
            b'[' => {
                self.i += 1;
                out.push('[');
                self.ws();
                if !self.eat(b']') {
                    loop {
                        self.ws();
                        self.canonical(out, depth + 1)?;
                        self.ws();
                        if self.eat(b',') {
                            out.push(',');
                            continue;
                        }
                        self.expect(b']')?;
                        break;
                    }
                }
                out.push(']');
            }
            b'{' => return Err(Stop),
            _ => {
                let at = self.i;
                self.skip_value(depth)?;
                let token = self.text.get(at..self.i).ok_or(Stop)?;
                match token {
                    "true" | "false" | "null" => out.push_str(token),
                    _ => number(token, out)?,
                }
            }
        }
        Ok(())
    }
}

/// A JSON number as `serde_json::Value` prints it: plain integers as they are, anything else
/// (fractions, exponents, `-0`, integers past 64 bits) through serde_json's own `Number`.
fn number(token: &str, out: &mut String) -> Result<(), Stop> {
    let digits = token.strip_prefix('-').unwrap_or(token);
    let plain = !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (digits == "0" || !digits.starts_with('0'))
        && token != "-0"
        && if token.starts_with('-') {
            token.parse::<i64>().is_ok()
        } else {
            token.parse::<u64>().is_ok()
        };
    if plain {
        out.push_str(token);
        return Ok(());
    }
    let n: serde_json::Number = serde_json::from_str(token).map_err(|_| Stop)?;
    out.push_str(&n.to_string());
    Ok(())
}
