//! Port specs: `[ip:][host:]container[/protocol]`, with ranges.

use std::fmt;
use std::net::IpAddr;

use thiserror::Error;

/// Why a port spec did not parse.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PortError {
    #[error("the port spec is empty")]
    Empty,
    #[error("`{0}` is not a port number")]
    NotANumber(String),
    #[error("port {0} is out of range (1-65535)")]
    OutOfRange(u64),
    #[error("the range {start}-{end} runs backwards")]
    Backwards { start: u16, end: u16 },
    #[error("the host range has {host} ports but the container range has {container}")]
    RangeMismatch { host: u32, container: u32 },
    #[error("`{0}` is not a protocol (tcp, udp or sctp)")]
    UnknownProtocol(String),
    #[error("`{0}` is not an IP address")]
    BadIp(String),
    #[error("too many `:`-separated parts")]
    TooManyParts,
}

/// An inclusive range of ports; a single port is a range of one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PortRange {
    pub start: u16,
    pub end: u16,
}

impl PortRange {
    pub fn single(port: u16) -> Self {
        PortRange {
            start: port,
            end: port,
        }
    }

    pub fn len(&self) -> u32 {
        u32::from(self.end) - u32::from(self.start) + 1
    }

    pub fn is_empty(&self) -> bool {
        false
    }

    pub fn overlaps(&self, other: &PortRange) -> bool {
        self.start <= other.end && other.start <= self.end
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.start == self.end {
            write!(f, "{}", self.start)
        } else {
            write!(f, "{}-{}", self.start, self.end)
        }
    }
}

/// A transport protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum Protocol {
    #[default]
    Tcp,
    Udp,
    Sctp,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Sctp => "sctp",
        }
    }

    pub fn parse(s: &str) -> Result<Self, PortError> {
        match s.to_ascii_lowercase().as_str() {
            "tcp" => Ok(Protocol::Tcp),
            "udp" => Ok(Protocol::Udp),
            "sctp" => Ok(Protocol::Sctp),
            _ => Err(PortError::UnknownProtocol(s.into())),
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A published (or only exposed) port.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PortSpec {
    pub host_ip: Option<IpAddr>,
    /// `None`: the engine picks a free host port.
    pub published: Option<PortRange>,
    pub target: PortRange,
    pub protocol: Protocol,
    /// `mode="host"`: on the Swarm target, published on the node that runs the task rather
    /// than through the routing mesh (the engine target always publishes on its host).
    pub host_mode: bool,
}

impl fmt::Display for PortSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.host_ip {
            Some(IpAddr::V6(ip)) => write!(f, "[{ip}]:")?,
            Some(IpAddr::V4(ip)) => write!(f, "{ip}:")?,
            None => {}
        }
        match self.published {
            Some(p) => write!(f, "{p}:")?,
            None if self.host_ip.is_some() => write!(f, ":")?,
            None => {}
        }
        write!(f, "{}", self.target)?;
        if self.protocol != Protocol::Tcp {
            write!(f, "/{}", self.protocol)?;
        }
        Ok(())
    }
}

/// Parses one port number.
pub fn parse_port_number(s: &str) -> Result<u16, PortError> {
    let n: u64 = s
        .trim()
        .parse()
        .map_err(|_| PortError::NotANumber(s.into()))?;
    if n == 0 || n > 65535 {
        return Err(PortError::OutOfRange(n));
    }
    Ok(n as u16)
}

/// Parses `8000` or `8000-8010`.
pub fn parse_port_range(s: &str) -> Result<PortRange, PortError> {
    if s.is_empty() {
        return Err(PortError::Empty);
    }
    match s.split_once('-') {
        Some((a, b)) => {
            let start = parse_port_number(a)?;
            let end = parse_port_number(b)?;
            if end < start {
                return Err(PortError::Backwards { start, end });
            }
            Ok(PortRange { start, end })
        }
        None => Ok(PortRange::single(parse_port_number(s)?)),
    }
}

