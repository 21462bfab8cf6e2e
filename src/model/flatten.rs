//! Turning a `traits` object into flat `(dotted key, JSON value)` pairs.
//!
//! Nested objects become keys of their own (`address.city`), so a move of one address part is a
//! change of that part only. Arrays, scalars and empty objects are leaves.

use serde_json::Value;

mod fast;

/// At most this many leaf traits are read from one call; more is reported as a bad event.
pub const MAX_TRAITS_PER_CALL: usize = 10_000;

/// Why a `traits` object could not be flattened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FlattenError {
    /// Not parseable (for example nested deeper than serde_json's limit of 128 levels).
    #[error("traits could not be read: {0}")]
    Json(String),
    /// More leaves than [`MAX_TRAITS_PER_CALL`].
    #[error("traits has more than {MAX_TRAITS_PER_CALL} keys")]
    TooManyKeys,
}

/// Flattened `(dotted key, JSON value)` pairs with their text in one buffer, so that a call's
/// leaves cost no allocation each (new trait values are flattened on every other call).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FlatTraits {
    text: String,
    /// Per pair: where its key starts, where its value starts (the key ends there), where the
    /// value ends.
    spans: Vec<[usize; 3]>,
}

impl FlatTraits {
    /// No pairs.
    pub fn new() -> Self {
        Self::default()
    }

    /// No pairs, with room for about `bytes` of text (a flattened object takes about its raw
    /// length).
    pub fn with_capacity(bytes: usize) -> Self {
        FlatTraits {
            text: String::with_capacity(bytes),
            spans: Vec::with_capacity(bytes / 16),
        }
    }

    /// How many pairs.
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// Removes every pair, keeping the room.
    pub fn clear(&mut self) {
        self.text.clear();
        self.spans.clear();
    }

    /// Keeps the first `len` pairs.
    pub fn truncate(&mut self, len: usize) {
        if let Some(&[start, _, _]) = self.spans.get(len) {
            self.text.truncate(start);
            self.spans.truncate(len);
        }
    }

    /// Appends a pair.
    pub fn push(&mut self, key: &str, value: &str) {
        let value_text = self.begin(key);
        value_text.push_str(value);
        self.end();
    }

    /// Starts a pair with `key`: its value is what the caller writes to the returned text
    /// before [`FlatTraits::end`].
    fn begin(&mut self, key: &str) -> &mut String {
        let start = self.text.len();
        self.text.push_str(key);
        self.spans.push([start, self.text.len(), 0]);
        &mut self.text
    }

    /// Ends the pair [`FlatTraits::begin`] started.
    fn end(&mut self) {
        let end = self.text.len();
        if let Some(last) = self.spans.last_mut() {
            last[2] = end;
        }
    }

    /// Pair `i`.
    pub fn get(&self, i: usize) -> Option<(&str, &str)> {
        let &[k, v, e] = self.spans.get(i)?;
        Some((self.text.get(k..v)?, self.text.get(v..e)?))
    }

    /// The pairs in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, &str)> + '_ {
        self.spans.iter().map(|&[k, v, e]| {
            (
                self.text.get(k..v).unwrap_or(""),
                self.text.get(v..e).unwrap_or(""),
            )
        })
    }

    /// The pairs as owned strings.
    pub fn to_pairs(&self) -> Vec<(String, String)> {
        self.iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    }
}

/// Flattens one raw `traits` object, appending `(key, value JSON)` pairs to `out`.
pub fn flatten_traits(raw: &str, out: &mut FlatTraits) -> Result<(), FlattenError> {
    let start = out.len();
    // The common shapes without a `Value`; anything else is decided by serde_json below.
    if fast::object(raw, out).is_ok() {
        return Ok(());
    }
    out.truncate(start);
    let value: Value = serde_json::from_str(raw).map_err(|e| FlattenError::Json(e.to_string()))?;
    let start = out.len();
    if let Value::Object(map) = value {
        let mut prefix = String::new();
        for (key, value) in map {
            walk(&mut prefix, &key, value, out, start, false)?;
        }
    }
    Ok(())
}

/// Flattens one top-level member of a `traits` object, given its key and raw JSON value,
/// appending its leaves to `out`: the same pairs, in the same order, that [`flatten_traits`]
/// gives for that member.
pub fn flatten_member(key: &str, raw: &str, out: &mut FlatTraits) -> Result<(), FlattenError> {
    let start = out.len();
    if fast::member(key, raw, out).is_ok() {
        return Ok(());
    }
    out.truncate(start);
    let value: Value = serde_json::from_str(raw).map_err(|e| FlattenError::Json(e.to_string()))?;
    walk(&mut String::new(), key, value, out, start, false)
}

