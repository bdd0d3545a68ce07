//! The OAuth grants as operations: an authorization code issued for a signed-in session, its
//! exchange (single use, 60 s, bound to client, redirect URI, PKCE verifier, nonce and session;
//! a code presented again revokes the session it issued tokens in), refresh tokens bound to
//! their client (the rotation and reuse detection of `ops::sessions`), service tokens of the
//! `client_credentials` grant, and revocation. Every sign-in and grant is in the tenant's audit
//! log with the client id and the caller's address.

use chrono::{Duration as ChronoDuration, Utc};
use serde_json::json;
use uuid::Uuid;

use crate::ops::sign_in::SignIn;
use crate::{
    auth::{
        jwt::{ClientGrant, IssuedToken},
        opaque,
    },
    db::{
        ScopedFutureExt, SystemReason, TenantTx,
        audit::{self, Actor, AuditEvent},
        models::{
            OAuthClientRow, OAuthCodeRow, OAuthSessionClients, RefreshTokenRow, SessionRow,
            UserRow, oauth_code::ClientRefreshTokens, product::effective_access,
        },
    },
    domain::{Action, ProductAccess},
    error::{AppError, AppResult},
    invalidation::{self, Invalidation},
    oauth::{id_token, pkce},
    ops::{Done, sessions},
    request::RequestMeta,
};

/// How long an authorization code may be exchanged.
pub const CODE_TTL_SECS: i64 = 60;

/// What a code is issued for (the checked authorization request and its session).
#[derive(Debug, Clone)]
pub struct CodeRequest {
    pub client_id: Uuid,
    pub tenant_id: Uuid,
    pub session_id: Uuid,
    pub user_id: Uuid,
    pub redirect_uri: String,
    pub code_challenge: String,
    pub nonce: Option<String>,
    pub scope: String,
}

/// Issues an authorization code for a session that signed in to a client, and records that the
/// client signed in on it (for back-channel logout). Audited as `oauth.authorized`.
pub async fn issue_code(tx: &mut TenantTx, req: CodeRequest) -> AppResult<Done<String>> {
    let (code, hash) = opaque::generate(req.tenant_id);
    let now = Utc::now();
    OAuthCodeRow::insert(
        tx,
        &OAuthCodeRow {
            tenant_id: req.tenant_id,
            code_hash: hash,
            client_id: req.client_id,
            session_id: req.session_id,
            user_id: req.user_id,
            redirect_uri: req.redirect_uri,
            code_challenge: req.code_challenge,
            nonce: req.nonce,
            scope: req.scope.clone(),
            created_at: now,
            expires_at: now + ChronoDuration::seconds(CODE_TTL_SECS),
            used_at: None,
        },
    )
    .await?;
    OAuthSessionClients::record(tx, req.tenant_id, req.session_id, req.client_id).await?;
    Ok(Done::audited(
        code,
        AuditEvent::new(Action::OAuthAuthorized)
            .target("session", req.session_id)
            .details(json!({ "client_id": req.client_id, "scope": req.scope })),
    ))
}

/// What the token endpoint answers.
pub struct TokenSet {
    pub access: IssuedToken,
    pub refresh_token: Option<String>,
    pub id_token: Option<String>,
    pub scope: String,
}

fn grant_refused(message: &str) -> AppError {
    AppError::unauthenticated(message.to_owned())
}

/// The user's access to the client's product, refused when `none` (the product access gateway).
pub async fn product_access(
    tx: &mut TenantTx,
    user_id: Uuid,
    product: &str,
) -> AppResult<Option<ProductAccess>> {
    let access = effective_access(tx, user_id, Some(product))
        .await?
        .into_iter()
        .next()
        .map(|(_, a)| a)
        .unwrap_or(ProductAccess::None);
    Ok((access != ProductAccess::None).then_some(access))
}

