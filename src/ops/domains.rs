//! A tenant's email domains: added with a DNS challenge, verified (or failed) by looking the
//! challenge up in `_tenant-hub-challenge.<domain>` TXT records, re-verified periodically by the
//! housekeeping loop, removed. A domain is verified by one tenant at most (the database's
//! exclusion constraint `tenant_domains_verified_by_one_tenant`); public email domains are
//! refused. The DNS lookups happen outside any transaction: the operations here get the outcome.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::Utc;
use serde_json::json;
use uuid::Uuid;

use crate::{
    config::Settings,
    db::{
        Db, ScopedFutureExt, SystemReason, TenantTx,
        audit::{AuditContext, AuditEvent},
        models::{TenantDomainRow, tenant_domain::DueDomain},
    },
    domain::{Action, hostname::Hostname},
    error::{AppError, AppResult, Reason},
    ops::{Done, in_tenant},
    sso::{
        dns::{CheckOutcome, DnsChecker},
        domain_state::DomainState,
        public_domains,
    },
};

/// Domains one tenant may hold.
pub const MAX_DOMAINS: usize = 50;

/// Adds `domain` as pending, with a new challenge to publish.
pub async fn add(tx: &mut TenantTx, domain: Hostname) -> AppResult<Done<TenantDomainRow>> {
    let name = domain.as_str();
    if public_domains::is_public(name) {
        return Err(AppError::bad_input(
            "domain",
            format!("{name} is a public email domain: anyone can get an address there, so no tenant can claim it"),
        )
        .with_reason(Reason::DomainPublic));
    }
    let existing = TenantDomainRow::all(tx).await?;
    if existing.iter().any(|d| d.domain == name) {
        return Err(AppError::conflict(format!(
            "{name} is already one of the tenant's domains"
        )));
    }
    if existing.len() >= MAX_DOMAINS {
        return Err(AppError::bad_input(
            "domain",
            format!("a tenant holds {MAX_DOMAINS} domains at most"),
        ));
    }
    let challenge = format!(
        "tenant-hub-verification={}",
        URL_SAFE_NO_PAD.encode(rand::random::<[u8; 24]>())
    );
    let row = TenantDomainRow::insert(
        tx,
        &TenantDomainRow {
            tenant_id: tx.tenant_id(),
            id: Uuid::now_v7(),
            domain: name.to_owned(),
            state: DomainState::Pending.as_str().to_owned(),
            challenge,
            created_at: Utc::now(),
            verified_at: None,
            checked_at: None,
            last_error: None,
        },
    )
    .await?;
    let event = AuditEvent::new(Action::TenantDomainAdded)
        .target("domain", row.id)
        .details(json!({ "domain": row.domain }));
    Ok(Done::audited(row, event))
}

/// The message kept on a domain whose record was not found.
fn missing_message(domain: &str) -> String {
    format!(
        "no TXT record of {} carries the challenge",
        crate::sso::dns::challenge_name(domain).trim_end_matches('.')
    )
}

/// Records the outcome of a DNS check of the domain `id` (looked up by the caller, outside the
/// transaction, for `challenge`): verified when found, failed when missing; an unreachable DNS
/// server leaves the state as it was and keeps the error. `periodic` checks (housekeeping)
/// write an audit record only when the state changes.
pub async fn record_check(
    tx: &mut TenantTx,
    id: Uuid,
    challenge: &str,
    outcome: CheckOutcome,
    periodic: bool,
) -> AppResult<Done<TenantDomainRow>> {
    let current = TenantDomainRow::lock(tx, id)
        .await?
        .ok_or_else(|| AppError::not_found("domain"))?;
    if current.challenge != challenge {
        // Removed and added again while the lookup ran: that check was for another challenge.
        return Ok(Done::unaudited(current));
    }
    let before = DomainState::from_db(&current.state)?;
    let (state, error, dns) = match &outcome {
        CheckOutcome::Found => (DomainState::Verified, None, "found"),
        CheckOutcome::Missing => (
            DomainState::Failed,
            Some(missing_message(&current.domain)),
            "missing",
        ),
        CheckOutcome::Unreachable(e) => {
            tracing::info!(domain = %current.domain, error = %e, "DNS check without an answer");
            (
                before,
                Some("the DNS server did not answer; try again later".to_owned()),
                "unreachable",
            )
        }
    };
    let verified_at = match state {
        DomainState::Verified => current.verified_at.or(Some(Utc::now())),
        _ => None,
    };
    let row =
        match TenantDomainRow::set_checked(tx, id, state.as_str(), verified_at, error.as_deref())
            .await
        {
            Err(e) if TenantDomainRow::is_verified_elsewhere(&e) => {
                return Err(AppError::conflict(format!(
                    "{} is verified by another tenant",
                    current.domain
                ))
                .with_reason(Reason::DomainVerifiedElsewhere));
            }
            other => other.map_err(AppError::from)?,
        };
    let action = match state {
        DomainState::Verified => Action::TenantDomainVerified,
        _ => Action::TenantDomainVerificationFailed,
    };
    let event = AuditEvent::new(action)
        .target("domain", row.id)
        .details(json!({
            "domain": row.domain,
            "dns": dns,
            "previous_state": before.as_str(),
            "periodic": periodic,
        }));
    if periodic && state == before {
        return Ok(Done::unaudited(row));
    }
    Ok(Done::audited(row, event))
}

/// Removes the domain `id` (the identity providers bound to it lose it).
pub async fn remove(tx: &mut TenantTx, id: Uuid) -> AppResult<Done<TenantDomainRow>> {
    let row = TenantDomainRow::lock(tx, id)
        .await?
        .ok_or_else(|| AppError::not_found("domain"))?;
    TenantDomainRow::delete(tx, id).await?;
    let event = AuditEvent::new(Action::TenantDomainRemoved)
        .target("domain", row.id)
        .details(json!({ "domain": row.domain, "state": row.state }));
    Ok(Done::audited(row, event))
}

/// The housekeeping loop's re-verification: the verified and failed domains not checked for
/// HUB_DOMAIN_RECHECK_SECS, a batch at a time, each checked and recorded in its tenant's
/// transaction (a state change audited there, by the system). Returns how many were checked.
pub async fn reverify_due(db: &Db, dns: &DnsChecker, settings: &Settings) -> AppResult<usize> {
    let every = settings.domain_recheck_secs;
    if every == 0 {
        return Ok(0);
    }
    let before = Utc::now() - chrono::Duration::seconds(every.min(i64::MAX as u64) as i64);
    let due: Vec<DueDomain> = db
        .system_tx(SystemReason::Housekeeping, |tx| {
            TenantDomainRow::due(tx, before, 100).scope_boxed()
        })
        .await?;
    let checked = due.len();
    for d in due {
        let outcome = dns.check(&d.domain, &d.challenge).await;
        let result = in_tenant(db, d.tenant_id, AuditContext::system(), |tx| {
            record_check(tx, d.id, &d.challenge, outcome, true).scope_boxed()
        })
        .await;
        match result {
            Ok(_) => {}
            Err(e) if e.code == crate::error::ErrorCode::NotFound => {}
            Err(e) => e.log_cause(),
        }
    }
    Ok(checked)
}
