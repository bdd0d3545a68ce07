//! The hub as an OpenID Connect provider (issue 16): discovery, the token endpoint and its
//! grants, userinfo, revocation (RFC 7009), introspection (RFC 7662), RP-initiated logout and
//! back-channel logout, and the checks of authorization requests. One file per endpoint or concept; the operations they run are in
//! `ops::oauth_tokens`, the clients' registrations in `ops::oauth_clients`.

pub mod authorize;
pub mod authorize_request;
pub mod backchannel;
pub mod client_auth;
pub mod client_cache;
pub mod discovery;
pub mod error;
pub mod form;
pub mod id_token;
pub mod introspect;
pub mod logout;
pub mod pkce;
pub mod product;
pub mod revoke;
pub mod token;
pub mod userinfo;

use actix_web::web;

/// Registers the OAuth / OpenID Connect routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/.well-known/openid-configuration").route(web::get().to(discovery::get)),
    )
    .service(
        web::resource("/oauth/authorize")
            .route(web::get().to(authorize::get))
            .route(web::post().to(authorize::post)),
    )
    .service(web::resource("/oauth/token").route(web::post().to(token::post)))
    .service(
        web::resource("/oauth/userinfo")
            .route(web::get().to(userinfo::handle))
            .route(web::post().to(userinfo::handle)),
    )
    .service(web::resource("/oauth/revoke").route(web::post().to(revoke::post)))
    .service(web::resource("/oauth/introspect").route(web::post().to(introspect::post)))
    .service(
        web::resource("/oauth/logout")
            .route(web::get().to(logout::get))
            .route(web::post().to(logout::post)),
    )
    .service(web::resource("/oauth/logout/confirm").route(web::post().to(logout::confirm)));
}
