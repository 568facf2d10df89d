//! HTTP: the surfaces (`v0`, `v2`, `authorize`, `ops`), each with its own router and error
//! body, and the helpers they share, which belong to no surface. Nothing here is imported by
//! the domain, `auth` or `verify`.

pub mod auth;
pub mod authorize;
pub mod authz;
pub mod body;
pub mod extract;
pub mod ops;
pub mod paging;
pub mod panic;
pub mod request;
pub mod retry;
pub mod stream;
pub mod strict_json;
pub mod time_format;
pub mod v0;
pub mod v2;
