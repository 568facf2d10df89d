//! HTTP surfaces that speak to people and scripts.

pub mod body;
pub mod stream;
pub mod strict_json;
pub mod v0;
pub mod v2;
