//! The event a draft becomes: the exact JSON that is sent (spec §1.1, §2.1, §4.8).

use serde_json::{Map, Value, json};

use super::{Draft, Issue};
use crate::event::EventTime;

/// The largest serialized event we send: the documented 32 KB per call (spec §4.5). The OSS
/// gateway does not check it, but some SDKs and Cloud may drop larger events.
pub const MAX_EVENT_BYTES: usize = 32 * 1024;

/// The value a custom trait's text stands for: JSON when the (trimmed) text parses as JSON,
/// else the trimmed text as a string. So `12` is a number, `"12"` the string 12, `Berlin` a
/// string.
pub fn text_to_value(text: &str) -> Value {
    let text = text.trim();
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned()))
}

/// The text that [`text_to_value`] turns back into `value`: a string that would not parse as
/// JSON is written bare (`Berlin`), anything else as JSON (`"12"`, `4500`, `{"a":1}`).
pub fn value_to_text(value: &Value) -> String {
    match value {
        Value::String(s) if s.trim() == s && serde_json::from_str::<Value>(s).is_err() => s.clone(),
        other => other.to_string(),
    }
}

/// The trimmed text of a field, `None` when it is blank.
pub(super) fn given(text: &str) -> Option<&str> {
    let t = text.trim();
    (!t.is_empty()).then_some(t)
}

impl Draft {
    /// The exact event that would be sent at `now`, or the draft's errors.
    ///
    /// `type:"group"`, `messageId`, `userId`/`anonymousId` (blank ones omitted), `groupId`,
    /// `traits` (blank fields omitted, `employees` a number, `address` nested), `context` (the
    /// user's object with `library` set to groupscope), `channel:"server"`, `originalTimestamp`
    /// and `sentAt` = `now`, `timestamp` only when given (normalised to RFC 3339 millis),
    /// `integrations:{"All":true}`. Field text is trimmed. Deterministic given `now`.
    pub fn to_event(&self, now: EventTime) -> Result<Value, Vec<Issue>> {
        let errors: Vec<Issue> = self
            .validate()
            .into_iter()
            .filter(Issue::is_error)
            .collect();
        if errors.is_empty() {
            Ok(self.build_event(now))
        } else {
            Err(errors)
        }
    }

    /// The traits object as it would be sent. A value that fails validation is sent as its
    /// text (an `employees` of `12a` becomes the string), so this works on any draft.
    pub fn traits(&self) -> Map<String, Value> {
        let mut traits = Map::new();
        // Custom first so a reserved field, when set, wins over a custom trait of the same
        // name (validation flags that clash as an error anyway).
        for (key, value) in &self.custom {
            if let Some(key) = given(key) {
                traits.insert(key.to_owned(), text_to_value(value));
            }
        }
        let strings = [
            ("name", &self.name),
            ("email", &self.email),
            ("phone", &self.phone),
            ("industry", &self.industry),
            ("plan", &self.plan),
            ("website", &self.website),
            ("avatar", &self.avatar),
            ("description", &self.description),
            ("createdAt", &self.created_at),
        ];
        for (key, text) in strings {
            if let Some(t) = given(text) {
                traits.insert(key.to_owned(), Value::String(t.to_owned()));
            }
        }
        if let Some(t) = given(&self.employees) {
            let value = match serde_json::from_str::<Value>(t) {
                Ok(n @ Value::Number(_)) => n,
                _ => Value::String(t.to_owned()),
            };
            traits.insert("employees".to_owned(), value);
        }
        let address_parts = [
            ("street", &self.address_street),
            ("city", &self.address_city),
            ("state", &self.address_state),
            ("postalCode", &self.address_postal_code),
            ("country", &self.address_country),
        ];
        let mut address = Map::new();
        for (key, text) in address_parts {
            if let Some(t) = given(text) {
                address.insert(key.to_owned(), Value::String(t.to_owned()));
            }
        }
        if !address.is_empty() {
            traits.insert("address".to_owned(), Value::Object(address));
        }
        traits
    }

    /// The user's context object; blank or invalid text gives an empty object (validation
    /// reports the invalid case).
    pub(super) fn context_object(&self) -> Map<String, Value> {
        match given(&self.context).map(serde_json::from_str::<Value>) {
            Some(Ok(Value::Object(map))) => map,
            _ => Map::new(),
        }
    }

