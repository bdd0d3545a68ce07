//! The name of the product a client belongs to, for the hosted pages ("to continue to …", the
//! logout confirmation). Read from the catalogs (`oauth_clients`, `products`), never from the
//! request, so a link cannot make the hub show a name of its choosing.

use uuid::Uuid;

use crate::db::{
    Db, ScopedFutureExt, SystemReason,
    models::{OAuthClientRow, ProductRow},
};

/// The product name of client `client_id`, if the client is registered.
pub async fn name_of_client(db: &Db, client_id: Uuid) -> Option<String> {
    db.system_tx(SystemReason::Authentication, move |tx| {
        async move {
            let Some(client) = OAuthClientRow::find(tx, client_id).await? else {
                return Ok(None);
            };
            Ok(ProductRow::find(tx, &client.product_id)
                .await?
                .map(|p| p.name))
        }
        .scope_boxed()
    })
    .await
    .ok()
    .flatten()
}

/// The product name of the client of an authorization request carried as a hosted page's
/// `return_to` (`/oauth/authorize?…client_id=…`), if it names a registered client.
pub async fn name_of_return_to(db: &Db, return_to: &str) -> Option<String> {
    let query = return_to.strip_prefix("/oauth/authorize?")?;
    let client_id = url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "client_id")
        .and_then(|(_, v)| Uuid::try_parse(&v).ok())?;
    name_of_client(db, client_id).await
}
