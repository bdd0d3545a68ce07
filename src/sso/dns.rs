//! DNS checks of domain challenges: the TXT records of `_tenant-hub-challenge.<domain>`,
//! looked up through hickory-resolver at HUB_DNS_RESOLVER (or the system's resolvers), with no
//! cache, so a re-verification sees the record as it is now.

use std::{net::SocketAddr, time::Duration};

use anyhow::Context;
use hickory_resolver::{
    TokioResolver,
    config::{ConnectionConfig, NameServerConfig, ResolverConfig},
    net::runtime::TokioRuntimeProvider,
    proto::rr::RData,
};

/// The label under which a domain's challenge is published.
pub const CHALLENGE_LABEL: &str = "_tenant-hub-challenge";

/// The name whose TXT record must carry the challenge of `domain`.
pub fn challenge_name(domain: &str) -> String {
    format!("{CHALLENGE_LABEL}.{domain}.")
}

/// What a check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckOutcome {
    /// A TXT record carries the challenge.
    Found,
    /// The name answers, without the challenge (or does not exist).
    Missing,
    /// No answer in time, or the server failed: nothing is concluded from it.
    Unreachable(String),
}

/// The resolver of domain challenges.
pub struct DnsChecker {
    resolver: TokioResolver,
}

impl DnsChecker {
    /// A resolver asking `server` (UDP, then TCP), or the system's resolvers when `None`.
    pub fn new(server: Option<SocketAddr>, timeout: Duration) -> anyhow::Result<DnsChecker> {
        let provider = TokioRuntimeProvider::default();
        let mut builder = match server {
            Some(addr) => {
                let mut udp = ConnectionConfig::udp();
                udp.port = addr.port();
                let mut tcp = ConnectionConfig::tcp();
                tcp.port = addr.port();
                let mut config = ResolverConfig::from_parts(None, vec![], vec![]);
                config.add_name_server(NameServerConfig::new(addr.ip(), true, vec![udp, tcp]));
                TokioResolver::builder_with_config(config, provider)
            }
            None => TokioResolver::builder(provider)
                .context("cannot read the system's DNS configuration")?,
        };
        let options = builder.options_mut();
        options.timeout = timeout;
        options.attempts = 1;
        options.cache_size = 0;
        let resolver = builder.build().context("cannot build the DNS resolver")?;
        Ok(DnsChecker { resolver })
    }

    /// Whether a TXT record of `_tenant-hub-challenge.<domain>` is exactly `challenge`.
    pub async fn check(&self, domain: &str, challenge: &str) -> CheckOutcome {
        let name = challenge_name(domain);
        match self.resolver.txt_lookup(name.as_str()).await {
            Ok(lookup) => {
                let found = lookup.answers().iter().any(|record| match &record.data {
                    RData::TXT(txt) => {
                        let value: Vec<u8> = txt
                            .txt_data
                            .iter()
                            .flat_map(|s| s.iter())
                            .copied()
                            .collect();
                        String::from_utf8_lossy(&value).trim() == challenge
                    }
                    _ => false,
                });
                if found {
                    CheckOutcome::Found
                } else {
                    CheckOutcome::Missing
                }
            }
            Err(e) if e.is_no_records_found() || e.is_nx_domain() => CheckOutcome::Missing,
            Err(e) => CheckOutcome::Unreachable(e.to_string()),
        }
    }
}
