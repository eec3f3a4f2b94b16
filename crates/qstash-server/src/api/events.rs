//! `GET /v2/events` and `GET /v2/logs`: a tenant's message log, newest first.

use axum::Json;
use axum::extract::{RawQuery, State};
use qstash_protocol::{Event, EventState, EventsQuery, EventsResponse};
use qstash_store::EventFilter;

use super::{AppState, Tenant, page_size, parse_cursor};
use crate::error::{ApiError, ApiResult};

pub(crate) async fn list(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<EventsResponse>> {
    let q = EventsQuery::from_query(query.as_deref().unwrap_or(""))
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let filter = EventFilter {
        message_id: q.message_id.clone(),
        state: q.state.map(|s| s.as_str().to_owned()),
        url: q.url.clone(),
        label: q.label.as_ref().map(|l| l.as_str().to_owned()),
    };
    let page = state
        .engine()
        .store
        .list_events(
            &tenant,
            &filter,
            parse_cursor(q.cursor.as_deref())?,
            page_size(q.count),
        )
        .await?;
    let events = page
        .items
        .into_iter()
        .map(|e| {
            let state = e.state.parse().unwrap_or(EventState::Error);
            let mut out = Event::new(e.time, e.message_id, state, e.url);
            out.response_status = e.response_status;
            out.error = e.error;
            out.next_delivery_time = e.next_delivery_time;
            out.label = e.labels.first().cloned();
            out.labels = e.labels;
            out
        })
        .collect();
    Ok(Json(EventsResponse::new(
        events,
        page.next.map(|c| c.to_string()),
    )))
}
