//! A session manager that wraps rmcp's in-memory one and remembers which HTTP stream
//! carries which JSON-RPC request, so the `test_reconnection` tool can close its own
//! SSE stream mid-call (SEP-1699) and answer once the client has resumed it with
//! `Last-Event-ID`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures_util::Stream;
use rmcp::model::{ClientJsonRpcMessage, RequestId};
use rmcp::transport::streamable_http_server::session::local::{
    LocalSessionHandle, LocalSessionManager, LocalSessionManagerError,
};
use rmcp::transport::streamable_http_server::session::{
    RestoreOutcome, ServerSseMessage, SessionId, SessionManager,
};
use tokio::sync::Notify;
use tokio_stream::wrappers::ReceiverStream;

type StreamKey = (SessionId, RequestId);
type ResumeKey = (SessionId, u64);

/// rmcp's [`LocalSessionManager`] plus a map from (session, request id) to the
/// session's HTTP stream id, and a signal raised when such a stream is resumed.
#[derive(Debug, Default)]
pub struct FixtureSessions {
    inner: LocalSessionManager,
    streams: Mutex<HashMap<StreamKey, u64>>,
    resumed: Mutex<HashMap<ResumeKey, Arc<Notify>>>,
}

/// Why a stream could not be closed for a reconnection test.
#[derive(Debug)]
pub enum CloseError {
    /// The request did not arrive on a session's POST stream.
    NoStream,
    /// The session is gone or refused.
    Session(String),
}

impl FixtureSessions {
    async fn handle(&self, id: &SessionId) -> Result<LocalSessionHandle, LocalSessionManagerError> {
        self.inner
            .sessions
            .read()
            .await
            .get(id)
            .cloned()
            .ok_or_else(|| LocalSessionManagerError::SessionNotFound(id.clone()))
    }

    fn stream_of(&self, session: &SessionId, request: &RequestId) -> Option<u64> {
        self.streams
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&(session.clone(), request.clone()))
            .copied()
    }

    /// Closes the POST SSE stream that carries `request` (sending a priming event with
    /// `retry` first) and returns a signal raised when the client resumes it.
    pub async fn close_request_stream(
        &self,
        session: &SessionId,
        request: &RequestId,
        retry: Duration,
    ) -> Result<Arc<Notify>, CloseError> {
        let stream = self
            .stream_of(session, request)
            .ok_or(CloseError::NoStream)?;
        let notify = Arc::new(Notify::new());
        self.resumed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert((session.clone(), stream), notify.clone());
        let handle = self
            .handle(session)
            .await
            .map_err(|e| CloseError::Session(e.to_string()))?;
        handle
            .close_sse_stream(stream, Some(retry))
            .await
            .map_err(|e| CloseError::Session(e.to_string()))?;
        Ok(notify)
    }

    fn forget_session(&self, id: &SessionId) {
        self.streams
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|(session, _), _| session != id);
        self.resumed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|(session, _), _| session != id);
    }

    fn signal_resumed(&self, session: &SessionId, last_event_id: &str) {
        let Some(stream) = last_event_id
            .split_once('/')
            .and_then(|(_, stream)| stream.parse::<u64>().ok())
        else {
            return;
        };
        let notify = self
            .resumed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&(session.clone(), stream));
        if let Some(notify) = notify {
            notify.notify_one();
        }
    }
}

impl SessionManager for FixtureSessions {
    type Error = LocalSessionManagerError;
    type Transport = <LocalSessionManager as SessionManager>::Transport;

    async fn create_session(&self) -> Result<(SessionId, Self::Transport), Self::Error> {
        self.inner.create_session().await
    }

    async fn initialize_session(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<rmcp::model::ServerJsonRpcMessage, Self::Error> {
        self.inner.initialize_session(id, message).await
    }

    async fn has_session(&self, id: &SessionId) -> Result<bool, Self::Error> {
        self.inner.has_session(id).await
    }

    async fn close_session(&self, id: &SessionId) -> Result<(), Self::Error> {
        self.forget_session(id);
        self.inner.close_session(id).await
    }

    async fn create_stream(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        // The same steps as LocalSessionManager::create_stream, recording the stream id.
        let handle = self.handle(id).await?;
        let receiver = handle.establish_request_wise_channel().await?;
        if let (Some(stream), ClientJsonRpcMessage::Request(request)) =
            (receiver.http_request_id, &message)
        {
            self.streams
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert((id.clone(), request.id.clone()), stream);
        }
        handle
            .push_message(message, receiver.http_request_id)
            .await?;
        Ok(ReceiverStream::new(receiver.inner))
    }

    async fn accept_message(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<(), Self::Error> {
        self.inner.accept_message(id, message).await
    }

    async fn create_standalone_stream(
        &self,
        id: &SessionId,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        self.inner.create_standalone_stream(id).await
    }

    async fn resume(
        &self,
        id: &SessionId,
        last_event_id: String,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        let stream = self.inner.resume(id, last_event_id.clone()).await?;
        self.signal_resumed(id, &last_event_id);
        Ok(stream)
    }

    async fn restore_session(
        &self,
        id: SessionId,
    ) -> Result<RestoreOutcome<Self::Transport>, Self::Error> {
        self.inner.restore_session(id).await
    }
}
