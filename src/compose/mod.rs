//! Composing a `group` call: the [`Draft`] the user edits, its validation and the exact event it
//! becomes (spec §1, §2, §4.5).
//!
//! A draft keeps every field as the text the user typed, so a half-typed value (an `employees`
//! of `12a`) can be saved and shown with its problem instead of being lost. [`Draft::validate`]
//! lists the problems; [`Draft::to_event`] turns a draft without errors into the JSON to send.

mod assign;
mod payload;
mod validate;

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub use assign::{TraitAssignment, build_traits, parse_trait_assignment};
pub use payload::{MAX_EVENT_BYTES, text_to_value, value_to_text};

/// A group call being composed; every field is the text as typed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Draft {
    /// `userId`.
    pub user_id: String,
    /// `anonymousId`.
    pub anonymous_id: String,
    /// `groupId`.
    pub group_id: String,
    /// Trait `name`.
    pub name: String,
    /// Trait `email`.
    pub email: String,
    /// Trait `phone`.
    pub phone: String,
    /// Trait `industry`.
    pub industry: String,
    /// Trait `employees`, sent as a JSON number.
    pub employees: String,
    /// Trait `plan`.
    pub plan: String,
    /// Trait `website`.
    pub website: String,
    /// Trait `avatar` (an image URL).
    pub avatar: String,
    /// Trait `description`.
    pub description: String,
    /// Trait `createdAt` (ISO-8601), sent as typed.
    pub created_at: String,
    /// Trait `address.street`.
    pub address_street: String,
    /// Trait `address.city`.
    pub address_city: String,
    /// Trait `address.state`.
    pub address_state: String,
    /// Trait `address.postalCode`.
    pub address_postal_code: String,
    /// Trait `address.country`.
    pub address_country: String,
    /// Other traits: key and value, the value typed as JSON text (`12`, `true`, `{"a":1}`);
    /// text that is not JSON is sent as a string.
    pub custom: Vec<(String, String)>,
    /// Optional `timestamp` (ISO-8601); set it to backfill a historical call.
    pub timestamp: String,
    /// Optional `context`, as JSON object text.
    pub context: String,
    /// The `messageId`, fixed when the draft is created so every retry resends the same event.
    pub message_id: String,
    /// When the draft was created, in milliseconds since the Unix epoch.
    pub created_ms: i64,
}

impl Draft {
    /// An empty draft with a fresh messageId (UUID v4), created now.
    pub fn new() -> Draft {
        let created_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        Draft {
            user_id: String::new(),
            anonymous_id: String::new(),
            group_id: String::new(),
            name: String::new(),
            email: String::new(),
            phone: String::new(),
            industry: String::new(),
            employees: String::new(),
            plan: String::new(),
            website: String::new(),
            avatar: String::new(),
            description: String::new(),
            created_at: String::new(),
            address_street: String::new(),
            address_city: String::new(),
            address_state: String::new(),
            address_postal_code: String::new(),
            address_country: String::new(),
            custom: Vec::new(),
            timestamp: String::new(),
            context: String::new(),
            message_id: uuid::Uuid::new_v4().to_string(),
            created_ms,
        }
    }

    /// A new draft for an existing group: its ids, and its current traits mapped into fields
    /// (reserved traits into their fields, `address` into `address_*`, the rest into `custom`).
    pub fn prefilled(
        group_id: &str,
        current_traits: &Map<String, Value>,
        user_id: &str,
        anonymous_id: &str,
    ) -> Draft {
        let mut draft = Draft::new();
        draft.group_id = group_id.to_owned();
        draft.user_id = user_id.to_owned();
        draft.anonymous_id = anonymous_id.to_owned();
        draft.apply_traits(current_traits);
        draft
    }

    /// The text of a field; a custom index past the end reads as empty.
    pub fn field(&self, field: Field) -> &str {
        match field {
            Field::CustomKey(i) => self.custom.get(i).map_or("", |(k, _)| k.as_str()),
            Field::CustomValue(i) => self.custom.get(i).map_or("", |(_, v)| v.as_str()),
            Field::Event => "",
            _ => self.fixed(field).map_or("", |s| s.as_str()),
        }
    }

    /// The text of a field for editing; `None` for [`Field::Event`] or a custom index past the
    /// end.
    pub fn field_mut(&mut self, field: Field) -> Option<&mut String> {
        match field {
            Field::CustomKey(i) => self.custom.get_mut(i).map(|(k, _)| k),
            Field::CustomValue(i) => self.custom.get_mut(i).map(|(_, v)| v),
            Field::Event => None,
            _ => self.fixed_mut(field),
        }
    }

