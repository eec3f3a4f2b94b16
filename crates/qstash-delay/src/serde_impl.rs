//! `serde` support: a [`Delay`] travels as its canonical string.

use std::fmt;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::Delay;

impl Serialize for Delay {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

struct DelayVisitor;

impl Visitor<'_> for DelayVisitor {
    type Value = Delay;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a delay such as \"50s\" or \"1d10h30m\"")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Delay, E> {
        Delay::parse(v.as_bytes()).map_err(E::custom)
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Delay, E> {
        Delay::parse(v).map_err(E::custom)
    }
}

impl<'de> Deserialize<'de> for Delay {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Delay, D::Error> {
        deserializer.deserialize_str(DelayVisitor)
    }
}