/// Exchanges an authorization code (`authorization_code` grant).
pub async fn exchange_code(
    state: &SignIn,
    meta: &RequestMeta,
    client: &OAuthClientRow,
    code: &str,
    redirect_uri: &str,
    verifier: &str,
) -> AppResult<TokenSet> {
    const INVALID: &str = "the authorization code is invalid, expired or was issued to another client or redirect URI";
    let tenant_id = opaque::tenant_of(code).ok_or_else(|| grant_refused(INVALID))?;
    let presented = opaque::hash(code);
    struct Issued {
        row: OAuthCodeRow,
        session: SessionRow,
        email: id_token::EmailClaims,
        access: ProductAccess,
        refresh_token: String,
    }
    enum Outcome {
        Issued(Box<Issued>),
        Reused { session_id: Uuid },
        Refused(&'static str),
    }
    let (client_id, product) = (client.id, client.product_id.clone());
    let now = Utc::now();
    let outcome = state
        .db
        .tenant_tx(tenant_id, move |conn| {
            async move {
                let Some(row) = OAuthCodeRow::find_for_update(conn, &presented).await? else {
                    return Ok(Outcome::Refused(INVALID));
                };
                if row.client_id != client_id {
                    return Ok(Outcome::Refused(INVALID));
                }
                if row.used_at.is_some() {
                    if SessionRow::revoke(conn, row.session_id, "oauth_code_reuse").await? {
                        audit::record(
                            conn,
                            tenant_id,
                            &meta.audit(Actor::Anonymous),
                            AuditEvent::new(Action::OAuthCodeReused)
                                .target("session", row.session_id)
                                .details(json!({ "client_id": client_id, "user_id": row.user_id })),
                        )
                        .await?;
                    }
                    return Ok(Outcome::Reused {
                        session_id: row.session_id,
                    });
                }
                if row.expires_at <= now || row.redirect_uri != redirect_uri {
                    return Ok(Outcome::Refused(INVALID));
                }
                if !pkce::verifies(verifier, &row.code_challenge) {
                    return Ok(Outcome::Refused(
                        "the PKCE code_verifier does not match the code_challenge",
                    ));
                }
                // Used from now on, whatever follows: a code is tried once.
                OAuthCodeRow::mark_used(conn, &presented).await?;
                let usable = SessionRow::state(conn, row.session_id, row.user_id)
                    .await?
                    .filter(|s| s.session_usable(now) && s.tenant_status == "active");
                let (Some(_), Some(session)) =
                    (usable, SessionRow::find(conn, row.session_id).await?)
                else {
                    return Ok(Outcome::Refused("the session of this code has ended"));
                };
                let Some(access) = product_access(conn, row.user_id, &product).await? else {
                    return Ok(Outcome::Refused("the user has no access to this product"));
                };
                let email = UserRow::find(conn, row.user_id)
                    .await?
                    .map(|u| id_token::EmailClaims {
                        verified: u.email_verified_at.is_some(),
                        email: u.email,
                    })
                    .unwrap_or(id_token::EmailClaims {
                        email: String::new(),
                        verified: false,
                    });
                let (refresh_token, hash) = opaque::generate(tenant_id);
                RefreshTokenRow::insert(conn, tenant_id, session.id, hash, Some(client_id)).await?;
                OAuthSessionClients::record(conn, tenant_id, session.id, client_id).await?;
                audit::record(
                    conn,
                    tenant_id,
                    &meta.audit(Actor::User(row.user_id)),
                    AuditEvent::new(Action::OAuthTokenIssued)
                        .target("session", session.id)
                        .details(
                            json!({ "client_id": client_id, "grant_type": "authorization_code" }),
                        ),
                )
                .await?;
                Ok(Outcome::Issued(Box::new(Issued {
                    row,
                    session,
                    email,
                    access,
                    refresh_token,
                })))
            }
            .scope_boxed()
        })
        .await?;
    match outcome {
        Outcome::Issued(issued) => {
            let Issued {
                row,
                session,
                email,
                access,
                refresh_token,
            } = *issued;
            let grant = ClientGrant {
                client_id: client.client_id(),
                product: client.product_id.clone(),
                access: Some(access.as_str().to_owned()),
            };
            let access = state.tokens.issue_member_for_client(
                tenant_id,
                row.user_id,
                session.id,
                &session.amr,
                &grant,
            )?;
            let scopes: Vec<&str> = row.scope.split_whitespace().collect();
            let id_token = if scopes.contains(&"openid") {
                Some(id_token::issue(
                    &state.tokens,
                    id_token::IdTokenInput {
                        client_id: &grant.client_id,
                        user_id: row.user_id,
                        tenant_id,
                        session_id: session.id,
                        auth_time: session.auth_time.timestamp(),
                        amr: &session.amr,
                        nonce: row.nonce.clone(),
                        email: scopes.contains(&"email").then_some(email),
                    },
                )?)
            } else {
                None
            };
            Ok(TokenSet {
                access,
                refresh_token: Some(refresh_token),
                id_token,
                scope: row.scope,
            })
        }
        Outcome::Reused { session_id } => {
            invalidation::announce(&state.invalidator, Invalidation::Session { id: session_id })
                .await;
            Err(grant_refused(
                "this authorization code was already used; the tokens it issued are revoked",
            ))
        }
        Outcome::Refused(why) => Err(grant_refused(why)),
    }
}

/// The `refresh_token` grant: the token must have been given to this client.
pub async fn refresh(
    state: &SignIn,
    meta: &RequestMeta,
    client: &OAuthClientRow,
    token: &str,
) -> AppResult<TokenSet> {
    let rotated = sessions::rotate_refresh_token(state, meta, token, Some(client.id)).await?;
    let (tenant_id, user_id, session_id) = (rotated.tenant_id, rotated.user_id, rotated.session_id);
    let amr = rotated.amr;
    let (client_id, product) = (client.id, client.product_id.clone());
    let access = state
        .db
        .tenant_tx(tenant_id, move |conn| {
            async move {
                let access = product_access(conn, user_id, &product).await?;
                if access.is_some() {
                    audit::record(
                        conn,
                        tenant_id,
                        &meta.audit(Actor::User(user_id)),
                        AuditEvent::new(Action::OAuthTokenIssued)
                            .target("session", session_id)
                            .details(
                                json!({ "client_id": client_id, "grant_type": "refresh_token" }),
                            ),
                    )
                    .await?;
                }
                Ok(access)
            }
            .scope_boxed()
        })
        .await?
        .ok_or_else(|| grant_refused("the user has no access to this product"))?;
    let grant = ClientGrant {
        client_id: client.client_id(),
        product: client.product_id.clone(),
        access: Some(access.as_str().to_owned()),
    };
    let access = state
        .tokens
        .issue_member_for_client(tenant_id, user_id, session_id, &amr, &grant)?;
    Ok(TokenSet {
        access,
        refresh_token: Some(rotated.refresh_token),
        id_token: None,
        scope: client.allowed_scopes().collect::<Vec<_>>().join(" "),
    })
}

/// The `client_credentials` grant: a service token of the client's product, no user and no
/// tenant. Recorded in the platform audit log (there is no tenant).
pub async fn client_credentials(
    state: &SignIn,
    meta: &RequestMeta,
    client: &OAuthClientRow,
) -> AppResult<IssuedToken> {
    let ctx = meta.audit(Actor::Anonymous);
    let (client_id, product) = (client.id, client.product_id.clone());
    state
        .db
        .system_tx(SystemReason::Authentication, move |tx| {
            async move {
                audit::record_platform(
                    tx,
                    &ctx,
                    AuditEvent::new(Action::OAuthTokenIssued)
                        .target("oauth_client", client_id)
                        .details(json!({ "client_id": client_id, "product": product, "grant_type": "client_credentials" })),
                )
                .await
            }
            .scope_boxed()
        })
        .await?;
    state.tokens.issue_service(client.id, &client.product_id)
}

/// RFC 7009: revokes a refresh token given to this client (one of another client, or an
/// unknown one, is ignored, as the RFC says). Returns whether a token was revoked.
pub async fn revoke_refresh_token(
    state: &SignIn,
    meta: &RequestMeta,
    client: &OAuthClientRow,
    token: &str,
) -> AppResult<bool> {
    let Some(tenant_id) = opaque::tenant_of(token) else {
        return Ok(false);
    };
    let hash = opaque::hash(token);
    let client_id = client.id;
    state
        .db
        .tenant_tx(tenant_id, move |conn| {
            async move {
                let Some(session_id) = ClientRefreshTokens::revoke(conn, &hash, client_id).await?
                else {
                    return Ok(false);
                };
                audit::record(
                    conn,
                    tenant_id,
                    &meta.audit(Actor::Anonymous),
                    AuditEvent::new(Action::OAuthTokenRevoked)
                        .target("session", session_id)
                        .details(json!({ "client_id": client_id, "token_type": "refresh_token" })),
                )
                .await?;
                Ok(true)
            }
            .scope_boxed()
        })
        .await
}
