//! The hosted pages: server-rendered HTML for people in a browser, branded per tenant, working
//! without JavaScript. Sign-in (tenant choice, password, "signed in as …"), sign-out, the
//! signed-in home and the error page live here, and the account pages the mails link to
//! ([`account`]: invitations, forgotten passwords, email confirmation); the OAuth endpoints
//! (`oauth/`) send browsers to them and read the browser session they leave.
//!
//! Every page goes through [`page::render`], which sets the headers a sign-in page needs (a
//! strict Content-Security-Policy, no framing, no caching, no referrer). Every form carries a
//! CSRF token ([`csrf`]). A signed-in browser holds the `__Host-hub_session` cookie
//! ([`browser_session`]): one session row in PostgreSQL, revocable, with idle and absolute
//! lifetimes, which is what makes single sign-on across the products.

pub mod account;
pub mod branding;
pub mod browser_session;
pub mod cookies;
pub mod csrf;
pub mod login;
pub mod mfa;
pub mod page;
pub mod passkeys;
pub mod redirects;
pub mod sso;

use actix_web::web;

/// The routes of the hosted pages.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/").route(web::get().to(login::home)))
        .service(web::resource("/login").route(web::get().to(login::show)))
        .service(web::resource("/login/identify").route(web::post().to(login::identify)))
        .service(web::resource("/login/password").route(web::post().to(login::password)))
        .service(
            web::resource("/login/mfa")
                .route(web::get().to(mfa::show))
                .route(web::post().to(mfa::submit)),
        )
        .service(
            web::resource("/login/mfa/passkey/options")
                .route(web::post().to(passkeys::mfa_options)),
        )
        .service(
            web::resource("/login/passkey/options")
                .route(web::post().to(passkeys::passwordless_options)),
        )
        .service(web::resource("/login/passkey").route(web::post().to(passkeys::passwordless)))
        .service(web::resource("/account/mfa").route(web::get().to(passkeys::account)))
        .service(
            web::resource("/account/mfa/passkeys/options")
                .route(web::post().to(passkeys::registration_options)),
        )
        .service(web::resource("/account/mfa/passkeys").route(web::post().to(passkeys::register)))
        .service(web::resource("/account/mfa/remove").route(web::post().to(passkeys::remove)))
        .service(web::resource("/login/switch").route(web::post().to(login::switch)))
        .service(web::resource("/sso/callback").route(web::get().to(sso::callback)))
        .service(web::resource("/logout").route(web::post().to(login::logout)))
        .service(
            web::resource("/invitation")
                .route(web::get().to(account::invitation::show))
                .route(web::post().to(account::invitation::accept)),
        )
        .service(
            web::resource("/forgot-password")
                .route(web::get().to(account::password_reset::show))
                .route(web::post().to(account::password_reset::request)),
        )
        .service(
            web::resource("/password-reset")
                .route(web::get().to(account::password_reset::show_reset))
                .route(web::post().to(account::password_reset::reset)),
        )
        .service(
            web::resource("/verify-email")
                .route(web::get().to(account::email_links::show_verify))
                .route(web::post().to(account::email_links::verify)),
        )
        .service(
            web::resource("/report-email-change")
                .route(web::get().to(account::email_links::show_report))
                .route(web::post().to(account::email_links::report)),
        )
        .service(web::resource("/assets/hub.css").route(web::get().to(page::stylesheet)))
        .service(web::resource("/assets/passkeys.js").route(web::get().to(passkeys::script)))
        .service(
            web::resource("/branding/{tenant}.css").route(web::get().to(branding::stylesheet)),
        );
}
