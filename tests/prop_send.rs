//! Property tests of composing and sending: draft validation and the event it becomes, the
//! classification of any HTTP answer, the JSON printed to a terminal, and URLs in messages.
//!
//! Case counts: 1,000 arbitrary drafts, 1,000 drafts at the 32 KB boundary with any `now`,
//! 5,000 status/body pairs, 1,000 JSON values, 2,000 URLs; about 3 s in a debug build.

use groupscope::cli::json_safe;
use groupscope::compose::{Draft, MAX_EVENT_BYTES};
use groupscope::event::{EventKind, EventTime, parse_text};
use groupscope::send::{
    Outcome, Payload, Response, classify, classify_response, normalize_data_plane_url, redact_url,
};
use groupscope::ui::sanitize::is_unsafe_char;
use proptest::prelude::*;
use serde_json::Value;

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        max_shrink_iters: 512,
        ..ProptestConfig::default()
    }
}

/// What a user might type into a field: nothing, ids, numbers, times, JSON, junk, control
/// characters.
fn field_text() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => Just(String::new()),
        2 => "[a-z0-9_-]{1,12}",
        1 => " [a-z]{1,6} ",
        1 => "-?[0-9]{1,6}(\\.[0-9]{1,3})?(e[0-9])?",
        1 => prop::sample::select(vec![
            "2024-05-01T12:00:00Z", "2024-05-01", "2024-02-30T00:00:00Z", "yesterday",
            "2024-05-01T12:00:00.123+05:30", "ops@hooli.com", "not-an-email", "https://x.io/a.png",
            "true", "null", "{}", "{\"library\":1}", "[1,2]", "{\"a\":{\"b\":[1]}}", "{oops",
        ])
        .prop_map(str::to_owned),
        2 => ".{0,24}",
    ]
}

fn custom() -> impl Strategy<Value = Vec<(String, String)>> {
    prop::collection::vec(
        (
            prop_oneof![
                field_text(),
                prop::sample::select(vec!["name", "id", "user_id", "a.b", "createdAt", "Plan"])
                    .prop_map(str::to_owned),
            ],
            field_text(),
        ),
        0..5,
    )
}

fn draft() -> impl Strategy<Value = Draft> {
    (
        (
            field_text(),
            field_text(),
            field_text(),
            field_text(),
            field_text(),
            field_text(),
        ),
        (
            field_text(),
            field_text(),
            field_text(),
            field_text(),
            field_text(),
            field_text(),
        ),
        (
            field_text(),
            field_text(),
            field_text(),
            field_text(),
            field_text(),
            field_text(),
        ),
        (field_text(), field_text(), custom(), "[a-f0-9-]{0,36}"),
    )
        .prop_map(|(a, b, c, d)| {
            let mut draft = Draft::new();
            (
                draft.user_id,
                draft.anonymous_id,
                draft.group_id,
                draft.name,
                draft.email,
                draft.phone,
            ) = a;
            (
                draft.industry,
                draft.employees,
                draft.plan,
                draft.website,
                draft.avatar,
                draft.description,
            ) = b;
            (
                draft.created_at,
                draft.address_street,
                draft.address_city,
                draft.address_state,
                draft.address_postal_code,
                draft.address_country,
            ) = c;
            let message_id;
            (draft.timestamp, draft.context, draft.custom, message_id) = d;
            if !message_id.is_empty() {
                draft.message_id = message_id;
            }
            draft
        })
}

/// Any instant a clock could give, in any UTC offset a sender could have.
fn now() -> impl Strategy<Value = EventTime> {
    prop_oneof![
        3 => (0i64..4_102_444_800_000).prop_map(EventTime::from_utc_ms),
        1 => (
            -62_135_596_800_000i64..253_402_300_799_000,
            -(23 * 60 + 59)..=(23 * 60 + 59i16),
        )
            .prop_map(|(utc_ms, offset_min)| EventTime { utc_ms, offset_min }),
    ]
}

/// Checks everything a draft promises at `now`.
fn check_draft(draft: &Draft, now: EventTime) -> Result<(), TestCaseError> {
    let issues = draft.validate();
    let errors = issues.iter().filter(|i| i.is_error()).count();
    match draft.to_event(now) {
        Ok(event) => {
            prop_assert_eq!(errors, 0, "{:?}", issues);
            let bytes = serde_json::to_vec(&event).unwrap();
            prop_assert!(
                bytes.len() <= MAX_EVENT_BYTES,
                "an accepted draft's event is {} bytes at {:?}",
                bytes.len(),
                now
            );
            prop_assert_eq!(&event["type"], "group");
            prop_assert_eq!(&event["messageId"], draft.message_id.trim());
            prop_assert_eq!(&event["groupId"], draft.group_id.trim());
            prop_assert!(event["traits"].is_object());
            // Our own parser reads the event as the group call it is.
            let mut kinds = Vec::new();
            parse_text(&bytes, &mut |r| kinds.push(r.map(|e| e.kind)));
            prop_assert_eq!(kinds, vec![Ok(EventKind::Group)]);
            // And it can be sent.
            let payload = Payload::from_events(std::slice::from_ref(&event));
            prop_assert!(payload.is_ok(), "{:?}", payload);
        }
        Err(refused) => {
            prop_assert!(!refused.is_empty());
            prop_assert!(refused.iter().all(|i| i.is_error()));
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(1_000))]

    #[test]
    fn any_draft_validates_and_becomes_a_valid_event_or_is_refused(d in draft(), now in now()) {
        check_draft(&d, now)?;
        // Drafts are stored as JSON: they come back the same.
        let text = serde_json::to_string(&d).unwrap();
        prop_assert_eq!(serde_json::from_str::<Draft>(&text).unwrap(), d);
    }

    #[test]
    fn a_draft_at_the_size_limit_is_never_sent_oversized(
        d in draft(),
        slack in 0usize..40,
        now in now(),
    ) {
        // Pad the description so that the event, measured as validation measures it, is
        // `slack` bytes under the limit (or over it, when the draft is already too big).
        let mut d = d;
        d.description = String::new();
        let base = d.to_event(EventTime::from_utc_ms(0));
        let Ok(base) = base else { return Ok(()) };
        let size = serde_json::to_vec(&base).unwrap().len();
        let room = MAX_EVENT_BYTES.saturating_sub(size + slack + 20);
        d.description = "d".repeat(room);
        check_draft(&d, now)?;
    }
}