    fn fixed(&self, field: Field) -> Option<&String> {
        Some(match field {
            Field::UserId => &self.user_id,
            Field::AnonymousId => &self.anonymous_id,
            Field::GroupId => &self.group_id,
            Field::Name => &self.name,
            Field::Email => &self.email,
            Field::Phone => &self.phone,
            Field::Industry => &self.industry,
            Field::Employees => &self.employees,
            Field::Plan => &self.plan,
            Field::Website => &self.website,
            Field::Avatar => &self.avatar,
            Field::Description => &self.description,
            Field::CreatedAt => &self.created_at,
            Field::AddressStreet => &self.address_street,
            Field::AddressCity => &self.address_city,
            Field::AddressState => &self.address_state,
            Field::AddressPostalCode => &self.address_postal_code,
            Field::AddressCountry => &self.address_country,
            Field::Timestamp => &self.timestamp,
            Field::Context => &self.context,
            Field::CustomKey(_) | Field::CustomValue(_) | Field::Event => return None,
        })
    }

    fn fixed_mut(&mut self, field: Field) -> Option<&mut String> {
        Some(match field {
            Field::UserId => &mut self.user_id,
            Field::AnonymousId => &mut self.anonymous_id,
            Field::GroupId => &mut self.group_id,
            Field::Name => &mut self.name,
            Field::Email => &mut self.email,
            Field::Phone => &mut self.phone,
            Field::Industry => &mut self.industry,
            Field::Employees => &mut self.employees,
            Field::Plan => &mut self.plan,
            Field::Website => &mut self.website,
            Field::Avatar => &mut self.avatar,
            Field::Description => &mut self.description,
            Field::CreatedAt => &mut self.created_at,
            Field::AddressStreet => &mut self.address_street,
            Field::AddressCity => &mut self.address_city,
            Field::AddressState => &mut self.address_state,
            Field::AddressPostalCode => &mut self.address_postal_code,
            Field::AddressCountry => &mut self.address_country,
            Field::Timestamp => &mut self.timestamp,
            Field::Context => &mut self.context,
            Field::CustomKey(_) | Field::CustomValue(_) | Field::Event => return None,
        })
    }
}

impl Default for Draft {
    /// Same as [`Draft::new`]: a default draft still needs its own messageId.
    fn default() -> Draft {
        Draft::new()
    }
}

/// The reserved traits held as plain text fields (the address is handled apart).
pub(crate) const TEXT_TRAITS: [(&str, Field); 10] = [
    ("name", Field::Name),
    ("email", Field::Email),
    ("phone", Field::Phone),
    ("industry", Field::Industry),
    ("employees", Field::Employees),
    ("plan", Field::Plan),
    ("website", Field::Website),
    ("avatar", Field::Avatar),
    ("description", Field::Description),
    ("createdAt", Field::CreatedAt),
];

/// A field of a [`Draft`], named so an [`Issue`] can point at it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Field {
    /// `userId`.
    UserId,
    /// `anonymousId`.
    AnonymousId,
    /// `groupId`.
    GroupId,
    /// Trait `name`.
    Name,
    /// Trait `email`.
    Email,
    /// Trait `phone`.
    Phone,
    /// Trait `industry`.
    Industry,
    /// Trait `employees`.
    Employees,
    /// Trait `plan`.
    Plan,
    /// Trait `website`.
    Website,
    /// Trait `avatar`.
    Avatar,
    /// Trait `description`.
    Description,
    /// Trait `createdAt`.
    CreatedAt,
    /// Trait `address.street`.
    AddressStreet,
    /// Trait `address.city`.
    AddressCity,
    /// Trait `address.state`.
    AddressState,
    /// Trait `address.postalCode`.
    AddressPostalCode,
    /// Trait `address.country`.
    AddressCountry,
    /// The key of the custom trait at this index.
    CustomKey(usize),
    /// The value of the custom trait at this index.
    CustomValue(usize),
    /// `timestamp`.
    Timestamp,
    /// `context`.
    Context,
    /// The event as a whole (its size).
    Event,
}

impl Field {
    /// The fixed fields in form order (custom traits go between the address and `timestamp`).
    pub const FIXED: [Field; 20] = [
        Field::UserId,
        Field::AnonymousId,
        Field::GroupId,
        Field::Name,
        Field::Email,
        Field::Phone,
        Field::Industry,
        Field::Employees,
        Field::Plan,
        Field::Website,
        Field::Avatar,
        Field::Description,
        Field::CreatedAt,
        Field::AddressStreet,
        Field::AddressCity,
        Field::AddressState,
        Field::AddressPostalCode,
        Field::AddressCountry,
        Field::Timestamp,
        Field::Context,
    ];

    /// The name of the field in the event JSON (`traits.address.postalCode` is `address.postalCode`).
    pub fn json_name(self) -> &'static str {
        match self {
            Field::UserId => "userId",
            Field::AnonymousId => "anonymousId",
            Field::GroupId => "groupId",
            Field::Name => "name",
            Field::Email => "email",
            Field::Phone => "phone",
            Field::Industry => "industry",
            Field::Employees => "employees",
            Field::Plan => "plan",
            Field::Website => "website",
            Field::Avatar => "avatar",
            Field::Description => "description",
            Field::CreatedAt => "createdAt",
            Field::AddressStreet => "address.street",
            Field::AddressCity => "address.city",
            Field::AddressState => "address.state",
            Field::AddressPostalCode => "address.postalCode",
            Field::AddressCountry => "address.country",
            Field::CustomKey(_) => "custom key",
            Field::CustomValue(_) => "custom value",
            Field::Timestamp => "timestamp",
            Field::Context => "context",
            Field::Event => "event",
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Field::CustomKey(i) => write!(f, "custom trait #{} key", i + 1),
            Field::CustomValue(i) => write!(f, "custom trait #{} value", i + 1),
            other => f.write_str(other.json_name()),
        }
    }
}

