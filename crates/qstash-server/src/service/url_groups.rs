//! URL groups (upstream: topics, `/v2/topics`): adding and removing endpoints, reading,
//! listing and deleting groups, and publishing to a group (one message per endpoint, each
//! with its own id, retries, callbacks and dead letter, all stored in one transaction).

use bytes::Bytes;
use http::HeaderMap;
use qstash_protocol::{Endpoint, EndpointsRequest, GroupPublishResponse, PublishRequest, UrlGroup};
use qstash_store::{EndpointMatch, InsertOutcome, Millis, NewMessage, UrlGroupEndpoint};

use super::{Error, Result, Service};
use crate::engine::envelope::Envelope;

/// The longest group or endpoint name accepted.
const MAX_NAME_LEN: usize = 200;

/// Whether a publish destination names a URL group rather than a URL: a group name has no
/// `:` and no `/` (a URL has a scheme).
pub(crate) fn is_group_name(destination: &str) -> bool {
    !destination.is_empty() && !destination.contains(':') && !destination.contains('/')
}

/// A group or endpoint name: 1 to 200 of letters, digits, `-`, `_` and `.` (upstream's rule).
fn check_name(what: &str, name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "{what} {name:?} is not a name (1 to {MAX_NAME_LEN} letters, digits, '-', '_' or '.')"
        )))
    }
}

fn view(g: qstash_store::UrlGroup) -> UrlGroup {
    let mut out = UrlGroup::default();
    out.created_at = g.created_at;
    out.updated_at = g.updated_at;
    out.name = g.name;
    out.endpoints = g
        .endpoints
        .into_iter()
        .map(|e| Endpoint {
            name: e.name,
            url: e.url,
        })
        .collect();
    out
}

impl Service {
    /// Adds endpoints to a group of the tenant, creating it; every URL is checked against the
    /// destination policy first (nothing is stored when one is refused).
    pub(crate) async fn add_endpoints(
        &self,
        tenant: &str,
        name: &str,
        req: &EndpointsRequest,
        now: Millis,
    ) -> Result<()> {
        check_name("the URL group name", name)?;
        if req.endpoints.is_empty() {
            return Err(Error::invalid("endpoints: at least one endpoint is needed"));
        }
        let mut endpoints = Vec::with_capacity(req.endpoints.len());
        for (i, e) in req.endpoints.iter().enumerate() {
            let url = e
                .url
                .as_deref()
                .ok_or_else(|| Error::invalid(format!("endpoints[{i}]: url is missing")))?;
            // The same rules as a publish's destination.
            PublishRequest::from_parts(url, &HeaderMap::new(), Bytes::new())
                .map_err(|err| Error::invalid(format!("endpoints[{i}]: {err}")))?;
            if let Some(n) = &e.name {
                check_name(&format!("endpoints[{i}]: the endpoint name"), n)?;
            }
            let guard = &self.engine().guard;
            if !guard.is_open() {
                guard
                    .check_url(url)
                    .await
                    .map_err(|err| Error::invalid(format!("endpoints[{i}]: {err}")))?;
            }
            endpoints.push(UrlGroupEndpoint {
                name: e.name.clone(),
                url: url.to_owned(),
            });
        }
        self.engine()
            .store
            .add_url_group_endpoints(tenant, name, endpoints, now)
            .await?;
        Ok(())
    }

    /// Removes endpoints (by name or URL) from a group of the tenant; 404 for an unknown group.
    pub(crate) async fn remove_endpoints(
        &self,
        tenant: &str,
        name: &str,
        req: &EndpointsRequest,
        now: Millis,
    ) -> Result<()> {
        let mut matches = Vec::with_capacity(req.endpoints.len());
        for (i, e) in req.endpoints.iter().enumerate() {
            if e.name.is_none() && e.url.is_none() {
                return Err(Error::invalid(format!(
                    "endpoints[{i}]: a name or a url is needed"
                )));
            }
            matches.push(EndpointMatch {
                name: e.name.clone(),
                url: e.url.clone(),
            });
        }
        self.engine()
            .store
            .remove_url_group_endpoints(tenant, name, matches, now)
            .await?
            .ok_or_else(|| Error::not_found(&format!("URL group {name}")))?;
        Ok(())
    }

