//! What the hub's delivery outboxes share (`mail_outbox` with `mail_attempts`,
//! `backchannel_logouts` with `backchannel_logout_attempts`): claiming the due rows for a lease,
//! and recording one attempt (its row in the attempts table; the outbox row delivered, waiting
//! for its next try, or failed for good). [`outbox_delivery!`] writes both for one outbox;
//! each outbox's file keeps what is its own (what it queues, what a claim carries along).
//!
//! An outbox table has `tenant_id`, `id`, `created_at`, `attempts`, `next_attempt_at`,
//! `last_error`, `failed_at` and a delivered-at column; its attempts table has `tenant_id`, a
//! column naming the outbox row, `attempt`, `outcome` and `error`.

/// Implements `claim_due_rows` and `record_attempt` on an outbox's row struct.
///
/// - `row`: the row struct (Selectable for `outbox`), `outbox`: its table, `delivered`: the
///   column set when an attempt succeeds, written as `delivered` in `attempts.outcome` under
///   the name `word`;
/// - `attempts (fk)`: the attempts table and its column naming the outbox row;
/// - `spent`: extra assignments (a tuple's elements) made when the row is done, delivered or
///   failed for good (e.g. dropping a secret the row no longer needs).
#[macro_export]
macro_rules! outbox_delivery {
    (
        row: $row:ty,
        outbox: $outbox:ident,
        delivered: $delivered:ident as $word:literal,
        attempts: $attempts:ident ($fk:ident),
        spent: ($($spent:expr),* $(,)?) $(,)?
    ) => {
        impl $row {
            /// System scope: claims up to `limit` rows that are due, oldest first, for `lease`
            /// (their next_attempt_at moves past it, so no other replica sends them
            /// meanwhile). Run in its own short transaction; the sends happen after it
            /// committed.
            pub async fn claim_due_rows(
                conn: &mut $crate::db::SystemTx,
                limit: i64,
                lease: std::time::Duration,
            ) -> $crate::error::AppResult<Vec<$row>> {
                use diesel::prelude::*;
                use diesel_async::RunQueryDsl;
                let due: Vec<$row> = $outbox::table
                    .filter($outbox::$delivered.is_null())
                    .filter($outbox::failed_at.is_null())
                    .filter($outbox::next_attempt_at.le(diesel::dsl::now))
                    .order($outbox::created_at)
                    .limit(limit)
                    .select(<$row>::as_select())
                    .for_update()
                    .skip_locked()
                    .load(conn)
                    .await?;
                let until = chrono::Utc::now() + lease;
                for row in &due {
                    diesel::update(
                        $outbox::table
                            .filter($outbox::tenant_id.eq(row.tenant_id))
                            .filter($outbox::id.eq(row.id)),
                    )
                    .set($outbox::next_attempt_at.eq(until))
                    .execute(conn)
                    .await?;
                }
                Ok(due)
            }

            /// Records one attempt of a claimed row: delivered, or failed with its error and
            /// either the wait before the next try (`Some`) or none when it was the last one.
            pub async fn record_attempt(
                conn: &mut $crate::db::SystemTx,
                row: &$row,
                outcome: Result<(), (String, Option<std::time::Duration>)>,
            ) -> $crate::error::AppResult<()> {
                use diesel::prelude::*;
                use diesel_async::RunQueryDsl;
                let attempt = row.attempts + 1;
                let target = $outbox::table
                    .filter($outbox::tenant_id.eq(row.tenant_id))
                    .filter($outbox::id.eq(row.id));
                let (word, error) = match &outcome {
                    Ok(()) => ($word, None),
                    Err((e, _)) => ("failed", Some(e.clone())),
                };
                diesel::insert_into($attempts::table)
                    .values((
                        $attempts::tenant_id.eq(row.tenant_id),
                        $attempts::$fk.eq(row.id),
                        $attempts::attempt.eq(attempt),
                        $attempts::outcome.eq(word),
                        $attempts::error.eq(&error),
                    ))
                    .execute(conn)
                    .await?;
                match outcome {
                    Ok(()) => {
                        diesel::update(target)
                            .set((
                                $outbox::attempts.eq(attempt),
                                $outbox::$delivered.eq(diesel::dsl::now),
                                $outbox::last_error.eq(None::<String>),
                                $($spent,)*
                            ))
                            .execute(conn)
                            .await?
                    }
                    Err((error, Some(retry_in))) => {
                        diesel::update(target)
                            .set((
                                $outbox::attempts.eq(attempt),
                                $outbox::last_error.eq(error),
                                $outbox::next_attempt_at.eq(chrono::Utc::now() + retry_in),
                            ))
                            .execute(conn)
                            .await?
                    }
                    Err((error, None)) => {
                        diesel::update(target)
                            .set((
                                $outbox::attempts.eq(attempt),
                                $outbox::last_error.eq(error),
                                $outbox::failed_at.eq(diesel::dsl::now),
                                $($spent,)*
                            ))
                            .execute(conn)
                            .await?
                    }
                };
                Ok(())
            }
        }
    };
}
