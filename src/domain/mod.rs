//! Validated domain types and rules, with no I/O: what a valid email, domain, slug or password
//! or display name is, the permission catalog, the system roles, and a tenant's configuration.
//! Each `parse` returns a BAD_USER_INPUT error naming the input field.

pub mod action;
pub mod config;
pub mod email;
pub mod hostname;
pub mod name;
pub mod password;
pub mod permissions;
pub mod product_access;
pub mod slug;
pub mod tenant_key;
pub mod tenant_status;

pub use action::Action;
pub use config::{Branding, Features, Limits, PlanOverrides, RequireMfa};
pub use email::Email;
pub use hostname::Hostname;
pub use name::DisplayName;
pub use password::NewPassword;
pub use permissions::{Permission, SystemRole};
pub use product_access::ProductAccess;
pub use slug::Slug;
pub use tenant_key::TenantKey;
pub use tenant_status::{StatusChanger, TenantStatus};
