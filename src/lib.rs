//! tollgate: a clustered token authority for InfluxDB-style time-series clusters.

pub mod api;
pub mod app;
pub mod audit;
pub mod auth;
pub mod bootstrap;
pub mod cli;
pub mod config;
pub mod connections;
pub mod ctl;
pub mod error;
pub mod identity;
pub mod oauth;
pub mod paging;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod tenant;
pub mod token;
pub mod verify;

pub use app::{App, launch};
