//! The last line of defence of every surface: a handler that panics answers 500 in its
//! surface's error body and is counted (`tollgate_handler_panics_total`); the connection
//! survives. Uses tower-http and `telemetry`; each surface supplies its answer.

use axum::response::Response;
use tower_http::catch_panic::{CatchPanicLayer, ResponseForPanic};

use crate::telemetry::Metrics;

/// The layer a surface's router wears; `answer` is its 500.
pub fn catch_panic(metrics: &Metrics, answer: fn() -> Response) -> CatchPanicLayer<PanicAnswer> {
    CatchPanicLayer::custom(PanicAnswer {
        answer,
        metrics: metrics.clone(),
    })
}

#[derive(Clone)]
pub struct PanicAnswer {
    answer: fn() -> Response,
    metrics: Metrics,
}

impl ResponseForPanic for PanicAnswer {
    type ResponseBody = axum::body::Body;

    fn response_for_panic(
        &mut self,
        _panic: Box<dyn std::any::Any + Send + 'static>,
    ) -> axum::http::Response<Self::ResponseBody> {
        self.metrics.panicked();
        (self.answer)()
    }
}

#[cfg(test)]
mod tests {
    use axum::Router;
    use axum::body::Body;
    use axum::extract::Request;
    use axum::http::StatusCode;
    use axum::routing::get;
    use tower::ServiceExt;

    use super::*;

    async fn buggy_handler() -> &'static str {
        panic!("a bug in a handler")
    }

    async fn answer_to_a_panic(
        answer: fn() -> Response,
    ) -> (StatusCode, serde_json::Value, String) {
        let metrics = Metrics::new();
        let app: Router = Router::new()
            .route("/boom", get(buggy_handler))
            .layer(catch_panic(&metrics, answer));
        let request = Request::builder()
            .uri("/boom")
            .body(Body::empty())
            .expect("request");
        let response = app.oneshot(request).await.expect("infallible");
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), 1024)
            .await
            .expect("body");
        let body = serde_json::from_slice(&body).expect("json");
        (status, body, metrics.render())
    }

    #[tokio::test]
    async fn a_panicking_handler_answers_500_in_its_surfaces_error_body_and_is_counted() {
        let (status, body, metrics) = answer_to_a_panic(crate::api::v0::panic_answer).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(
            body,
            serde_json::json!({"code": 500, "message": "internal server error"})
        );
        assert!(
            metrics.contains("tollgate_handler_panics_total 1"),
            "{metrics}"
        );
        let (status, body, _) = answer_to_a_panic(crate::api::v2::panic_answer).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(
            body,
            serde_json::json!({"code": "internal error", "message": "internal server error"})
        );
    }
}