fn walk(
    prefix: &mut String,
    key: &str,
    value: Value,
    out: &mut FlatTraits,
    start: usize,
    nested: bool,
) -> Result<(), FlattenError> {
    let len = prefix.len();
    // By depth, not by an empty prefix: under a key "" the child `a` is ".a", not the top-level
    // trait `a`.
    if nested {
        prefix.push('.');
    }
    prefix.push_str(key);
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (k, v) in map {
                walk(prefix, &k, v, out, start, true)?;
            }
        }
        leaf => {
            if out.len() - start >= MAX_TRAITS_PER_CALL {
                return Err(FlattenError::TooManyKeys);
            }
            out.push(prefix, &leaf.to_string());
        }
    }
    prefix.truncate(len);
    Ok(())
}

/// Flattens an identify call's traits: root `traits` first, then `context.traits` over them
/// (the transformer's rule: `context.traits` wins). The result is sorted by key.
pub fn flatten_user_traits(
    root: Option<&str>,
    context: Option<&str>,
) -> Result<FlatTraits, FlattenError> {
    let size = root.map_or(0, str::len) + context.map_or(0, str::len);
    let mut out = FlatTraits::with_capacity(size);
    if let Some(root) = root {
        flatten_traits(root, &mut out)?;
    }
    if let Some(ctx) = context {
        flatten_traits(ctx, &mut out)?;
    }
    // Stable, so root comes before context for equal keys; the last (context) one is kept.
    let mut order: Vec<(&str, &str)> = out.iter().collect();
    order.sort_by(|a, b| a.0.cmp(b.0));
    order.dedup_by(|later, earlier| {
        let same = later.0 == earlier.0;
        if same {
            *earlier = *later;
        }
        same
    });
    let mut merged = FlatTraits::with_capacity(size);
    for (k, v) in order {
        merged.push(k, v);
    }
    Ok(merged)
}

