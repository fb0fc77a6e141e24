//! One HTTP/1.1 connection: hyper's request handle and the connection future that does its
//! I/O, which the task using the connection polls itself.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::Error;

type Driver = http1::Connection<TokioIo<TcpStream>, Full<Bytes>>;

/// A connection and whether its I/O future has finished (it must not be polled again then).
pub(crate) struct Conn {
    sender: http1::SendRequest<Full<Bytes>>,
    driver: Option<Driver>,
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conn")
            .field("open", &self.driver.is_some())
            .finish()
    }
}

/// How sending a request on a connection failed.
pub(crate) enum Unsent {
    /// Nothing of the request was written: it may be sent on another connection.
    Retry(Box<http::Request<Full<Bytes>>>),
    /// The request may have been written (or the answer was malformed).
    Failed(Error),
}

impl Conn {
    /// An HTTP/1.1 exchange over `stream`.
    pub(crate) async fn open(stream: TcpStream) -> Result<Self, Error> {
        let _ = stream.set_nodelay(true);
        let (sender, driver) = http1::handshake(TokioIo::new(stream)).await?;
        Ok(Self {
            sender,
            driver: Some(driver),
        })
    }

    /// Polls the connection's I/O. `false` once it has ended (closed by either side or
    /// failed): the connection is then of no further use.
    pub(crate) fn drive(&mut self, cx: &mut Context<'_>) -> bool {
        Self::drive_parts(&mut self.driver, cx)
    }

    /// Whether the connection can take a request now, found without waiting: an idle
    /// connection the upstream has closed meanwhile reads its end of file here.
    pub(crate) fn is_usable(&mut self) -> bool {
        let mut cx = Context::from_waker(Waker::noop());
        self.drive(&mut cx) && !self.sender.is_closed()
    }

    /// Sends `request` and waits for the head of the answer, driving the connection.
    pub(crate) async fn send(
        &mut self,
        request: http::Request<Full<Bytes>>,
    ) -> Result<http::Response<Incoming>, Unsent> {
        let ready = std::future::poll_fn(|cx| {
            let alive = self.drive(cx);
            match self.sender.poll_ready(cx) {
                Poll::Ready(ready) => Poll::Ready(ready.is_ok()),
                Poll::Pending if alive => Poll::Pending,
                Poll::Pending => Poll::Ready(false),
            }
        })
        .await;
        if !ready {
            return Err(Unsent::Retry(Box::new(request)));
        }
        let mut answer = std::pin::pin!(self.sender.try_send_request(request));
        let outcome = std::future::poll_fn(|cx| {
            // Driven first: an ended connection has failed the request by the time it is
            // polled below.
            let alive = Self::drive_parts(&mut self.driver, cx);
            match answer.as_mut().poll(cx) {
                Poll::Ready(outcome) => Poll::Ready(Some(outcome)),
                Poll::Pending if alive => Poll::Pending,
                Poll::Pending => Poll::Ready(None),
            }
        })
        .await;
        match outcome {
            Some(Ok(answer)) => Ok(answer),
            Some(Err(mut failed)) => match failed.take_message() {
                Some(request) => Err(Unsent::Retry(Box::new(request))),
                None => Err(Unsent::Failed(failed.into_error().into())),
            },
            None => Err(Unsent::Failed(Error::Closed)),
        }
    }

    /// [`Conn::drive`] on the driver alone (while the sender is borrowed elsewhere).
    fn drive_parts(driver: &mut Option<Driver>, cx: &mut Context<'_>) -> bool {
        let Some(running) = driver.as_mut() else {
            return false;
        };
        match Pin::new(running).poll(cx) {
            Poll::Pending => true,
            Poll::Ready(ended) => {
                if let Err(error) = ended {
                    tracing::debug!(%error, "upstream connection ended");
                }
                *driver = None;
                false
            }
        }
    }
}
