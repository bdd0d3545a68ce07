//! Diesel row structs, one file per table (or closely bound pair), with the queries on them as
//! associated functions taking the connection first. They are not GraphQL types: the GraphQL
//! layer converts `From` them. Every function here runs inside `tenant_tx` or `system_tx`.

pub mod api_key;
pub mod backchannel_logout;
pub mod billing;
pub mod expired;
pub mod identity_provider;
pub mod integration;
pub mod mail;
pub mod mfa;
pub mod oauth_client;
pub mod oauth_code;
pub mod outbox;
pub mod page;
pub mod passkey;
pub mod platform_admin;
pub mod product;
pub mod report;
pub mod role;
pub mod session;
pub mod sso;
pub mod tenant;
pub mod tenant_domain;
pub mod usage;
pub mod user;
pub mod user_token;
pub mod workspace;

pub use api_key::ApiKeyRow;
pub use backchannel_logout::BackchannelLogoutRow;
pub use billing::{BillingEventRow, PlanRow, SubscriptionRow};
pub use identity_provider::IdentityProviderRow;
pub use integration::IntegrationRow;
pub use mfa::{MfaChallengeRow, MfaFactorRow, MfaPolicy, PlatformAdminTotpRow, RecoveryCodes};
pub use oauth_client::OAuthClientRow;
pub use oauth_code::{OAuthCodeRow, OAuthSessionClients};
pub use page::{Keyset, Listed, PageRequest};
pub use passkey::{PasskeyCeremonyRow, PasskeyRow};
pub use platform_admin::PlatformAdminRow;
pub use product::{ProductRow, TenantProductRow, UserProductAccessRow};
pub use role::{RoleRow, UserRoleRow};
pub use session::{RefreshTokenRow, SessionRow};
pub use sso::{ExternalIdentityRow, FederatedSessions, SsoSignInRow};
pub use tenant::TenantRow;
pub use tenant_domain::TenantDomainRow;
pub use usage::{AlertRow, WebhookDeliveryRow};
pub use user::UserRow;
pub use user_token::UserTokenRow;
pub use workspace::{WorkspaceMemberRow, WorkspaceRow};
