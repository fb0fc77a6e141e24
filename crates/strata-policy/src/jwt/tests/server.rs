//! A minimal JWKS server on a local port that counts its requests.

use super::*;

#[derive(Clone)]
pub(super) struct Reply {
    pub(super) status: u16,
    pub(super) body: String,
    pub(super) cache_control: Option<String>,
}

/// Answers every request with the current [`Reply`] and counts the requests.
pub(super) struct JwksServer {
    pub(super) url: String,
    pub(super) hits: Arc<AtomicUsize>,
    pub(super) reply: Arc<Mutex<Reply>>,
    task: tokio::task::JoinHandle<()>,
}

impl JwksServer {
    pub(super) async fn start(keys: &[Value]) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!(
            "http://{}/.well-known/jwks.json",
            listener.local_addr().unwrap()
        );
        let hits = Arc::new(AtomicUsize::new(0));
        let reply = Arc::new(Mutex::new(Reply {
            status: 200,
            body: set(keys),
            cache_control: None,
        }));
        let task = tokio::spawn({
            let hits = Arc::clone(&hits);
            let reply = Arc::clone(&reply);
            async move {
                while let Ok((mut socket, _)) = listener.accept().await {
                    let hits = Arc::clone(&hits);
                    let reply = reply.lock().unwrap().clone();
                    tokio::spawn(async move {
                        let mut request = Vec::new();
                        let mut buf = [0u8; 1024];
                        while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                            match socket.read(&mut buf).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => request.extend_from_slice(&buf[..n]),
                            }
                        }
                        hits.fetch_add(1, Ordering::SeqCst);
                        let cache_control = reply
                            .cache_control
                            .map(|v| format!("Cache-Control: {v}\r\n"))
                            .unwrap_or_default();
                        let response = format!(
                            "HTTP/1.1 {} X\r\nContent-Type: application/json\r\n\
                             Content-Length: {}\r\nConnection: close\r\n{cache_control}\r\n{}",
                            reply.status,
                            reply.body.len(),
                            reply.body
                        );
                        let _ = socket.write_all(response.as_bytes()).await;
                        let _ = socket.shutdown().await;
                    });
                }
            }
        });
        Self {
            url,
            hits,
            reply,
            task,
        }
    }

    pub(super) fn serve(&self, keys: &[Value]) {
        let mut reply = self.reply.lock().unwrap();
        reply.status = 200;
        reply.body = set(keys);
    }

    pub(super) fn fail(&self, status: u16) {
        let mut reply = self.reply.lock().unwrap();
        reply.status = status;
        reply.body = "{\"error\": \"down\"}".into();
    }

    pub(super) fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    /// Waits (up to 5 s) for the request count to reach `n`.
    pub(super) async fn wait_for_hits(&self, n: usize) {
        for _ in 0..500 {
            if self.hits() >= n {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("expected {n} JWKS requests, saw {}", self.hits());
    }
}

impl Drop for JwksServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub(super) fn url_validator(server: &JwksServer, timings: Timings) -> JwtValidator {
    let config = Jwt {
        jwks_url: Some(server.url.clone()),
        ..config()
    };
    JwtValidator::with_timings(&config, http(), timings).unwrap()
}

/// Timings short enough for tests to wait out.
pub(super) fn quick_timings() -> Timings {
    Timings {
        unknown_key_interval: Duration::from_millis(300),
        retry_without_keys: Duration::from_millis(200),
        retry_stale: Duration::from_millis(200),
        default_max_age: Duration::from_millis(200),
        min_max_age: Duration::from_millis(200),
        max_max_age: Duration::from_secs(3600),
        fetch_timeout: Duration::from_secs(5),
    }
}
