//! An answer's body: read from hyper while the connection it arrives on is driven, and the
//! connection given back to its pool once the body has ended.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::Frame;
use http_body_util::BodyExt;
use hyper::body::Incoming;

use crate::Error;
use crate::conn::Conn;
use crate::pool::Inner;

/// The body of an answer from a [`crate::Pool`]. Dropping it before its end closes the
/// connection (it cannot carry another request with an unread answer on it).
pub struct Body {
    incoming: Incoming,
    conn: Option<Conn>,
    pool: Arc<Inner>,
    deadline: Option<Pin<Box<tokio::time::Sleep>>>,
    /// Set after the end or an error: nothing more is read.
    done: bool,
}

impl std::fmt::Debug for Body {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Body")
            .field("conn", &self.conn)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl Body {
    pub(crate) fn new(
        incoming: Incoming,
        conn: Conn,
        pool: Arc<Inner>,
        deadline: Option<Pin<Box<tokio::time::Sleep>>>,
    ) -> Self {
        Self {
            incoming,
            conn: Some(conn),
            pool,
            deadline,
            done: false,
        }
    }

    /// The whole body.
    ///
    /// # Errors
    /// When the deadline passes or the connection breaks before the end.
    pub async fn bytes(self) -> Result<Bytes, Error> {
        Ok(self.collect().await?.to_bytes())
    }

    /// The body's data as a stream of chunks, as they arrive.
    pub fn into_chunks(self) -> impl futures_core::Stream<Item = Result<Bytes, Error>> + Send {
        self.into_data_stream()
    }

    /// Ends reading: the connection goes back to the pool if the body was read to its end.
    fn finish(&mut self, complete: bool) {
        self.done = true;
        self.deadline = None;
        if let Some(conn) = self.conn.take()
            && complete
        {
            self.pool.checkin(conn);
        }
    }
}

impl http_body::Body for Body {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        let this = &mut *self;
        if this.done {
            return Poll::Ready(None);
        }
        if let Some(timer) = this.deadline.as_mut()
            && timer.as_mut().poll(cx).is_ready()
        {
            this.finish(false);
            return Poll::Ready(Some(Err(Error::Timeout)));
        }
        if let Some(conn) = this.conn.as_mut()
            && !conn.drive(cx)
        {
            // Ended: what it delivered can still be read, but it carries nothing more.
            this.conn = None;
        }
        match Pin::new(&mut this.incoming).poll_frame(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(None) => {
                this.finish(true);
                Poll::Ready(None)
            }
            Poll::Ready(Some(Ok(frame))) => Poll::Ready(Some(Ok(frame))),
            Poll::Ready(Some(Err(error))) => {
                this.finish(false);
                Poll::Ready(Some(Err(error.into())))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done || self.incoming.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.incoming.size_hint()
    }
}

impl Drop for Body {
    fn drop(&mut self) {
        // A reader that stopped at `is_end_stream` has read everything.
        if !self.done && http_body::Body::is_end_stream(&self.incoming) {
            self.finish(true);
        }
    }
}
