//! A tenant's branding on the hosted pages: its name, logo and colours from its configuration.
//! Colours reach the page only through a stylesheet of CSS custom properties
//! (`GET /branding/<tenant id>.css`), so pages need no inline style and the Content-Security-
//! Policy can forbid it; every value is checked again when it is written out (names of letters,
//! digits and `-`, values `#rgb`/`#rrggbb`; the logo an https URL), so nothing stored in the
//! configuration can reach CSS or HTML unchecked, whatever wrote it.

use std::fmt::Write;

use actix_web::{HttpResponse, http::header, web};
use uuid::Uuid;

use crate::{
    db::{Db, ScopedFutureExt, models::TenantRow},
    domain::Branding,
    web::page::TenantChrome,
};

/// The chrome of a tenant's pages.
pub fn chrome(tenant: &TenantRow) -> TenantChrome {
    let branding = branding_of(tenant);
    TenantChrome {
        name: tenant.name.clone(),
        logo: branding.logo.filter(|logo| safe_logo(logo)),
        stylesheet: format!(
            "/branding/{}.css?v={}",
            tenant.id,
            tenant.updated_at.timestamp()
        ),
    }
}

fn branding_of(tenant: &TenantRow) -> Branding {
    serde_json::from_value(tenant.branding.clone()).unwrap_or_default()
}

fn safe_logo(logo: &str) -> bool {
    let Ok(url) = url::Url::parse(logo) else {
        return false;
    };
    let local = matches!(url.host_str(), Some("localhost" | "127.0.0.1"));
    logo.len() <= 2048 && (url.scheme() == "https" || (url.scheme() == "http" && local))
}

fn safe_name(name: &str) -> bool {
    (1..=32).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

fn safe_colour(value: &str) -> bool {
    let hex = value.strip_prefix('#').unwrap_or("");
    matches!(hex.len(), 3 | 6) && hex.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The tenant's colours as CSS custom properties `--hub-color-<name>`; unsafe entries are
/// left out.
pub fn css(branding: &Branding) -> String {
    let mut css = String::from(":root {\n");
    for (name, value) in &branding.colors {
        let name = name.replace('_', "-");
        if safe_name(&name) && safe_colour(value) {
            let _ = writeln!(css, "  --hub-color-{name}: {value};");
        }
    }
    css.push_str("}\n");
    css
}

/// `GET /branding/<tenant id>.css`: the tenant's colours; an unknown tenant gets an empty
/// stylesheet (the pages' defaults), so the address tells nothing about which tenants exist.
pub async fn stylesheet(db: web::Data<Db>, path: web::Path<String>) -> HttpResponse {
    let id = Uuid::try_parse(path.trim_end_matches(".css")).ok();
    let tenant = match id {
        Some(id) => db
            .tenant_tx(id, |tx| TenantRow::current(tx, id).scope_boxed())
            .await
            .ok(),
        None => None,
    };
    let body = tenant.map(|t| css(&branding_of(&t))).unwrap_or_default();
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_safe_colours_reach_the_stylesheet() {
        let mut branding = Branding::default();
        branding.colors.insert("primary".into(), "#1a2b3c".into());
        branding.colors.insert("accent_2".into(), "#abc".into());
        branding
            .colors
            .insert("x".into(), "red;} body{display:none".into());
        branding.colors.insert("a}b{".into(), "#000".into());
        branding
            .colors
            .insert("bg".into(), "url(https://evil)".into());
        let css = css(&branding);
        assert!(css.contains("--hub-color-primary: #1a2b3c;"), "{css}");
        assert!(css.contains("--hub-color-accent-2: #abc;"), "{css}");
        assert!(!css.contains("display"), "{css}");
        assert!(!css.contains("evil"), "{css}");
        assert!(!css.contains("a}b"), "{css}");
    }

    #[test]
    fn only_https_logos_are_shown() {
        assert!(safe_logo("https://cdn.example.com/logo.svg"));
        assert!(!safe_logo("javascript:alert(1)"));
        assert!(!safe_logo("http://evil.example/logo.png"));
        assert!(!safe_logo("data:image/svg+xml,<svg onload=alert(1)>"));
    }
}
