//! Per-request metadata: the request id (taken from `X-Request-Id` or generated, and echoed on
//! the response) and the client IP (the peer address, or `X-Forwarded-For` when the peer is a
//! configured trusted proxy).

use std::net::IpAddr;

use actix_web::{HttpMessage, HttpRequest};

use crate::request::RequestMeta;

pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// The request id chosen by the middleware, stored in the request's extensions.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

impl RequestMeta {
    pub fn from_request(req: &HttpRequest, trusted_proxies: &[IpAddr]) -> RequestMeta {
        let request_id = req
            .extensions()
            .get::<RequestId>()
            .map(|r| r.0.clone())
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let user_agent = req
            .headers()
            .get("user-agent")
            .and_then(|v| v.to_str().ok())
            .map(|s| s.chars().take(256).collect());
        RequestMeta {
            ip: client_ip(req, trusted_proxies),
            request_id,
            user_agent,
        }
    }
}

/// The peer address, unless the peer is a trusted proxy: then the right-most address of
/// `X-Forwarded-For` that is not itself a trusted proxy.
pub fn client_ip(req: &HttpRequest, trusted_proxies: &[IpAddr]) -> String {
    let peer = req.peer_addr().map(|a| a.ip());
    let Some(peer) = peer else {
        return "unknown".to_owned();
    };
    if !trusted_proxies.contains(&peer) {
        return peer.to_string();
    }
    let forwarded: Vec<IpAddr> = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    forwarded
        .iter()
        .rev()
        .find(|ip| !trusted_proxies.contains(ip))
        .copied()
        .unwrap_or(peer)
        .to_string()
}

/// Takes a sane `X-Request-Id` from the client, or makes one.
pub fn choose_request_id(req: &actix_web::dev::ServiceRequest) -> String {
    req.headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|s| !s.is_empty() && s.len() <= 128 && s.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}
