//! Tests of the scan: the fields it picks, what it leaves to serde_json, and agreement of the
//! portable and SIMD paths with each other and with serde_json.

use super::*;

fn pick(key: &[u8]) -> Option<(usize, Want)> {
    match key {
        b"a" => Some((0, Want::Text)),
        b"r" => Some((1, Want::Raw)),
        _ => None,
    }
}

fn scan(text: &str) -> Option<[Option<&str>; 2]> {
    let mut out = [None; 2];
    object(text, pick, &mut out)?;
    Some(out)
}

#[test]
fn picks_fields_and_skips_the_rest() {
    assert_eq!(
        scan(r#"{"x":[1,{"y":"}"}],"a":"hi","r": {"k":[true,false,null,-1.5e+3]} ,"z":0}"#),
        Some([Some("hi"), Some(r#"{"k":[true,false,null,-1.5e+3]}"#)])
    );
    assert_eq!(scan(r#"{"a":null,"r":null}"#), Some([None, None]));
    assert_eq!(scan("{}"), Some([None, None]));
    assert_eq!(
        scan(r#"{"r":"s\"\u00e9"}"#),
        Some([None, Some(r#""s\"\u00e9""#)])
    );
}

#[test]
fn leaves_unsure_cases_to_serde() {
    for text in [
        r#"{"a":"x\ny"}"#,       // escaped text field
        r#"{"a":1}"#,            // number where text is wanted
        r#"{"a":"x","a":"y"}"#,  // duplicate field
        r#"{"a":null,"a":"y"}"#, // duplicate after null
        r#"{"\u0061":"x"}"#,     // escaped key
        r#"{"a":"x",}"#,         // trailing comma
        r#"{"a":"x"} x"#,        // trailing characters
        r#"{"b":[1,]}"#,         // trailing comma in an array
        r#"{"b":01}"#,           // leading zero
        r#"{"b":1.}"#,           // no digits after the point
        r#"{"b":-}"#,            // no digits
        r#"{"b":1e}"#,           // no exponent digits
        r#"{"b":tru}"#,          // bad literal
        "{\"b\":\"a\tb\"}",      // raw tab in a string
        r#"{"b":"\x"}"#,         // bad escape
        r#"{"b":"\u12G4"}"#,     // bad hex escape
        r#"{"b":{"c"}}"#,        // key without value
        r#"{"b":{1:2}}"#,        // non-string key
        r#"{"b":[}"#,            // mismatched brackets
        r#"{"b":"open"#,         // unterminated
    ] {
        assert_eq!(scan(text), None, "{text}");
    }
    let deep = format!(r#"{{"b":{}{}}}"#, "[".repeat(100), "]".repeat(100));
    assert_eq!(scan(&deep), None);
    let ok_deep = format!(r#"{{"b":{}{}}}"#, "[".repeat(60), "]".repeat(60));
    assert!(scan(&ok_deep).is_some());
}

#[test]
fn members_come_in_order_with_raw_values() {
    let mut out = Vec::new();
    assert!(members(r#"{"b":{"x":[1]},"a":"s","b":null}"#, &mut out).is_some());
    assert_eq!(
        out,
        vec![("b", r#"{"x":[1]}"#), ("a", r#""s""#), ("b", "null")]
    );
    out.clear();
    assert!(members("{}", &mut out).is_some());
    assert!(out.is_empty());
    assert!(members(r#"{"\u0061":1}"#, &mut out).is_none());
}

#[test]
fn strings_of_every_length_end_at_the_right_quote() {
    for n in 0..40 {
        let s = "é".repeat(n / 2) + &"x".repeat(n);
        let text = format!(r#"{{"a":"{s}","r":"{s}\"q"}}"#);
        let got = scan(&text).unwrap();
        assert_eq!(got[0], Some(s.as_str()));
        assert_eq!(got[1], Some(format!(r#""{s}\"q""#).as_str()));
    }
}

#[test]
fn agrees_with_serde_on_validity() {
    let cases = [
        "0",
        "-0",
        "1.5",
        "1e5",
        "1E-5",
        "-12.5e+7",
        "00",
        "-",
        "1.",
        ".5",
        "+1",
        "true",
        "nul",
        "\"\"",
        "\"\\u0000\"",
        "[]",
        "[ ]",
        "[1 , 2]",
        "{}",
        "{ }",
        "{\"a\" : 1 }",
        "[[[]]]",
        "[1,[2,[3]]]",
        "{\"a\":{\"b\":{}}}",
        "[1 2]",
        "{\"a\" 1}",
        "[\"\\/\"]",
    ];
    for text in cases {
        let serde_ok = serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok();
        assert_eq!(is_value(text), serde_ok, "{text}");
    }
}

/// The members of an object as serde_json reads them, in order (keys decoded).
fn serde_members(text: &str) -> Option<Vec<(String, String)>> {
    use serde::de::{Deserializer, MapAccess, Visitor};
    use serde_json::value::RawValue;
    struct Members;
    impl<'de> Visitor<'de> for Members {
        type Value = Vec<(String, String)>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("an object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some((k, v)) = map.next_entry::<String, &RawValue>()? {
                out.push((k, v.get().to_string()));
            }
            Ok(out)
        }
    }
    let mut de = serde_json::Deserializer::from_str(text);
    let members = (&mut de).deserialize_map(Members).ok()?;
    de.end().ok()?;
    Some(members)
}

/// What serde_json makes of the two test fields: `a` as unescaped text, `r` raw.
#[derive(serde::Deserialize)]
struct Fields<'a> {
    #[serde(borrow, default)]
    a: Option<&'a str>,
    #[serde(borrow, default)]
    r: Option<&'a serde_json::value::RawValue>,
}

/// The scan's answers on `text`, checked against serde_json: `Some` only for text serde_json
/// reads, with the same fields and members. Returns whether `object` answered.
fn check(text: &str) -> bool {
    let fast = scan(text);
    paths_agree(text);
    if let Some([a, r]) = fast {
        let slow: Fields<'_> = serde_json::from_str(text)
            .unwrap_or_else(|e| panic!("serde rejects what the scan took: {e}: {text:?}"));
        assert_eq!(a, slow.a, "{text:?}");
        assert_eq!(
            r,
            slow.r.map(|r| r.get()).filter(|r| *r != "null"),
            "{text:?}"
        );
    }
    unchecked_agrees(text);
    let mut got = Vec::new();
    if members(text, &mut got).is_some() {
        let want = serde_members(text).unwrap_or_else(|| panic!("serde rejects {text:?}"));
        let got: Vec<(String, String)> = got
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect();
        assert_eq!(got, want, "{text:?}");
    }
    if is_value(text) {
        assert!(
            serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok(),
            "{text:?}"
        );
    }
    fast.is_some()
}

/// With `r` taken unchecked, the scan leaves only the inside of `r` to check: when that
/// inside is JSON, serde_json reads the whole text, and reads it the same.
fn unchecked_agrees(text: &str) {
    fn pick_unchecked(key: &[u8]) -> Option<(usize, Want)> {
        match key {
            b"r" => Some((1, Want::Unchecked)),
            other => pick(other),
        }
    }
    let mut out = [None; 2];
    let Some(unchecked) = object(text, pick_unchecked, &mut out) else {
        return;
    };
    let inside = |r: &str| serde_json::from_str::<serde::de::IgnoredAny>(r).is_ok();
    if unchecked & 2 != 0 && !out[1].is_some_and(inside) {
        assert!(
            serde_json::from_str::<serde::de::IgnoredAny>(text).is_err(),
            "{text:?}"
        );
        return;
    }
    let slow: Fields<'_> = serde_json::from_str(text)
        .unwrap_or_else(|e| panic!("serde rejects what the scan took: {e}: {text:?}"));
    assert_eq!(out[0], slow.a, "{text:?}");
    assert_eq!(
        out[1],
        slow.r.map(|r| r.get()).filter(|r| *r != "null"),
        "{text:?}"
    );
}

#[test]
fn values_straddling_block_boundaries() {
    let values = [
        r#""x\\\"y""#,
        r#""\\\\\\\\""#,
        r#""\u00e9\u12aB""#,
        "123.5e-7",
        "-0",
        "true",
        "false",
        "null",
        r#"[null,false,{"k":[1,2.5]}]"#,
        r#""é😀 spaced""#,
        "{}",
        "[]",
        // Strings after commas, in objects and arrays (stage 2's shortcut for them).
        r#"{"k":"v","l":["s","t\"",{"m":"é","o":""}],"n":"x"}"#,
    ];
    let bad = [
        "tru",
        "nul",
        "01",
        "1.",
        "-",
        r#""\x""#,
        r#""\u12G4""#,
        "\"a\u{1}b\"",
        "[1,]",
        "{,}",
        r#""open"#,
        "[}",
        r#"["s","t":1]"#,
        r#"{"k":"v","l"}"#,
        r#"{"k":"v","l":"w"x}"#,
        r#"["s","t"1]"#,
    ];
    for n in 0..200 {
        let pad = "p".repeat(n);
        for v in values {
            let text = format!(r#"{{"a":"{pad}","r":{v},"z":{v}}}"#);
            assert!(check(&text), "{text}");
            let spaced = format!("{{ \"a\" : \"{pad}\" ,\n\t\"r\" :\r{v} }}");
            assert!(check(&spaced), "{spaced:?}");
        }
        for v in bad {
            let text = format!(r#"{{"a":"{pad}","r":{v}}}"#);
            assert!(!check(&text), "{text:?}");
        }
        // Backslash runs of every length, ending on both sides of a block boundary.
        let run = "\\".repeat(n % 9);
        let text = format!(r#"{{"a":"{pad}","r":"{run}{run}"}}"#);
        assert!(check(&text), "{text}");
        let odd = format!(r#"{{"a":"{pad}","r":"{run}{run}\"}}"#);
        assert!(!check(&odd), "{odd}");
    }
    // Every length, cut anywhere: never `Some` for what serde_json rejects.
    let line = r#"{"type":"group","a":"x","r":{"n":[1,-2.5e3,true,null,"s\"q"]},"b":"\u00e9"}"#;
    for cut in 0..=line.len() {
        check(&line[..cut]);
    }
}

/// A JSON value as text, from a small grammar (compact or with whitespace).
fn json_value() -> impl proptest::strategy::Strategy<Value = String> {
    use proptest::prelude::*;
    let leaf = prop_oneof![
        Just("null".to_string()),
        Just("true".to_string()),
        Just("false".to_string()),
        any::<i64>().prop_map(|n| n.to_string()),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| format!("{f:e}")),
        "[a-z é\\\\\"\n\u{1}/]{0,12}".prop_map(|s| serde_json::to_string(&s).unwrap_or_default()),
        "[a-z]{0,70}".prop_map(|s| format!("\"{s}\"")),
    ];
    leaf.prop_recursive(4, 40, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6)
                .prop_map(|v| format!("[{}]", v.join(","))),
            proptest::collection::vec(("[ar]|[a-z]{1,8}", inner, any::<bool>()), 0..6).prop_map(
                |v| {
                    let members: Vec<String> = v
                        .into_iter()
                        .map(|(k, v, ws)| {
                            if ws {
                                format!("\"{k}\" : {v}")
                            } else {
                                format!("\"{k}\":{v}")
                            }
                        })
                        .collect();
                    format!("{{{}}}", members.join(","))
                }
            ),
        ]
    })
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig {
        cases: 2000,
        failure_persistence: Some(Box::new(
            proptest::test_runner::FileFailurePersistence::Direct(
                "tests/proptest-regressions/event-scan.txt",
            ),
        )),
        ..proptest::prelude::ProptestConfig::default()
    })]
    #[test]
    fn scan_agrees_with_serde_on_generated_and_broken_json(
        fields in proptest::collection::vec(("[ar]|[a-z]{1,6}", json_value()), 0..8),
        edits in proptest::collection::vec((0usize..4000, 0usize..12), 0..3),
    ) {
        let members: Vec<String> =
            fields.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
        let text = format!("{{{}}}", members.join(","));
        check(&text);
        let mut bytes = text.into_bytes();
        for (at, what) in edits {
            let at = at % (bytes.len() + 1);
            match what {
                0 => bytes.truncate(at),
                1 if at < bytes.len() => {
                    bytes.remove(at);
                }
                2 if at < bytes.len() => bytes[at] ^= 1 << (at % 7),
                _ => bytes.insert(at, b",\x01\\\" {}[]:0a"[what % 12]),
            }
        }
        if let Ok(text) = std::str::from_utf8(&bytes) {
            check(text);
        }
    }
}

/// The compact scan, with the portable and with the SIMD classifier, answers as the general
/// scan does whenever it answers; and the two classifiers give the same answers.
fn paths_agree(text: &str) {
    let general = {
        let mut out = [None; 2];
        general::object(text, pick, &mut out).map(|()| out)
    };
    let portable = {
        let mut out = [None; 2];
        object_compact(Portable, text, pick, &mut out).map(|_| out)
    };
    if portable.is_some() {
        assert_eq!(portable, general, "{text:?}");
    }
    #[cfg(target_arch = "x86_64")]
    if let Some(avx2) = Avx2::detect() {
        let mut out = [None; 2];
        let simd = object_compact(avx2, text, pick, &mut out).map(|_| out);
        assert_eq!(simd, portable, "{text:?}");
    }
    #[cfg(target_arch = "x86_64")]
    if let Some(avx512) = Avx512::detect() {
        let mut out = [None; 2];
        let simd = object_compact(avx512, text, pick, &mut out).map(|_| out);
        assert_eq!(simd, portable, "{text:?}");
    }
}

#[test]
fn the_general_scan_refills_what_the_compact_scan_gave_up_on() {
    // The compact scan fills both slots, then meets whitespace and gives up; the general
    // scan writes each slot again.
    let text = r#"{"a":"x","r":[1],"z": 0}"#;
    let mut out = [None; 2];
    assert!(object_compact(Portable, text, pick, &mut out).is_none());
    assert_eq!(out, [Some("x"), Some("[1]")]);
    let mut out = [Some("stale"), Some("stale")];
    assert!(object(text, pick, &mut out).is_some());
    assert_eq!(out, [Some("x"), Some("[1]")]);
    // A `null` the general scan reads clears a slot too.
    let text = r#"{"a":"x","r":null, "z":0}"#;
    let mut out = [Some("stale"), Some("stale")];
    assert!(object(text, pick, &mut out).is_some());
    assert_eq!(out, [Some("x"), None]);
}

#[test]
fn compact_lines_take_the_compact_path() {
    let line = r#"{"type":"group","messageId":"05b6e6e3","userId":"u1","groupId":"g1","traits":{"name":"Lumen Labs 11","employees":117,"address":{"city":"Bengaluru"},"healthScore":0.219,"settings":{"sso":true,"regions":["us","eu"],"limits":{"seats":429}},"none":null,"esc":"a\"b\\","u":"\u00e9"},"context":{"library":{"name":"SDK","version":"3.0.0"},"traits":{}},"integrations":{"All":true},"a":"x","r":[-1.5e+3,0,[],{}]}"#;
    let mut out = [None; 2];
    assert!(object_compact(Portable, line, pick, &mut out).is_some());
    assert_eq!(out, [Some("x"), Some("[-1.5e+3,0,[],{}]")]);
    assert!(check(line));
    // Whitespace outside strings is the general scan's.
    let spaced = line.replacen(r#""a":"x""#, r#""a": "x""#, 1);
    assert!(object_compact(Portable, &spaced, pick, &mut [None; 2]).is_none());
    assert!(check(&spaced));
}
