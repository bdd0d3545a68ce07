//! A real SMTP server for the mail tests: aiosmtpd (PyPI, installed by scripts/test.sh) run by
//! tests/tools/smtp_sink.py, which stores each accepted message as a JSON file; and a test
//! server that delivers its outbox to it (the housekeeping loop every second).

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::Duration,
};

use serde_json::Value;

use super::{TestApp, spawn_app_with};

/// The aiosmtpd server of one test, on its own port and directory.
pub struct SmtpSink {
    pub port: u16,
    pub dir: PathBuf,
    child: Option<Child>,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn python() -> PathBuf {
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tools/venv/bin/python");
    if venv.exists() {
        venv
    } else {
        PathBuf::from("python3")
    }
}

impl SmtpSink {
    /// A port and a directory, no server yet.
    pub fn new() -> SmtpSink {
        let dir = std::env::temp_dir().join(format!("hub-mail-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        SmtpSink {
            port: free_port(),
            dir,
            child: None,
        }
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Starts aiosmtpd and waits until it accepts connections.
    pub async fn start(&mut self) {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tools/smtp_sink.py");
        let child = Command::new(python())
            .arg(script)
            .arg(self.port.to_string())
            .arg(&self.dir)
            .stdout(Stdio::null())
            .spawn()
            .expect("python with aiosmtpd (bash scripts/test.sh --setup-only installs it)");
        self.child = Some(child);
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .is_ok()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("aiosmtpd did not start on port {}", self.port);
    }

    /// Every message received so far, oldest first.
    pub fn messages(&self) -> Vec<Value> {
        let mut names: Vec<PathBuf> = std::fs::read_dir(&self.dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        names.sort();
        names
            .iter()
            .map(|p| serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap())
            .collect()
    }

    /// Waits (bounded, 20 s) until `count` messages have arrived.
    pub async fn wait_for(&self, count: usize) -> Vec<Value> {
        for _ in 0..200 {
            let got = self.messages();
            if got.len() >= count {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "expected {count} message(s), got {}: {:?}",
            self.messages().len(),
            self.messages()
        );
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub async fn app_with_smtp(
    url: String,
    configure: impl FnOnce(&mut tenant_hub::Settings),
) -> TestApp {
    spawn_app_with(move |s| {
        s.smtp_url = Some(url);
        s.mail_from = "Acme Hub <hub@mail.example.com>".to_owned();
        s.usage_flush_secs = 1;
        s.mail_retry_secs = 1;
        configure(s);
    })
    .await
}

/// The token of the link to `page` in a text.
pub fn token_of(text: &str, page: &str) -> String {
    let start = text
        .find(&format!("{page}?token="))
        .unwrap_or_else(|| panic!("no {page} link in {text}"));
    let rest = &text[start + page.len() + "?token=".len()..];
    let end = rest
        .find(|c: char| c.is_whitespace() || c == '"' || c == '<')
        .unwrap_or(rest.len());
    percent_decode(&rest[..end])
}

fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("t={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap()
}

/// Messages sent to `to` (case as given).
pub fn to<'a>(messages: &'a [Value], to: &str) -> Vec<&'a Value> {
    messages
        .iter()
        .filter(|m| m["rcpt_tos"].as_array().unwrap().iter().any(|r| r == to))
        .collect()
}

/// The whole link to `page` in a text (`<public_url><page>?token=…`), as a person would click it.
pub fn link_of(text: &str, page: &str) -> String {
    let at = text
        .find(&format!("{page}?token="))
        .unwrap_or_else(|| panic!("no {page} link in {text}"));
    let start = text[..at]
        .rfind(|c: char| c.is_whitespace() || c == '"' || c == '>')
        .map_or(0, |i| i + 1);
    let end = text[at..]
        .find(|c: char| c.is_whitespace() || c == '"' || c == '<')
        .map_or(text.len(), |i| at + i);
    text[start..end].to_owned()
}
