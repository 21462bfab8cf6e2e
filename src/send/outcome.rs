//! What an answer from the data plane means for the call (spec §4.4, §4.6).

use super::transport::{Response, TransportError};

/// The outcome of one attempt to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// HTTP 200: the gateway persisted the events. `note` is set when the answer was not the
    /// usual `ok` body (or not a 200), which is worth showing but not an error.
    Accepted {
        /// Something unusual about the answer, if anything.
        note: Option<String>,
    },
    /// The data plane refused the request; sending it again unchanged will not help.
    Rejected {
        /// The HTTP status.
        status: u16,
        /// The server's answer, trimmed, cut short and with control characters removed.
        server_message: String,
        /// What the status means for the user, as a sentence.
        meaning: String,
    },
    /// Worth trying again later: rate limit, server error, timeout, connection failure.
    Retryable {
        /// What went wrong, as a sentence.
        reason: String,
    },
    /// Not sent, and retrying will not help: a TLS failure or an unusable request.
    Failed {
        /// What went wrong, as a sentence.
        reason: String,
    },
}

/// How much of a server's answer is kept for display.
const MAX_SERVER_MESSAGE_CHARS: usize = 300;

/// The outcome for an HTTP status and response body.
///
/// 200 with body `ok` (any case, trimmed) is accepted; 200 with another body is accepted with a
/// note. 400/401/404/413 and other 4xx are rejected with a meaning; 429 and 5xx are retryable.
pub fn classify(status: u16, body: &str) -> Outcome {
    let server_message = clean_message(body);
    let rejected = |meaning: String| Outcome::Rejected {
        status,
        server_message: server_message.clone(),
        meaning,
    };
    match status {
        200 if body.trim().eq_ignore_ascii_case("ok") => Outcome::Accepted { note: None },
        200 => Outcome::Accepted {
            note: Some(format!(
                "the data plane answered 200 with {} instead of \"ok\"",
                quoted_or_empty(&server_message)
            )),
        },
        201..=299 => Outcome::Accepted {
            note: Some(format!(
                "the data plane answered {status} (not 200) with {}",
                quoted_or_empty(&server_message)
            )),
        },
        300..=399 => rejected(format!(
            "the data plane URL redirects (HTTP {status}); redirects are not followed so the \
             write key stays with the host you chose; use the final URL instead"
        )),
        400 => rejected(format!(
            "the server rejected the payload: {}",
            if server_message.is_empty() {
                "no reason given"
            } else {
                &server_message
            }
        )),
        401 => rejected("the write key is wrong or missing".to_owned()),
        404 => rejected(
            "the source is disabled (or the URL is not a RudderStack data plane)".to_owned(),
        ),
        413 => rejected(
            "the request is too large (over 4,000 KB); send fewer events per request".to_owned(),
        ),
        429 => Outcome::Retryable {
            reason: "the data plane is rate limiting (HTTP 429)".to_owned(),
        },
        402..=499 => rejected(format!(
            "the data plane refused the request (HTTP {status}){}",
            if server_message.is_empty() {
                String::new()
            } else {
                format!(": {server_message}")
            }
        )),
        500..=599 => Outcome::Retryable {
            reason: format!(
                "server error (HTTP {status}){}",
                if server_message.is_empty() {
                    String::new()
                } else {
                    format!(": {server_message}")
                }
            ),
        },
        _ => Outcome::Retryable {
            reason: format!("unexpected HTTP status {status}"),
        },
    }
}

/// [`classify`] for a whole response; a redirect's meaning names where it points.
pub fn classify_response(response: &Response) -> Outcome {
    let outcome = classify(response.status, &response.body);
    match (outcome, &response.location) {
        (
            Outcome::Rejected {
                status,
                server_message,
                meaning,
            },
            Some(location),
        ) if (300..400).contains(&status) => Outcome::Rejected {
            status,
            server_message,
            meaning: format!("{meaning} (it points to {})", clean_message(location)),
        },
        (outcome, _) => outcome,
    }
}

/// The outcome of a request that got no HTTP answer.
pub fn classify_error(error: &TransportError) -> Outcome {
    if error.is_retryable() {
        Outcome::Retryable {
            reason: error.to_string(),
        }
    } else {
        Outcome::Failed {
            reason: error.to_string(),
        }
    }
}

