//! Streaming a long JSON list page by page, so a large store is never held in memory at once.

use std::future::Future;

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use futures_util::stream;
use tokio::sync::mpsc;

use crate::token::TokenId;

/// One page of serialized items and the cursor of the next page, if any.
pub struct Chunk {
    pub items: Vec<Vec<u8>>,
    pub next: Option<TokenId>,
}

impl Chunk {
    pub fn of(items: Vec<Vec<u8>>, next: Option<TokenId>) -> Self {
        Chunk { items, next }
    }
}

/// Writes `open`, the items of `first` and of every following page `fetch` returns,
/// comma-separated, then `close`. A failure mid-stream is logged and cuts the body short,
/// which clients see as a broken response rather than a silently short list.
pub fn json_stream<F, Fut>(
    open: &'static str,
    close: &'static str,
    first: Chunk,
    fetch: F,
) -> Response
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
