//! The Clustered-shaped management API under `/api/v0`.

pub mod auth;
pub mod error;
pub mod extract;
pub mod tokens;

pub use error::ApiError;
