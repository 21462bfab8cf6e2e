//! A small hand-made input for the explorer's tests: two groups, three users, a plan that changes
//! twice, a nested address, a custom trait and one identify call. Kept in memory (as stdin is) so
//! raw calls can be read back without files, and origins read `events.jsonl:LINE`.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

use crate::model::{Model, ModelBuilder, SourceInfo, SourceKind};

/// The input, one event per line.
pub const EVENTS: &str = concat!(
    r#"{"type":"group","messageId":"m1","userId":"alice","anonymousId":"anon-a","groupId":"g-acme","timestamp":"2024-01-02T09:00:00Z","traits":{"name":"Acme Inc","plan":"free","employees":12,"address":{"city":"Berlin","country":"DE"},"tier_note":"trial"}}"#,
    "\n",
    r#"{"type":"group","messageId":"m2","userId":"bob","groupId":"g-globex","timestamp":"2024-01-03T10:00:00Z","traits":{"name":"Globex","plan":"pro","industry":"Energy"}}"#,
    "\n",
    r#"{"type":"group","messageId":"m3","userId":"bob","groupId":"g-acme","timestamp":"2024-02-01T12:30:00Z","traits":{"plan":"pro","employees":40}}"#,
    "\n",
    r#"{"type":"identify","messageId":"m4","userId":"alice","timestamp":"2024-02-02T08:00:00Z","traits":{"email":"alice@acme.test"}}"#,
    "\n",
    r#"{"type":"group","messageId":"m5","userId":"alice","groupId":"g-acme","timestamp":"2024-03-05T16:45:00Z","traits":{"plan":"enterprise","address":{"city":"Hamburg"}}}"#,
    "\n",
    r#"{"type":"group","messageId":"m6","anonymousId":"anon-c","groupId":"g-globex","timestamp":"2024-03-06T07:15:00Z","traits":{"name":"Globex","plan":"team"}}"#,
    "\n",
);

/// Builds a model from `text` as if it were a JSONL file called `events.jsonl`.
pub fn model_from(text: &str) -> Model {
    let mut builder = ModelBuilder::new();
    let data: std::sync::Arc<[u8]> = text.as_bytes().into();
    let source = builder.add_source(SourceInfo {
        path: PathBuf::from("events.jsonl"),
        kind: SourceKind::Stdin,
        memory: Some(data.clone()),
    });
    let mut reader: &[u8] = &data;
    crate::source::load_lines(
        &mut reader,
        source,
        &mut builder,
        1,
        &AtomicBool::new(false),
        &mut |_| {},
    );
    builder.finish()
}

/// The model of [`EVENTS`].
pub fn model() -> Model {
    model_from(EVENTS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sample_model_has_what_the_tests_expect() {
        let m = model();
        assert_eq!(m.groups().len(), 2);
        assert_eq!(m.users().len(), 3);
        let acme = m.find_group("g-acme").unwrap();
        assert_eq!(m.trait_history(acme, "plan").len(), 3);
        assert_eq!(m.group_trait(acme, "address.city"), Some("\"Hamburg\""));
        assert_eq!(m.members(acme).len(), 2);
    }
}
