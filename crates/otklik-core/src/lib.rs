//! Otklik's domain: the types every other crate speaks, the incident status machine, access scopes,
//! reference data parsing and the `Store` trait. This crate performs no IO.

pub mod access;
pub mod calendar;
pub mod deadlines;
pub mod error;
pub mod model;
pub mod reference;
pub mod reload;
pub mod routing;
pub mod status;
pub mod store;
pub mod workflow;

pub use error::{DomainError, StoreError};
pub use store::Store;
