//! Mapping bollard's errors onto [`EngineError`]: connection failures become `Unreachable` with
//! a reason a human understands, and the daemon's HTTP statuses and messages become the
//! variants the reconciler acts upon.

use std::error::Error as _;
use std::io;

use bollard::errors::Error as BollardError;
use stackr_engine::EngineError;

/// What the daemon says when a host port is taken.
fn is_port_message(message: &str) -> bool {
    message.contains("port is already allocated") || message.contains("address already in use")
}

/// Maps an error of a request about `what` (`container web-1`, `network front`).
pub(crate) fn map(endpoint: &str, what: &str, err: BollardError) -> EngineError {
    match err {
        BollardError::DockerResponseServerError {
            status_code,
            message,
        } => map_status(what, status_code, message),
        BollardError::DockerStreamError { error } if is_port_message(&error) => {
            EngineError::PortAllocated { message: error }
        }
        other => match unreachable_reason(&other) {
            Some(reason) => EngineError::Unreachable {
                endpoint: endpoint.to_string(),
                reason,
            },
            None => EngineError::Other(format!("{what}: {other}")),
        },
    }
}

/// Maps an HTTP error status and the daemon's message.
pub(crate) fn map_status(what: &str, status: u16, message: String) -> EngineError {
    if is_port_message(&message) {
        return EngineError::PortAllocated { message };
    }
    match status {
        404 => EngineError::NotFound {
            what: what.to_string(),
        },
        409 => EngineError::Conflict {
            what: what.to_string(),
            message,
        },
        _ => EngineError::Api { status, message },
    }
}

/// Whether the error is a 404 of the daemon (the object does not exist).
pub(crate) fn is_not_found(err: &BollardError) -> bool {
    matches!(
        err,
        BollardError::DockerResponseServerError {
            status_code: 404,
            ..
        }
    )
}

/// Why the daemon could not be reached, when that is what went wrong.
pub(crate) fn unreachable_reason(err: &BollardError) -> Option<String> {
    match err {
        BollardError::SocketNotFoundError(path) => Some(format!(
            "the socket `{path}` does not exist (is the Docker daemon running? is DOCKER_HOST right?)"
        )),
        BollardError::RequestTimeoutError => Some("the daemon did not answer in time".to_string()),
        BollardError::UnsupportedURISchemeError { uri } => Some(format!(
            "`{uri}` is not an address stackr can connect to (use unix://, tcp:// or http://)"
        )),
        BollardError::HyperLegacyError { .. }
        | BollardError::HyperResponseError { .. }
        | BollardError::IOError { .. } => Some(io_reason(err)),
        _ => None,
    }
}

/// Describes the innermost I/O error of a connection failure.
fn io_reason(err: &BollardError) -> String {
    let mut source: Option<&(dyn std::error::Error + 'static)> = err.source();
    let mut io_err: Option<&io::Error> = None;
    if let BollardError::IOError { err } = err {
        io_err = Some(err);
    }
    while let Some(s) = source {
        if let Some(e) = s.downcast_ref::<io::Error>() {
            io_err = Some(e);
        }
        source = s.source();
    }
    match io_err.map(io::Error::kind) {
        Some(io::ErrorKind::NotFound) => {
            "the socket does not exist (is the Docker daemon running?)".to_string()
        }
        Some(io::ErrorKind::ConnectionRefused) => {
            "the connection was refused (is the Docker daemon running?)".to_string()
        }
        Some(io::ErrorKind::PermissionDenied) => {
            "permission denied (is your user allowed to use Docker, e.g. in the `docker` group?)"
                .to_string()
        }
        Some(
            io::ErrorKind::ConnectionReset
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::UnexpectedEof,
        ) => "the daemon closed the connection".to_string(),
        _ => match io_err {
            Some(e) => e.to_string(),
            None => err.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_their_variants() {
        assert_eq!(
            map_status("container x", 404, "No such container: x".into()),
            EngineError::NotFound {
                what: "container x".into()
            }
        );
        assert!(matches!(
            map_status("container x", 409, "in use".into()),
            EngineError::Conflict { .. }
        ));
        assert!(matches!(
            map_status(
                "container x",
                500,
                "driver failed programming external connectivity: Bind for 127.0.0.1:8080 failed: port is already allocated"
                    .into()
            ),
            EngineError::PortAllocated { .. }
        ));
        assert!(matches!(
            map_status(
                "container x",
                500,
                "listen tcp4 0.0.0.0:80: bind: address already in use".into()
            ),
            EngineError::PortAllocated { .. }
        ));
        assert_eq!(
            map_status("container x", 400, "bad".into()),
            EngineError::Api {
                status: 400,
                message: "bad".into()
            }
        );
    }

    #[test]
    fn a_missing_socket_is_unreachable() {
        let err = map(
            "unix:///nope.sock",
            "info",
            BollardError::SocketNotFoundError("/nope.sock".into()),
        );
        assert!(
            matches!(err, EngineError::Unreachable { ref endpoint, .. } if endpoint == "unix:///nope.sock")
        );
    }
}
