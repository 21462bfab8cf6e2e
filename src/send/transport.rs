//! The HTTP seam: a [`Payload`] ready to POST, the [`Transport`] trait tests replace, and the
//! ureq implementation (spec §4.2, §4.3).

use std::io::{self, Read};
use std::time::Duration;

use serde_json::Value;
use serde_json::value::RawValue;
use ureq::Agent;
use ureq::tls::{RootCerts, TlsConfig, TlsProvider};

use super::{DataPlane, SendError};

/// The largest request body we send. The gateway's limit is 4,096,000 bytes (spec §4.5); we
/// stay a little under it.
pub const MAX_REQUEST_BYTES: usize = 4_000_000;

/// The API path a payload goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `POST /v1/group`: one event object.
    Group,
    /// `POST /v1/batch`: `{"batch":[…]}`.
    Batch,
}

impl Endpoint {
    /// The path, such as `/v1/batch`.
    pub fn path(self) -> &'static str {
        match self {
            Endpoint::Group => "/v1/group",
            Endpoint::Batch => "/v1/batch",
        }
    }
}

/// A request body ready to POST; the same bytes go out on every attempt, so a retry resends
/// the same messageIds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payload {
    /// Where it goes: `/v1/group` for one event, `/v1/batch` for several.
    pub endpoint: Endpoint,
    /// The JSON body.
    pub body: Vec<u8>,
    /// The `AnonymousId` header: the first event's anonymousId, else its userId. `None` when
    /// there is neither or it is not printable ASCII (a header cannot carry it).
    pub anonymous_id: Option<String>,
    /// How many events the body holds.
    pub event_count: usize,
}

impl Payload {
    /// A payload from events: one goes to `/v1/group` as is, several to `/v1/batch`.
    pub fn from_events(events: &[Value]) -> Result<Payload, SendError> {
        let texts = events
            .iter()
            .map(serde_json::to_string)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| SendError::Event(e.to_string()))?;
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        Payload::from_json_texts(&refs)
    }

    /// A payload from the exact JSON text of each event (as kept in the outbox), so a resend
    /// is byte-for-byte what was first tried. Each text must be a JSON object.
    pub fn from_json_texts(events: &[&str]) -> Result<Payload, SendError> {
        let Some(first) = events.first() else {
            return Err(SendError::NothingToSend);
        };
        for (i, text) in events.iter().enumerate() {
            if !text.trim_start().starts_with('{')
                || serde_json::from_str::<&RawValue>(text).is_err()
            {
                return Err(SendError::Event(format!(
                    "event {} is not a JSON object",
                    i + 1
                )));
            }
        }
        let (endpoint, body) = if events.len() == 1 {
            (Endpoint::Group, first.trim().as_bytes().to_vec())
        } else {
            let mut body =
                Vec::with_capacity(events.iter().map(|t| t.len() + 1).sum::<usize>() + 11);
            body.extend_from_slice(b"{\"batch\":[");
            for (i, text) in events.iter().enumerate() {
                if i > 0 {
                    body.push(b',');
                }
                body.extend_from_slice(text.trim().as_bytes());
            }
            body.extend_from_slice(b"]}");
            (Endpoint::Batch, body)
        };
        if body.len() > MAX_REQUEST_BYTES {
            return Err(SendError::TooLarge {
                bytes: body.len(),
                limit: MAX_REQUEST_BYTES,
            });
        }
        Ok(Payload {
            endpoint,
            body,
            anonymous_id: anonymous_id_header(first),
            event_count: events.len(),
        })
    }
}

/// The partition key for the `AnonymousId` header: anonymousId, else userId, when printable
/// ASCII (HTTP header values cannot carry other text).
fn anonymous_id_header(event_text: &str) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Ids<'a> {
        #[serde(rename = "anonymousId", borrow, default)]
        anonymous_id: Option<&'a RawValue>,
        #[serde(rename = "userId", borrow, default)]
        user_id: Option<&'a RawValue>,
    }
    let ids: Ids = serde_json::from_str(event_text).ok()?;
    let as_text = |raw: Option<&RawValue>| -> Option<String> {
        match serde_json::from_str::<Value>(raw?.get()).ok()? {
            Value::String(s) => Some(s.trim().to_owned()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
        .filter(|s| !s.is_empty())
    };
    as_text(ids.anonymous_id)
        .or_else(|| as_text(ids.user_id))
        .filter(|s| s.bytes().all(|b| (0x20..0x7f).contains(&b)))
}

/// The HTTP answer, as much as the sender needs of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The HTTP status.
    pub status: u16,
    /// The body, cut at the configured cap, invalid UTF-8 replaced.
    pub body: String,
    /// The `Location` header of a redirect.
    pub location: Option<String>,
}

