//! Transitional: what one fetch should do ([`crate::types::FetchSpec`] and
//! its options) moved to [`crate::types`]; these names keep the users not
//! yet switched (the tests) compiling.

pub use crate::types::{Class, ConnectTo, FetchOptions, FetchSpec, Group, Method, Resolve};
