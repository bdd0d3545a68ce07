//! Renders an outbox mail into its subject, plain-text part and HTML part: the words from
//! [`locale`](crate::mail::locale), the layout from `templates/mail/message.{txt,html}`, the
//! tenant's name and branding (logo and primary colour, validated when they were set; askama
//! escapes every value in the HTML part).

use askama::Template;

use crate::{
    db::models::mail::MailRow,
    domain::Branding,
    mail::{
        MailData, MailKind,
        locale::{self, Content, Vars},
    },
};

/// A mail ready for SMTP.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

#[derive(Template)]
#[template(path = "mail/message.txt")]
struct TextPart<'a> {
    c: &'a Content,
    tenant_name: &'a str,
    product: Option<&'a str>,
    footer: &'a str,
}

#[derive(Template)]
#[template(path = "mail/message.html")]
struct HtmlPart<'a> {
    c: &'a Content,
    lang: &'a str,
    tenant_name: &'a str,
    product: Option<&'a str>,
    logo: Option<&'a str>,
    color: &'a str,
    footer: &'a str,
}

/// The colour of links and the header line when the tenant has no `primary` colour.
const DEFAULT_COLOR: &str = "#0b57d0";

/// The link of a mail: `<public_url><page>?token=<token>`.
pub fn link(public_url: &str, kind: MailKind, token: Option<&str>) -> Option<String> {
    let (path, token) = (kind.link_path()?, token?);
    let token: String = url::form_urlencoded::byte_serialize(token.as_bytes()).collect();
    Some(format!("{public_url}{path}?token={token}"))
}

/// Renders `mail` of a tenant called `tenant_name` with `branding`; links start with
/// `public_url`.
pub fn render(
    mail: &MailRow,
    tenant_name: &str,
    branding: &Branding,
    public_url: &str,
) -> Result<Rendered, String> {
    let kind =
        MailKind::parse(&mail.kind).ok_or_else(|| format!("unknown mail kind {:?}", mail.kind))?;
    let data: MailData = serde_json::from_value(mail.data.clone()).unwrap_or_default();
    let content = locale::content(
        &mail.locale,
        kind,
        &Vars {
            tenant: tenant_name,
            recipient: &mail.recipient,
            data: &data,
            link: link(public_url, kind, mail.link_secret.as_deref()),
        },
    );
    // Validated as #rgb/#rrggbb when set (domain::Branding::validate); checked again here,
    // since it goes into a style attribute.
    let color = branding
        .colors
        .get("primary")
        .map(String::as_str)
        .filter(|c| {
            let hex = c.strip_prefix('#').unwrap_or("");
            matches!(hex.len(), 3 | 6) && hex.bytes().all(|b| b.is_ascii_hexdigit())
        })
        .unwrap_or(DEFAULT_COLOR);
    let logo = branding
        .logo
        .as_deref()
        .filter(|l| l.starts_with("https://") || l.starts_with("http://"));
    let text = TextPart {
        c: &content,
        tenant_name,
        product: data.product.as_deref(),
        footer: &content.footer,
    }
    .render()
    .map_err(|e| format!("text part: {e}"))?;
    let html = HtmlPart {
        c: &content,
        lang: content.lang,
        tenant_name,
        product: data.product.as_deref(),
        logo,
        color,
        footer: &content.footer,
    }
    .render()
    .map_err(|e| format!("html part: {e}"))?;
    Ok(Rendered {
        subject: content.subject.clone(),
        text,
        html,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use uuid::Uuid;

    fn mail(kind: &str, token: Option<&str>) -> MailRow {
        MailRow {
            tenant_id: Uuid::nil(),
            id: Uuid::nil(),
            kind: kind.into(),
            user_id: None,
            recipient: "ada@example.com".into(),
            locale: "en".into(),
            data: serde_json::json!({ "name": "Ada <b>", "product": "CRM" }),
            link_secret: token.map(str::to_owned),
            created_at: Utc::now(),
            next_attempt_at: Utc::now(),
            attempts: 0,
            sent_at: None,
            failed_at: None,
            last_error: None,
        }
    }

    #[test]
    fn an_invitation_has_both_parts_with_the_link_and_escapes_names_in_html() {
        let mut branding = Branding::default();
        branding.colors.insert("primary".into(), "#123abc".into());
        let r = render(
            &mail("invitation", Some("tok+/en")),
            "Acme & Co",
            &branding,
            "https://hub.example.com",
        )
        .unwrap();
        assert_eq!(r.subject, "You are invited to Acme & Co");
        let link = "https://hub.example.com/invitation?token=tok%2B%2Fen";
        assert!(r.text.contains(link), "{}", r.text);
        assert!(r.text.contains("Hello Ada <b>,"));
        assert!(r.text.contains("Acme & Co · CRM"));
        assert!(r.html.contains(&format!("href=\"{link}\"")), "{}", r.html);
        assert!(r.html.contains("Ada &#60;b&#62;") || r.html.contains("Ada &lt;b&gt;"));
        assert!(r.html.contains("Acme &#38; Co") || r.html.contains("Acme &amp; Co"));
        assert!(r.html.contains("#123abc"));
    }

    #[test]
    fn a_notice_without_a_link_has_no_action() {
        let r = render(
            &mail("password_changed", None),
            "Acme",
            &Branding::default(),
            "https://hub.example.com",
        )
        .unwrap();
        assert!(!r.text.contains("https://hub.example.com"));
        assert!(r.html.contains(DEFAULT_COLOR));
    }
}
