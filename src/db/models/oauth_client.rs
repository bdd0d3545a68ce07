//! `oauth_clients`: the products' OAuth 2.0 / OpenID Connect client registrations. A platform
//! catalog: read from any connection (the token endpoint authenticates a client before it knows
//! a tenant), written in a system transaction only (the table's policies say so too).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use crate::{
    db::{Reader, SystemTx, schema::oauth_clients},
    error::AppResult,
};

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = oauth_clients, check_for_backend(diesel::pg::Pg))]
pub struct OAuthClientRow {
    /// The `client_id` (its hyphenated text).
    pub id: Uuid,
    pub product_id: String,
    /// A public client (a browser or native app) has no secret and must use PKCE.
    pub public: bool,
    /// SHA-256 of the secret; None for public clients.
    pub secret_hash: Option<Vec<u8>>,
    pub redirect_uris: Vec<Option<String>>,
    pub post_logout_redirect_uris: Vec<Option<String>>,
    pub backchannel_logout_uri: Option<String>,
    pub allowed_scopes: Vec<Option<String>>,
    /// `client_secret_basic`, `client_secret_post` or `none` (public clients).
    pub token_endpoint_auth_method: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

fn texts(values: &[Option<String>]) -> impl Iterator<Item = &str> {
    values.iter().flatten().map(String::as_str)
}

impl OAuthClientRow {
    pub fn client_id(&self) -> String {
        self.id.to_string()
    }

    pub fn redirect_uris(&self) -> impl Iterator<Item = &str> {
        texts(&self.redirect_uris)
    }

    pub fn post_logout_redirect_uris(&self) -> impl Iterator<Item = &str> {
        texts(&self.post_logout_redirect_uris)
    }

    pub fn allowed_scopes(&self) -> impl Iterator<Item = &str> {
        texts(&self.allowed_scopes)
    }

    /// Whether `uri` is one of the registered redirect URIs, compared exactly.
    pub fn has_redirect_uri(&self, uri: &str) -> bool {
        self.redirect_uris().any(|u| u == uri)
    }

    pub fn has_post_logout_redirect_uri(&self, uri: &str) -> bool {
        self.post_logout_redirect_uris().any(|u| u == uri)
    }

    pub async fn find(conn: &mut impl Reader, id: Uuid) -> AppResult<Option<OAuthClientRow>> {
        Ok(oauth_clients::table
            .find(id)
            .select(OAuthClientRow::as_select())
            .first(conn)
            .await
            .optional()?)
    }

    /// Every client, or a product's, oldest first.
    pub async fn list(
        conn: &mut impl Reader,
        product: Option<&str>,
    ) -> AppResult<Vec<OAuthClientRow>> {
        let mut query = oauth_clients::table
            .select(OAuthClientRow::as_select())
            .order((oauth_clients::created_at, oauth_clients::id))
            .into_boxed();
        if let Some(p) = product {
            query = query.filter(oauth_clients::product_id.eq(p.to_owned()));
        }
        Ok(query.load(conn).await?)
    }

    pub async fn insert(conn: &mut SystemTx, row: &OAuthClientRow) -> AppResult<()> {
        diesel::insert_into(oauth_clients::table)
            .values(row)
            .execute(conn)
            .await?;
        Ok(())
    }

    pub async fn update(conn: &mut SystemTx, row: &OAuthClientRow) -> AppResult<()> {
        diesel::update(oauth_clients::table.find(row.id))
            .set(row)
            .execute(conn)
            .await?;
        Ok(())
    }

    /// Deletes the client (its codes, session records and refresh tokens go with it).
    pub async fn delete(conn: &mut SystemTx, id: Uuid) -> AppResult<bool> {
        let n = diesel::delete(oauth_clients::table.find(id))
            .execute(conn)
            .await?;
        Ok(n > 0)
    }
}
