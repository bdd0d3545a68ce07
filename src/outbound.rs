//! Outbound HTTP to addresses that tenants or operators choose (alert webhooks, the billing
//! webhook), guarded against server-side request forgery.
//!
//! * Only `https` (plain `http` too where `HUB_WEBHOOK_ALLOW_PRIVATE` allows private targets).
//! * Every address is classified in its canonical form (`::ffff:127.0.0.1` is 127.0.0.1) against
//!   a complete list of the ranges that are not the public internet ([`is_public`]); NAT64
//!   (`64:ff9b::/96`) and 6to4 (`2002::/16`) addresses are judged by the IPv4 address they carry.
//! * The host is resolved once, by the HTTP client's own resolver ([`GuardedResolver`]), which
//!   refuses the name when any of its addresses is not public and hands the client exactly the
//!   addresses it checked: no second lookup that DNS rebinding could answer differently. An IP
//!   literal never reaches a resolver, so [`check_static`] judges it before the request.
//! * No proxy from the environment (a proxy would resolve the name itself), no redirects.

use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    sync::{Arc, LazyLock},
    time::Duration,
};

use ipnet::{Ipv4Net, Ipv6Net};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Why a target URL is refused; the message is fit for the tenant who entered the URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("the URL must use https")]
    Scheme,
    #[error("the URL must name a host")]
    NoHost,
    #[error("the URL must point to a public internet address (not {0})")]
    NotPublic(IpAddr),
    #[error("the URL's host cannot be resolved")]
    Unresolvable,
}

/// IPv4 ranges that are not the public internet (IANA special-purpose registry, RFC 6890 and
/// successors), besides what `Ipv4Addr`'s stable methods cover.
static DENIED_V4: LazyLock<Vec<Ipv4Net>> = LazyLock::new(|| {
    [
        "0.0.0.0/8",       // "this network"
        "10.0.0.0/8",      // private
        "100.64.0.0/10",   // carrier-grade NAT (shared address space)
        "127.0.0.0/8",     // loopback
        "169.254.0.0/16",  // link-local (cloud metadata services live here)
        "172.16.0.0/12",   // private
        "192.0.0.0/24",    // IETF protocol assignments
        "192.0.2.0/24",    // documentation (TEST-NET-1)
        "192.88.99.0/24",  // 6to4 relay anycast (deprecated)
        "192.168.0.0/16",  // private
        "198.18.0.0/15",   // benchmarking
        "198.51.100.0/24", // documentation (TEST-NET-2)
        "203.0.113.0/24",  // documentation (TEST-NET-3)
        "224.0.0.0/4",     // multicast
        "240.0.0.0/4",     // reserved, and 255.255.255.255 broadcast
    ]
    .iter()
    .map(|n| n.parse().expect("a valid IPv4 network"))
    .collect()
});

/// IPv6 ranges inside global unicast (2000::/3) that are not the public internet.
static DENIED_V6_GLOBAL: LazyLock<Vec<Ipv6Net>> = LazyLock::new(|| {
    [
        "2001::/23",     // IETF protocol assignments (Teredo 2001::/32 among them)
        "2001:db8::/32", // documentation
        "3fff::/20",     // documentation (RFC 9637)
    ]
    .iter()
    .map(|n| n.parse().expect("a valid IPv6 network"))
    .collect()
});

static GLOBAL_UNICAST_V6: LazyLock<Ipv6Net> =
    LazyLock::new(|| "2000::/3".parse().expect("a valid IPv6 network"));
static NAT64_V6: LazyLock<Ipv6Net> =
    LazyLock::new(|| "64:ff9b::/96".parse().expect("a valid IPv6 network"));
static SIX_TO_FOUR_V6: LazyLock<Ipv6Net> =
    LazyLock::new(|| "2002::/16".parse().expect("a valid IPv6 network"));

