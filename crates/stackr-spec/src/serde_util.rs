//! JSON shapes for values: durations as `"1m30s"`, sizes in bytes, CPUs as numbers, port
//! ranges as `"8000-8010"`. Spans are never serialised.

use std::time::Duration;

use serde::ser::{Serialize, SerializeStruct, Serializer};

use crate::port::{PortRange, PortSpec, Protocol};
use crate::source::Spanned;
use crate::units::{ByteSize, Cpus, format_duration};

impl<T: Serialize> Serialize for Spanned<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.value.serialize(s)
    }
}

pub(crate) fn opt_duration<S: Serializer>(
    d: &Option<Spanned<Duration>>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_str(&format_duration(d.value)),
        None => s.serialize_none(),
    }
}

impl Serialize for ByteSize {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(self.0)
    }
}

impl Serialize for Cpus {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(self.0 as f64 / 1e9)
    }
}

impl Serialize for PortRange {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl Serialize for Protocol {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl Serialize for PortSpec {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("PortSpec", 5)?;
        st.serialize_field("host-ip", &self.host_ip)?;
        st.serialize_field("published", &self.published)?;
        st.serialize_field("target", &self.target)?;
        st.serialize_field("protocol", &self.protocol)?;
        // Only when set: what a stack without it serializes (and hashes) stays the same.
        if self.host_mode {
            st.serialize_field("mode", "host")?;
        } else {
            st.skip_field("mode")?;
        }
        st.end()
    }
}

// The JSON Schema of each shape above, for `stackr config --format json`'s schema
// (`book/src/schema/stack.schema.json`).

use std::borrow::Cow;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};

impl<T: JsonSchema> JsonSchema for Spanned<T> {
    fn inline_schema() -> bool {
        T::inline_schema()
    }

    fn schema_name() -> Cow<'static, str> {
        T::schema_name()
    }

    fn schema_id() -> Cow<'static, str> {
        T::schema_id()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        T::json_schema(generator)
    }
}

/// A duration as stackr prints it: `"1m30s"`, `"500ms"`.
pub(crate) struct DurationText;

impl JsonSchema for DurationText {
    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": "^([0-9]+(h|m|s|ms|us|ns))+$",
            "description": "a duration: \"1m30s\", \"500ms\""
        })
    }
}

impl JsonSchema for ByteSize {
    fn schema_name() -> Cow<'static, str> {
        "ByteSize".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "integer", "minimum": 0, "description": "a size in bytes" })
    }
}

impl JsonSchema for Cpus {
    fn schema_name() -> Cow<'static, str> {
        "Cpus".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "number", "exclusiveMinimum": 0, "description": "a number of CPUs" })
    }
}

impl JsonSchema for PortRange {
    fn schema_name() -> Cow<'static, str> {
        "PortRange".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": "^[0-9]+(-[0-9]+)?$",
            "description": "a port or a range of ports: \"80\", \"8000-8010\""
        })
    }
}

impl JsonSchema for Protocol {
    fn schema_name() -> Cow<'static, str> {
        "Protocol".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "string", "enum": ["tcp", "udp", "sctp"] })
    }
}

impl JsonSchema for PortSpec {
    fn schema_name() -> Cow<'static, str> {
        "PortSpec".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let range = generator.subschema_for::<PortRange>();
        let protocol = generator.subschema_for::<Protocol>();
        json_schema!({
            "type": "object",
            "properties": {
                "host-ip": { "type": ["string", "null"], "description": "the host address it is published on" },
                "published": { "anyOf": [range.clone(), { "type": "null" }] },
                "target": range,
                "protocol": protocol,
                "mode": { "const": "host", "description": "only when published on the node that runs the task" }
            },
            "required": ["host-ip", "published", "target", "protocol"],
            "additionalProperties": false
        })
    }
}
