//! The `WHERE` clauses of the list filters ([`EventFilter`], [`DlqFilter`], [`MessageFilter`]),
//! written once for both backends: each backend only says how a placeholder is spelled and how
//! a label is searched in the encoded label column, then binds [`SqlValue`]s in order.

use crate::codec::label_needle;
use crate::model::{DlqFilter, EventFilter, MessageFilter, Millis};

/// A value bound to a placeholder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SqlValue {
    /// Text.
    Text(String),
    /// A 64-bit integer (times, cursors, limits).
    Big(i64),
    /// A 32-bit integer (statuses: PostgreSQL's `INTEGER` columns).
    Int(i32),
}

/// The SQL dialect of a backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    /// `?N` placeholders, `instr`.
    Sqlite,
    /// `$N` placeholders, `strpos`.
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    Postgres,
}

/// A `WHERE` clause under construction: conditions joined with `AND`, and their values.
#[derive(Debug)]
pub(crate) struct Where {
    dialect: Dialect,
    /// The conditions so far, each starting with ` AND `.
    pub(crate) sql: String,
    /// The values of the placeholders, in order (`?1`/`$1` first).
    pub(crate) values: Vec<SqlValue>,
}

fn big(ms: Millis) -> i64 {
    i64::try_from(ms).unwrap_or(i64::MAX)
}

impl Where {
    pub(crate) fn new(dialect: Dialect) -> Where {
        Where {
            dialect,
            sql: String::new(),
            values: Vec::new(),
        }
    }

    /// Adds a value; returns its placeholder.
    pub(crate) fn add(&mut self, value: SqlValue) -> String {
        self.values.push(value);
        match self.dialect {
            Dialect::Sqlite => format!("?{}", self.values.len()),
            Dialect::Postgres => format!("${}", self.values.len()),
        }
    }

    /// ` AND {cond}`.
    pub(crate) fn and(&mut self, cond: &str) {
        self.sql.push_str(" AND ");
        self.sql.push_str(cond);
    }

    /// `col` equals one of `values` (nothing when `values` is empty).
    fn any_text(&mut self, col: &str, values: &[String]) {
        if values.is_empty() {
            return;
        }
        let list: Vec<String> = values
            .iter()
            .map(|v| self.add(SqlValue::Text(v.clone())))
            .collect();
        self.and(&format!("{col} IN ({})", list.join(", ")));
    }

    /// The encoded labels in `col` contain one of `labels` (nothing when empty).
    fn any_label(&mut self, col: &str, labels: &[String]) {
        if labels.is_empty() {
            return;
        }
        let func = match self.dialect {
            Dialect::Sqlite => "instr",
            Dialect::Postgres => "strpos",
        };
        let conds: Vec<String> = labels
            .iter()
            .map(|l| {
                let p = self.add(SqlValue::Text(label_needle(l)));
                format!("{func}({col}, {p}) > 0")
            })
            .collect();
        self.and(&format!("({})", conds.join(" OR ")));
    }

    /// `from <= col <= to`, each bound when given.
    fn between(&mut self, col: &str, from: Option<Millis>, to: Option<Millis>) {
        if let Some(from) = from {
            let p = self.add(SqlValue::Big(big(from)));
            self.and(&format!("{col} >= {p}"));
        }
        if let Some(to) = to {
            let p = self.add(SqlValue::Big(big(to)));
            self.and(&format!("{col} <= {p}"));
        }
    }

    /// `col` starts with `prefix`.
    fn prefix(&mut self, col: &str, prefix: &str) {
        let p = self.add(SqlValue::Text(prefix.to_owned()));
        self.and(&format!(
            "substr({col}, 1, length(CAST({p} AS TEXT))) = CAST({p} AS TEXT)"
        ));
    }

    /// The conditions of an event filter on the `events` table (no alias); `tenant` is the
    /// placeholder of the tenant, for the flow-key subquery.
    pub(crate) fn events(&mut self, f: &EventFilter, tenant: &str) {
        self.any_text("message_id", &f.message_ids);
        self.any_text("state", &f.states);
        self.any_text("url", &f.urls);
        self.any_label("labels", &f.labels);
        self.between("time", f.from, f.to);
        if !f.flow_keys.is_empty() {
            let mut inner = Where::new(self.dialect);
            std::mem::swap(&mut inner.values, &mut self.values);
            inner.any_text("flow_key", &f.flow_keys);
            std::mem::swap(&mut inner.values, &mut self.values);
            self.and(&format!(
                "message_id IN (SELECT id FROM messages WHERE tenant = {tenant}{})",
                inner.sql
            ));
        }
    }

    /// The conditions of a dead-letter filter on `dlq d JOIN messages m`.
    pub(crate) fn dlq(&mut self, f: &DlqFilter) {
        self.any_text("d.dlq_id", &f.dlq_ids);
        self.any_text("m.id", &f.message_ids);
        self.any_text("m.destination", &f.urls);
        self.any_label("m.labels", &f.labels);
        if !f.response_statuses.is_empty() {
            let list: Vec<String> = f
                .response_statuses
                .iter()
                .map(|s| self.add(SqlValue::Int(i32::from(*s))))
                .collect();
            self.and(&format!("d.response_status IN ({})", list.join(", ")));
        }
        self.any_text("m.flow_key", &f.flow_keys);
        self.between("d.created_at", f.from, f.to);
        self.any_text("m.run_id", &f.run_ids);
        if let Some(url) = &f.workflow_url {
            if f.workflow_url_exact {
                self.any_text("m.destination", std::slice::from_ref(url));
            } else {
                self.prefix("m.destination", url);
            }
        }
        self.any_text("d.failure_callback_state", &f.failure_callback_states);
        match f.workflow {
            Some(true) => self.and("m.run_id IS NOT NULL"),
            Some(false) => self.and("m.run_id IS NULL"),
            None => {}
        }
    }

    /// The conditions of a message filter on the `messages` table (no alias).
    pub(crate) fn messages(&mut self, f: &MessageFilter) {
        self.any_text("id", &f.message_ids);
        self.any_text("destination", &f.urls);
        self.any_label("labels", &f.labels);
        self.any_text("flow_key", &f.flow_keys);
        self.between("created_at", f.from, f.to);
    }
}
