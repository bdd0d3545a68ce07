//! Sending the outbox: the housekeeping loop calls [`deliver_pending`] on each tick. Due mails
//! are claimed in batches (a lease on `next_attempt_at`, taken with SKIP LOCKED, so one replica
//! at a time sends a mail), rendered and sent over SMTP (lettre) outside any transaction, and
//! each attempt is recorded on its own; a failed one is retried after a growing delay, up to
//! [`MAX_ATTEMPTS`]. Delivery is at least once: a replica that dies between the SMTP server's
//! acceptance and the record sends again after the lease; the Message-ID (the mail's id) stays
//! the same, so receivers can tell.

use std::time::Duration;

use lettre::{
    AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
    message::{Mailbox, MultiPart, header::ContentType},
};

use crate::{
    config::Settings,
    db::{
        Db, ScopedFutureExt, SystemReason,
        models::mail::{ClaimedMail, MailRow},
    },
    domain::Branding,
    error::AppResult,
    mail::render::{self, Rendered},
};

/// Attempts per mail before it is failed.
pub const MAX_ATTEMPTS: i32 = 12;

/// Mails claimed and sent per batch.
const BATCH: i64 = 10;

/// How long one SMTP exchange may take.
const SMTP_TIMEOUT: Duration = Duration::from_secs(15);

/// How long a claim keeps other replicas off a batch: every send timing out, and a margin.
const LEASE: Duration = Duration::from_secs(BATCH as u64 * 15 + 30);

/// The SMTP transport of a `HUB_SMTP_URL` (one connection per mail: the outbox is not a
/// bulk mailer).
pub fn transport(url: &str) -> Result<AsyncSmtpTransport<Tokio1Executor>, String> {
    Ok(AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
        .map_err(|e| e.to_string())?
        .timeout(Some(SMTP_TIMEOUT))
        .build())
}

/// The From mailbox of `HUB_MAIL_FROM`.
pub fn from_mailbox(raw: &str) -> Result<Mailbox, String> {
    raw.parse::<Mailbox>().map_err(|e| e.to_string())
}

/// The wait after failed attempt number `attempts`: the base, doubling, at most an hour.
pub fn retry_delay(base_secs: u64, attempts: i32) -> Duration {
    let doublings = attempts.clamp(1, 16) as u32 - 1;
    Duration::from_secs(base_secs.max(1).saturating_mul(1 << doublings).min(3600))
}

/// How the due mails leave: over SMTP, to the log (development), or not at all yet.
enum Sink {
    Smtp(Box<AsyncSmtpTransport<Tokio1Executor>>),
    Log,
}

/// Delivers the mails that are due, in batches, never inside a transaction. Returns how many
/// were sent. Without HUB_SMTP_URL (and HUB_MAIL_LOG) nothing is claimed: the mails wait.
pub async fn deliver_pending(db: &Db, settings: &Settings) -> AppResult<usize> {
    let sink = match (&settings.smtp_url, settings.mail_log) {
        (Some(url), _) => match transport(url) {
            Ok(t) => Sink::Smtp(Box::new(t)),
            Err(e) => {
                // Refused at start already (mail::check_settings).
                tracing::warn!(error = %e, "HUB_SMTP_URL is not usable: mails wait");
                return Ok(0);
            }
        },
        (None, true) => Sink::Log,
        (None, false) => return Ok(0),
    };
    let Ok(from) = from_mailbox(&settings.mail_from) else {
        tracing::warn!("HUB_MAIL_FROM is not a mail address: mails wait");
        return Ok(0);
    };
    let mut sent = 0;
    loop {
        let claimed = db
            .system_tx(SystemReason::Housekeeping, |conn| {
                MailRow::claim_due(conn, BATCH, LEASE).scope_boxed()
            })
            .await?;
        let count = claimed.len();
        for item in claimed {
            let outcome = send_one(settings, &sink, &from, &item).await;
            sent += usize::from(outcome.is_ok());
            let attempt = item.mail.attempts + 1;
            let outcome = outcome.map_err(|e| {
                tracing::warn!(mail = %item.mail.id, attempt, error = %e, "mail not sent");
                let retry = (attempt < MAX_ATTEMPTS)
                    .then(|| retry_delay(settings.mail_retry_secs, attempt));
                (e, retry)
            });
            let mail = item.mail;
            db.system_tx(SystemReason::Housekeeping, move |conn| {
                async move { MailRow::record_attempt(conn, &mail, outcome).await }.scope_boxed()
            })
            .await?;
        }
        if count < BATCH as usize {
            return Ok(sent);
        }
    }
}

/// Renders one claimed mail and hands it over; the error says what went wrong.
async fn send_one(
    settings: &Settings,
    sink: &Sink,
    from: &Mailbox,
    item: &ClaimedMail,
) -> Result<(), String> {
    let branding: Branding = serde_json::from_value(item.branding.clone()).unwrap_or_default();
    let rendered = render::render(
        &item.mail,
        &item.tenant_name,
        &branding,
        settings.public_url(),
    )?;
    match sink {
        Sink::Log => {
            tracing::info!(
                mail = %item.mail.id, tenant = %item.mail.tenant_id, kind = %item.mail.kind,
                to = %item.mail.recipient, subject = %rendered.subject, text = %rendered.text,
                "mail (HUB_MAIL_LOG: not sent)"
            );
            Ok(())
        }
        Sink::Smtp(transport) => {
            let message = message(from, &item.mail, &rendered)?;
            transport
                .send(message)
                .await
                .map(|_| ())
                .map_err(|e| smtp_error(&e))
        }
    }
}

/// The MIME message: From, To, Subject, a Message-ID made of the mail's id, and the plain-text
/// and HTML parts as alternatives.
pub fn message(from: &Mailbox, mail: &MailRow, rendered: &Rendered) -> Result<Message, String> {
    let to: Mailbox = mail
        .recipient
        .parse()
        .map_err(|e| format!("recipient: {e}"))?;
    let domain = from.email.domain().to_owned();
    Message::builder()
        .from(from.clone())
        .to(to)
        .subject(rendered.subject.clone())
        .message_id(Some(format!("<{}@{domain}>", mail.id)))
        .multipart(
            MultiPart::alternative()
                .singlepart(
                    lettre::message::SinglePart::builder()
                        .header(ContentType::TEXT_PLAIN)
                        .body(rendered.text.clone()),
                )
                .singlepart(
                    lettre::message::SinglePart::builder()
                        .header(ContentType::TEXT_HTML)
                        .body(rendered.html.clone()),
                ),
        )
        .map_err(|e| e.to_string())
}

/// An SMTP error with its causes, without the URL's credentials (lettre never prints them).
fn smtp_error(e: &lettre::transport::smtp::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text.chars().take(1000).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_wait_longer_each_time_up_to_an_hour() {
        assert_eq!(retry_delay(30, 1), Duration::from_secs(30));
        assert_eq!(retry_delay(30, 2), Duration::from_secs(60));
        assert_eq!(retry_delay(30, 5), Duration::from_secs(480));
        assert_eq!(retry_delay(30, 12), Duration::from_secs(3600));
    }

    #[test]
    fn smtp_urls_of_each_kind_are_accepted() {
        for url in [
            "smtp://127.0.0.1:2525",
            "smtp://user:pass@mail.example.com:587?tls=required",
            "smtps://user:pass@mail.example.com:465",
        ] {
            assert!(transport(url).is_ok(), "{url}");
        }
        assert!(transport("http://mail.example.com").is_err());
    }
}