proptest! {
    #![proptest_config(config(5_000))]

    #[test]
    fn any_answer_is_classified_sensibly(status in any::<u16>(), body in ".{0,400}") {
        let outcome = classify(status, &body);
        match &outcome {
            Outcome::Accepted { note } => {
                prop_assert!((200..300).contains(&status));
                prop_assert_eq!(note.is_none(), status == 200 && body.trim().eq_ignore_ascii_case("ok"));
            }
            Outcome::Rejected { status: s, server_message, meaning } => {
                prop_assert_eq!(*s, status);
                prop_assert!((300..500).contains(&status) && status != 429);
                prop_assert!(server_message.chars().count() <= 301);
                prop_assert!(!server_message.chars().any(|c| c.is_control()));
                prop_assert!(!meaning.is_empty());
            }
            Outcome::Retryable { reason } => {
                prop_assert!(status == 429 || !(200..500).contains(&status));
                prop_assert!(!reason.chars().any(|c| c.is_control()));
            }
            Outcome::Failed { .. } => prop_assert!(false, "an HTTP answer is never Failed"),
        }
        let with_location = classify_response(&Response {
            status,
            body: body.clone(),
            location: Some(body.chars().rev().collect()),
        });
        prop_assert_eq!(
            std::mem::discriminant(&with_location),
            std::mem::discriminant(&outcome)
        );
    }

    #[test]
    fn ok_in_any_case_and_spacing_is_accepted(ok in "[ \t\r\n]{0,3}[oO][kK][ \t\r\n]{0,3}") {
        prop_assert_eq!(classify(200, &ok), Outcome::Accepted { note: None });
    }
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i32>().prop_map(Value::from),
        ".{0,16}".prop_map(Value::String),
        "[\u{0}-\u{1f}\u{7f}-\u{9f}\u{202a}-\u{202e}\u{2066}-\u{2069}a]{0,8}"
            .prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 32, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((".{0,6}", inner), 0..5)
                .prop_map(|pairs| Value::Object(pairs.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(config(1_000))]

    #[test]
    fn json_for_a_terminal_is_inert_and_means_the_same(v in json_value(), pretty in any::<bool>()) {
        let text = if pretty { serde_json::to_string_pretty(&v) } else { serde_json::to_string(&v) }.unwrap();
        let safe = json_safe(text);
        prop_assert!(!safe.chars().any(|c| c != '\n' && is_unsafe_char(c)), "{}", safe);
        prop_assert_eq!(serde_json::from_str::<Value>(&safe).unwrap(), v);
    }
}

proptest! {
    #![proptest_config(config(2_000))]

    #[test]
    fn urls_in_messages_never_show_user_info_query_or_fragment(
        scheme in prop::sample::select(vec!["https://", "http://", "HTTP://", "ftp://", ""]),
        user in prop::option::of("[A-Za-z0-9:%._-]{0,12}"),
        host in "[a-z0-9.-]{1,12}(:[0-9]{1,5})?",
        path in "(/[a-z0-9@._-]{0,8}){0,3}",
        query in prop::option::of("[^#]{0,12}"),
        fragment in prop::option::of(".{0,12}"),
    ) {
        const SECRET: &str = "SeCrEtKeY";
        let mut url = scheme.to_string();
        if let Some(u) = &user {
            url.push_str(&format!("{u}{SECRET}@"));
        }
        url.push_str(&host);
        url.push_str(&path);
        if let Some(q) = &query {
            url.push_str(&format!("?writeKey={SECRET}{q}"));
        }
        if let Some(f) = &fragment {
            url.push_str(&format!("#{SECRET}{f}"));
        }
        let shown = redact_url(&url);
        prop_assert!(!shown.contains(SECRET), "{} -> {}", url, shown);
        if let Err(e) = normalize_data_plane_url(&url) {
            prop_assert!(!e.to_string().contains(SECRET), "{}", e);
        }
        if user.is_none() && query.is_none() && fragment.is_none() {
            prop_assert_eq!(shown, url.trim());
        }
    }
}
