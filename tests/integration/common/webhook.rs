//! A webhook receiver on 127.0.0.1 for the tests of outgoing HTTP (alerts, billing events): it
//! keeps every request it gets and answers with a status chosen per request.

use std::{
    future::Future,
    sync::{Arc, Mutex},
    time::Duration,
};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, http::StatusCode, web};

/// One request the receiver got.
#[derive(Clone, Debug)]
pub struct Received {
    /// `X-Hub-Timestamp`, empty when absent.
    pub timestamp: String,
    /// `X-Hub-Signature`, empty when absent.
    pub signature: String,
    pub body: Vec<u8>,
}

/// A running receiver; it stops with the test's runtime.
pub struct Receiver {
    /// Where to send (path `/hooks`; any path is accepted).
    pub url: String,
    received: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    /// Answers with `statuses` in turn, then 200.
    pub async fn start(statuses: Vec<u16>) -> Receiver {
        let statuses = Arc::new(Mutex::new(statuses));
        Self::responding(move |_| {
            let status = {
                let mut s = statuses.lock().unwrap();
                if s.is_empty() { 200 } else { s.remove(0) }
            };
            async move { status }
        })
        .await
    }

    /// Answers each request with the status `respond` returns; `respond` gets the request's
    /// number (0 for the first) and runs while the hub waits for the answer, so it can look at
    /// what the hub is doing meanwhile.
    pub async fn responding<F, Fut>(respond: F) -> Receiver
    where
        F: Fn(usize) -> Fut + Clone + Send + Sync + 'static,
        Fut: Future<Output = u16> + 'static,
    {
        let received: Arc<Mutex<Vec<Received>>> = Arc::default();
        let r = received.clone();
        let server = HttpServer::new(move || {
            let (r, respond) = (r.clone(), respond.clone());
            App::new().default_service(web::to(move |req: HttpRequest, body: web::Bytes| {
                let (r, respond) = (r.clone(), respond.clone());
                async move {
                    let header = |n: &str| {
                        req.headers()
                            .get(n)
                            .map(|v| v.to_str().unwrap().to_owned())
                            .unwrap_or_default()
                    };
                    let n = {
                        let mut r = r.lock().unwrap();
                        r.push(Received {
                            timestamp: header("x-hub-timestamp"),
                            signature: header("x-hub-signature"),
                            body: body.to_vec(),
                        });
                        r.len() - 1
                    };
                    let status = respond(n).await;
                    HttpResponse::build(StatusCode::from_u16(status).unwrap()).finish()
                }
            }))
        })
        .workers(1)
        .bind("127.0.0.1:0")
        .unwrap();
        let port = server.addrs()[0].port();
        tokio::spawn(server.run());
        Receiver {
            url: format!("http://127.0.0.1:{port}/hooks"),
            received,
        }
    }

    /// What it got so far, in order.
    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// Waits (bounded, 10 s) until it has got `n` requests; panics otherwise.
    pub async fn wait_for(&self, n: usize) {
        for _ in 0..200 {
            if self.received.lock().unwrap().len() >= n {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "the webhook got {} of {n} requests",
            self.received.lock().unwrap().len()
        );
    }
}
