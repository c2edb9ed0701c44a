//! Authentication and authorisation. For now: the signed join tokens that let one site join one
//! session (`token`). Accounts, roles and device credentials build on this module.

pub mod token;

pub use token::{JoinClaims, TokenError, TokenKey};
