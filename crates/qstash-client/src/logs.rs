//! The logs, the message events and the dead-letter queue, page after page.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;
use qstash_protocol::{
    DlqListResponse, DlqQuery, EventsQuery, EventsResponse, LogsQuery, LogsResponse,
};

use crate::client::Client;
use crate::error::{Error, ErrorKind};

type PageFuture<P> = Pin<Box<dyn Future<Output = Result<P, Error>> + Send>>;

mod sealed {
    use super::{Client, PageFuture};

    /// How a query pages: its cursor, the next page's cursor, one page's call.
    pub trait Paged: Clone + Send + Unpin + 'static {
        /// One page.
        type Page: Send + 'static;
        /// The query's cursor.
        fn cursor(&self) -> Option<&str>;
        /// Sets the query's cursor.
        fn set_cursor(&mut self, cursor: String);
        /// Where the page after `page` starts.
        fn next_cursor(page: &Self::Page) -> Option<&str>;
        /// One page's call.
        fn fetch(client: Client, query: Self) -> PageFuture<Self::Page>;
    }
}

/// A query whose answers come in pages with a cursor: [`LogsQuery`] (runs), [`EventsQuery`]
/// (message events), [`DlqQuery`] (the dead-letter queue). Sealed.
pub trait PagedQuery: sealed::Paged + fmt::Debug {}

macro_rules! paged {
    ($query:ty, $page:ty, $call:ident) => {
        impl sealed::Paged for $query {
            type Page = $page;
            fn cursor(&self) -> Option<&str> {
                self.cursor.as_deref()
            }
            fn set_cursor(&mut self, cursor: String) {
                self.cursor = Some(cursor);
            }
            fn next_cursor(page: &$page) -> Option<&str> {
                page.cursor.as_deref()
            }
            fn fetch(client: Client, query: Self) -> PageFuture<$page> {
                Box::pin(async move { client.$call(&query).await })
            }
        }
        impl PagedQuery for $query {}
    };
}

paged!(LogsQuery, LogsResponse, logs);
paged!(EventsQuery, EventsResponse, events);
paged!(DlqQuery, DlqListResponse, dlq);

/// The pages of the runs' logs ([`Client::logs_stream`]).
pub type LogPages = Pages<LogsQuery>;
/// The pages of the message events ([`Client::events_stream`]).
pub type EventPages = Pages<EventsQuery>;
/// The pages of the dead-letter queue ([`Client::dlq_stream`]).
pub type DlqPages = Pages<DlqQuery>;

impl Client {
    /// Every page of the message events from `query` on, following the cursor; a `Stream`
    /// of pages (see [`Pages`]).
    pub fn events_stream(&self, query: EventsQuery) -> EventPages {
        Pages::new(self.clone(), query)
    }

    /// Every page of the dead-letter queue from `query` on, following the cursor; a
    /// `Stream` of pages (see [`Pages`]).
    pub fn dlq_stream(&self, query: DlqQuery) -> DlqPages {
        Pages::new(self.clone(), query)
    }
}

/// The pages of a list from a query on, following the cursor: a
/// `Stream<Item = Result<Page, Error>>` (from [`Client::logs_stream`],
/// [`Client::events_stream`], [`Client::dlq_stream`]).
///
/// Each page is one call ([`Client::logs`], [`Client::events`], [`Client::dlq`]) with its
/// retries. The stream ends after the page without a cursor (or with an empty one), and
/// after an error. A server that answers with the cursor it was sent would loop forever: the
/// stream yields that page, then an [`ErrorKind::UnexpectedResponse`] error, and ends.
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
pub struct Pages<Q: PagedQuery> {
    client: Client,
    query: Q,
    state: State<Q::Page>,
}

enum State<P> {
    /// The next page is to be requested with `query`.
    Ready,
    Fetching(PageFuture<P>),
    /// The error to yield before ending.
    Failing(Error),
    Done,
}

impl<Q: PagedQuery> Pages<Q> {
    pub(crate) fn new(client: Client, query: Q) -> Pages<Q> {
        Pages {
            client,
            query,
            state: State::Ready,
        }
    }

    /// The query of the next page (its cursor is the last page's).
    #[must_use]
    pub fn next_query(&self) -> &Q {
        &self.query
    }

    /// The next page, or `None` at the end.
    pub async fn next_page(&mut self) -> Option<Result<Q::Page, Error>> {
        std::future::poll_fn(|cx| Pin::new(&mut *self).poll_next(cx)).await
    }
}

impl<Q: PagedQuery> fmt::Debug for Pages<Q> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state {
            State::Ready => "ready",
            State::Fetching(_) => "fetching",
            State::Failing(_) => "failing",
            State::Done => "done",
        };
        f.debug_struct("Pages")
            .field("query", &self.query)
            .field("state", &state)
            .finish_non_exhaustive()
    }
}

impl<Q: PagedQuery> Stream for Pages<Q> {
    type Item = Result<Q::Page, Error>;

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
                    this.state = State::Fetching(Q::fetch(client, query));
                }
                State::Fetching(fut) => {
                    let result = match fut.as_mut().poll(cx) {
                        Poll::Pending => return Poll::Pending,
                        Poll::Ready(result) => result,
                    };
                    this.state = match &result {
                        Err(_) => State::Done,
                        Ok(page) => match Q::next_cursor(page) {
                            None | Some("") => State::Done,
                            Some(c) if this.query.cursor() == Some(c) => {
                                State::Failing(Error::new(ErrorKind::UnexpectedResponse).with_message(
                                    "the list returned the cursor it was asked for: paging would never end",
                                ))
                            }
                            Some(c) => {
                                this.query.set_cursor(c.to_owned());
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