/// Whether `ip` is an address of the public internet. IPv6 is allowed only in global unicast
/// (2000::/3) outside its special ranges; mapped, NAT64 and 6to4 addresses are judged by their
/// IPv4 address.
pub fn is_public(ip: IpAddr) -> bool {
    match ip.to_canonical() {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_documentation()
        || DENIED_V4.iter().any(|n| n.contains(&ip)))
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    if NAT64_V6.contains(&ip) {
        let [.., a, b, c, d] = ip.octets();
        return is_public_v4(Ipv4Addr::new(a, b, c, d));
    }
    if SIX_TO_FOUR_V6.contains(&ip) {
        let [_, _, a, b, c, d, ..] = ip.octets();
        return is_public_v4(Ipv4Addr::new(a, b, c, d));
    }
    // Everything outside 2000::/3 (::, ::1, IPv4-compatible ::/96, 100::/64 discard, ULA
    // fc00::/7, link-local fe80::/10, site-local fec0::/10, multicast ff00::/8, ...) is not
    // routed on the internet.
    GLOBAL_UNICAST_V6.contains(&ip) && !DENIED_V6_GLOBAL.iter().any(|n| n.contains(&ip))
}

/// What can be judged without a lookup: the scheme, and the host when it is an IP literal.
pub fn check_static(url: &url::Url, allow_private: bool) -> Result<(), Refusal> {
    match url.scheme() {
        "https" => {}
        "http" if allow_private => {}
        _ => return Err(Refusal::Scheme),
    }
    let literal = match url.host() {
        None => return Err(Refusal::NoHost),
        Some(url::Host::Domain("")) => return Err(Refusal::NoHost),
        Some(url::Host::Domain(_)) => None,
        Some(url::Host::Ipv4(v4)) => Some(IpAddr::V4(v4)),
        Some(url::Host::Ipv6(v6)) => Some(IpAddr::V6(v6)),
    };
    match literal {
        Some(ip) if !allow_private && !is_public(ip) => Err(Refusal::NotPublic(ip.to_canonical())),
        _ => Ok(()),
    }
}

/// The full check of a URL being saved: [`check_static`], then the host's addresses (resolved
/// now; delivery resolves again through [`GuardedResolver`], which checks again).
pub async fn check(url: &url::Url, allow_private: bool) -> Result<(), Refusal> {
    check_static(url, allow_private)?;
    if allow_private {
        return Ok(());
    }
    if let Some(url::Host::Domain(host)) = url.host() {
        resolve_public(host).await?;
    }
    Ok(())
}

/// The addresses of `host`, when every one of them is public.
async fn resolve_public(host: &str) -> Result<Vec<SocketAddr>, Refusal> {
    let lookup =
        tokio::time::timeout(Duration::from_secs(5), tokio::net::lookup_host((host, 0))).await;
    let addrs: Vec<SocketAddr> = match lookup {
        Ok(Ok(addrs)) => addrs.collect(),
        _ => return Err(Refusal::Unresolvable),
    };
    if addrs.is_empty() {
        return Err(Refusal::Unresolvable);
    }
    if let Some(bad) = addrs.iter().map(|a| a.ip()).find(|ip| !is_public(*ip)) {
        return Err(Refusal::NotPublic(bad.to_canonical()));
    }
    Ok(addrs)
}

/// The HTTP client's resolver: resolves once and hands over only checked addresses (all of
/// them public, unless private targets are allowed).
#[derive(Debug, Clone, Copy)]
pub struct GuardedResolver {
    pub allow_private: bool,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let host = name.as_str();
            let addrs = if allow_private {
                tokio::net::lookup_host((host, 0)).await?.collect()
            } else {
                resolve_public(host)
                    .await
                    .map_err(|e| Box::new(e) as Box<dyn std::error::Error + Send + Sync>)?
            };
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

/// The client for outbound webhooks: the guarded resolver, no proxy, no redirects, 10 s.
pub fn client(allow_private: bool) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .dns_resolver(Arc::new(GuardedResolver { allow_private }))
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn public(s: &str) -> bool {
        is_public(s.parse().unwrap())
    }

    #[test]
    fn public_addresses_pass() {
        for ip in [
            "93.184.215.14",
            "1.1.1.1",
            "8.8.8.8",
            "100.63.255.255",
            "100.128.0.0",
            "198.17.255.255",
            "198.20.0.0",
            "223.255.255.255",
            "2606:4700:4700::1111",
            "2a00:1450:4001:80b::200e",
            "::ffff:93.184.215.14",
            "64:ff9b::5db8:d70e", // NAT64 of 93.184.215.14
            "2002:5db8:d70e::1",  // 6to4 of 93.184.215.14
        ] {
            assert!(public(ip), "{ip} is public");
        }
    }

