//! A browser without a browser, for tests of the hosted pages over plain HTTP: keeps the
//! cookies the hub sets (whatever their Secure flag: the test talks to 127.0.0.1), follows no
//! redirect on its own (tests look at each `Location`), and reads the hidden fields of forms.
//! Real-browser tests use [`super::browser`] instead.

use std::{collections::BTreeMap, sync::Mutex};

use reqwest::{StatusCode, header::HeaderMap, redirect::Policy};

/// A page as the hub answered it.
#[derive(Debug)]
pub struct Page {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub html: String,
}

impl Page {
    /// The `Location` header of a redirect.
    pub fn location(&self) -> Option<&str> {
        self.headers.get("location").and_then(|v| v.to_str().ok())
    }

    /// The `value` of the first `<input name="{name}" …>` of the page.
    pub fn field(&self, name: &str) -> Option<String> {
        let marker = format!("name=\"{name}\"");
        let at = self.html.find(&marker)?;
        let start = self.html[..at].rfind("<input")?;
        let end = at + self.html[at..].find('>')?;
        let tag = &self.html[start..end];
        let value = tag.split("value=\"").nth(1)?;
        Some(unescape(&value[..value.find('"')?]))
    }

    /// The CSRF token of the page's forms.
    pub fn csrf(&self) -> String {
        self.field("csrf")
            .unwrap_or_else(|| panic!("no csrf field in the page: {}", self.html))
    }

    /// The `Set-Cookie` headers of the answer.
    pub fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_owned))
            .collect()
    }

    /// The `Set-Cookie` header of the cookie `name`.
    pub fn set_cookie(&self, name: &str) -> Option<String> {
        self.set_cookies()
            .into_iter()
            .find(|c| c.starts_with(&format!("{name}=")))
    }
}

fn unescape(s: &str) -> String {
    s.replace("&#x2f;", "/")
        .replace("&#47;", "/")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

pub struct PageClient {
    pub base: String,
    http: reqwest::Client,
    cookies: Mutex<BTreeMap<String, String>>,
}

impl PageClient {
    pub fn new(base: &str) -> PageClient {
        PageClient {
            base: base.trim_end_matches('/').to_owned(),
            http: reqwest::Client::builder()
                .redirect(Policy::none())
                .no_proxy()
                .build()
                .unwrap(),
            cookies: Mutex::new(BTreeMap::new()),
        }
    }

    /// The value of a cookie the browser holds.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.cookies.lock().unwrap().get(name).cloned()
    }

    pub fn set_cookie(&self, name: &str, value: &str) {
        self.cookies
            .lock()
            .unwrap()
            .insert(name.to_owned(), value.to_owned());
    }

    pub fn forget_cookies(&self) {
        self.cookies.lock().unwrap().clear();
    }

    fn url(&self, path: &str) -> String {
        if path.starts_with("http") {
            path.to_owned()
        } else {
            format!("{}{path}", self.base)
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .lock()
            .unwrap()
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn finish(&self, res: reqwest::Response) -> Page {
        let status = res.status();
        let headers = res.headers().clone();
        for set in headers.get_all("set-cookie") {
            let set = set.to_str().unwrap_or_default();
            let pair = set.split(';').next().unwrap_or_default();
            if let Some((name, value)) = pair.split_once('=') {
                let removed = set.to_ascii_lowercase().contains("max-age=0");
                let mut jar = self.cookies.lock().unwrap();
                if removed || value.is_empty() {
                    jar.remove(name.trim());
                } else {
                    jar.insert(name.trim().to_owned(), value.to_owned());
                }
            }
        }
        let html = res.text().await.unwrap_or_default();
        Page {
            status,
            headers,
            html,
        }
    }

    pub async fn get(&self, path: &str) -> Page {
        let res = self
            .http
            .get(self.url(path))
            .header("cookie", self.cookie_header())
            .send()
            .await
            .unwrap();
        self.finish(res).await
    }

    /// Posts a form (`application/x-www-form-urlencoded`), as a browser on the hub's own page
    /// would (with the hub as `Origin`).
    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> Page {
        self.post_with(path, form, &[("origin", &self.base)]).await
    }

    pub async fn post_with(
        &self,
        path: &str,
        form: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> Page {
        let mut req = self
            .http
            .post(self.url(path))
            .header("cookie", self.cookie_header())
            .form(form);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        self.finish(req.send().await.unwrap()).await
    }

    /// Signs in on the hosted login page (email, then password) for `return_to`; returns the
    /// answer to the password form (a 303 to `return_to` when it worked).
    pub async fn sign_in(
        &self,
        tenant: &str,
        email: &str,
        password: &str,
        return_to: &str,
    ) -> Page {
        let q = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("return_to", return_to)
            .finish();
        let login = self.get(&format!("/login?{q}")).await;
        assert_eq!(login.status, 200, "{}", login.html);
        let csrf = login.csrf();
        let step = self
            .post(
                "/login/identify",
                &[
                    ("csrf", &csrf),
                    ("return_to", return_to),
                    ("tenant", tenant),
                    ("email", email),
                ],
            )
            .await;
        assert_eq!(step.status, 200, "{}", step.html);
        let tenant_id = step
            .field("tenant")
            .unwrap_or_else(|| panic!("no password step: {}", step.html));
        self.post(
            "/login/password",
            &[
                ("csrf", &step.csrf()),
                ("return_to", return_to),
                ("tenant", &tenant_id),
                ("email", email),
                ("password", password),
            ],
        )
        .await
    }
}