/// A server's text made safe to show in a terminal: control characters (escape sequences)
/// become spaces, whitespace runs collapse, and it is cut to a few hundred characters.
pub fn clean_message(text: &str) -> String {
    let mut out = String::new();
    let mut chars = 0;
    for word in text
        .split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|w| !w.is_empty())
    {
        if chars > 0 {
            out.push(' ');
            chars += 1;
        }
        for c in word.chars() {
            if chars >= MAX_SERVER_MESSAGE_CHARS {
                out.push('…');
                return out;
            }
            out.push(c);
            chars += 1;
        }
    }
    out
}

fn quoted_or_empty(message: &str) -> String {
    if message.is_empty() {
        "an empty body".to_owned()
    } else {
        format!("{message:?}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meaning(outcome: &Outcome) -> &str {
        match outcome {
            Outcome::Rejected { meaning, .. } => meaning,
            other => panic!("not rejected: {other:?}"),
        }
    }

    #[test]
    fn ok_in_any_case_is_accepted() {
        for body in ["ok", "OK", " Ok\n", "ok\n"] {
            assert_eq!(
                classify(200, body),
                Outcome::Accepted { note: None },
                "{body:?}"
            );
        }
    }

    #[test]
    fn other_successes_are_accepted_with_a_note() {
        assert_eq!(
            classify(200, "{\"status\":\"queued\"}"),
            Outcome::Accepted {
                note: Some(
                    "the data plane answered 200 with \"{\\\"status\\\":\\\"queued\\\"}\" \
                     instead of \"ok\""
                        .to_owned()
                )
            }
        );
        assert_eq!(
            classify(200, ""),
            Outcome::Accepted {
                note: Some(
                    "the data plane answered 200 with an empty body instead of \"ok\"".into()
                )
            }
        );
        assert!(matches!(
            classify(204, ""),
            Outcome::Accepted { note: Some(_) }
        ));
    }

    #[test]
    fn client_errors_are_rejected_with_a_meaning() {
        let bad = classify(400, "request neither has anonymousId nor userId\n");
        assert_eq!(
            bad,
            Outcome::Rejected {
                status: 400,
                server_message: "request neither has anonymousId nor userId".into(),
                meaning: "the server rejected the payload: request neither has anonymousId nor \
                          userId"
                    .into()
            }
        );
        assert_eq!(
            meaning(&classify(401, "invalid write key\n")),
            "the write key is wrong or missing"
        );
        assert!(
            meaning(&classify(404, "source is disabled\n")).starts_with("the source is disabled")
        );
        assert!(
            meaning(&classify(413, "request size exceeds max limit\n"))
                .starts_with("the request is too large")
        );
        assert_eq!(
            meaning(&classify(405, "")),
            "the data plane refused the request (HTTP 405)"
        );
        assert_eq!(
            meaning(&classify(422, "nope")),
            "the data plane refused the request (HTTP 422): nope"
        );
        assert!(meaning(&classify(301, "")).contains("redirects"));
    }

    #[test]
    fn rate_limits_and_server_errors_are_retryable() {
        assert_eq!(
            classify(429, "max requests limit reached\n"),
            Outcome::Retryable {
                reason: "the data plane is rate limiting (HTTP 429)".into()
            }
        );
        for status in [500, 502, 503, 504] {
            assert!(
                matches!(classify(status, ""), Outcome::Retryable { .. }),
                "{status}"
            );
        }
        assert_eq!(
            classify(503, "service unavailable\n"),
            Outcome::Retryable {
                reason: "server error (HTTP 503): service unavailable".into()
            }
        );
        assert!(matches!(classify(600, ""), Outcome::Retryable { .. }));
    }

    #[test]
    fn transport_errors_split_into_retryable_and_failed() {
        assert_eq!(
            classify_error(&TransportError::Refused),
            Outcome::Retryable {
                reason: "connection refused".into()
            }
        );
        assert!(matches!(
            classify_error(&TransportError::Timeout("waiting for the response".into())),
            Outcome::Retryable { .. }
        ));
        assert!(matches!(
            classify_error(&TransportError::Tls("unknown issuer".into())),
            Outcome::Failed { .. }
        ));
    }

    #[test]
    fn redirects_name_their_target() {
        let response = Response {
            status: 308,
            body: String::new(),
            location: Some("https://elsewhere.example/v1/group".into()),
        };
        assert!(
            meaning(&classify_response(&response))
                .ends_with("(it points to https://elsewhere.example/v1/group)")
        );
    }

    #[test]
    fn server_text_is_made_safe_for_a_terminal() {
        assert_eq!(
            clean_message("bad\x1b[31m red\r\n  text\t"),
            "bad [31m red text"
        );
        let long = "x".repeat(1000);
        assert_eq!(
            clean_message(&long).chars().count(),
            MAX_SERVER_MESSAGE_CHARS + 1
        );
    }
}
