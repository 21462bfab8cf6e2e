//! Where calls go: the data plane URL and the source's write key (spec §4.1, §4.3).

use std::fmt;
use std::net::IpAddr;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ureq::http::Uri;

use super::SendError;

/// A source's write key. `Debug` and `Display` show only a redaction (`wk…abcd`), so the key
/// never reaches a log, an error or the screen by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct WriteKey(String);

impl WriteKey {
    /// A write key from user input; surrounding whitespace (a pasted newline) is dropped.
    /// Refuses an empty key, and one with whitespace, control characters or `:` inside (Basic
    /// auth cannot carry a `:` in the user name).
    pub fn new(key: &str) -> Result<WriteKey, SendError> {
        let key = key.trim();
        if key.is_empty() {
            return Err(SendError::WriteKey("the write key is empty"));
        }
        if key.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(SendError::WriteKey(
                "the write key contains spaces or control characters",
            ));
        }
        if key.contains(':') {
            return Err(SendError::WriteKey("the write key contains ':'"));
        }
        Ok(WriteKey(key.to_owned()))
    }

    /// `wk…` plus at most the last 4 characters, fewer for a short key (a quarter of it), so the
    /// redaction never gives the key away.
    pub fn redacted(&self) -> String {
        let count = self.0.chars().count();
        let shown = (count / 4).min(4);
        let tail: String = self.0.chars().skip(count - shown).collect();
        format!("wk…{tail}")
    }

    /// The `Authorization` header value: `Basic base64(key + ":")` (the password is empty).
    pub fn basic_auth_header(&self) -> String {
        format!("Basic {}", STANDARD.encode(format!("{}:", self.0)))
    }

    /// The key itself, for saving it where the user asked; never log or display it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for WriteKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WriteKey({})", self.redacted())
    }
}

impl fmt::Display for WriteKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

/// A data plane to send to: its base URL and the write key of the source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataPlane {
    url: String,
    write_key: WriteKey,
}

impl DataPlane {
    /// A data plane, after checking the URL (see [`normalize_data_plane_url`]).
    pub fn new(url: &str, write_key: WriteKey) -> Result<DataPlane, SendError> {
        Ok(DataPlane {
            url: normalize_data_plane_url(url)?,
            write_key,
        })
    }

    /// The base URL, without a trailing slash.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The source's write key.
    pub fn write_key(&self) -> &WriteKey {
        &self.write_key
    }

    /// The full URL of an API path such as `/v1/batch`.
    pub fn endpoint(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    /// True for plain `http` to a host other than this machine: the write key and the events
    /// would cross the network unencrypted.
    pub fn is_insecure(&self) -> bool {
        is_insecure_url(&self.url)
    }
}

/// Checks a data plane URL and returns it without a trailing slash: `http` or `https` with a
/// host, an optional port and path prefix, no user info, query or fragment, and not already
/// ending in an API path like `/v1/batch`.
pub fn normalize_data_plane_url(url: &str) -> Result<String, SendError> {
    let text = url.trim();
    let fail = |reason: &'static str| SendError::Url {
        url: redact_url(text),
        reason,
    };
    if text.contains('#') {
        return Err(fail("a URL with a #fragment is not a data plane URL"));
    }
    let uri: Uri = text
        .parse()
        .map_err(|_| fail("not a URL; expected e.g. https://example.dataplane.rudderstack.com"))?;
    let scheme = match uri.scheme_str().map(str::to_ascii_lowercase).as_deref() {
        Some("https") => "https",
        Some("http") => "http",
        Some(_) => return Err(fail("only http and https are supported")),
        None => return Err(fail("the URL needs http:// or https://")),
    };
    let authority = uri.authority().ok_or_else(|| fail("the URL has no host"))?;
    if authority.as_str().contains('@') {
        return Err(fail(
            "user info in the URL is not supported; use the write key",
        ));
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(fail("the URL has no host"));
    }
    if uri.query().is_some() {
        return Err(fail("a URL with a ?query is not a data plane URL"));
    }
    let path = uri.path().trim_end_matches('/');
    if path.contains("/v1/") || path.ends_with("/v1") {
        return Err(fail(
            "give the data plane's base URL, without /v1/…; groupscope adds the API path",
        ));
    }
    Ok(format!("{scheme}://{}{path}", authority.as_str()))
}

/// A URL as it may be shown in a message: user info, query and fragment are replaced by `…`,
/// since a write key pasted there (`https://KEY@host`, `?writeKey=KEY`) must not be echoed.
pub fn redact_url(url: &str) -> String {
    let url = url.trim();
    // Only a real scheme counts: "://" inside a query or fragment must not hide what precedes it.
    let scheme_len = url
        .find("://")
        .filter(|&i| {
            let name = &url[..i];
            name.starts_with(|c: char| c.is_ascii_alphabetic())
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        })
        .map_or(0, |i| i + 3);
    let (scheme, rest) = url.split_at(scheme_len);
    let cut = rest.find(['?', '#']).unwrap_or(rest.len());
    let (base, tail) = rest.split_at(cut);
    let authority_end = base.find('/').unwrap_or(base.len());
    let (authority, path) = base.split_at(authority_end);
    let mut out = String::with_capacity(url.len());
    out.push_str(scheme);
    match authority.rfind('@') {
        Some(at) => {
            out.push_str("…@");
            out.push_str(&authority[at + 1..]);
        }
        None => out.push_str(authority),
    }
    out.push_str(path);
    if let Some(mark) = tail.chars().next() {
        out.push(mark);
        out.push('…');
    }
    out
}

