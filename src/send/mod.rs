//! Sending group calls to a RudderStack data plane over its HTTP API (spec §4).
//!
//! [`DataPlane`] holds the URL and the [`WriteKey`] (which never prints in full). A [`Payload`]
//! is the exact request body; a [`Transport`] POSTs it ([`UreqTransport`] for real, a fake in
//! tests); [`classify`] says what an answer means; [`send_with_retry`] retries what is worth
//! retrying and ends in a [`Delivery`]. Only [`dispatch`] touches the store:
//! it queues a call in the outbox before sending and records what became of it.

mod curl;
pub mod dispatch;
mod endpoint;
mod outcome;
mod retry;
mod transport;

pub use curl::curl_command;
pub use endpoint::{DataPlane, WriteKey, is_insecure_url, normalize_data_plane_url};
pub use outcome::{Outcome, classify, classify_error, classify_response, clean_message};
pub use retry::{
    AttemptReport, CANCELLED, Delivery, RetryPolicy, deliver_with_retry, send_with_retry,
};
pub use transport::{
    Endpoint, HttpConfig, MAX_REQUEST_BYTES, Payload, Response, Transport, TransportError,
    UreqTransport,
};

/// Why a send could not even be attempted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// The write key is unusable.
    #[error("invalid write key: {0}")]
    WriteKey(&'static str),
    /// The data plane URL is unusable.
    #[error("invalid data plane URL {url:?}: {reason}")]
    Url {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// No events were given.
    #[error("there is nothing to send")]
    NothingToSend,
    /// An event is not a JSON object.
    #[error("invalid event: {0}")]
    Event(String),
    /// The request body is over the gateway's size limit.
    #[error("the request is {bytes} bytes, over the {limit}-byte limit; send fewer events at once")]
    TooLarge {
        /// The body size.
        bytes: usize,
        /// The limit.
        limit: usize,
    },
}
