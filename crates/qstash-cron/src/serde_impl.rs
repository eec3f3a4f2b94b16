//! `serde` support: a [`Cron`] travels as its canonical string.

use std::fmt;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::Cron;

impl Serialize for Cron {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

struct CronVisitor;

impl Visitor<'_> for CronVisitor {
    type Value = Cron;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a cron expression such as \"0 9 * * MON-FRI\"")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Cron, E> {
        Cron::parse(v).map_err(E::custom)
    }
}

impl<'de> Deserialize<'de> for Cron {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Cron, D::Error> {
        deserializer.deserialize_str(CronVisitor)
    }
}
