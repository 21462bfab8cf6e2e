//! Traits given on the command line: `--trait key=value` assignments and `--traits-json`.
//!
//! The design is two steps. [`build_traits`] turns `--traits-json` plus the assignments into
//! one traits object (assignments applied in order, dotted keys nesting); then
//! [`Draft::apply_traits`] maps that object onto a draft's fields exactly as
//! [`Draft::prefilled`] maps a group's current traits. So the CLI and the prefilled form share
//! one mapping, and the CLI still validates and sends through the same [`Draft`].

use serde_json::{Map, Value};

use super::payload::{text_to_value, value_to_text};
use super::{ComposeError, Draft, Field, TEXT_TRAITS};

/// One `key=value` trait assignment: the key path (`address.city` is `["address", "city"]`)
/// and the value.
#[derive(Debug, Clone, PartialEq)]
pub struct TraitAssignment {
    /// The key, split at dots; never empty, no empty segment.
    pub path: Vec<String>,
    /// The value: JSON when the text parses as JSON (`12`, `true`, `{"a":1}`), else the text as
    /// a string.
    pub value: Value,
}

/// Parses `key=value` for `--trait`. The text after the first `=` is JSON when it parses as
/// JSON, else a string (`employees=12` is a number, `plan=pro` a string, `label="12"` the string
/// 12). Dots in the key nest (`address.city=Berlin`); a key cannot contain a literal dot.
pub fn parse_trait_assignment(text: &str) -> Result<TraitAssignment, ComposeError> {
    let fail = |reason| ComposeError::Assignment {
        text: text.to_owned(),
        reason,
    };
    let (key, value) = text
        .split_once('=')
        .ok_or_else(|| fail("expected key=value"))?;
    let key = key.trim();
    if key.is_empty() {
        return Err(fail("the key is empty"));
    }
    let path: Vec<String> = key.split('.').map(|s| s.trim().to_owned()).collect();
    if path.iter().any(String::is_empty) {
        return Err(fail("a dotted key has an empty part"));
    }
    Ok(TraitAssignment {
        path,
        value: text_to_value(value),
    })
}

/// The traits object from `--traits-json` (if any) with the assignments applied over it in
/// order; a later assignment to the same key wins, and a dotted key merges into an existing
/// object.
pub fn build_traits(
    traits_json: Option<&str>,
    assignments: &[TraitAssignment],
) -> Result<Map<String, Value>, ComposeError> {
    let mut traits = match traits_json.map(str::trim).filter(|t| !t.is_empty()) {
        None => Map::new(),
        Some(text) => match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(map)) => map,
            Ok(other) => {
                return Err(ComposeError::TraitsJson(format!("got {}", kind(&other))));
            }
            Err(e) => return Err(ComposeError::TraitsJson(e.to_string())),
        },
    };
    for assignment in assignments {
        insert_path(&mut traits, assignment)?;
    }
    Ok(traits)
}

fn insert_path(
    traits: &mut Map<String, Value>,
    assignment: &TraitAssignment,
) -> Result<(), ComposeError> {
    let Some((last, parents)) = assignment.path.split_last() else {
        return Ok(());
    };
    let mut map = traits;
    for (depth, segment) in parents.iter().enumerate() {
        let slot = map
            .entry(segment.clone())
            .or_insert_with(|| Value::Object(Map::new()));
        map = match slot {
            Value::Object(inner) => inner,
            _ => {
                return Err(ComposeError::NotAnObject {
                    path: assignment.path[..=depth].join("."),
                    assignment: assignment.path.join("."),
                });
            }
        };
    }
    map.insert(last.clone(), assignment.value.clone());
    Ok(())
}

/// The address sub-keys and their fields.
const ADDRESS_PARTS: [(&str, Field); 5] = [
    ("street", Field::AddressStreet),
    ("city", Field::AddressCity),
    ("state", Field::AddressState),
    ("postalCode", Field::AddressPostalCode),
    ("country", Field::AddressCountry),
];

impl Draft {
    /// Maps a traits object onto the draft, key by key, over what is already there.
    ///
    /// A reserved trait with a scalar value fills its field (`null` clears it); `address`
    /// fills `address_*` when it holds only the five known keys with scalar values. Anything
    /// else, including a reserved trait holding an object or array, becomes a custom trait
    /// (replacing one with the same key) with its JSON text, so nothing is lost.
    pub fn apply_traits(&mut self, traits: &Map<String, Value>) {
        for (key, value) in traits {
            if key == "address" {
                self.apply_address(value);
                continue;
            }
            let field = TEXT_TRAITS.iter().find(|(name, _)| name == key);
            match (field, scalar_text(value)) {
                (Some((_, field)), Some(text)) => {
                    self.set_fixed(*field, text);
                    self.remove_custom(key);
                }
                (Some((_, field)), None) => {
                    self.set_fixed(*field, String::new());
                    self.upsert_custom(key, value);
                }
                (None, _) => self.upsert_custom(key, value),
            }
        }
    }

    fn apply_address(&mut self, value: &Value) {
        let fits_fields = match value {
            Value::Null => true,
            Value::Object(map) => map.iter().all(|(k, v)| {
                ADDRESS_PARTS.iter().any(|(name, _)| name == k) && scalar_text(v).is_some()
            }),
            _ => false,
        };
        if !fits_fields {
            for (_, field) in ADDRESS_PARTS {
                self.set_fixed(field, String::new());
            }
            self.upsert_custom("address", value);
            return;
        }
        self.remove_custom("address");
        for (name, field) in ADDRESS_PARTS {
            match value {
                Value::Object(map) => {
                    if let Some(text) = map.get(name).and_then(scalar_text) {
                        self.set_fixed(field, text);
                    }
                }
                _ => self.set_fixed(field, String::new()),
            }
        }
    }

