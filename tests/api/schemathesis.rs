//! schemathesis (pinned, installed by `scripts/schemathesis --install-only`, which
//! scripts/test runs) generates requests for every operation of `/api/openapi.json` and sends
//! them, as the operator, to the real server on each engine: no answer may be a 5xx, and the
//! catch-panic layer must never have been reached.

use std::path::PathBuf;

use crate::helpers::TestServer;
use tokio::process::Command;

on_both_engines! {
    async fn generated_requests_for_every_documented_operation_get_no_5xx(server: TestServer) {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        assert!(
            root.join("target/py-schemathesis/bin/st").exists(),
            "schemathesis is not installed: run scripts/schemathesis --install-only (scripts/test does)"
        );
        let output = Command::new(root.join("scripts/schemathesis"))
            .arg(&server.base)
            .env("TOLLGATE_SCHEMATHESIS_TOKEN", &server.operator_token)
            .env("TOLLGATE_SCHEMATHESIS_REPORT_DIR", server.data_dir().join("schemathesis"))
            .output()
            .await
            .expect("run scripts/schemathesis");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "schemathesis found failures ({}):\n{stdout}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        assert_eq!(server.metric("tollgate_handler_panics_total").await, 0.0);
    }
}
