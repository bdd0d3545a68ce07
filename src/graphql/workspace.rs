//! The `Workspace` object.

use async_graphql::{ID, Object};
use chrono::{DateTime, Utc};

use crate::{db::models::WorkspaceRow, graphql::ids};

pub struct Workspace(pub WorkspaceRow);

/// A workspace of the tenant; every tenant has one default workspace.
#[Object]
impl Workspace {
    async fn id(&self) -> ID {
        ids::encode("Workspace", self.0.id)
    }

    async fn name(&self) -> &str {
        &self.0.name
    }

    async fn slug(&self) -> &str {
        &self.0.slug
    }

    async fn is_default(&self) -> bool {
        self.0.is_default
    }

    async fn archived_at(&self) -> Option<DateTime<Utc>> {
        self.0.archived_at
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}
