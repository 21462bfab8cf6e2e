//! The bundled sample gives exactly the facts written down in `assets/SAMPLE.md`.

mod common;

use common::{asset, groupscope, stats_json};
use groupscope::model::{CallId, Model, display_value};
use groupscope::source::{LoadOptions, load};

fn sample() -> Model {
    load(
        &[asset("sample.jsonl")],
        &LoadOptions::default(),
        &mut |_| {},
    )
    .expect("load sample")
}

/// `(time, old, new, user, line)` of every change of one trait.
fn history(m: &Model, group: &str, key: &str) -> Vec<(String, String, String, String, u32)> {
    let g = m.find_group(group).expect("group");
    m.trait_history(g, key)
        .iter()
        .map(|c| {
            let call = m.call(CallId(c.call));
            (
                call.time.to_rfc3339(),
                c.old
                    .map(|o| display_value(m.str(o)).into_owned())
                    .unwrap_or_else(|| "(unset)".into()),
                display_value(m.str(c.new)).into_owned(),
                m.user_label(call.user).to_string(),
                call.origin.line,
            )
        })
        .collect()
}

fn row(
    t: &str,
    old: &str,
    new: &str,
    user: &str,
    line: u32,
) -> (String, String, String, String, u32) {
    (t.into(), old.into(), new.into(), user.into(), line)
}

#[test]
fn counts_match_the_sample_facts() {
    let s = stats_json(&[&asset("sample.jsonl")]);
    assert_eq!(s["lines"], 66);
    assert_eq!(s["events"], 64);
    assert_eq!(s["group_calls"], 37);
    assert_eq!(s["identify_calls"], 15);
    assert_eq!(s["other_events"], 12);
    assert_eq!(s["duplicates"], 1);
    assert_eq!(s["users"], 13);
    assert_eq!(s["groups"], 5);
    assert_eq!(s["memberships"], 15);
    assert_eq!(s["bad_lines"], 2);
    let at: Vec<&str> = s["first_problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["at"].as_str().unwrap())
        .collect();
    assert_eq!(
        at,
        ["assets/sample.jsonl:32", "assets/sample.jsonl:38"].map(|a| {
            // The path is printed as given; the test passes an absolute one.
            let full = asset("sample.jsonl").display().to_string();
            a.replace("assets/sample.jsonl", &full)
        })
    );
}

#[test]
fn brightwave_plan_and_employees_history() {
    let m = sample();
    assert_eq!(
        history(&m, "acct_brightwave", "plan"),
        vec![
            row("2024-01-08T14:06:02.518Z", "(unset)", "free", "usr_ada", 3),
            row("2024-02-01T15:20:37.402Z", "free", "pro", "usr_grace", 66),
            row(
                "2024-05-06T06:00:01.004Z",
                "pro",
                "enterprise",
                "usr_alan",
                53
            ),
        ]
    );
    let employees: Vec<(String, String)> = history(&m, "acct_brightwave", "employees")
        .into_iter()
        .map(|(_, old, new, ..)| (old, new))
        .collect();
    assert_eq!(
        employees,
        [("(unset)", "12"), ("12", "14"), ("14", "40"), ("40", "41")]
            .map(|(a, b)| (a.to_string(), b.to_string()))
    );
    // Line 45 has no timestamp: its time is receivedAt - (sentAt - originalTimestamp).
    let computed = history(&m, "acct_brightwave", "employees")[2].clone();
    assert_eq!(computed.0, "2024-04-10T09:52:01.250Z");
    assert_eq!(computed.4, 45);
}

#[test]
fn zurich_moves_and_keeps_nested_settings() {
    let m = sample();
    let city: Vec<String> = history(&m, "4242", "address.city")
        .into_iter()
        .map(|c| c.2)
        .collect();
    assert_eq!(city, ["Zürich", "Winterthur"]);
    let g = m.find_group("4242").unwrap();
    assert_eq!(
        m.group_trait(g, "settings.region"),
        Some("\"eu-central-1\"")
    );
    assert_eq!(m.group_trait(g, "settings.dataRetentionDays"), Some("730"));
    assert_eq!(m.group_trait(g, "trialEndsAt"), Some("null"));
    assert_eq!(m.group_trait(g, "plan"), Some("\"enterprise\""));
    assert_eq!(m.group_trait(g, "employees"), Some("38"));
    assert_eq!(m.group_name(g).as_deref(), Some("Zürich Analytics AG"));
    // The numeric groupId 4242 joined the string one.
    assert_eq!(m.group(g).calls.len(), 8);
}

#[test]
fn change_counts_per_group() {
    let m = sample();
    let want = [
        ("acct_brightwave", 22, 15, 9),
        ("4242", 28, 17, 8),
        ("acct_kumo", 19, 15, 9),
        ("acct_olympia", 11, 9, 5),
        ("acct_nilgiri", 15, 12, 6),
    ];
    for (id, changes, keys, calls) in want {
        let g = m.find_group(id).unwrap();
        let group = m.group(g);
        let n: usize = group.traits.iter().map(|t| m.entry_changes(t).len()).sum();
        assert_eq!(
            (n, group.traits.len(), group.calls.len()),
            (changes, keys, calls),
            "{id}"
        );
    }
}

#[test]
fn users_are_linked_and_identify_traits_prefer_context() {
    let m = sample();
    let lin = m.find_user("usr_lin").expect("lin");
    assert!(
        !m.user(lin).anonymous_ids.is_empty(),
        "Lin's anonymous history is linked"
    );
    let kiosk = m
        .find_user("17bf0621-36d8-4a22-9dbd-d4e344841efd")
        .expect("kiosk");
    assert_eq!(m.user(kiosk).user_id, None);
    let olympia = m.find_group("acct_olympia").unwrap();
    assert!(m.members(olympia).iter().any(|mb| mb.user == kiosk));

    let edsger = m.find_user("usr_edsger").unwrap();
    let traits: Vec<(String, String)> = m
        .user(edsger)
        .traits
        .iter()
        .map(|t| {
            (
                m.str(t.key).to_string(),
                display_value(m.str(t.value)).into_owned(),
            )
        })
        .collect();
    assert!(
        traits.contains(&("title".into(), "Head of Engineering".into())),
        "{traits:?}"
    );
    assert!(
        traits.contains(&("name".into(), "Edsger W. Dijkstra".into())),
        "{traits:?}"
    );
}

#[test]
fn history_command_prints_the_plan_changes() {
    let out = groupscope(&[
        "history",
        asset("sample.jsonl").to_str().unwrap(),
        "--group",
        "acct_brightwave",
        "--trait",
        "plan",
    ]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("group acct_brightwave \"Brightwave Health\": 9 calls, 4 members"),
        "{text}"
    );
    assert!(text.contains("free → pro  by usr_grace"), "{text}");
    assert!(text.contains("pro → enterprise  by usr_alan"), "{text}");
    let json = groupscope(&[
        "history",
        asset("sample.jsonl").to_str().unwrap(),
        "--group",
        "acct_brightwave",
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["current_traits"]["plan"], "enterprise");
    assert_eq!(v["history"]["plan"][1]["old"], "free");
    assert_eq!(v["members"].as_array().unwrap().len(), 4);
}
