//! Enterprise single sign-on per tenant (issue 17): the tenant's verified email domains (DNS
//! challenges), and the pieces the operations in `ops::domains` use that are not database work.

pub mod dns;
pub mod domain_state;
pub mod oidc;
pub mod public_domains;