/// A request that got no HTTP answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    /// A timeout expired; the text says in which phase.
    #[error("timed out {0}")]
    Timeout(String),
    /// Nothing listens on the port.
    #[error("connection refused")]
    Refused,
    /// The host name did not resolve.
    #[error("the host name could not be resolved")]
    HostNotFound,
    /// Another network or protocol failure.
    #[error("network error: {0}")]
    Io(String),
    /// TLS failed (an untrusted or invalid certificate, or not a TLS server); not retried.
    #[error("TLS failed: {0}")]
    Tls(String),
    /// The request could not be built (a bad URL or header); not retried.
    #[error("the request could not be made: {0}")]
    Invalid(String),
}

impl TransportError {
    /// Whether trying again later may succeed.
    pub fn is_retryable(&self) -> bool {
        !matches!(self, TransportError::Tls(_) | TransportError::Invalid(_))
    }
}

/// Sends a payload to a data plane. The seam that tests replace with a scripted fake.
pub trait Transport {
    /// POSTs the payload once and returns the HTTP answer, whatever its status.
    fn post(&self, payload: &Payload) -> Result<Response, TransportError>;
}

/// Timeouts and limits for [`UreqTransport`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpConfig {
    /// Resolving the host and connecting (including the TLS handshake). Default 10 s.
    pub connect_timeout: Duration,
    /// Sending the request, then waiting for and reading the answer: each phase has this
    /// budget. Default 30 s.
    pub read_timeout: Duration,
    /// How much of a response body is read. Default 64 KB.
    pub max_response_bytes: u64,
    /// Use `HTTPS_PROXY`/`HTTP_PROXY`/`NO_PROXY` from the environment. Default true.
    pub use_env_proxy: bool,
}

impl Default for HttpConfig {
    fn default() -> HttpConfig {
        HttpConfig {
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(30),
            max_response_bytes: 64 * 1024,
            use_env_proxy: true,
        }
    }
}

/// The real transport: ureq with rustls and the webpki roots, redirects off.
pub struct UreqTransport {
    agent: Agent,
    data_plane: DataPlane,
    max_response_bytes: u64,
}

impl UreqTransport {
    /// A transport for one data plane.
    pub fn new(data_plane: DataPlane, config: &HttpConfig) -> UreqTransport {
        // Certificate checks stay on: there is deliberately no switch to turn them off.
        let tls = TlsConfig::builder()
            .provider(TlsProvider::Rustls)
            .root_certs(RootCerts::WebPki)
            .disable_verification(false)
            .build();
        let proxy = if config.use_env_proxy {
            ureq::Proxy::try_from_env()
        } else {
            None
        };
        let connect = Some(config.connect_timeout);
        let read = Some(config.read_timeout);
        let agent: Agent = Agent::config_builder()
            // Every status comes back as a response; `classify` decides what it means.
            .http_status_as_error(false)
            // A redirect is reported, never followed: the Authorization header must not reach
            // a host the user did not choose.
            .max_redirects(0)
            .tls_config(tls)
            .proxy(proxy)
            .user_agent(format!("groupscope/{}", env!("CARGO_PKG_VERSION")))
            .timeout_resolve(connect)
            .timeout_connect(connect)
            .timeout_send_request(read)
            .timeout_send_body(read)
            .timeout_recv_response(read)
            .timeout_recv_body(read)
            .build()
            .into();
        UreqTransport {
            agent,
            data_plane,
            max_response_bytes: config.max_response_bytes,
        }
    }

    /// The data plane this transport sends to.
    pub fn data_plane(&self) -> &DataPlane {
        &self.data_plane
    }
}

impl Transport for UreqTransport {
    fn post(&self, payload: &Payload) -> Result<Response, TransportError> {
        let url = self.data_plane.endpoint(payload.endpoint.path());
        let mut request = self
            .agent
            .post(&url)
            .header(
                "Authorization",
                self.data_plane.write_key().basic_auth_header(),
            )
            .header("Content-Type", "application/json");
        if let Some(id) = &payload.anonymous_id {
            request = request.header("AnonymousId", id);
        }
        let mut response = request.send(&payload.body[..]).map_err(map_error)?;
        let status = response.status().as_u16();
        let location = response
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let mut bytes = Vec::new();
        // Read up to the cap and no further: a huge or endless body cannot fill memory. A
        // failure while reading the body keeps the status, which already says what happened.
        let read = response
            .body_mut()
            .with_config()
            .reader()
            .take(self.max_response_bytes)
            .read_to_end(&mut bytes);
        let mut body = String::from_utf8_lossy(&bytes).into_owned();
        if let Err(e) = read {
            body.push_str(&format!(" [body unreadable: {e}]"));
        }
        Ok(Response {
            status,
            body,
            location,
        })
    }
}

