//! A draft prefilled from the model: the group a tree node belongs to, its current traits put
//! back into nested JSON, and the user the call is most likely from.

use serde_json::{Map, Value};

use crate::compose::Draft;
use crate::model::{GroupId, Model, UserId};
use crate::ui::tree::Node;

/// Nested JSON from flattened `(dotted key, JSON text)` pairs: `address.city` becomes
/// `{"address":{"city":…}}`. Text that is not JSON is kept as a string. When a key is both a
/// value and a parent (`a` and `a.b`), the object wins, since it holds more.
pub fn unflatten<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Map<String, Value> {
    let mut root = Map::new();
    'pairs: for (key, text) in pairs {
        let value = serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned()));
        let parts: Vec<&str> = key.split('.').collect();
        let Some((last, parents)) = parts.split_last() else {
            continue;
        };
        let mut map = &mut root;
        for part in parents {
            let slot = map
                .entry((*part).to_owned())
                .or_insert_with(|| Value::Object(Map::new()));
            if !slot.is_object() {
                *slot = Value::Object(Map::new());
            }
            match slot {
                Value::Object(next) => map = next,
                _ => continue 'pairs,
            }
        }
        match map.get(*last) {
            Some(Value::Object(_)) => {}
            _ => {
                map.insert((*last).to_owned(), value);
            }
        }
    }
    root
}

/// The group a node belongs to, and the user it names (a member, or the user of a user's group).
pub fn node_target(model: &Model, node: Node) -> Option<(GroupId, Option<UserId>)> {
    Some(match node {
        Node::Group(g)
        | Node::Members(g)
        | Node::Traits(g)
        | Node::Trait(g, _)
        | Node::Change(g, _, _)
        | Node::Calls(g) => (g, None),
        Node::Member(g, u) | Node::UserGroup(u, g) => (g, Some(u)),
        Node::Call(id) => (model.call(id).group, None),
        Node::User(_) => return None,
    })
}

/// A new draft for the group of `node`: its current traits, and the node's user, else the user
/// of the group's latest call. `None` for a node outside any group (a user).
pub fn draft_for(model: &Model, node: Node) -> Option<Draft> {
    let (g, user) = node_target(model, node)?;
    let group = model.group(g);
    let user = user.or_else(|| model.group_calls(g).last().map(|(_, call)| call.user));
    let traits = unflatten(
        group
            .traits
            .iter()
            .map(|t| (model.str(t.key), model.str(t.value))),
    );
    let (user_id, anonymous_id) = match user {
        Some(u) => {
            let user = model.user(u);
            (
                user.user_id.map_or("", |s| model.str(s)),
                user.anonymous_ids.first().map_or("", |&s| model.str(s)),
            )
        }
        None => ("", ""),
    };
    Some(Draft::prefilled(
        model.str(group.id),
        &traits,
        user_id,
        anonymous_id,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn dotted_keys_nest_and_values_keep_their_types() {
        let map = unflatten([
            ("address.city", "\"Hamburg\""),
            ("address.country", "\"DE\""),
            ("employees", "40"),
            ("vip", "true"),
            ("tags", "[\"a\"]"),
            ("note", "not json"),
            ("a.b.c", "null"),
        ]);
        assert_eq!(
            Value::Object(map),
            json!({
                "address": {"city": "Hamburg", "country": "DE"},
                "employees": 40, "vip": true, "tags": ["a"], "note": "not json",
                "a": {"b": {"c": null}}
            })
        );
    }

    #[test]
    fn an_object_wins_over_a_scalar_at_the_same_key() {
        let map = unflatten([("a", "1"), ("a.b", "2")]);
        assert_eq!(Value::Object(map), json!({"a": {"b": 2}}));
        let map = unflatten([("a.b", "2"), ("a", "1")]);
        assert_eq!(Value::Object(map), json!({"a": {"b": 2}}));
    }

    #[test]
    fn a_group_prefills_its_current_traits_and_its_latest_caller() {
        let m = crate::ui::testdata::model();
        let acme = m.find_group("g-acme").unwrap();
        let d = draft_for(&m, Node::Group(acme)).unwrap();
        assert_eq!(d.group_id, "g-acme");
        // The latest call (m5) was alice's; she has an anonymousId too.
        assert_eq!(
            (d.user_id.as_str(), d.anonymous_id.as_str()),
            ("alice", "anon-a")
        );
        assert_eq!(d.name, "Acme Inc");
        assert_eq!(d.plan, "enterprise");
        assert_eq!(d.employees, "40");
        assert_eq!(d.address_city, "Hamburg");
        assert_eq!(d.address_country, "DE");
        assert_eq!(
            d.custom,
            vec![("tier_note".to_string(), "trial".to_string())]
        );

        // A member names the user; a user alone names no group.
        let bob = m.find_user("bob").unwrap();
        let d = draft_for(&m, Node::Member(acme, bob)).unwrap();
        assert_eq!((d.user_id.as_str(), d.anonymous_id.as_str()), ("bob", ""));
        let carol = m.find_user("anon-c").unwrap();
        let globex = m.find_group("g-globex").unwrap();
        let d = draft_for(&m, Node::UserGroup(carol, globex)).unwrap();
        assert_eq!(
            (d.user_id.as_str(), d.anonymous_id.as_str()),
            ("", "anon-c")
        );
        assert!(draft_for(&m, Node::User(bob)).is_none());
    }
}