    fn set_fixed(&mut self, field: Field, text: String) {
        if let Some(slot) = self.field_mut(field) {
            *slot = text;
        }
    }

    fn upsert_custom(&mut self, key: &str, value: &Value) {
        let text = value_to_text(value);
        match self.custom.iter_mut().find(|(k, _)| k.trim() == key) {
            Some(row) => row.1 = text,
            None => self.custom.push((key.to_owned(), text)),
        }
    }

    fn remove_custom(&mut self, key: &str) {
        self.custom.retain(|(k, _)| k.trim() != key);
    }
}

/// The JSON kind of a value, for messages.
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The field text for a scalar value (`null` clears); `None` for objects and arrays.
fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::Null => Some(String::new()),
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Array(_) | Value::Object(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn assignment(text: &str) -> TraitAssignment {
        parse_trait_assignment(text).unwrap()
    }

    #[test]
    fn values_are_json_when_they_parse() {
        assert_eq!(assignment("employees=12").value, json!(12));
        assert_eq!(assignment("vip=true").value, json!(true));
        assert_eq!(assignment("plan=pro").value, json!("pro"));
        assert_eq!(assignment("label=\"12\"").value, json!("12"));
        assert_eq!(assignment("meta={\"a\":1}").value, json!({"a": 1}));
        assert_eq!(assignment("eq=a=b").value, json!("a=b"));
        assert_eq!(assignment("blank=").value, json!(""));
        assert_eq!(assignment("gone=null").value, Value::Null);
    }

    #[test]
    fn dotted_keys_split_into_a_path() {
        let a = assignment(" address.city =Berlin");
        assert_eq!(a.path, vec!["address", "city"]);
        assert_eq!(a.value, json!("Berlin"));
    }

    #[test]
    fn bad_assignments_are_refused() {
        for bad in ["no-equals", "=x", " =x", "a..b=1", ".a=1", "a.=1"] {
            assert!(
                matches!(
                    parse_trait_assignment(bad),
                    Err(ComposeError::Assignment { .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn build_traits_merges_json_and_assignments_in_order() {
        let list = [
            assignment("address.city=Berlin"),
            assignment("plan=pro"),
            assignment("plan=enterprise"),
            assignment("meta.deep.n=1"),
        ];
        let traits = build_traits(Some(r#"{"address":{"country":"DE"},"tier":1}"#), &list).unwrap();
        assert_eq!(
            Value::Object(traits),
            json!({
                "address": {"country": "DE", "city": "Berlin"},
                "plan": "enterprise", "tier": 1, "meta": {"deep": {"n": 1}}
            })
        );
    }

    #[test]
    fn build_traits_reports_bad_input() {
        assert!(matches!(
            build_traits(Some("[1]"), &[]),
            Err(ComposeError::TraitsJson(_))
        ));
        assert!(matches!(
            build_traits(Some("{oops"), &[]),
            Err(ComposeError::TraitsJson(_))
        ));
        let err =
            build_traits(Some(r#"{"plan":"pro"}"#), &[assignment("plan.tier=1")]).unwrap_err();
        assert_eq!(
            err,
            ComposeError::NotAnObject {
                path: "plan".into(),
                assignment: "plan.tier".into()
            }
        );
        assert_eq!(build_traits(None, &[]).unwrap(), Map::new());
        assert_eq!(build_traits(Some("  "), &[]).unwrap(), Map::new());
    }

    #[test]
    fn apply_traits_fills_fields_and_custom_over_existing_values() {
        let mut d = Draft::new();
        d.name = "Old".into();
        d.address_city = "Paris".into();
        d.custom.push(("tier".into(), "1".into()));
        let traits = build_traits(
            None,
            &[
                assignment("name=Hooli"),
                assignment("employees=12"),
                assignment("address.country=FR"),
                assignment("tier=2"),
                assignment("vip=true"),
                assignment("plan=null"),
            ],
        )
        .unwrap();
        d.apply_traits(&traits);
        assert_eq!(d.name, "Hooli");
        assert_eq!(d.employees, "12");
        assert_eq!(d.address_city, "Paris");
        assert_eq!(d.address_country, "FR");
        assert_eq!(d.plan, "");
        assert_eq!(
            d.custom,
            vec![
                ("tier".to_string(), "2".to_string()),
                ("vip".to_string(), "true".to_string())
            ]
        );
    }

    #[test]
    fn unusual_reserved_values_are_kept_as_custom_traits() {
        let mut d = Draft::new();
        d.address_city = "Paris".into();
        d.apply_traits(
            json!({"address": {"city": "Berlin", "unit": "4B"}, "industry": ["a", "b"]})
                .as_object()
                .unwrap(),
        );
        assert_eq!(d.address_city, "");
        assert_eq!(d.industry, "");
        assert_eq!(
            d.custom,
            vec![
                (
                    "address".to_string(),
                    r#"{"city":"Berlin","unit":"4B"}"#.to_string()
                ),
                ("industry".to_string(), r#"["a","b"]"#.to_string())
            ]
        );
        // Setting a scalar later moves the trait back into its field.
        d.apply_traits(
            json!({"industry": "Tech", "address": {"city": "Rome"}})
                .as_object()
                .unwrap(),
        );
        assert_eq!(d.industry, "Tech");
        assert_eq!(d.address_city, "Rome");
        assert!(d.custom.is_empty());
        // And the draft sends what it was given.
        d.group_id = "g".into();
        d.user_id = "u".into();
        assert_eq!(d.validate(), vec![]);
    }
}