    /// The event without validation; used by [`Draft::to_event`] and for the size check.
    pub(super) fn build_event(&self, now: EventTime) -> Value {
        let mut event = Map::new();
        event.insert("type".into(), json!("group"));
        event.insert("messageId".into(), json!(self.message_id.trim()));
        if let Some(id) = given(&self.user_id) {
            event.insert("userId".into(), json!(id));
        }
        if let Some(id) = given(&self.anonymous_id) {
            event.insert("anonymousId".into(), json!(id));
        }
        event.insert("groupId".into(), json!(self.group_id.trim()));
        event.insert("traits".into(), Value::Object(self.traits()));
        let mut context = self.context_object();
        context.insert(
            "library".into(),
            json!({"name": "groupscope", "version": env!("CARGO_PKG_VERSION")}),
        );
        event.insert("context".into(), Value::Object(context));
        event.insert("channel".into(), json!("server"));
        let now_text = now.to_rfc3339();
        event.insert("originalTimestamp".into(), json!(now_text));
        event.insert("sentAt".into(), json!(now_text));
        if let Some(t) = given(&self.timestamp) {
            // Normalised so the processor's parser reads it exactly as we did; the sender's
            // offset is kept.
            let text = EventTime::parse(t).map_or_else(|| t.to_owned(), EventTime::to_rfc3339);
            event.insert("timestamp".into(), json!(text));
        }
        event.insert("integrations".into(), json!({"All": true}));
        Value::Object(event)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> EventTime {
        EventTime::parse("2025-01-01T00:00:05.000Z").unwrap()
    }

    fn base() -> Draft {
        let mut d = Draft::new();
        d.message_id = "8f0c7c9e-2f7e-4d1c-9a57-3a3c1b7c0b11".into();
        d.user_id = "user-42".into();
        d.group_id = "acct-7".into();
        d
    }

    #[test]
    fn minimal_event_is_exact() {
        let event = base().to_event(now()).unwrap();
        let text = serde_json::to_string(&event).unwrap();
        let expected = format!(
            concat!(
                r#"{{"channel":"server","context":{{"library":{{"name":"groupscope","version":"{v}"}}}},"#,
                r#""groupId":"acct-7","integrations":{{"All":true}},"#,
                r#""messageId":"8f0c7c9e-2f7e-4d1c-9a57-3a3c1b7c0b11","#,
                r#""originalTimestamp":"2025-01-01T00:00:05.000Z","#,
                r#""sentAt":"2025-01-01T00:00:05.000Z","traits":{{}},"type":"group","#,
                r#""userId":"user-42"}}"#
            ),
            v = env!("CARGO_PKG_VERSION")
        );
        assert_eq!(text, expected);
    }

    #[test]
    fn full_event_has_typed_traits_nested_address_and_merged_context() {
        let mut d = base();
        d.anonymous_id = " anon-1 ".into();
        d.name = "Hooli".into();
        d.email = "ops@hooli.com".into();
        d.employees = " 4500 ".into();
        d.plan = "enterprise".into();
        d.created_at = "2020-01-21T00:21:34.208Z".into();
        d.address_city = "Berlin".into();
        d.address_postal_code = "10115".into();
        d.custom = vec![
            ("tier".into(), "2".into()),
            ("vip".into(), "true".into()),
            ("meta".into(), r#"{"a":1}"#.into()),
            ("label".into(), "\"12\"".into()),
            ("note".into(), "not json".into()),
            (String::new(), String::new()),
        ];
        d.timestamp = "2020-01-21T05:51:34.208+05:30".into();
        d.context =
            r#"{"ip":"14.5.67.21","traits":{"email":"u@x.io"},"library":{"name":"x"}}"#.into();
        let event = d.to_event(now()).unwrap();
        let expected = json!({
            "type": "group",
            "messageId": "8f0c7c9e-2f7e-4d1c-9a57-3a3c1b7c0b11",
            "userId": "user-42",
            "anonymousId": "anon-1",
            "groupId": "acct-7",
            "traits": {
                "name": "Hooli", "email": "ops@hooli.com", "employees": 4500,
                "plan": "enterprise", "createdAt": "2020-01-21T00:21:34.208Z",
                "address": {"city": "Berlin", "postalCode": "10115"},
                "tier": 2, "vip": true, "meta": {"a": 1}, "label": "12", "note": "not json"
            },
            "context": {
                "ip": "14.5.67.21", "traits": {"email": "u@x.io"},
                "library": {"name": "groupscope", "version": env!("CARGO_PKG_VERSION")}
            },
            "channel": "server",
            "originalTimestamp": "2025-01-01T00:00:05.000Z",
            "sentAt": "2025-01-01T00:00:05.000Z",
            "timestamp": "2020-01-21T05:51:34.208+05:30",
            "integrations": {"All": true}
        });
        assert_eq!(event, expected);
    }

    #[test]
    fn timestamp_is_normalised_and_user_id_omitted_when_blank() {
        let mut d = base();
        d.user_id = "  ".into();
        d.anonymous_id = "anon-1".into();
        d.timestamp = "2023-01-05".into();
        let event = d.to_event(now()).unwrap();
        assert_eq!(event["timestamp"], json!("2023-01-05T00:00:00.000Z"));
        assert!(event.get("userId").is_none());
        assert_eq!(event["anonymousId"], json!("anon-1"));
    }

    #[test]
    fn same_now_same_bytes() {
        let d = base();
        let a = serde_json::to_vec(&d.to_event(now()).unwrap()).unwrap();
        let b = serde_json::to_vec(&d.to_event(now()).unwrap()).unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn invalid_draft_gives_only_errors() {
        let mut d = base();
        d.group_id.clear();
        d.email = "nope".into();
        let errors = d.to_event(now()).unwrap_err();
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].field, super::super::Field::GroupId);
    }

    #[test]
    fn text_and_value_round_trip() {
        assert_eq!(text_to_value("12"), json!(12));
        assert_eq!(text_to_value(" true "), json!(true));
        assert_eq!(text_to_value("{\"a\":1}"), json!({"a": 1}));
        assert_eq!(text_to_value("Berlin"), json!("Berlin"));
        assert_eq!(text_to_value("\"12\""), json!("12"));
        assert_eq!(text_to_value(""), json!(""));
        assert_eq!(text_to_value("null"), Value::Null);
        for v in [
            json!("Berlin"),
            json!("12"),
            json!("true"),
            json!(" padded "),
            json!(""),
            json!(1.5),
            json!(null),
            json!([1, "a"]),
            json!({"k": {"n": false}}),
        ] {
            assert_eq!(text_to_value(&value_to_text(&v)), v, "{v}");
        }
        assert_eq!(value_to_text(&json!("Berlin")), "Berlin");
        assert_eq!(value_to_text(&json!("12")), "\"12\"");
    }
}
