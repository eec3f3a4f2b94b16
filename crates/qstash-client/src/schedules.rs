//! Schedules (`SERVER.md` §12, `/v2/schedules`) and URL groups (§14, `/v2/topics`): create,
//! list, read, pause, resume and delete schedules; add and remove endpoints, list, read and
//! delete URL groups.

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use qstash_protocol::{
    CRON_HEADER, Endpoint, EndpointRef, EndpointsRequest, SCHEDULE_ID_HEADER, SCHEDULES_PATH,
    Schedule, ScheduleCreated, URL_GROUPS_PATH, UrlGroup,
};

use crate::client::{Client, Op};
use crate::error::{Error, ErrorKind};
use crate::messages::Target;
use crate::replay::Replay;

/// A schedule to create (or replace, with [`schedule_id`](Self::schedule_id)).
///
/// ```
/// let s = qstash_client::NewSchedule::new("https://example.com/hook", "*/5 * * * *")
///     .schedule_id("every-five")
///     .header("Upstash-Retries", "2")
///     .body("ping");
/// assert_eq!(s.cron(), "*/5 * * * *");
/// ```
#[derive(Debug, Clone)]
pub struct NewSchedule {
    destination: String,
    cron: String,
    schedule_id: Option<String>,
    headers: Vec<(String, String)>,
    body: Bytes,
}

impl NewSchedule {
    /// A schedule publishing to `destination` (a URL or a URL group's name) on `cron`.
    pub fn new(destination: impl Into<String>, cron: impl Into<String>) -> NewSchedule {
        NewSchedule {
            destination: destination.into(),
            cron: cron.into(),
            schedule_id: None,
            headers: Vec::new(),
            body: Bytes::new(),
        }
    }

    /// The id to create or replace (`Upstash-Schedule-Id`).
    #[must_use]
    pub fn schedule_id(mut self, id: impl Into<String>) -> NewSchedule {
        self.schedule_id = Some(id.into());
        self
    }

    /// A publish header (`Upstash-Retries`, `Upstash-Forward-*`, `Content-Type`, …).
    #[must_use]
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> NewSchedule {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// The body of every published message.
    #[must_use]
    pub fn body(mut self, body: impl Into<Bytes>) -> NewSchedule {
        self.body = body.into();
        self
    }

    /// The cron expression.
    pub fn cron(&self) -> &str {
        &self.cron
    }

    fn header_map(&self) -> Result<HeaderMap, Error> {
        let bad = |what: &str| {
            Error::new(ErrorKind::InvalidRequest).with_message(format!("{what} is not a header"))
        };
        let mut map = HeaderMap::new();
        map.insert(
            HeaderName::from_static("upstash-cron"),
            HeaderValue::from_str(&self.cron).map_err(|_| bad(CRON_HEADER))?,
        );
        if let Some(id) = &self.schedule_id {
            map.insert(
                HeaderName::from_static("upstash-schedule-id"),
                HeaderValue::from_str(id).map_err(|_| bad(SCHEDULE_ID_HEADER))?,
            );
        }
        for (n, v) in &self.headers {
            map.append(
                HeaderName::from_bytes(n.as_bytes()).map_err(|_| bad(n))?,
                HeaderValue::from_str(v).map_err(|_| bad(n))?,
            );
        }
        Ok(map)
    }
}

impl Client {
    /// Creates a schedule, or replaces the one of its id:
    /// `POST {base}/v2/schedules/{destination}`; returns the schedule's id.
    ///
    /// # Errors
    /// [`ErrorKind::BadRequest`] for a bad cron expression or publish header (the message
    /// names it); otherwise see [`ErrorKind`].
    pub async fn create_schedule(&self, schedule: &NewSchedule) -> Result<String, Error> {
        let headers = schedule.header_map()?;
        let target = Target::new(&format!("{SCHEDULES_PATH}/{}", schedule.destination));
        let base = self.base_url();
        // With an id, a second create replaces the first: the same outcome.
        let replay = if schedule.schedule_id.is_some() {
            Replay::Safe
        } else {
            Replay::OnlyUnsent
        };
        let created: ScheduleCreated = self
            .execute_with(
                Op::CreateSchedule,
                replay,
                || {
                    let mut r = target.request(base, Method::POST);
                    *r.headers_mut() = headers.clone();
                    *r.body_mut() = schedule.body.clone();
                    r
                },
                &[],
                |body| serde_json::from_slice(body),
            )
            .await?;
        Ok(created.schedule_id)
    }

    /// The tenant's schedules: `GET {base}/v2/schedules`.
    ///
    /// # Errors
    /// See [`ErrorKind`].
    pub async fn schedules(&self) -> Result<Vec<Schedule>, Error> {
        let target = Target::new(SCHEDULES_PATH);
        self.call(Op::Schedules, Method::GET, &target, Replay::Safe)
            .await
    }

    /// One schedule: `GET {base}/v2/schedules/{id}`.
    ///
    /// # Errors
    /// [`ErrorKind::NotFound`] for an unknown schedule; otherwise see [`ErrorKind`].
    pub async fn schedule(&self, id: &str) -> Result<Schedule, Error> {
        let target = Target::new(SCHEDULES_PATH).id("schedule id", id)?;
        self.call(Op::Schedule, Method::GET, &target, Replay::Safe)
            .await
    }