/// How bad an [`Issue`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Severity {
    /// The draft cannot be sent.
    Error,
    /// The draft can be sent, but probably not as meant.
    Warning,
}

/// One problem with a draft, attached to the field it concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    /// The field to highlight.
    pub field: Field,
    /// Blocks sending, or only warns.
    pub severity: Severity,
    /// A sentence for the user.
    pub message: String,
}

impl Issue {
    /// An issue that blocks sending.
    pub fn error(field: Field, message: impl Into<String>) -> Issue {
        Issue {
            field,
            severity: Severity::Error,
            message: message.into(),
        }
    }

    /// An issue that only warns.
    pub fn warning(field: Field, message: impl Into<String>) -> Issue {
        Issue {
            field,
            severity: Severity::Warning,
            message: message.into(),
        }
    }

    /// True for [`Severity::Error`].
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Issue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{level}: {}: {}", self.field, self.message)
    }
}

/// Why a `--trait` assignment or `--traits-json` could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ComposeError {
    /// The text is not `key=value` with a usable key.
    #[error("invalid trait assignment {text:?}: {reason}")]
    Assignment {
        /// The assignment as given.
        text: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// `--traits-json` is not a JSON object.
    #[error("--traits-json must be a JSON object: {0}")]
    TraitsJson(String),
    /// A dotted key goes through a trait that holds something other than an object.
    #[error("trait {path:?} is not an object, so {assignment:?} cannot set a key inside it")]
    NotAnObject {
        /// The dotted path of the non-object value.
        path: String,
        /// The assignment that needed it to be an object.
        assignment: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn new_drafts_get_distinct_v4_message_ids() {
        let a = Draft::new();
        let b = Draft::new();
        assert_ne!(a.message_id, b.message_id);
        let id = uuid::Uuid::parse_str(&a.message_id).unwrap();
        assert_eq!(id.get_version_num(), 4);
        assert!(a.created_ms > 1_600_000_000_000);
    }

    #[test]
    fn draft_round_trips_through_json_and_tolerates_missing_fields() {
        let mut d = Draft::new();
        d.group_id = "acct-7".into();
        d.custom.push(("tier".into(), "2".into()));
        let text = serde_json::to_string(&d).unwrap();
        let back: Draft = serde_json::from_str(&text).unwrap();
        assert_eq!(back, d);

        let partial: Draft =
            serde_json::from_str(r#"{"group_id":"g","custom":[["k","v"]]}"#).unwrap();
        assert_eq!(partial.group_id, "g");
        assert_eq!(partial.custom, vec![("k".to_string(), "v".to_string())]);
        assert_eq!(partial.message_id.len(), 36);
    }

    #[test]
    fn prefilled_maps_reserved_traits_address_and_custom() {
        let traits = json!({
            "name": "Hooli", "employees": 4500, "plan": "enterprise", "createdAt": "2020-01-01",
            "address": {"city": "Berlin", "postalCode": "10115"},
            "tier": 2, "vip": true, "label": "12", "tags": ["a", "b"], "note": "plain"
        });
        let d = Draft::prefilled("acct-7", traits.as_object().unwrap(), "u1", "");
        assert_eq!(d.group_id, "acct-7");
        assert_eq!(d.user_id, "u1");
        assert_eq!(d.name, "Hooli");
        assert_eq!(d.employees, "4500");
        assert_eq!(d.plan, "enterprise");
        assert_eq!(d.created_at, "2020-01-01");
        assert_eq!(d.address_city, "Berlin");
        assert_eq!(d.address_postal_code, "10115");
        assert_eq!(
            d.custom,
            vec![
                ("label".to_string(), "\"12\"".to_string()),
                ("note".to_string(), "plain".to_string()),
                ("tags".to_string(), "[\"a\",\"b\"]".to_string()),
                ("tier".to_string(), "2".to_string()),
                ("vip".to_string(), "true".to_string()),
            ]
        );
    }

    #[test]
    fn field_access_covers_fixed_and_custom_fields() {
        let mut d = Draft::new();
        d.custom.push(("k".into(), "v".into()));
        for f in Field::FIXED {
            d.field_mut(f).unwrap().push_str(f.json_name());
        }
        assert_eq!(d.field(Field::AddressPostalCode), "address.postalCode");
        assert_eq!(d.address_postal_code, "address.postalCode");
        assert_eq!(d.field(Field::CustomKey(0)), "k");
        assert_eq!(d.field(Field::CustomValue(0)), "v");
        assert_eq!(d.field(Field::CustomValue(3)), "");
        assert!(d.field_mut(Field::Event).is_none());
        assert!(d.field_mut(Field::CustomKey(1)).is_none());
        assert_eq!(Field::CustomKey(0).to_string(), "custom trait #1 key");
    }
}
