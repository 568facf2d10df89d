//! Streaming a long JSON list page by page, so a large store is never held in memory at once.
//! Uses axum, tokio and serde_json.

use std::future::Future;

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use futures_util::stream;
use serde::Serialize;
use tokio::sync::mpsc;

use crate::token::TokenId;

/// One page of serialized items and the cursor of the next page, if any.
pub struct Chunk {
    pub items: Vec<Vec<u8>>,
    pub next: Option<TokenId>,
}

impl Chunk {
    /// The JSON of each item, and the next page's cursor.
    pub fn serialize<T: Serialize>(
        items: impl IntoIterator<Item = T>,
        next: Option<TokenId>,
    ) -> Result<Self, serde_json::Error> {
        let items = items
            .into_iter()
            .map(|item| serde_json::to_vec(&item))
            .collect::<Result<_, _>>()?;
        Ok(Chunk { items, next })
    }
}

/// Streams, between `open` and `close`, every page `fetch` returns from `after` on (`fetch`
/// gets the cursor to continue after). The first page is read before answering, so an outage
/// is the caller's error (a 503), not a broken 200.
pub async fn stream_pages<F, Fut, E>(
    open: &'static str,
    close: &'static str,
    after: Option<TokenId>,
    fetch: F,
) -> Result<Response, E>
where
    F: Fn(Option<TokenId>) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = Result<Chunk, E>> + Send + 'static,
    E: std::fmt::Display,
{
    let first = fetch(after).await?;
    Ok(json_stream(open, close, first, move |after| {
        let fetch = fetch.clone();
        async move { fetch(Some(after)).await.map_err(|e| e.to_string()) }
    }))
}

/// Writes `open`, the items of `first` and of every following page `fetch` returns,
/// comma-separated, then `close`. A failure mid-stream is logged and cuts the body short,
/// which clients see as a broken response rather than a silently short list.
fn json_stream<F, Fut>(open: &'static str, close: &'static str, first: Chunk, fetch: F) -> Response
where
    F: Fn(TokenId) -> Fut + Send + 'static,
    Fut: Future<Output = Result<Chunk, String>> + Send + 'static,
{
    let (tx, rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(2);
    tokio::spawn(async move {
        let mut chunk = first;
        let mut out = open.as_bytes().to_vec();
        let mut first_item = true;
        loop {
            for item in &chunk.items {
                if !first_item {
                    out.push(b',');
                }
                first_item = false;
                out.extend_from_slice(item);
            }
            let Some(after) = chunk.next.take() else {
                break;
            };
            if tx
                .send(Ok(Bytes::from(std::mem::take(&mut out))))
                .await
                .is_err()
            {
                return; // the client went away
            }
            match fetch(after).await {
                Ok(next) => chunk = next,
                Err(e) => {
                    tracing::warn!(error = %e, "list aborted mid-stream");
                    let _ = tx.send(Err(std::io::Error::other("store failed"))).await;
                    return;
                }
            }
        }
        out.extend_from_slice(close.as_bytes());
        let _ = tx.send(Ok(Bytes::from(out))).await;
    });
    let body = Body::from_stream(stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    }));
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response()
}
