//! Multi-factor authentication end to end: TOTP enrolment and sign-in with codes computed here
//! from the enrolled secret (an RFC 6238 implementation of the test's own, on aws-lc-rs HMAC),
//! replay and the window edges, recovery codes, the tenant policy for admins and members, and
//! `amr`/`acr` in the tokens and the TenantContext.

use crate::common::{self, PASSWORD, error_code, operation, spawn_app};
use base64::Engine;
use serde_json::{Value, json};

/// RFC 4648 base32 (no padding) decoded.
fn base32(s: &str) -> Vec<u8> {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let (mut bits, mut n, mut out) = (0u64, 0u32, Vec::new());
    for c in s.trim_end_matches('=').bytes() {
        let v = A
            .iter()
            .position(|a| *a == c.to_ascii_uppercase())
            .expect("base32") as u64;
        bits = (bits << 5) | v;
        n += 5;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
        }
    }
    out
}

/// The 6-digit TOTP code (HMAC-SHA1, 30 s) of time step `step` for a base32 secret.
pub fn code(secret_b32: &str, step: u64) -> String {
    use aws_lc_rs::hmac;
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, &base32(secret_b32));
    let mac = hmac::sign(&key, &step.to_be_bytes());
    let m = mac.as_ref();
    let off = (m[m.len() - 1] & 0xf) as usize;
    let v = u32::from_be_bytes([m[off] & 0x7f, m[off + 1], m[off + 2], m[off + 3]]);
    format!("{:06}", v % 1_000_000)
}

/// The current time step, once at least 5 s from a step boundary (so the server sees the
/// same step).
pub async fn safe_step() -> u64 {
    loop {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        if (5..=25).contains(&(now % 30)) {
            return now / 30;
        }
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
}

fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap()
}

fn reason(body: &Value) -> &str {
    body["errors"][0]["extensions"]["reason"]
        .as_str()
        .unwrap_or("")
}

async fn login_mfa(app: &common::TestApp, tenant: &str, email: &str) -> Value {
    let body = app
        .gql(
            None,
            operation("LogInMfa"),
            json!({ "input": { "tenant": tenant, "email": email, "password": PASSWORD } }),
        )
        .await;
    body["data"]["login"].clone()
}

async fn complete(app: &common::TestApp, challenge: &str, proof: Value) -> Value {
    let mut i = json!({ "challenge": challenge });
    i.as_object_mut()
        .unwrap()
        .extend(proof.as_object().unwrap().clone());
    app.gql(None, operation("CompleteMfaLogin"), json!({ "i": i }))
        .await
}

