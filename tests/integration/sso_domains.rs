//! A tenant's verified email domains (issue 17, part 1): the DNS challenge checked against a DNS
//! server this test runs (hickory-server, in process, authoritative for `test.`), states pending,
//! verified and failed, periodic re-verification, one tenant per verified domain, public email
//! domains refused, the audit records.

use crate::common;

use std::{net::SocketAddr, sync::Arc};

use common::{TestApp, error_code, operation, spawn_app_with};
use hickory_server::{
    Server,
    net::runtime::TokioRuntimeProvider,
    proto::rr::{
        LowerName, Name, RData, Record, RecordType, RrKey,
        rdata::{SOA, TXT},
    },
    store::in_memory::InMemoryZoneHandler,
    zone_handler::{AxfrPolicy, Catalog, ZoneHandler, ZoneType},
};
use serde_json::{Value, json};

type Zone = InMemoryZoneHandler<TokioRuntimeProvider>;

/// An authoritative DNS server for `test.` on a loopback UDP port, whose TXT records
/// the test sets and removes while it runs.
pub struct TestDns {
    pub addr: SocketAddr,
    zone: Arc<Zone>,
    serial: std::sync::atomic::AtomicU32,
    _server: Server<Catalog>,
}

impl TestDns {
    pub async fn start() -> TestDns {
        let origin = Name::from_ascii("test.").unwrap();
        let zone = Arc::new(Zone::empty(
            origin.clone(),
            ZoneType::Primary,
            AxfrPolicy::Deny,
        ));
        let soa = SOA::new(
            Name::from_ascii("ns.test.").unwrap(),
            Name::from_ascii("hostmaster.test.").unwrap(),
            1,
            3600,
            600,
            86400,
            0,
        );
        assert!(
            zone.upsert(Record::from_rdata(origin.clone(), 0, RData::SOA(soa)), 1)
                .await
        );
        let mut catalog = Catalog::new();
        catalog.upsert(
            LowerName::new(&origin),
            vec![zone.clone() as Arc<dyn ZoneHandler>],
        );
        let mut server = Server::new(catalog);
        let udp = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = udp.local_addr().unwrap();
        // UDP only: the answers are small, and a TCP listener on the same port number could
        // find it taken by another test.
        server.register_socket(udp);
        TestDns {
            addr,
            zone,
            serial: std::sync::atomic::AtomicU32::new(2),
            _server: server,
        }
    }

    /// Publishes `value` as a TXT record of `name` (added beside the others of that name).
    pub async fn set_txt(&self, name: &str, value: &str) {
        let serial = self
            .serial
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let record = Record::from_rdata(
            Name::from_ascii(format!("{name}.")).unwrap(),
            0,
            RData::TXT(TXT::new(vec![value.to_owned()])),
        );
        assert!(self.zone.upsert(record, serial).await, "TXT record added");
    }

    /// Removes every TXT record of `name`.
    pub async fn remove_txt(&self, name: &str) {
        let key = RrKey::new(
            LowerName::new(&Name::from_ascii(format!("{name}.")).unwrap()),
            RecordType::TXT,
        );
        self.zone.records_mut().await.remove(&key);
    }
}

async fn spawn(dns: &TestDns) -> TestApp {
    let addr = dns.addr;
    spawn_app_with(move |s| {
        s.dns_resolver = Some(addr);
        s.dns_timeout_ms = 2_000;
        s.usage_flush_secs = 3600;
    })
    .await
}

async fn data(app: &TestApp, token: &str, name: &str, vars: Value) -> Value {
    let body = app.gql(Some(token), operation(name), vars).await;
    assert!(body["errors"].is_null(), "{name}: {body}");
    body["data"].clone()
}

async fn add(app: &TestApp, token: &str, domain: &str) -> Value {
    data(app, token, "AddTenantDomain", json!({ "domain": domain })).await["addTenantDomain"]
        ["domain"]
        .clone()
}

async fn verify(app: &TestApp, token: &str, id: &str) -> Value {
    app.gql(
        Some(token),
        operation("VerifyTenantDomain"),
        json!({ "id": id }),
    )
    .await
}

