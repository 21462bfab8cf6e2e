//! The rules a draft must meet before it is sent, and the warnings worth showing.

use std::collections::HashSet;

use serde_json::Value;

use super::payload::{MAX_EVENT_BYTES, given};
use super::{Draft, Field, Issue, TEXT_TRAITS};
use crate::event::EventTime;

/// The reserved group trait a key names and the field that holds it (spec §1.2).
fn reserved_trait(key: &str) -> Option<(&'static str, Field)> {
    if key == "address" {
        return Some(("address", Field::AddressStreet));
    }
    TEXT_TRAITS.iter().copied().find(|(name, _)| *name == key)
}

/// Every reserved trait name with a field.
fn reserved_names() -> impl Iterator<Item = &'static str> {
    TEXT_TRAITS.iter().map(|(name, _)| *name).chain(["address"])
}
/// Warehouse `groups` columns that silently drop a trait mapping to them (spec §5.2).
const WAREHOUSE_RESERVED: [&str; 12] = [
    "id",
    "anonymous_id",
    "user_id",
    "sent_at",
    "timestamp",
    "received_at",
    "original_timestamp",
    "channel",
    "context_ip",
    "context_request_ip",
    "context_passed_ip",
    "group_id",
];

impl Draft {
    /// Every problem with the draft, errors and warnings, in form order.
    pub fn validate(&self) -> Vec<Issue> {
        let mut issues = Vec::new();
        self.check_ids(&mut issues);
        self.check_reserved(&mut issues);
        self.check_custom(&mut issues);
        self.check_timestamp_and_context(&mut issues);
        // The size is that of the event at any `now`: the time fields have a fixed width.
        let size = serde_json::to_vec(&self.build_event(EventTime::from_utc_ms(0)))
            .map_or(0, |bytes| bytes.len());
        if size > MAX_EVENT_BYTES {
            issues.push(Issue::error(
                Field::Event,
                format!(
                    "the event is {size} bytes; the limit is {MAX_EVENT_BYTES} bytes (32 KB) per call"
                ),
            ));
        }
        issues
    }

    fn check_ids(&self, issues: &mut Vec<Issue>) {
        if given(&self.user_id).is_none() && given(&self.anonymous_id).is_none() {
            issues.push(Issue::error(
                Field::UserId,
                "userId or anonymousId is required; the data plane rejects a call with neither",
            ));
        }
        if given(&self.group_id).is_none() {
            issues.push(Issue::error(Field::GroupId, "groupId is required"));
        }
    }

    fn check_reserved(&self, issues: &mut Vec<Issue>) {
        if let Some(t) = given(&self.email)
            && !plausible_email(t)
        {
            issues.push(Issue::warning(
                Field::Email,
                "does not look like an email address",
            ));
        }
        if let Some(t) = given(&self.employees) {
            match serde_json::from_str::<Value>(t) {
                Ok(Value::Number(n)) => {
                    // Warehouses type a whole float as int, so `1e3` is as good as `1000`.
                    let whole = n.as_f64().is_some_and(|f| f >= 0.0 && f.fract() == 0.0);
                    if !whole {
                        issues.push(Issue::warning(
                            Field::Employees,
                            "employees is usually a whole number of at least 0",
                        ));
                    }
                }
                _ => issues.push(Issue::error(
                    Field::Employees,
                    "employees must be a number (it is sent as a JSON number)",
                )),
            }
        }
        if let Some(t) = given(&self.website)
            && !plausible_website(t)
        {
            issues.push(Issue::warning(
                Field::Website,
                "does not look like a web address",
            ));
        }
        if let Some(t) = given(&self.avatar)
            && !plausible_http_url(t)
        {
            issues.push(Issue::warning(
                Field::Avatar,
                "avatar should be an http(s) URL of an image",
            ));
        }
        if let Some(t) = given(&self.created_at)
            && EventTime::parse(t).is_none()
        {
            issues.push(Issue::error(
                Field::CreatedAt,
                "createdAt must be an ISO-8601 date or time, like 2024-05-01T12:00:00Z",
            ));
        }
    }

    fn check_custom(&self, issues: &mut Vec<Issue>) {
        let mut seen: HashSet<&str> = HashSet::new();
        for (i, (key, value)) in self.custom.iter().enumerate() {
            let Some(key) = given(key) else {
                if given(value).is_some() {
                    issues.push(Issue::error(Field::CustomKey(i), "the trait needs a key"));
                }
                continue;
            };
            if !seen.insert(key) {
                issues.push(Issue::error(
                    Field::CustomKey(i),
                    format!("the key {key:?} is used twice"),
                ));
                continue;
            }
            if let Some((name, field)) = reserved_trait(key) {
                if self.reserved_is_set(field) {
                    issues.push(Issue::error(
                        Field::CustomKey(i),
                        format!(
                            "{name:?} is a reserved trait that is already set in its own field"
                        ),
                    ));
                } else {
                    issues.push(Issue::warning(
                        Field::CustomKey(i),
                        format!("{name:?} is a reserved trait; its own field is the usual place"),
                    ));
                }
                continue;
            }
            let column = snake_case(key);
            if WAREHOUSE_RESERVED.contains(&column.as_str()) {
                issues.push(Issue::warning(
                    Field::CustomKey(i),
                    format!(
                        "warehouses drop this trait: its column {column:?} is reserved for the envelope"
                    ),
                ));
            } else if let Some(name) = reserved_names().find(|name| snake_case(name) == column) {
                issues.push(Issue::warning(
                    Field::CustomKey(i),
                    format!("warehouses put this trait in the same column as {name:?}"),
                ));
            } else if key.contains('.') {
                issues.push(Issue::warning(
                    Field::CustomKey(i),
                    "a dot is sent as part of the key; use a JSON object value to nest",
                ));
            }
        }
    }