#[test]
fn the_tests_totp_matches_rfc_6238() {
    // RFC 6238 appendix B, SHA1, T = 59 s: 94287082 in 8 digits, so 287082 in 6.
    let secret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"; // "12345678901234567890"
    assert_eq!(code(secret, 59 / 30), "287082");
    assert_eq!(code(secret, 1_111_111_109 / 30), "081804");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn totp_sign_in_refuses_replays_and_codes_outside_one_step() {
    let app = spawn_app().await;
    let t = app.signup("acme").await;
    let begun = app
        .gql(Some(&t.token), operation("BeginTotpEnrolment"), json!({}))
        .await;
    let e = &begun["data"]["beginTotpEnrolment"];
    let secret = e["secret"]
        .as_str()
        .unwrap_or_else(|| panic!("{begun}"))
        .to_owned();
    assert!(e["otpauthUri"].as_str().unwrap().contains(&secret));
    assert!(e["qrCodeSvg"].as_str().unwrap().contains("<svg"));
    // The secret is sealed at rest.
    let su = app.superuser().await;
    let row = su
        .query_one("SELECT secret_ciphertext FROM mfa_factors", &[])
        .await
        .unwrap();
    let sealed: Vec<u8> = row.get(0);
    assert!(!sealed.windows(20).any(|w| w == base32(&secret).as_slice()));

    // Until confirmed, login is as before.
    assert_eq!(
        login_mfa(&app, &t.domain, &t.owner_email).await["mfaRequired"],
        false
    );

    let s = safe_step().await;
    let wrong = if code(&secret, s) == "000000" {
        "111111"
    } else {
        "000000"
    };
    let body = app
        .gql(
            Some(&t.token),
            operation("ConfirmTotpEnrolment"),
            json!({ "code": wrong }),
        )
        .await;
    assert_eq!(
        (error_code(&body), reason(&body)),
        ("UNAUTHENTICATED", "mfa_code_invalid")
    );
    let body = app
        .gql(
            Some(&t.token),
            operation("ConfirmTotpEnrolment"),
            json!({ "code": code(&secret, s - 1) }),
        )
        .await;
    let confirmed = &body["data"]["confirmTotpEnrolment"];
    assert_eq!(confirmed["factor"]["confirmed"], true, "{body}");
    assert_eq!(confirmed["recoveryCodes"].as_array().unwrap().len(), 10);

    let s = safe_step().await;
    let login = login_mfa(&app, &t.domain, &t.owner_email).await;
    assert_eq!(login["mfaRequired"], true, "{login}");
    assert!(login["accessToken"].is_null());
    let challenge = login["mfaChallenge"]["challenge"]
        .as_str()
        .unwrap()
        .to_owned();
    // Two steps ahead: outside the window.
    let body = complete(&app, &challenge, json!({ "code": code(&secret, s + 2) })).await;
    assert_eq!(reason(&body), "mfa_code_invalid", "{body}");
    // The step the enrolment used: a replay.
    let body = complete(&app, &challenge, json!({ "code": code(&secret, s - 1) })).await;
    assert_eq!(reason(&body), "mfa_code_invalid", "{body}");
    let body = complete(&app, &challenge, json!({ "code": code(&secret, s) })).await;
    let done = &body["data"]["completeMfaLogin"];
    let access = done["accessToken"]
        .as_str()
        .unwrap_or_else(|| panic!("{body}"));
    let c = claims(access);
    assert_eq!(c["amr"], json!(["pwd", "otp"]));
    assert_eq!(c["acr"], "urn:tenant-hub:acr:2fa");
    // The challenge is single use.
    let body = complete(&app, &challenge, json!({ "code": code(&secret, s + 1) })).await;
    assert_eq!(reason(&body), "mfa_challenge_invalid", "{body}");

    // The same code again on a new sign-in: refused; the next step's code works.
    let login = login_mfa(&app, &t.domain, &t.owner_email).await;
    let challenge = login["mfaChallenge"]["challenge"]
        .as_str()
        .unwrap()
        .to_owned();
    let body = complete(&app, &challenge, json!({ "code": code(&secret, s) })).await;
    assert_eq!(reason(&body), "mfa_code_invalid", "{body}");
    let body = complete(&app, &challenge, json!({ "code": code(&secret, s + 1) })).await;
    let refresh = body["data"]["completeMfaLogin"]["refreshToken"]
        .as_str()
        .unwrap_or_else(|| panic!("{body}"))
        .to_owned();
    // A refreshed token keeps the sign-in's methods; so does the TenantContext.
    let body = app
        .gql(None, operation("RefreshSession"), json!({ "t": refresh }))
        .await;
    let access = body["data"]["refreshSession"]["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(claims(&access)["amr"], json!(["pwd", "otp"]));
    let body = app
        .gql(Some(&access), operation("TenantContextAmr"), json!({}))
        .await;
    assert_eq!(
        body["data"]["tenantContext"]["acr"], "urn:tenant-hub:acr:2fa",
        "{body}"
    );
    let http: Value = app
        .client
        .get(format!("{}/tenant-context", app.address))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(http["amr"], json!(["pwd", "otp"]), "{http}");
    // A password-only session says so.
    assert_eq!(claims(&t.token)["acr"], "urn:tenant-hub:acr:1fa");
    assert_eq!(claims(&t.token)["amr"], json!(["pwd"]));

    let actions = common::count(
        &app,
        "SELECT count(*) FROM audit_log WHERE action = 'mfa.failed'",
    )
    .await;
    assert_eq!(actions, 4, "every refused code is in the audit log");
    for action in [
        "mfa.enrolment_started",
        "mfa.enrolled",
        "mfa.recovery_codes_generated",
        "mfa.challenge_issued",
        "mfa.used",
    ] {
        let n = common::count(
            &app,
            &format!("SELECT count(*) FROM audit_log WHERE action = '{action}'"),
        )
        .await;
        assert!(n >= 1, "{action}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recovery_codes_are_single_use_and_regenerating_replaces_them() {
    let app = spawn_app().await;
    let t = app.signup("acme").await;
    let begun = app
        .gql(Some(&t.token), operation("BeginTotpEnrolment"), json!({}))
        .await;
    let secret = begun["data"]["beginTotpEnrolment"]["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    let s = safe_step().await;
    let body = app
        .gql(
            Some(&t.token),
            operation("ConfirmTotpEnrolment"),
            json!({ "code": code(&secret, s) }),
        )
        .await;
    let codes: Vec<String> =
        serde_json::from_value(body["data"]["confirmTotpEnrolment"]["recoveryCodes"].clone())
            .unwrap();

    let ch = login_mfa(&app, &t.domain, &t.owner_email).await["mfaChallenge"]["challenge"]
        .as_str()
        .unwrap()
        .to_owned();
    let body = complete(
        &app,
        &ch,
        json!({ "recoveryCode": codes[0].to_uppercase() }),
    )
    .await;
    assert!(
        body["data"]["completeMfaLogin"]["accessToken"].is_string(),
        "{body}"
    );
    let ch = login_mfa(&app, &t.domain, &t.owner_email).await["mfaChallenge"]["challenge"]
        .as_str()
        .unwrap()
        .to_owned();
    let body = complete(&app, &ch, json!({ "recoveryCode": codes[0] })).await;
    assert_eq!(reason(&body), "mfa_code_invalid", "used already: {body}");

    let body = app
        .gql(
            Some(&t.token),
            operation("RegenerateRecoveryCodes"),
            json!({}),
        )
        .await;
    let fresh: Vec<String> =
        serde_json::from_value(body["data"]["regenerateRecoveryCodes"]["recoveryCodes"].clone())
            .unwrap();
    assert_eq!(fresh.len(), 10);
    let body = complete(&app, &ch, json!({ "recoveryCode": codes[1] })).await;
    assert_eq!(
        reason(&body),
        "mfa_code_invalid",
        "the old set is gone: {body}"
    );
    let body = complete(&app, &ch, json!({ "recoveryCode": fresh[0] })).await;
    assert!(
        body["data"]["completeMfaLogin"]["accessToken"].is_string(),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_policy_holds_admins_and_owners_to_enrol_but_not_members() {
    let app = spawn_app().await;
    let t = app.signup("acme").await;
    let (member_id, _) = app.add_user(&t, "mia@acme.example.com", &["member"]).await;
    let body = app
        .gql(
            Some(&t.token),
            operation("SetMfaPolicy"),
            json!({ "p": "ADMINS_AND_OWNERS" }),
        )
        .await;
    assert_eq!(body["data"]["setMfaPolicy"], "ADMINS_AND_OWNERS", "{body}");

    let member = login_mfa(&app, &t.domain, "mia@acme.example.com").await;
    assert_eq!(member["mfaRequired"], false, "{member}");
    assert!(member["accessToken"].is_string());

    let owner = login_mfa(&app, &t.domain, &t.owner_email).await;
    assert_eq!(owner["mfaChallenge"]["enrolmentRequired"], true, "{owner}");
    let ch = owner["mfaChallenge"]["challenge"]
        .as_str()
        .unwrap()
        .to_owned();
    let begun = app
        .gql(
            None,
            operation("BeginTotpEnrolment"),
            json!({ "challenge": ch }),
        )
        .await;
    let secret = begun["data"]["beginTotpEnrolment"]["secret"]
        .as_str()
        .unwrap_or_else(|| panic!("{begun}"))
        .to_owned();
    let s = safe_step().await;
    let body = complete(&app, &ch, json!({ "code": code(&secret, s) })).await;
    let done = &body["data"]["completeMfaLogin"];
    assert_eq!(
        done["recoveryCodes"].as_array().map(Vec::len),
        Some(10),
        "{body}"
    );
    let owner_token = done["accessToken"].as_str().unwrap().to_owned();

    let status = app
        .gql(Some(&owner_token), operation("MfaStatus"), json!({}))
        .await;
    assert_eq!(status["data"]["me"]["mfaEnrolled"], true, "{status}");
    let factor = status["data"]["me"]["mfaFactors"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let body = app
        .gql(
            Some(&owner_token),
            operation("RemoveMfaFactor"),
            json!({ "id": factor }),
        )
        .await;
    assert_eq!(
        (error_code(&body), reason(&body)),
        ("FORBIDDEN", "mfa_required_by_policy")
    );

    // Everyone: the member must enrol now; an admin can reset a user's factors.
    app.gql(
        Some(&owner_token),
        operation("SetMfaPolicy"),
        json!({ "p": "EVERYONE" }),
    )
    .await;
    let member = login_mfa(&app, &t.domain, "mia@acme.example.com").await;
    assert_eq!(
        member["mfaChallenge"]["enrolmentRequired"], true,
        "{member}"
    );
    let body = app
        .gql(
            Some(&owner_token),
            operation("ResetUserMfa"),
            json!({ "id": member_id }),
        )
        .await;
    assert_eq!(body["data"]["resetUserMfa"], true, "{body}");
    let n = common::count(
        &app,
        "SELECT count(*) FROM audit_log WHERE action = 'mfa.reset'",
    )
    .await;
    assert_eq!(n, 1);
    let n = common::count(
        &app,
        "SELECT count(*) FROM audit_log WHERE action = 'mfa.policy_set'",
    )
    .await;
    assert_eq!(n, 2);
}