/// How a trait value (compact JSON text) reads in a table: strings without quotes.
pub fn display_value(json: &str) -> std::borrow::Cow<'_, str> {
    if json.starts_with('"') {
        match serde_json::from_str::<String>(json) {
            Ok(s) => std::borrow::Cow::Owned(s),
            Err(_) => std::borrow::Cow::Borrowed(json),
        }
    } else {
        std::borrow::Cow::Borrowed(json)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flat(raw: &str) -> Vec<(String, String)> {
        let mut out = FlatTraits::new();
        flatten_traits(raw, &mut out).unwrap();
        out.to_pairs()
    }

    #[test]
    fn nested_objects_become_dotted_keys() {
        let got = flat(
            r#"{"name":"Acme","address":{"city":"Berlin","geo":{"lat":1.5}},"tags":["a"],"x":null,"e":{}}"#,
        );
        let want: Vec<(String, String)> = [
            ("address.city", "\"Berlin\""),
            ("address.geo.lat", "1.5"),
            ("e", "{}"),
            ("name", "\"Acme\""),
            ("tags", "[\"a\"]"),
            ("x", "null"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn members_flatten_like_the_whole_object() {
        let mut got = FlatTraits::new();
        flatten_member(
            "address",
            r#"{"geo":{"lat":1.50},"city":"B\u00e9"}"#,
            &mut got,
        )
        .unwrap();
        flatten_member("tags", r#"[ "a" ]"#, &mut got).unwrap();
        flatten_member("e", "{}", &mut got).unwrap();
        let got = got.to_pairs();
        let whole =
            flat(r#"{"address":{"geo":{"lat":1.50},"city":"B\u00e9"},"tags":[ "a" ],"e":{}}"#);
        let mut sorted = got.clone();
        sorted.sort();
        let mut whole_sorted = whole.clone();
        whole_sorted.sort();
        assert_eq!(sorted, whole_sorted);
        assert_eq!(got[0], ("address.city".to_string(), "\"Bé\"".to_string()));
        assert_eq!(got[1], ("address.geo.lat".to_string(), "1.5".to_string()));
    }

    #[test]
    fn context_traits_win_over_root_traits() {
        let got = flatten_user_traits(
            Some(r#"{"email":"old@x.io","plan":"a"}"#),
            Some(r#"{"email":"new@x.io"}"#),
        )
        .unwrap()
        .to_pairs();
        assert_eq!(
            got,
            vec![
                ("email".to_string(), "\"new@x.io\"".to_string()),
                ("plan".to_string(), "\"a\"".to_string())
            ]
        );
    }

    #[test]
    fn an_empty_key_does_not_merge_its_children_into_the_top_level() {
        let got = flat(r#"{"":{"seats":1},"seats":2}"#);
        assert_eq!(
            got,
            vec![
                (".seats".to_string(), "1".to_string()),
                ("seats".to_string(), "2".to_string())
            ]
        );
    }

    #[test]
    fn too_deep_or_too_wide_is_an_error() {
        let deep = format!(r#"{{"x":{}{}}}"#, "[".repeat(500), "]".repeat(500));
        assert!(matches!(
            flatten_traits(&deep, &mut FlatTraits::new()),
            Err(FlattenError::Json(_))
        ));
        let wide: String = format!(
            "{{{}}}",
            (0..MAX_TRAITS_PER_CALL + 1)
                .map(|i| format!("\"k{i}\":1"))
                .collect::<Vec<_>>()
                .join(",")
        );
        assert_eq!(
            flatten_traits(&wide, &mut FlatTraits::new()),
            Err(FlattenError::TooManyKeys)
        );
    }

    #[test]
    fn values_display_without_quotes() {
        assert_eq!(display_value("\"pro\""), "pro");
        assert_eq!(display_value("12"), "12");
        assert_eq!(display_value("null"), "null");
        assert_eq!(display_value("\"a\\\"b\""), "a\"b");
    }

    /// The `Value` path alone: what the fast walk must agree with.
    fn slow(raw: &str) -> Result<Vec<(String, String)>, FlattenError> {
        let value: Value =
            serde_json::from_str(raw).map_err(|e| FlattenError::Json(e.to_string()))?;
        let mut out = FlatTraits::new();
        if let Value::Object(map) = value {
            for (key, value) in map {
                walk(&mut String::new(), &key, value, &mut out, 0, false)?;
            }
        }
        Ok(out.to_pairs())
    }

    #[test]
    fn the_fast_walk_agrees_with_serde_on_tricky_shapes() {
        for raw in [
            r#"{"b":1,"a":{"y":2,"x":[1,"s",true,null,[]]},"b":{"c":3}}"#,
            r#"{ "n" : -0 , "f":1.50,"e":1e3,"big":123456789012345678901,"neg":-9223372036854775808}"#,
            r#"{"esc":"a\"b","k\u0041":1,"o":{},"o2":{ },"arr":[ 1 , 2 ],"ao":[{"b":1,"a":2}]}"#,
            r#"{"a":{"b":{"c":{}}},"a.b":1,"s":"é ✓","z":0,"m":-12}"#,
            r#"{}"#,
        ] {
            assert_eq!(flat(raw), slow(raw).unwrap(), "{raw}");
        }
        // Plain shapes take the fast walk (a regression here is a silent slowdown).
        let mut out = FlatTraits::new();
        assert!(fast::object(r#"{"a":{"b":[1,"x"]},"n":-3,"f":0.5,"t":true}"#, &mut out).is_ok());
        assert_eq!(out.len(), 4);
    }

    /// JSON text as exports write it: any spacing, repeated keys, escapes, every number form.
    fn json_text() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let key = prop_oneof![
            "[a-c]{1,2}",
            Just("a.b".to_owned()),
            Just("k\\u0041".to_owned()),
            Just("é".to_owned())
        ];
        let ws = prop_oneof![Just(""), Just(" "), Just("\n\t")];
        let leaf = prop_oneof![
            "-?(0|[1-9][0-9]{0,20})(\\.[0-9]{1,3})?([eE][+-]?[0-9]{1,3})?",
            "\"[a-z é/✓]{0,6}\"",
            Just("\"a\\\"b\\n\"".to_owned()),
            Just("true".to_owned()),
            Just("null".to_owned()),
        ];
        leaf.prop_recursive(4, 40, 5, move |inner| {
            let ws = ws.clone();
            prop_oneof![
                (prop::collection::vec(inner.clone(), 0..4), ws.clone())
                    .prop_map(|(items, w)| format!("[{w}{}{w}]", items.join(&format!("{w},{w}")))),
                (prop::collection::vec((key.clone(), inner), 0..5), ws).prop_map(|(members, w)| {
                    let body: Vec<String> = members
                        .into_iter()
                        .map(|(k, v)| format!("\"{k}\"{w}:{w}{v}"))
                        .collect();
                    format!("{{{w}{}{w}}}", body.join(","))
                }),
            ]
        })
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2_000))]
        #[test]
        fn the_fast_walk_gives_what_serde_gives(text in json_text()) {
            // Only valid JSON reaches flattening (the parser validated it first).
            if serde_json::from_str::<Value>(&text).is_ok() {
                let mut got = FlatTraits::new();
                let ok = flatten_traits(&text, &mut got);
                proptest::prop_assert_eq!(ok.map(|()| got.to_pairs()), slow(&text), "{}", text);
                let mut member = FlatTraits::new();
                let ok = flatten_member("m", &text, &mut member);
                let mut whole = FlatTraits::new();
                let want = flatten_traits(&format!("{{\"m\":{text}}}"), &mut whole).map(|()| whole);
                proptest::prop_assert_eq!(ok.map(|()| member), want, "{}", text);
            }
        }
    }
}