    /// One group of the tenant.
    pub(crate) async fn get_url_group(&self, tenant: &str, name: &str) -> Result<UrlGroup> {
        self.engine()
            .store
            .get_url_group(tenant, name)
            .await?
            .map(view)
            .ok_or_else(|| Error::not_found(&format!("URL group {name}")))
    }

    /// The tenant's groups, by name.
    pub(crate) async fn list_url_groups(&self, tenant: &str) -> Result<Vec<UrlGroup>> {
        Ok(self
            .engine()
            .store
            .list_url_groups(tenant)
            .await?
            .into_iter()
            .map(view)
            .collect())
    }

    /// Deletes a group of the tenant; 404 for an unknown one.
    pub(crate) async fn delete_url_group(&self, tenant: &str, name: &str) -> Result<()> {
        if self.engine().store.delete_url_group(tenant, name).await? {
            Ok(())
        } else {
            Err(Error::not_found(&format!("URL group {name}")))
        }
    }

    /// Publishes to a group of the tenant: one message per endpoint, stored in one
    /// transaction. 404 for an unknown group, 400 for one without endpoints.
    pub(crate) async fn publish_to_group(
        &self,
        tenant: &str,
        name: &str,
        headers: &HeaderMap,
        body: Bytes,
        now: Millis,
    ) -> Result<Vec<GroupPublishResponse>> {
        let messages = self
            .group_messages(tenant, name, headers, body, now)
            .await?;
        let answers: Vec<(String, String)> = messages
            .iter()
            .map(|m| (m.id.clone(), m.destination.clone()))
            .collect();
        let outcomes = self.store_messages(messages, now).await?;
        Ok(outcomes
            .into_iter()
            .zip(answers)
            .map(|(o, (id, url))| match o {
                InsertOutcome::Deduplicated { existing_id } => GroupPublishResponse {
                    message_id: existing_id,
                    url,
                    deduplicated: true,
                },
                _ => GroupPublishResponse {
                    message_id: id,
                    url,
                    deduplicated: false,
                },
            })
            .collect())
    }

    /// The messages a publish of `headers` and `body` to the tenant's group `name` stores:
    /// one per endpoint, each checked as a publish is and carrying the group's name (and the
    /// endpoint's). A deduplication id is the endpoint's own (the id and the URL).
    pub(super) async fn group_messages(
        &self,
        tenant: &str,
        name: &str,
        headers: &HeaderMap,
        body: Bytes,
        now: Millis,
    ) -> Result<Vec<NewMessage>> {
        let group = self
            .engine()
            .store
            .get_url_group(tenant, name)
            .await?
            .ok_or_else(|| Error::not_found(&format!("URL group {name}")))?;
        if group.endpoints.is_empty() {
            return Err(Error::invalid(format!(
                "URL group {name} has no endpoints: add one first"
            )));
        }
        let mut out = Vec::with_capacity(group.endpoints.len());
        for e in &group.endpoints {
            let req = PublishRequest::from_parts(&e.url, headers, body.clone())
                .map_err(|err| Error::invalid(err.to_string()))?;
            let mut m = self.new_message(tenant, &req, now)?;
            self.check_destinations(&m).await?;
            if let Some(d) = &mut m.dedup {
                d.id = format!("{}\u{1f}{}", d.id, e.url);
            }
            let mut envelope = Envelope::decode(&m.extra);
            envelope.topic_name = Some(name.to_owned());
            envelope.endpoint_name = e.name.clone();
            m.extra = envelope.encode();
            out.push(m);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_names_are_told_from_urls() {
        assert!(is_group_name("my-group.v1"));
        assert!(!is_group_name("https://example.com"));
        assert!(!is_group_name("example.com/x"));
        assert!(!is_group_name(""));
        assert!(check_name("n", "a b").is_err());
        assert!(check_name("n", "ok_1.2-3").is_ok());
    }
}
