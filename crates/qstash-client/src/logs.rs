//! The logs, page after page.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;
use qstash_protocol::{LogsQuery, LogsResponse};

use crate::client::Client;
use crate::error::{Error, ErrorKind};

type PageFuture = Pin<Box<dyn Future<Output = Result<LogsResponse, Error>> + Send>>;

/// The pages of the logs from a query on, following the cursor: a
/// `Stream<Item = Result<LogsResponse, Error>>` (from [`Client::logs_stream`]).
///
/// Each page is one [`Client::logs`] call (with its retries). The stream ends after the page
/// without a cursor (or with an empty one), and after an error. A server that answers with
/// the cursor it was sent would loop forever: the stream yields that page, then an
/// [`ErrorKind::UnexpectedResponse`] error, and ends.
///
/// Without `futures`, [`next_page`](Self::next_page) reads it:
///
/// ```no_run
/// # async fn demo(client: qstash_client::Client) -> Result<(), qstash_client::Error> {
/// use qstash_client::{LogsQuery, RunState};
///
/// let query = LogsQuery::new().with_state(RunState::Failed);
/// let mut pages = client.logs_stream(query);
/// while let Some(page) = pages.next_page().await {
///     for run in page?.runs {
///         println!("{} failed", run.workflow_run_id);
///     }
/// }
/// # Ok(()) }
/// ```
#[must_use = "streams do nothing unless polled"]
pub struct LogPages {
    client: Client,
    query: LogsQuery,
    state: State,
}

enum State {
    /// The next page is to be requested with `query`.
    Ready,
    Fetching(PageFuture),
    /// The error to yield before ending.
    Failing(Error),
    Done,
}

impl LogPages {
    pub(crate) fn new(client: Client, query: LogsQuery) -> LogPages {
        LogPages {
            client,
            query,
            state: State::Ready,
        }
    }

    /// The query of the next page (its cursor is the last page's).
    #[must_use]
    pub fn next_query(&self) -> &LogsQuery {
        &self.query
    }

    /// The next page, or `None` at the end.
    pub async fn next_page(&mut self) -> Option<Result<LogsResponse, Error>> {
        std::future::poll_fn(|cx| Pin::new(&mut *self).poll_next(cx)).await
    }
}

impl fmt::Debug for LogPages {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state {
            State::Ready => "ready",
            State::Fetching(_) => "fetching",
            State::Failing(_) => "failing",
            State::Done => "done",
        };
        f.debug_struct("LogPages")
            .field("query", &self.query)
            .field("state", &state)
            .finish_non_exhaustive()
    }
}

impl Stream for LogPages {
    type Item = Result<LogsResponse, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            match &mut this.state {
                State::Done => return Poll::Ready(None),
                State::Failing(_) => {
                    let State::Failing(err) = std::mem::replace(&mut this.state, State::Done)
                    else {
                        return Poll::Ready(None);
                    };
                    return Poll::Ready(Some(Err(err)));
                }
                State::Ready => {
                    let client = this.client.clone();
                    let query = this.query.clone();
                    this.state =
                        State::Fetching(Box::pin(async move { client.logs(&query).await }));
                }
                State::Fetching(fut) => {
                    let result = match fut.as_mut().poll(cx) {
                        Poll::Pending => return Poll::Pending,
                        Poll::Ready(result) => result,
                    };
                    this.state = match &result {
                        Err(_) => State::Done,
                        Ok(page) => match page.cursor.as_deref() {
                            None | Some("") => State::Done,
                            Some(c) if this.query.cursor.as_deref() == Some(c) => {
                                State::Failing(Error::new(ErrorKind::UnexpectedResponse).with_message(
                                    "the logs returned the cursor they were asked for: paging would never end",
                                ))
                            }
                            Some(c) => {
                                this.query.cursor = Some(c.to_owned());
                                State::Ready
                            }
                        },
                    };
                    return Poll::Ready(Some(result));
                }
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match self.state {
            State::Done => (0, Some(0)),
            _ => (1, None),
        }
    }
}
