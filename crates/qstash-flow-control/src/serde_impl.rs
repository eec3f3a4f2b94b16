//! `serde` support: a [`FlowControl`] travels as its canonical string and a [`FlowControlKey`] as
//! its string, both validated when deserialized.

use std::fmt;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::{FlowControl, FlowControlKey};

impl Serialize for FlowControl {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

struct FlowControlVisitor;

impl Visitor<'_> for FlowControlVisitor {
    type Value = FlowControl;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a flow-control value such as \"parallelism=2, rate=5, period=1m\"")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<FlowControl, E> {
        FlowControl::parse(v.as_bytes()).map_err(E::custom)
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<FlowControl, E> {
        FlowControl::parse(v).map_err(E::custom)
    }
}

impl<'de> Deserialize<'de> for FlowControl {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<FlowControl, D::Error> {
        deserializer.deserialize_str(FlowControlVisitor)
    }
}

impl Serialize for FlowControlKey {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

struct KeyVisitor;

impl Visitor<'_> for KeyVisitor {
    type Value = FlowControlKey;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a flow-control key: 1 to 256 bytes of visible ASCII")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<FlowControlKey, E> {
        FlowControlKey::new(v).map_err(E::custom)
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<FlowControlKey, E> {
        FlowControlKey::new(v).map_err(E::custom)
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<FlowControlKey, E> {
        FlowControlKey::parse(v).map_err(E::custom)
    }
}

impl<'de> Deserialize<'de> for FlowControlKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<FlowControlKey, D::Error> {
        deserializer.deserialize_string(KeyVisitor)
    }
}
