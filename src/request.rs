//! Who is asking: the caller's address, the request id and the user agent, as every door of the
//! hub (GraphQL, hosted pages, OAuth endpoints, exports) records them in the audit log. Built
//! from an HTTP request in `http::meta`; operations take it without knowing HTTP.

use crate::db::audit::{Actor, AuditContext};

#[derive(Debug, Clone)]
pub struct RequestMeta {
    pub ip: String,
    pub request_id: String,
    pub user_agent: Option<String>,
}

impl RequestMeta {
    /// The audit context of this request for the given actor.
    pub fn audit(&self, actor: Actor) -> AuditContext {
        AuditContext {
            actor,
            ip: Some(self.ip.clone()),
            request_id: Some(self.request_id.clone()),
        }
    }
}