    /// One or more addresses of every denied range, at its edges where it has neighbours.
    #[test]
    fn every_denied_range_is_refused() {
        for ip in [
            // IPv4
            "0.0.0.0",
            "0.255.255.255",
            "10.0.0.1",
            "10.255.255.255",
            "100.64.0.0",
            "100.127.255.255",
            "127.0.0.1",
            "127.255.255.254",
            "169.254.169.254",
            "172.16.0.1",
            "172.31.255.255",
            "192.0.0.8",
            "192.0.2.1",
            "192.88.99.1",
            "192.168.1.1",
            "198.18.0.0",
            "198.19.255.255",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.254",
            "255.255.255.255",
            // IPv6
            "::",
            "::1",
            "::127.0.0.1",
            "100::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "febf::1",
            "fec0::1",
            "ff02::1",
            "ff0e::1",
            "2001::1",
            "2001:db8::1",
            "3fff::1",
            // IPv4-mapped, NAT64 and 6to4 carrying denied IPv4 addresses
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::7f00:1",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b::a00:1",
            "2002:7f00:1::1",
            "2002:a9fe:a9fe::1",
            "2002:c0a8:101::1",
        ] {
            assert!(!public(ip), "{ip} must be refused");
        }
    }

    #[test]
    fn urls_are_judged_by_scheme_and_literal_host() {
        let check = |u: &str, allow| check_static(&url::Url::parse(u).unwrap(), allow);
        assert_eq!(
            check("http://127.0.0.1:9/hook", false),
            Err(Refusal::Scheme)
        );
        assert_eq!(check("ftp://example.com/", false), Err(Refusal::Scheme));
        assert!(matches!(
            check("https://127.0.0.1/hook", false),
            Err(Refusal::NotPublic(_))
        ));
        assert_eq!(
            check("https://[::ffff:127.0.0.1]/hook", false),
            Err(Refusal::NotPublic("127.0.0.1".parse().unwrap())),
            "reported in its canonical form"
        );
        assert!(matches!(
            check("https://[64:ff9b::a9fe:a9fe]/", false),
            Err(Refusal::NotPublic(_))
        ));
        assert_eq!(check("https://93.184.215.14/hook", false), Ok(()));
        assert_eq!(check("https://hooks.example.com/x", false), Ok(()));
        assert_eq!(check("http://127.0.0.1:9/hook", true), Ok(()));
    }

    #[tokio::test]
    async fn a_name_resolving_to_loopback_is_refused_by_the_check_and_the_resolver() {
        let url = url::Url::parse("https://localhost/hook").unwrap();
        assert!(matches!(
            check(&url, false).await,
            Err(Refusal::NotPublic(_))
        ));
        let resolver = GuardedResolver {
            allow_private: false,
        };
        assert!(
            resolver
                .resolve("localhost".parse().unwrap())
                .await
                .is_err()
        );
        let allowed = GuardedResolver {
            allow_private: true,
        };
        let addrs: Vec<_> = allowed
            .resolve("localhost".parse().unwrap())
            .await
            .unwrap()
            .collect();
        assert!(addrs.iter().all(|a| a.ip().is_loopback()) && !addrs.is_empty());
    }

    /// The client connects through the resolver: a request to a name of a loopback server is
    /// refused before any connection, while the same server answers when private targets are
    /// allowed.
    #[tokio::test]
    async fn the_client_connects_only_to_addresses_its_resolver_checked() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = accepted.clone();
        tokio::spawn(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            while let Ok((mut socket, _)) = listener.accept().await {
                counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let mut buf = [0u8; 1024];
                let _ = socket.read(&mut buf).await;
                let _ = socket
                    .write_all(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n")
                    .await;
            }
        });
        let url = format!("http://localhost:{port}/hook");
        let refused = client(false).unwrap().post(&url).send().await;
        assert!(refused.is_err(), "{refused:?}");
        assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 0);
        let allowed = client(true).unwrap().post(&url).send().await.unwrap();
        assert_eq!(allowed.status().as_u16(), 204);
    }
}
