//! Validated domain types and rules, with no I/O: what a valid email, domain, slug or password
//! or display name is, the permission catalog, the system roles, and a tenant's configuration.
//! Each `parse` returns a [`DomainError`] naming the input field (BAD_USER_INPUT at the edge);
//! nothing here depends on the API, the database or `error.rs`.

pub mod action;
pub mod api_key_scope;
pub mod config;
pub mod email;
pub mod error;
pub mod global_id;
pub mod hostname;
pub mod integration;
pub mod name;
pub mod password;
pub mod permissions;
pub mod product_access;
pub mod redirect_uri;
pub mod slug;
pub mod tenant_key;
pub mod tenant_status;

pub use action::Action;
pub use api_key_scope::ApiKeyScope;
pub use config::{Branding, Features, Limits, PlanOverrides, RequireMfa};
pub use email::Email;
pub use error::{DomainError, DomainResult, Rule};
pub use hostname::Hostname;
pub use integration::IntegrationChange;
pub use name::DisplayName;
pub use password::NewPassword;
pub use permissions::{Permission, SystemRole};
pub use product_access::ProductAccess;
pub use redirect_uri::RedirectUri;
pub use slug::Slug;
pub use tenant_key::TenantKey;
pub use tenant_status::{StatusChanger, TenantStatus};
