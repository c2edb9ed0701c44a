//! Authentication and authorisation: passwords and token hashing (`password`), roles and scoped
//! grants as pure data (`roles`), the one authorisation decision (`scope`), the request extractor that says who is asking (`principal`),
//! and the signed join tokens that let one site join one session (`token`).

pub mod hasher;
pub mod login;
pub mod password;
pub mod principal;
pub mod roles;
pub mod scope;
pub mod throttle;
pub mod token;
pub mod users;

pub use principal::Principal;
pub use roles::{Grant, Role};
pub use scope::{Action, Denied, SiteRef, Target, authorize};
pub use token::{JoinClaims, TokenError, TokenKey};
