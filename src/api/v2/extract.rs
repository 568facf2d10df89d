//! Extractors for the v2 API. InfluxDB decodes bodies whatever their `Content-Type`, and so
//! do we; failures are v2 errors that say what was wrong and never echo a path id.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::V2Error;
use super::error::V2Code;
use crate::api::body::{BodyError, MAX_BODY_BYTES, read_json};
use crate::token::Status;
use crate::token::model::Id;

/// A JSON body; a body that is not JSON, or has a field of the wrong type, is 400
/// `invalid json structure: …` (InfluxDB's words for its authorization bodies).
pub struct V2Json<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for V2Json<T> {
    type Rejection = V2Error;

    async fn from_request(req: Request, state: &S) -> Result<Self, V2Error> {
        read_json(req, state)
            .await
            .map(V2Json)
            .map_err(|e| match e {
                BodyError::TooLarge => V2Error::new(
                    V2Code::RequestTooLarge,
                    format!("request body is larger than {MAX_BODY_BYTES} bytes"),
                ),
                BodyError::TimedOut => V2Error::new(
                    V2Code::RequestTimeout,
                    "the request body did not arrive in time",
                ),
                BodyError::Unreadable(why) => {
                    V2Error::invalid(format!("cannot read request body: {why}"))
                }
                BodyError::Invalid(why) => {
                    V2Error::invalid(format!("invalid json structure: {why}"))
                }
            })
    }
}

/// A query string; 400 naming the parameter when it does not parse.
pub struct V2Query<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for V2Query<T> {
    type Rejection = V2Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, V2Error> {
        crate::api::extract::query(parts, state)
            .await
            .map(V2Query)
            .map_err(V2Error::invalid)
    }
}

/// A v2 id from a path or query: 400 with InfluxDB's message.
pub fn v2_id<K>(raw: &str) -> Result<Id<K>, V2Error> {
    Id::parse_v2(raw).map_err(|e| V2Error::invalid(e.to_string()))
}

/// An optional id parameter; empty counts as absent.
pub fn optional_id<K>(raw: Option<&str>) -> Result<Option<Id<K>>, V2Error> {
    raw.filter(|s| !s.is_empty()).map(v2_id).transpose()
}

/// Path parameters; a segment that does not decode is a v2 400, not echoed.
pub struct V2Path<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for V2Path<T> {
    type Rejection = V2Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, V2Error> {
        crate::api::extract::path(parts, state)
            .await
            .map(V2Path)
            .map_err(V2Error::invalid)
    }
}

/// A `status` field: `active` or `inactive`, else 400 with InfluxDB's message.
pub fn status(raw: Option<&str>) -> Result<Option<Status>, V2Error> {
    raw.map(crate::token::rules::status)
        .transpose()
        .map_err(|e| V2Error::invalid(e.to_string()))
}
