//! A curl command that sends the same event, for users who want to see or script the request.

use serde_json::Value;

use super::transport::Payload;

/// A ready-to-run curl command that POSTs `event` to the data plane, as groupscope would. The
/// key is read from `$RUDDERSTACK_WRITE_KEY` by the shell: it never appears in the text.
pub fn curl_command(data_plane_url: &str, event: &Value) -> String {
    let base = data_plane_url.trim().trim_end_matches('/');
    let body = event.to_string();
    let anonymous_id = Payload::from_json_texts(&[&body])
        .ok()
        .and_then(|p| p.anonymous_id);
    let mut lines = vec![
        format!(
            "curl -sS -X POST {}",
            shell_quote(&format!("{base}/v1/group"))
        ),
        "  -u \"$RUDDERSTACK_WRITE_KEY:\"".to_owned(),
        "  -H 'Content-Type: application/json'".to_owned(),
    ];
    if let Some(id) = anonymous_id {
        lines.push(format!(
            "  -H {}",
            shell_quote(&format!("AnonymousId: {id}"))
        ));
    }
    lines.push(format!("  --data-raw {}", shell_quote(&body)));
    lines.join(" \\\n")
}

/// Single-quotes text for a POSIX shell (`'` becomes `'\''`).
fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn command_uses_the_env_key_and_quotes_the_body() {
        let event = json!({"type": "group", "anonymousId": "a-1", "groupId": "g",
                           "traits": {"name": "O'Brien & Co"}});
        let cmd = curl_command("https://x.dataplane.rudderstack.com/", &event);
        assert_eq!(
            cmd,
            concat!(
                "curl -sS -X POST 'https://x.dataplane.rudderstack.com/v1/group' \\\n",
                "  -u \"$RUDDERSTACK_WRITE_KEY:\" \\\n",
                "  -H 'Content-Type: application/json' \\\n",
                "  -H 'AnonymousId: a-1' \\\n",
                r#"  --data-raw '{"anonymousId":"a-1","groupId":"g","traits":{"name":"O'\''Brien & Co"},"type":"group"}'"#
            )
        );
    }

    #[test]
    fn no_anonymous_id_header_without_an_id() {
        let cmd = curl_command("http://localhost:8080", &json!({"groupId": "g"}));
        assert!(!cmd.contains("AnonymousId"));
        assert!(cmd.starts_with("curl -sS -X POST 'http://localhost:8080/v1/group'"));
    }
}