/// Sorts ureq's errors into retryable network trouble and permanent failures.
fn map_error(error: ureq::Error) -> TransportError {
    use ureq::Error as E;
    match error {
        E::Timeout(phase) => TransportError::Timeout(timeout_phase(phase).to_owned()),
        E::Io(e) => match e.kind() {
            io::ErrorKind::ConnectionRefused => TransportError::Refused,
            io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => {
                TransportError::Timeout("waiting for the network".to_owned())
            }
            _ => TransportError::Io(e.to_string()),
        },
        E::HostNotFound => TransportError::HostNotFound,
        E::ConnectionFailed => TransportError::Io("the connection failed".to_owned()),
        E::Tls(msg) => TransportError::Tls(msg.to_owned()),
        E::Rustls(e) => TransportError::Tls(e.to_string()),
        E::Pem(e) => TransportError::Tls(e.to_string()),
        E::TlsRequired => TransportError::Tls("the proxy or server requires TLS".to_owned()),
        E::BadUri(msg) => TransportError::Invalid(format!("bad URL: {msg}")),
        E::Http(e) => TransportError::Invalid(e.to_string()),
        E::RequireHttpsOnly(msg) => TransportError::Invalid(msg),
        E::InvalidProxyUrl => TransportError::Invalid("the proxy URL is invalid".to_owned()),
        other => TransportError::Io(other.to_string()),
    }
}

fn timeout_phase(phase: ureq::Timeout) -> &'static str {
    use ureq::Timeout as T;
    match phase {
        T::Resolve => "resolving the host name",
        T::Connect => "connecting",
        T::SendRequest | T::SendBody | T::PerWrite => "sending the request",
        T::RecvResponse => "waiting for the response",
        T::RecvBody | T::PerRead => "reading the response",
        _ => "talking to the data plane",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn one_event_goes_to_group_several_to_batch() {
        let a = json!({"type": "group", "userId": "u1", "groupId": "g"});
        let b = json!({"type": "group", "anonymousId": "a2", "groupId": "g"});
        let one = Payload::from_events(std::slice::from_ref(&a)).unwrap();
        assert_eq!(one.endpoint, Endpoint::Group);
        assert_eq!(one.endpoint.path(), "/v1/group");
        assert_eq!(one.body, serde_json::to_vec(&a).unwrap());
        assert_eq!(one.anonymous_id.as_deref(), Some("u1"));
        assert_eq!(one.event_count, 1);

        let two = Payload::from_events(&[b.clone(), a.clone()]).unwrap();
        assert_eq!(two.endpoint, Endpoint::Batch);
        let body: Value = serde_json::from_slice(&two.body).unwrap();
        assert_eq!(body, json!({"batch": [b, a]}));
        assert_eq!(two.anonymous_id.as_deref(), Some("a2"));
        assert_eq!(two.event_count, 2);
    }

    #[test]
    fn json_texts_are_sent_verbatim() {
        let text = r#"{"type":"group","userId":"u1","traits":{"n":1.50}}"#;
        let p = Payload::from_json_texts(&[text]).unwrap();
        assert_eq!(p.body, text.as_bytes());
        let p = Payload::from_json_texts(&[text, text]).unwrap();
        assert_eq!(
            String::from_utf8(p.body).unwrap(),
            format!(r#"{{"batch":[{text},{text}]}}"#)
        );
    }

    #[test]
    fn bad_payloads_are_refused() {
        assert_eq!(Payload::from_json_texts(&[]), Err(SendError::NothingToSend));
        assert!(matches!(
            Payload::from_json_texts(&["[1]"]),
            Err(SendError::Event(_))
        ));
        assert!(matches!(
            Payload::from_json_texts(&["{oops"]),
            Err(SendError::Event(_))
        ));
        let big = format!(
            r#"{{"traits":{{"x":"{}"}}}}"#,
            "x".repeat(MAX_REQUEST_BYTES)
        );
        assert!(matches!(
            Payload::from_json_texts(&[&big]),
            Err(SendError::TooLarge {
                limit: MAX_REQUEST_BYTES,
                ..
            })
        ));
    }

    #[test]
    fn anonymous_id_header_prefers_anonymous_id_and_needs_ascii() {
        assert_eq!(
            anonymous_id_header(r#"{"anonymousId":"a","userId":"u"}"#),
            Some("a".into())
        );
        assert_eq!(
            anonymous_id_header(r#"{"anonymousId":" ","userId":"u"}"#),
            Some("u".into())
        );
        assert_eq!(anonymous_id_header(r#"{"userId":42}"#), Some("42".into()));
        assert_eq!(anonymous_id_header(r#"{"userId":"zürich"}"#), None);
        assert_eq!(anonymous_id_header(r#"{"userId":"a\nb"}"#), None);
        assert_eq!(anonymous_id_header(r#"{"groupId":"g"}"#), None);
    }

    #[test]
    fn defaults_match_the_brief() {
        let c = HttpConfig::default();
        assert_eq!(c.connect_timeout, Duration::from_secs(10));
        assert_eq!(c.read_timeout, Duration::from_secs(30));
        assert_eq!(c.max_response_bytes, 65_536);
    }
}