/// True for an `http://` URL whose host is not loopback (`localhost`, `127.0.0.0/8`, `::1`).
pub fn is_insecure_url(url: &str) -> bool {
    let Ok(uri) = url.trim().parse::<Uri>() else {
        return false;
    };
    if !uri
        .scheme_str()
        .is_some_and(|s| s.eq_ignore_ascii_case("http"))
    {
        return false;
    }
    let host = uri.host().unwrap_or("");
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host.to_ascii_lowercase().ends_with(".localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
    !loopback
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "2Qw3eRt5yU7iO9pAsDfGhJkL1zX";

    #[test]
    fn write_key_is_redacted_everywhere() {
        let key = WriteKey::new(&format!(" {KEY}\n")).unwrap();
        assert_eq!(key.redacted(), "wk…L1zX");
        assert_eq!(key.to_string(), "wk…L1zX");
        assert_eq!(format!("{key:?}"), "WriteKey(wk…L1zX)");
        let plane = DataPlane::new("https://x.dataplane.rudderstack.com", key).unwrap();
        let debug = format!("{plane:?}");
        assert!(!debug.contains(KEY), "{debug}");
        assert!(debug.contains("wk…L1zX"));
    }

    #[test]
    fn short_keys_reveal_less() {
        assert_eq!(WriteKey::new("abc").unwrap().redacted(), "wk…");
        assert_eq!(WriteKey::new("abcdefgh").unwrap().redacted(), "wk…gh");
        assert_eq!(
            WriteKey::new("abcdefghijklmnop").unwrap().redacted(),
            "wk…mnop"
        );
        assert_eq!(WriteKey::new("äöüß").unwrap().redacted(), "wk…ß");
    }

    #[test]
    fn bad_write_keys_are_refused() {
        for bad in ["", "   ", "ab cd", "ab:cd", "ab\u{7}cd"] {
            assert!(
                matches!(WriteKey::new(bad), Err(SendError::WriteKey(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn basic_auth_header_encodes_key_and_colon() {
        let key = WriteKey::new("WRITEKEY").unwrap();
        // base64("WRITEKEY:")
        assert_eq!(key.basic_auth_header(), "Basic V1JJVEVLRVk6");
        assert_eq!(key.expose(), "WRITEKEY");
    }

    #[test]
    fn data_plane_urls_are_normalised() {
        let ok = [
            (
                "https://hosted.rudderlabs.com/",
                "https://hosted.rudderlabs.com",
            ),
            (
                "HTTPS://x.dataplane.rudderstack.com",
                "https://x.dataplane.rudderstack.com",
            ),
            ("http://localhost:8080", "http://localhost:8080"),
            (
                "http://10.0.0.5:8080/rudder/",
                "http://10.0.0.5:8080/rudder",
            ),
            ("http://[::1]:8080", "http://[::1]:8080"),
        ];
        for (input, want) in ok {
            assert_eq!(normalize_data_plane_url(input).unwrap(), want, "{input}");
        }
        let bad = [
            "ftp://x.com",
            "x.dataplane.rudderstack.com",
            "https://",
            "https://user:pw@x.com",
            "https://x.com?writeKey=1",
            "https://x.com/#top",
            "https://x.com/v1/batch",
            "https://x.com/v1",
            "not a url",
        ];
        for input in bad {
            assert!(
                matches!(normalize_data_plane_url(input), Err(SendError::Url { .. })),
                "{input}"
            );
        }
    }

    #[test]
    fn urls_in_messages_hide_user_info_and_query() {
        assert_eq!(redact_url("https://KEY@x.com/p"), "https://…@x.com/p");
        assert_eq!(redact_url(" http://KEY:@x.com "), "http://…@x.com");
        assert_eq!(
            redact_url("https://x.com/v1/webhook?writeKey=KEY"),
            "https://x.com/v1/webhook?…"
        );
        assert_eq!(redact_url("https://x.com/#KEY"), "https://x.com/#…");
        assert_eq!(redact_url("x.com/a@b"), "x.com/a@b");
        assert_eq!(redact_url("KEY@x.com"), "…@x.com");
        assert_eq!(redact_url("https://x.com:8080"), "https://x.com:8080");
        // Found by proptest: "://" inside the query is not a scheme.
        assert_eq!(redact_url("-?writeKey=KEY://"), "-?…");
        assert_eq!(redact_url("x.com#a://KEY@b"), "x.com#…");
        for bad in [
            "https://KEY@x.com",
            "https://x.com?writeKey=KEY",
            "https://x.com#KEY",
        ] {
            let err = normalize_data_plane_url(bad).unwrap_err().to_string();
            assert!(!err.contains("KEY"), "{err}");
        }
    }

    #[test]
    fn plain_http_off_this_machine_is_insecure() {
        let key = || WriteKey::new("k").unwrap();
        let plane = |url| DataPlane::new(url, key()).unwrap();
        assert!(plane("http://rudder.internal:8080").is_insecure());
        assert!(plane("http://10.0.0.5").is_insecure());
        assert!(!plane("https://rudder.internal").is_insecure());
        assert!(!plane("http://localhost:8080").is_insecure());
        assert!(!plane("http://api.localhost").is_insecure());
        assert!(!plane("http://127.0.0.1:8080").is_insecure());
        assert!(!plane("http://127.8.0.1").is_insecure());
        assert!(!plane("http://[::1]:8080").is_insecure());
        assert_eq!(
            plane("http://localhost:8080/").endpoint("/v1/group"),
            "http://localhost:8080/v1/group"
        );
    }
}