    /// Deletes a schedule: `DELETE {base}/v2/schedules/{id}`.
    ///
    /// # Errors
    /// [`ErrorKind::NotFound`] for an unknown schedule; otherwise see [`ErrorKind`].
    pub async fn delete_schedule(&self, id: &str) -> Result<(), Error> {
        let target = Target::new(SCHEDULES_PATH).id("schedule id", id)?;
        self.call_with(
            Op::DeleteSchedule,
            Method::DELETE,
            &target,
            Replay::Safe,
            |_| Ok(()),
        )
        .await
    }

    /// Pauses a schedule: `PATCH {base}/v2/schedules/{id}/pause`.
    ///
    /// # Errors
    /// [`ErrorKind::NotFound`] for an unknown schedule; otherwise see [`ErrorKind`].
    pub async fn pause_schedule(&self, id: &str) -> Result<(), Error> {
        let target = Target::new(&format!(
            "{}/pause",
            Target::new(SCHEDULES_PATH).id("schedule id", id)?.path()
        ));
        self.call_with(
            Op::PauseSchedule,
            Method::PATCH,
            &target,
            Replay::Safe,
            |_| Ok(()),
        )
        .await
    }

    /// Resumes a schedule from its next tick: `PATCH {base}/v2/schedules/{id}/resume`.
    ///
    /// # Errors
    /// [`ErrorKind::NotFound`] for an unknown schedule; otherwise see [`ErrorKind`].
    pub async fn resume_schedule(&self, id: &str) -> Result<(), Error> {
        let target = Target::new(&format!(
            "{}/resume",
            Target::new(SCHEDULES_PATH).id("schedule id", id)?.path()
        ));
        self.call_with(
            Op::ResumeSchedule,
            Method::PATCH,
            &target,
            Replay::Safe,
            |_| Ok(()),
        )
        .await
    }

    /// Adds endpoints to a URL group, creating it:
    /// `POST {base}/v2/topics/{name}/endpoints`.
    ///
    /// # Errors
    /// [`ErrorKind::BadRequest`] for a bad name or URL; otherwise see [`ErrorKind`].
    pub async fn add_endpoints(&self, group: &str, endpoints: &[Endpoint]) -> Result<(), Error> {
        let body = EndpointsRequest {
            endpoints: endpoints
                .iter()
                .map(|e| EndpointRef {
                    name: e.name.clone(),
                    url: Some(e.url.clone()),
                })
                .collect(),
        };
        self.endpoints_call(Op::AddEndpoints, Method::POST, group, &body)
            .await
    }

    /// Removes endpoints (by name or URL) from a URL group:
    /// `DELETE {base}/v2/topics/{name}/endpoints`.
    ///
    /// # Errors
    /// [`ErrorKind::NotFound`] for an unknown group; otherwise see [`ErrorKind`].
    pub async fn remove_endpoints(
        &self,
        group: &str,
        endpoints: &[EndpointRef],
    ) -> Result<(), Error> {
        let body = EndpointsRequest {
            endpoints: endpoints.to_vec(),
        };
        self.endpoints_call(Op::RemoveEndpoints, Method::DELETE, group, &body)
            .await
    }

    /// The tenant's URL groups: `GET {base}/v2/topics`.
    ///
    /// # Errors
    /// See [`ErrorKind`].
    pub async fn url_groups(&self) -> Result<Vec<UrlGroup>, Error> {
        let target = Target::new(URL_GROUPS_PATH);
        self.call(Op::UrlGroups, Method::GET, &target, Replay::Safe)
            .await
    }

    /// One URL group: `GET {base}/v2/topics/{name}`.
    ///
    /// # Errors
    /// [`ErrorKind::NotFound`] for an unknown group; otherwise see [`ErrorKind`].
    pub async fn url_group(&self, name: &str) -> Result<UrlGroup, Error> {
        let target = Target::new(URL_GROUPS_PATH).id("URL group name", name)?;
        self.call(Op::UrlGroup, Method::GET, &target, Replay::Safe)
            .await
    }

    /// Deletes a URL group: `DELETE {base}/v2/topics/{name}`.
    ///
    /// # Errors
    /// [`ErrorKind::NotFound`] for an unknown group; otherwise see [`ErrorKind`].
    pub async fn delete_url_group(&self, name: &str) -> Result<(), Error> {
        let target = Target::new(URL_GROUPS_PATH).id("URL group name", name)?;
        self.call_with(
            Op::DeleteUrlGroup,
            Method::DELETE,
            &target,
            Replay::Safe,
            |_| Ok(()),
        )
        .await
    }

    async fn endpoints_call(
        &self,
        op: Op,
        method: Method,
        group: &str,
        body: &EndpointsRequest,
    ) -> Result<(), Error> {
        let target = Target::new(&format!(
            "{}/endpoints",
            Target::new(URL_GROUPS_PATH)
                .id("URL group name", group)?
                .path()
        ));
        let json = Bytes::from(serde_json::to_vec(body).map_err(|e| {
            Error::new(ErrorKind::InvalidRequest).with_message(format!("the endpoints: {e}"))
        })?);
        let base = self.base_url();
        self.execute_with(
            op,
            Replay::Safe,
            || {
                let mut r = target.request(base, method.clone());
                r.headers_mut().insert(
                    http::header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                );
                *r.body_mut() = json.clone();
                r
            },
            &[],
            |_| Ok(()),
        )
        .await
    }
}