/// Parses a short port spec: `80`, `8080:80`, `127.0.0.1:8080:80`, `127.0.0.1::80`,
/// `[::1]:8080:80`, `8000-8010:8000-8010`, `53:53/udp`.
pub fn parse_port_spec(text: &str) -> Result<PortSpec, PortError> {
    let s = text.trim();
    if s.is_empty() {
        return Err(PortError::Empty);
    }
    let (s, protocol) = match s.rsplit_once('/') {
        Some((rest, proto)) => (rest, Protocol::parse(proto)?),
        None => (s, Protocol::Tcp),
    };
    // An IPv6 host address is written in brackets.
    let (host_ip, rest) = if let Some(stripped) = s.strip_prefix('[') {
        let (ip, after) = stripped
            .split_once(']')
            .ok_or_else(|| PortError::BadIp(s.into()))?;
        let ip: IpAddr = ip.parse().map_err(|_| PortError::BadIp(ip.into()))?;
        let after = after
            .strip_prefix(':')
            .ok_or_else(|| PortError::BadIp(s.into()))?;
        (Some(ip), after.to_string())
    } else {
        (None, s.to_string())
    };
    let parts: Vec<&str> = rest.split(':').collect();
    let (ip_text, host, container) = match (host_ip.is_some(), parts.as_slice()) {
        (false, [c]) => (None, None, *c),
        (false, [h, c]) => (None, Some(*h), *c),
        (false, [ip, h, c]) => (Some(*ip), Some(*h), *c),
        (true, [h, c]) => (None, Some(*h), *c),
        (true, [c]) => (None, None, *c),
        _ => return Err(PortError::TooManyParts),
    };
    let host_ip = match ip_text {
        Some(ip) => Some(ip.parse().map_err(|_| PortError::BadIp(ip.into()))?),
        None => host_ip,
    };
    let target = parse_port_range(container)?;
    let published = match host {
        None | Some("") => None,
        Some(h) => Some(parse_port_range(h)?),
    };
    if let Some(p) = published
        && p.len() != target.len()
        && target.len() != 1
    {
        return Err(PortError::RangeMismatch {
            host: p.len(),
            container: target.len(),
        });
    }
    Ok(PortSpec {
        host_ip,
        published,
        target,
        protocol,
        host_mode: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_forms() {
        let p = parse_port_spec("80:80").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.published, Some(PortRange::single(80)));
        assert_eq!(p.target, PortRange::single(80));
        for (input, shown) in [
            ("80", "80"),
            ("8080:80", "8080:80"),
            ("127.0.0.1:8080:80", "127.0.0.1:8080:80"),
            ("127.0.0.1::80", "127.0.0.1::80"),
            ("[::1]:8080:80", "[::1]:8080:80"),
            ("8000-8010:8000-8010", "8000-8010:8000-8010"),
            ("53:53/udp", "53:53/udp"),
            ("9000-9001:80", "9000-9001:80"),
            ("80/TCP", "80"),
        ] {
            let spec = parse_port_spec(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(spec.to_string(), shown, "{input}");
        }
    }

    #[test]
    fn errors() {
        assert_eq!(parse_port_spec("0:80"), Err(PortError::OutOfRange(0)));
        assert_eq!(parse_port_spec("70000"), Err(PortError::OutOfRange(70000)));
        assert_eq!(
            parse_port_spec("80/http"),
            Err(PortError::UnknownProtocol("http".into()))
        );
        assert_eq!(
            parse_port_spec("8000-8002:80-81"),
            Err(PortError::RangeMismatch {
                host: 3,
                container: 2
            })
        );
        assert_eq!(
            parse_port_spec("90-80:80"),
            Err(PortError::Backwards { start: 90, end: 80 })
        );
        assert_eq!(
            parse_port_spec("localhost:80:80"),
            Err(PortError::BadIp("localhost".into()))
        );
        assert_eq!(parse_port_spec("1:2:3:4"), Err(PortError::TooManyParts));
        assert_eq!(
            parse_port_spec("http"),
            Err(PortError::NotANumber("http".into()))
        );
    }
}
