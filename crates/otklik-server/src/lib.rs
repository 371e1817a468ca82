//! Otklik's server: the HTTP API with its OpenAPI description, accounts and sessions, the demo, and
//! the `otklik` command line. The only crate that knows HTTP.

pub mod api;
pub mod api_calendar;
pub mod app;
pub mod auth;
pub mod channels;
pub mod cli;
pub mod config;
pub mod console;
pub mod demo;
pub mod edits;
pub mod email;
pub mod error;
pub mod form;
pub mod labels;
pub mod nlp;
pub mod open311;
pub mod outbox;
pub mod refdata;
pub mod reload;
pub mod setup;
pub mod webhook;
