//! The Clustered-shaped management API under `/api/v0`.

pub mod audit;
pub mod auth;
pub mod dedicated;
pub mod error;
pub mod extract;
pub mod management_tokens;
pub mod paging;
pub mod tokens;
pub mod users;

pub use error::ApiError;
