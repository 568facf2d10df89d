//! All integration tests in one binary, linked once; `helpers` is their shared harness. Tests
//! run as threads of one process, in parallel, so none may change process-wide state
//! (environment, current directory) or rely on a fixed port or file path.

#[macro_use]
mod helpers;

mod api_tokens;
mod authorize;
mod bad_input;
mod binary;
mod clients;
mod connections;
mod ctl;
mod data_path;
mod first_hour;
mod management;
mod nginx;
mod oauth;
mod openapi;
mod readme;
mod rotation;
mod schemathesis;
mod security;
mod store;
mod v2_api;