async fn audit_actions(app: &TestApp, tenant: uuid::Uuid) -> Vec<String> {
    app.superuser()
        .await
        .query(
            "SELECT action FROM audit_log WHERE tenant_id = $1 AND action LIKE 'tenant.domain%' ORDER BY at, id",
            &[&tenant],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_domain_is_verified_by_its_dns_challenge_and_audited() {
    let dns = TestDns::start().await;
    let app = spawn(&dns).await;
    let t = app.signup("acme").await;

    let d = add(&app, &t.token, "Acme-Corp.TEST").await;
    assert_eq!(d["domain"], "acme-corp.test");
    assert_eq!(d["state"], "PENDING");
    assert_eq!(d["challengeName"], "_tenant-hub-challenge.acme-corp.test");
    let challenge = d["challenge"].as_str().unwrap().to_owned();
    assert!(challenge.starts_with("tenant-hub-verification="), "{d}");
    let id = d["id"].as_str().unwrap().to_owned();

    // No record yet: failed, with the reason.
    let body = verify(&app, &t.token, &id).await;
    let checked = &body["data"]["verifyTenantDomain"]["domain"];
    assert_eq!(checked["state"], "FAILED", "{body}");
    assert!(
        checked["lastError"]
            .as_str()
            .unwrap()
            .contains("_tenant-hub-challenge.acme-corp.test"),
        "{body}"
    );

    // A record with another value does not verify it.
    dns.set_txt(
        "_tenant-hub-challenge.acme-corp.test",
        "tenant-hub-verification=wrong",
    )
    .await;
    let body = verify(&app, &t.token, &id).await;
    assert_eq!(
        body["data"]["verifyTenantDomain"]["domain"]["state"], "FAILED",
        "{body}"
    );

    // The right value, beside another record: verified.
    dns.set_txt("_tenant-hub-challenge.acme-corp.test", &challenge)
        .await;
    let body = verify(&app, &t.token, &id).await;
    let checked = &body["data"]["verifyTenantDomain"]["domain"];
    assert_eq!(checked["state"], "VERIFIED", "{body}");
    assert!(checked["verifiedAt"].is_string());
    assert!(checked["lastError"].is_null());

    let listed = data(&app, &t.token, "TenantDomains", json!({})).await;
    assert_eq!(listed["tenant"]["domains"][0]["state"], "VERIFIED");

    assert_eq!(
        audit_actions(&app, t.uuid).await,
        [
            "tenant.domain_added",
            "tenant.domain_verification_failed",
            "tenant.domain_verification_failed",
            "tenant.domain_verified",
        ]
    );

    let removed = data(&app, &t.token, "RemoveTenantDomain", json!({ "id": id })).await;
    assert_eq!(
        removed["removeTenantDomain"]["domain"]["domain"],
        "acme-corp.test"
    );
    let listed = data(&app, &t.token, "TenantDomains", json!({})).await;
    assert_eq!(listed["tenant"]["domains"], json!([]));
    assert_eq!(
        audit_actions(&app, t.uuid).await.last().map(String::as_str),
        Some("tenant.domain_removed")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_domain_verified_by_one_tenant_cannot_be_verified_by_another() {
    let dns = TestDns::start().await;
    let app = spawn(&dns).await;
    let a = app.signup("alpha").await;
    let b = app.signup("bravo").await;

    let da = add(&app, &a.token, "shared.test").await;
    // Pending claims by several tenants may coexist: only the DNS decides.
    let db = add(&app, &b.token, "shared.test").await;
    dns.set_txt(
        "_tenant-hub-challenge.shared.test",
        da["challenge"].as_str().unwrap(),
    )
    .await;
    dns.set_txt(
        "_tenant-hub-challenge.shared.test",
        db["challenge"].as_str().unwrap(),
    )
    .await;
    let body = verify(&app, &a.token, da["id"].as_str().unwrap()).await;
    assert_eq!(
        body["data"]["verifyTenantDomain"]["domain"]["state"], "VERIFIED",
        "{body}"
    );

    let body = verify(&app, &b.token, db["id"].as_str().unwrap()).await;
    assert_eq!(error_code(&body), "CONFLICT", "{body}");
    assert_eq!(
        body["errors"][0]["extensions"]["reason"], "domain_verified_elsewhere",
        "{body}"
    );
    // Nothing of B changed, and A's verification stands.
    let b_domains = data(&app, &b.token, "TenantDomains", json!({})).await;
    assert_eq!(b_domains["tenant"]["domains"][0]["state"], "PENDING");
    let a_domains = data(&app, &a.token, "TenantDomains", json!({})).await;
    assert_eq!(a_domains["tenant"]["domains"][0]["state"], "VERIFIED");

    // Once A lets it go, B can verify it.
    data(
        &app,
        &a.token,
        "RemoveTenantDomain",
        json!({ "id": da["id"] }),
    )
    .await;
    let body = verify(&app, &b.token, db["id"].as_str().unwrap()).await;
    assert_eq!(
        body["data"]["verifyTenantDomain"]["domain"]["state"], "VERIFIED",
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn public_email_domains_and_malformed_names_are_refused() {
    let dns = TestDns::start().await;
    let app = spawn(&dns).await;
    let t = app.signup("acme").await;
    for public in ["gmail.com", "Outlook.com", "mail.yahoo.com"] {
        let body = app
            .gql(
                Some(&t.token),
                operation("AddTenantDomain"),
                json!({ "domain": public }),
            )
            .await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{public}: {body}");
        assert_eq!(body["errors"][0]["extensions"]["reason"], "domain_public");
    }
    for bad in ["localhost", "not a domain", "-x.test"] {
        let body = app
            .gql(
                Some(&t.token),
                operation("AddTenantDomain"),
                json!({ "domain": bad }),
            )
            .await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{bad}: {body}");
    }
    add(&app, &t.token, "acme-twice.test").await;
    let body = app
        .gql(
            Some(&t.token),
            operation("AddTenantDomain"),
            json!({ "domain": "acme-twice.test" }),
        )
        .await;
    assert_eq!(error_code(&body), "CONFLICT", "{body}");
    let listed = data(&app, &t.token, "TenantDomains", json!({})).await;
    assert_eq!(listed["tenant"]["domains"].as_array().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_verified_domain_whose_record_is_gone_fails_at_its_periodic_recheck() {
    let dns = TestDns::start().await;
    let addr = dns.addr;
    let app = spawn_app_with(move |s| {
        s.dns_resolver = Some(addr);
        s.dns_timeout_ms = 2_000;
        s.usage_flush_secs = 1;
        s.domain_recheck_secs = 1;
    })
    .await;
    let t = app.signup("acme").await;
    let d = add(&app, &t.token, "recheck.test").await;
    dns.set_txt(
        "_tenant-hub-challenge.recheck.test",
        d["challenge"].as_str().unwrap(),
    )
    .await;
    let body = verify(&app, &t.token, d["id"].as_str().unwrap()).await;
    assert_eq!(
        body["data"]["verifyTenantDomain"]["domain"]["state"], "VERIFIED",
        "{body}"
    );

    dns.remove_txt("_tenant-hub-challenge.recheck.test").await;
    let mut failed = false;
    for _ in 0..100 {
        let listed = data(&app, &t.token, "TenantDomains", json!({})).await;
        if listed["tenant"]["domains"][0]["state"] == "FAILED" {
            failed = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(failed, "the housekeeping loop re-verified the domain");
    let su = app.superuser().await;
    let row = su
        .query_one(
            "SELECT actor_type, details->>'periodic' FROM audit_log
             WHERE tenant_id = $1 AND action = 'tenant.domain_verification_failed'",
            &[&t.uuid],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "system");
    assert_eq!(row.get::<_, String>(1), "true");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn domains_need_tenant_manage() {
    let dns = TestDns::start().await;
    let app = spawn(&dns).await;
    let t = app.signup("acme").await;
    let (_, viewer) = app.add_user(&t, "vera@acme.example.com", &["viewer"]).await;
    let body = app
        .gql(
            Some(&viewer),
            operation("AddTenantDomain"),
            json!({ "domain": "acme-viewer.test" }),
        )
        .await;
    assert_eq!(error_code(&body), "FORBIDDEN", "{body}");
}
