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