    fn check_timestamp_and_context(&self, issues: &mut Vec<Issue>) {
        if let Some(t) = given(&self.timestamp)
            && EventTime::parse(t).is_none()
        {
            issues.push(Issue::error(
                Field::Timestamp,
                "timestamp must be an ISO-8601 time, like 2024-05-01T12:00:00.000Z",
            ));
        }
        if let Some(t) = given(&self.context) {
            match serde_json::from_str::<Value>(t) {
                Ok(Value::Object(map)) => {
                    if map.contains_key("library") {
                        issues.push(Issue::warning(
                            Field::Context,
                            "context.library is replaced by groupscope's name and version",
                        ));
                    }
                }
                Ok(_) => issues.push(Issue::error(
                    Field::Context,
                    "context must be a JSON object",
                )),
                Err(e) => issues.push(Issue::error(
                    Field::Context,
                    format!("context is not valid JSON: {e}"),
                )),
            }
        }
    }

    /// Whether the field (or, for the address, any address field) of a reserved trait is set.
    fn reserved_is_set(&self, field: Field) -> bool {
        if field == Field::AddressStreet {
            return [
                &self.address_street,
                &self.address_city,
                &self.address_state,
                &self.address_postal_code,
                &self.address_country,
            ]
            .iter()
            .any(|t| given(t).is_some());
        }
        given(self.field(field)).is_some()
    }
}

/// One `@`, something before it, a dotted domain after it, no spaces.
fn plausible_email(t: &str) -> bool {
    let Some((local, domain)) = t.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !t.chars().any(char::is_whitespace)
}

/// An http(s) URL with a host.
fn plausible_http_url(t: &str) -> bool {
    let rest = t
        .strip_prefix("https://")
        .or_else(|| t.strip_prefix("http://"));
    match rest {
        Some(rest) => {
            let host = rest.split(['/', '?', '#']).next().unwrap_or("");
            !host.is_empty() && !t.chars().any(char::is_whitespace)
        }
        None => false,
    }
}

/// An http(s) URL, or a bare domain like `hooli.com`.
fn plausible_website(t: &str) -> bool {
    if t.contains("://") {
        return plausible_http_url(t);
    }
    let host = t.split('/').next().unwrap_or("");
    host.contains('.')
        && !host.starts_with('.')
        && !host.ends_with('.')
        && !t.chars().any(char::is_whitespace)
}

