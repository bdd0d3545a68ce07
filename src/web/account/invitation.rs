//! `GET /invitation?token=…` (the link of an invitation mail): the tenant's page showing the
//! invited email, where the invitee sets a password (and may give a name); `POST /invitation`
//! accepts the invitation through `ops::invitations::accept` (the same operation as
//! `acceptInvitation`), then signs the browser in as the new member and sends it on to
//! `return_to` (else the hub's home) — unless the tenant wants more than a password to sign in
//! (a second factor, its own identity provider), when the page says the account is ready.

use actix_web::{HttpRequest, HttpResponse, http::StatusCode, web};
use askama::Template;

use super::{
    PasswordForm, Pending, State, TokenQuery, check_new_password, done, link_not_valid, pending,
    sign_in_link,
};
use crate::{
    auth::{opaque, password},
    db::{ScopedFutureExt, audit::Actor},
    domain::password::MIN_LENGTH,
    error::ErrorCode,
    ops::{
        self,
        invitations::{self, Purpose},
        sessions::{AuthMethod, Authenticated},
    },
    request::RequestMeta,
    web::{
        csrf, page,
        redirects::{safe_return_to, signed_in_redirect},
    },
};

#[derive(Template)]
#[template(path = "pages/account_invitation.html")]
struct InvitationPage {
    chrome: page::Chrome,
    csrf: String,
    token: String,
    return_to: String,
    email: String,
    display_name: String,
    error: Option<String>,
    min_length: usize,
}

fn form_page(
    req: &HttpRequest,
    pending: &Pending,
    token: &str,
    return_to: String,
    display_name: String,
    error: Option<String>,
) -> HttpResponse {
    let issued = csrf::issue(req);
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let page = InvitationPage {
        chrome: pending.chrome(&format!("Join {}", pending.tenant.name)),
        csrf: issued.token.clone(),
        token: token.to_owned(),
        return_to,
        email: pending.user.email.clone(),
        display_name,
        error,
        min_length: MIN_LENGTH,
    };
    crate::web::csrf::render_issued(status, issued, &page)
}

/// `GET /invitation?token=…`: the form, or the page of a link that no longer works. Uses
/// nothing up.
pub async fn show(req: HttpRequest, state: State, query: web::Query<TokenQuery>) -> HttpResponse {
    let token = query.token.as_deref();
    match pending(&state, token, Purpose::Invitation).await {
        Ok(Some(p)) => form_page(
            &req,
            &p,
            token.unwrap_or_default().trim(),
            safe_return_to(query.return_to.as_deref()),
            p.user.display_name.clone().unwrap_or_default(),
            None,
        ),
        Ok(None) => link_not_valid(&state, token, "invitation").await,
        Err(e) => page::for_error(&e, None),
    }
}

/// `POST /invitation`: accepts the invitation and signs the browser in.
pub async fn accept(req: HttpRequest, state: State, form: web::Form<PasswordForm>) -> HttpResponse {
    if let Err(reason) = csrf::verify(&req, form.csrf.as_deref(), state.public_url()) {
        return crate::web::csrf::refused_page(reason);
    }
    let token = form.token.as_deref().map(str::trim).unwrap_or_default();
    let return_to = safe_return_to(form.return_to.as_deref());
    let display_name = form
        .display_name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_owned);
    // The token first: a bad one costs no hashing.
    let pending = match pending(&state, Some(token), Purpose::Invitation).await {
        Ok(Some(p)) => p,
        Ok(None) => return link_not_valid(&state, Some(token), "invitation").await,
        Err(e) => return page::for_error(&e, None),
    };
    let checked = if display_name
        .as_ref()
        .is_some_and(|n| n.chars().count() > 200)
    {
        Err("The name must have at most 200 characters.".to_owned())
    } else {
        check_new_password(&form.password, &form.password_again, &pending.user.email)
    };
    let new = match checked {
        Ok(new) => new,
        Err(message) => {
            return form_page(
                &req,
                &pending,
                token,
                return_to,
                display_name.unwrap_or_default(),
                Some(message),
            );
        }
    };
    let meta = RequestMeta::from_request(&req, &state.settings.trusted_proxies);
    let tenant_chrome = crate::web::branding::chrome(&pending.tenant);
    let chrome = || Some(tenant_chrome.clone());
    if let Err(e) = state.rate_limits.check_anonymous_hashing(&meta.ip) {
        return page::for_error(&e, chrome());
    }
    let hash = match password::hash(&new).await {
        Ok(hash) => hash,
        Err(e) => return page::for_error(&e, chrome()),
    };
    let token_hash = opaque::hash(token);
    let audit = meta.audit(Actor::Anonymous);
    let accepted = ops::in_tenant(&state.db, pending.tenant.id, audit.clone(), move |tx| {
        async move { invitations::accept(tx, &token_hash, &hash, display_name.as_deref()).await }
            .scope_boxed()
    })
    .await;
    let user = match accepted {
        Ok(done) => {
            state.effects.run(&audit, done.effects).await;
            done.value
        }
        // Used meanwhile (a second tab, a double submit).
        Err(e) if e.code == ErrorCode::Unauthenticated => {
            return link_not_valid(&state, Some(token), "invitation").await;
        }
        Err(e) => return page::for_error(&e, chrome()),
    };
    let who = Authenticated {
        user,
        tenant: pending.tenant,
    };
    if let Some(why) = password_not_enough(&state, &who).await {
        return done(
            page::Chrome::new("Your account is ready", chrome()),
            format!("Welcome to {}. {why}", who.tenant.name),
            Some((
                "Sign in".to_owned(),
                sign_in_link(who.tenant.id, &who.user.email),
            )),
        );
    }
    signed_in_redirect(
        &req,
        &state,
        &meta,
        &who,
        vec![AuthMethod::Password],
        &return_to,
    )
    .await
}

/// Why the new member cannot be signed in on the password just set, as the sign-in page would
/// refuse it: the tenant is not active, requires a second factor (which these pages cannot ask
/// for yet), or signs this address in through its own identity provider.
async fn password_not_enough(state: &State, who: &Authenticated) -> Option<&'static str> {
    if !who.tenant.is_active() {
        return Some("The organisation's account is not active at the moment.");
    }
    let user_id = who.user.id;
    let need = state
        .db
        .tenant_tx(who.tenant.id, move |tx| {
            ops::mfa::requirement(tx, user_id).scope_boxed()
        })
        .await;
    if !matches!(need, Ok(ops::mfa::SecondFactor::NotNeeded)) {
        return Some(
            "Your organisation requires a second factor for your account: sign in through your \
             application to set one up.",
        );
    }
    if ops::identity_providers::ensure_password_sign_in(&state.db, who.tenant.id, &who.user)
        .await
        .is_err()
    {
        return Some("Your organisation signs you in through its own identity provider.");
    }
    None
}
