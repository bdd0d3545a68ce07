-- Outgoing mail (issue 19): the outbox, each delivery attempt, verified emails and the tenant's
-- flag requiring them.
--
-- A mail is inserted in the same transaction as the change that causes it (an invitation, a
-- reset request, a changed password), and sent later by the housekeeping loop outside any
-- transaction: a replica claims a batch by moving next_attempt_at past the time the sends may
-- take (a lease, SKIP LOCKED), sends, then records each attempt; a failed attempt waits longer
-- each time (backoff) until max attempts, then the mail is failed. At least once: the receiving
-- side dedupes by Message-ID, which is the mail's id.
CREATE TABLE mail_outbox (
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    id uuid NOT NULL,
    kind text NOT NULL CHECK (kind IN ('invitation', 'password_reset', 'email_verification',
                                       'password_changed', 'email_changed', 'factor_added')),
    -- The user the mail is about; the mail goes with the user when the user is deleted.
    user_id uuid,
    recipient text NOT NULL,
    locale text NOT NULL DEFAULT 'en',
    -- The template's values that are not secret (names, the product that asked, …).
    data jsonb NOT NULL DEFAULT '{}',
    -- The one-time token of the mail's link, if any: cleared once the mail is sent, so the
    -- outbox does not keep usable links (and the export skips *_secret columns).
    link_secret text,
    created_at timestamptz NOT NULL DEFAULT now(),
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    attempts integer NOT NULL DEFAULT 0,
    sent_at timestamptz,
    failed_at timestamptz,
    last_error text,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
COMMENT ON TABLE mail_outbox IS 'Outbox of mails to users (invitations, resets, verifications, notices); sent with retries, at least once.';
COMMENT ON COLUMN mail_outbox.next_attempt_at IS 'Not sent before: the claim''s lease, or the retry''s backoff.';
COMMENT ON COLUMN mail_outbox.link_secret IS 'The one-time token of the link; cleared once sent.';
CREATE INDEX mail_outbox_tenant_pending_idx
    ON mail_outbox (tenant_id, next_attempt_at) WHERE sent_at IS NULL AND failed_at IS NULL;
CREATE INDEX mail_outbox_tenant_user_idx ON mail_outbox (tenant_id, user_id, kind, created_at);
SELECT hub_enable_tenant_rls('mail_outbox');

CREATE TABLE mail_attempts (
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    mail_id uuid NOT NULL,
    attempt integer NOT NULL,
    at timestamptz NOT NULL DEFAULT now(),
    -- 'sent' (accepted by the SMTP server, or written to the log), or 'failed' with its error.
    outcome text NOT NULL CHECK (outcome IN ('sent', 'failed')),
    error text,
    PRIMARY KEY (tenant_id, mail_id, attempt),
    FOREIGN KEY (tenant_id, mail_id) REFERENCES mail_outbox (tenant_id, id) ON DELETE CASCADE
);
COMMENT ON TABLE mail_attempts IS 'Each delivery attempt of an outbox mail.';
SELECT hub_enable_tenant_rls('mail_attempts');

ALTER TABLE users ADD COLUMN email_verified_at timestamptz;
COMMENT ON COLUMN users.email_verified_at IS 'When the user proved the current email (a verification or invitation link); NULL: not verified.';

ALTER TABLE tenants ADD COLUMN require_verified_email boolean NOT NULL DEFAULT false;
COMMENT ON COLUMN tenants.require_verified_email IS 'Sign-in refused until the user has verified the email.';

ALTER TABLE user_tokens DROP CONSTRAINT user_tokens_purpose_check;
ALTER TABLE user_tokens ADD CONSTRAINT user_tokens_purpose_check
    CHECK (purpose IN ('invitation', 'password_reset', 'email_verification', 'email_change_report'));
