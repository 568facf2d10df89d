//! The integration tests, one binary: each module was once a test binary of its own, and
//! `helpers` is the harness they share. Tests run as threads of one process, in parallel, so
//! none may change process-wide state (environment, current directory, fixed ports or paths).

#[macro_use]
mod helpers;

mod api_tokens;
mod authorize;
mod bad_input;
mod binary;
mod clients;
mod first_hour;
mod management;
mod oauth;
mod openapi;
mod readme;
mod schemathesis;
mod security;
mod store;
mod v2_api;