/// The warehouse column name of a trait, close enough to rudder-server's lodash-style
/// snake_case to find collisions: camelCase split, non-alphanumerics to `_`, lowercase.
fn snake_case(key: &str) -> String {
    let mut out = String::with_capacity(key.len() + 4);
    let mut prev_lower = false;
    for c in key.chars() {
        if c.is_ascii_alphanumeric() {
            if c.is_ascii_uppercase() && prev_lower {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
            prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        } else {
            if !out.ends_with('_') && !out.is_empty() {
                out.push('_');
            }
            prev_lower = false;
        }
    }
    out.trim_end_matches('_').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compose::Severity;

    fn valid() -> Draft {
        let mut d = Draft::new();
        d.user_id = "u1".into();
        d.group_id = "g1".into();
        d
    }

    /// The (field, severity) pairs of a draft's issues.
    fn found(d: &Draft) -> Vec<(Field, Severity)> {
        d.validate()
            .into_iter()
            .map(|i| (i.field, i.severity))
            .collect()
    }

    #[test]
    fn a_minimal_draft_is_clean() {
        assert_eq!(valid().validate(), vec![]);
    }

    #[test]
    fn group_id_is_required() {
        let mut d = valid();
        d.group_id = "   ".into();
        assert_eq!(found(&d), vec![(Field::GroupId, Severity::Error)]);
    }

    #[test]
    fn one_of_user_id_or_anonymous_id_is_required() {
        let mut d = valid();
        d.user_id.clear();
        assert_eq!(found(&d), vec![(Field::UserId, Severity::Error)]);
        d.anonymous_id = "a1".into();
        assert_eq!(found(&d), vec![]);
    }

    #[test]
    fn employees_must_be_a_number() {
        let mut d = valid();
        for ok in ["4500", " 12 ", "0", "1e3"] {
            d.employees = ok.into();
            assert_eq!(found(&d), vec![], "{ok}");
        }
        for bad in ["12a", "4,500", "\"12\"", "true", "[1]"] {
            d.employees = bad.into();
            assert_eq!(
                found(&d),
                vec![(Field::Employees, Severity::Error)],
                "{bad}"
            );
        }
        for odd in ["-3", "2.5"] {
            d.employees = odd.into();
            assert_eq!(
                found(&d),
                vec![(Field::Employees, Severity::Warning)],
                "{odd}"
            );
        }
    }

    #[test]
    fn created_at_and_timestamp_must_be_iso_8601() {
        let mut d = valid();
        d.created_at = "2020-01-01".into();
        d.timestamp = "2020-01-21T00:21:34.208Z".into();
        assert_eq!(found(&d), vec![]);
        d.created_at = "last year".into();
        d.timestamp = "21/01/2020".into();
        assert_eq!(
            found(&d),
            vec![
                (Field::CreatedAt, Severity::Error),
                (Field::Timestamp, Severity::Error)
            ]
        );
    }

    #[test]
    fn email_website_avatar_only_warn() {
        let mut d = valid();
        d.email = "ops@hooli.com".into();
        d.website = "hooli.com".into();
        d.avatar = "https://cdn.hooli.com/logo.png".into();
        assert_eq!(found(&d), vec![]);
        d.website = "https://hooli.com/about".into();
        assert_eq!(found(&d), vec![]);
        d.email = "ops at hooli".into();
        d.website = "hooli".into();
        d.avatar = "logo.png".into();
        assert_eq!(
            found(&d),
            vec![
                (Field::Email, Severity::Warning),
                (Field::Website, Severity::Warning),
                (Field::Avatar, Severity::Warning)
            ]
        );
        for bad in ["a@b", "@b.com", "a@b@c.com", "a b@c.com", "a@.com"] {
            assert!(!plausible_email(bad), "{bad}");
        }
    }

    #[test]
    fn custom_keys_must_be_present_and_unique() {
        let mut d = valid();
        d.custom = vec![
            ("tier".into(), "1".into()),
            (" ".into(), "orphan".into()),
            (String::new(), String::new()),
            (" tier".into(), "2".into()),
        ];
        assert_eq!(
            found(&d),
            vec![
                (Field::CustomKey(1), Severity::Error),
                (Field::CustomKey(3), Severity::Error)
            ]
        );
    }

    #[test]
    fn custom_keys_clashing_with_reserved_fields() {
        let mut d = valid();
        d.custom = vec![("name".into(), "X".into()), ("address".into(), "{}".into())];
        // The reserved fields are blank: the custom trait is sent, with a warning.
        assert_eq!(
            found(&d),
            vec![
                (Field::CustomKey(0), Severity::Warning),
                (Field::CustomKey(1), Severity::Warning)
            ]
        );
        d.name = "Hooli".into();
        d.address_country = "DE".into();
        assert_eq!(
            found(&d),
            vec![
                (Field::CustomKey(0), Severity::Error),
                (Field::CustomKey(1), Severity::Error)
            ]
        );
    }

    #[test]
    fn custom_keys_the_warehouse_would_drop_or_merge() {
        let mut d = valid();
        d.custom = vec![
            ("id".into(), "1".into()),
            ("userId".into(), "u".into()),
            ("created_at".into(), "x".into()),
            ("a.b".into(), "1".into()),
            ("seats".into(), "5".into()),
        ];
        assert_eq!(
            found(&d),
            vec![
                (Field::CustomKey(0), Severity::Warning),
                (Field::CustomKey(1), Severity::Warning),
                (Field::CustomKey(2), Severity::Warning),
                (Field::CustomKey(3), Severity::Warning)
            ]
        );
    }

    #[test]
    fn context_must_be_a_json_object() {
        let mut d = valid();
        d.context = r#"{"ip":"1.2.3.4"}"#.into();
        assert_eq!(found(&d), vec![]);
        for bad in ["[1]", "\"x\"", "{not json"] {
            d.context = bad.into();
            assert_eq!(found(&d), vec![(Field::Context, Severity::Error)], "{bad}");
        }
        d.context = r#"{"library":{"name":"mine"}}"#.into();
        assert_eq!(found(&d), vec![(Field::Context, Severity::Warning)]);
    }

    #[test]
    fn events_over_32_kb_are_refused() {
        let mut d = valid();
        d.description = "x".repeat(MAX_EVENT_BYTES);
        assert_eq!(found(&d), vec![(Field::Event, Severity::Error)]);
        let base = serde_json::to_vec(&valid().build_event(EventTime::from_utc_ms(0)))
            .unwrap()
            .len();
        // `traits` was `{}`, so the trait adds no comma.
        let overhead = r#""description":"""#.len();
        // Exactly at the limit passes; one byte more fails.
        d.description = "x".repeat(MAX_EVENT_BYTES - base - overhead);
        assert_eq!(found(&d), vec![]);
        d.description.push('x');
        assert_eq!(found(&d), vec![(Field::Event, Severity::Error)]);
    }

    #[test]
    fn snake_case_matches_warehouse_columns() {
        assert_eq!(snake_case("createdAt"), "created_at");
        assert_eq!(snake_case("userId"), "user_id");
        assert_eq!(snake_case("Group-ID"), "group_id");
        assert_eq!(snake_case("plan"), "plan");
    }
}
