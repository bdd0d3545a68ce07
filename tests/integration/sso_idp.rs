//! A real OpenID Provider for the SSO tests: tests/idp/provider.mjs (npm `oidc-provider`),
//! started as a child process with its own keys, clients and users, stopped when dropped.

use std::{
    io::{BufRead, BufReader},
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::Duration,
};

use serde_json::Value;

pub struct TestIdp {
    /// The issuer, `http://127.0.0.1:<port>`.
    pub issuer: String,
    child: Child,
}

impl TestIdp {
    /// Starts the provider with `config` (see tests/idp/provider.mjs).
    pub async fn start(config: Value) -> TestIdp {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let mut child = Command::new("node")
            .arg(root.join("tests/idp/provider.mjs"))
            .arg(config.to_string())
            .env(
                "NODE_PATH",
                std::env::var("NODE_PATH").unwrap_or_else(|_| {
                    root.join("tests/tools/node_modules").display().to_string()
                }),
            )
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("node runs tests/idp/provider.mjs (bash scripts/test.sh --setup-only)");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel();
        // Reads the READY line, then keeps draining the output so the provider never blocks.
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(issuer) = line.strip_prefix("READY ")
                    && let Some(tx) = tx.take()
                {
                    let _ = tx.send(issuer.to_owned());
                }
            }
        });
        let issuer = tokio::time::timeout(Duration::from_secs(60), rx)
            .await
            .expect("the OpenID provider starts within 60 s")
            .expect("the OpenID provider is ready (is oidc-provider installed?)");
        TestIdp { issuer, child }
    }

    /// Changes how the provider behaves from now on (see tests/idp/provider.mjs: `tamper`,
    /// `signWith`, `rotate`, `slowMs`).
    pub async fn control(&self, control: Value) {
        let res = reqwest::Client::builder()
            .no_proxy()
            .build()
            .unwrap()
            .post(format!("{}/__test/control", self.issuer))
            .json(&control)
            .send()
            .await
            .expect("the test provider takes controls");
        assert_eq!(res.status().as_u16(), 204);
    }

    /// Stops the provider now (a provider that is down).
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for TestIdp {
    fn drop(&mut self) {
        self.stop();
    }
}
