//! `serde` support: a [`RetryDelay`] travels as its source string.

use std::fmt;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::RetryDelay;

impl Serialize for RetryDelay {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

struct RetryDelayVisitor;

impl Visitor<'_> for RetryDelayVisitor {
    type Value = RetryDelay;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a retry delay expression such as \"pow(2, retried) * 1000\"")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<RetryDelay, E> {
        RetryDelay::compile(v).map_err(E::custom)
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<RetryDelay, E> {
        RetryDelay::compile_bytes(v).map_err(E::custom)
    }
}

impl<'de> Deserialize<'de> for RetryDelay {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<RetryDelay, D::Error> {
        deserializer.deserialize_str(RetryDelayVisitor)
    }
}
