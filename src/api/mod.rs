//! HTTP surfaces that speak to people and scripts.

pub mod v0;
