//! Builds on the engine's own BuildKit, for what the classic builder cannot do: secrets that
//! `RUN --mount=type=secret` reads, the SSH agent that `RUN --mount=type=ssh` uses, and named
//! contexts (an image or a URL that `FROM NAME` takes; BuildKit 0.10, so the plan asks for
//! Engine API 1.42).
//!
//! The build is a BuildKit solve through the daemon's `/grpc` and `/session` endpoints (what
//! buildx's `docker` driver does), with the context uploaded as a tarball and the image
//! exported into the engine's image store under the build's tag. The builder asks stackr's
//! side of the session for each secret while it runs, so a value is never part of a request,
//! a label or a layer. The solve reports no step output; a failure names the step.

use bollard::Docker;
use bollard::grpc::build::moby::buildkit::v1::CacheOptionsEntry;
use bollard::grpc::build::{
    ImageBuildFrontendOptions, ImageBuildLoadInput, ImageBuildNetworkMode, ImageBuildPlatform,
    NamedContext, SecretSource,
};
use bollard::grpc::driver::Build;
use bollard::grpc::driver::moby::Moby;
use bollard::grpc::error::GrpcError;
use stackr_engine::{BuildSecretSource, BuildSpec, EngineError, Result};

/// Builds `spec` on BuildKit; the image is the engine's under `spec.tag` when it returns.
///
/// bollard's solve is not `Send`, so it runs on a thread of its own with a runtime of its own;
/// this future only waits for its answer.
pub(crate) async fn build(
    docker: &Docker,
    spec: &BuildSpec,
    progress: &(dyn Fn(&str) + Send + Sync),
) -> Result<()> {
    let options = frontend_options(spec)?;
    let context = stackr_engine::context::tar_build(spec)?;
    progress("building on the engine's BuildKit (build secrets or SSH); its steps are not shown");
    let (tx, rx) = tokio::sync::oneshot::channel();
    let docker = docker.clone();
    let tag = spec.tag.clone();
    std::thread::Builder::new()
        .name("stackr-buildkit".into())
        .spawn(move || {
            let solved = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| EngineError::Other(format!("cannot start a BuildKit session: {e}")))
                .and_then(|rt| {
                    rt.block_on(Moby::new(&docker).docker_build(
                        &tag,
                        options,
                        ImageBuildLoadInput::Upload(context.into()),
                        None,
                        None,
                    ))
                    .map_err(failure)
                });
            let _ = tx.send(solved);
        })
        .map_err(|e| EngineError::Other(format!("cannot start a BuildKit session: {e}")))?;
    rx.await
        .map_err(|_| EngineError::Other("the BuildKit session ended without an answer".into()))?
}

/// The Dockerfile frontend's options for `spec`; what BuildKit cannot take is an error here,
/// before anything is sent.
fn frontend_options(spec: &BuildSpec) -> Result<ImageBuildFrontendOptions> {
    let refuse = |message: String| EngineError::BuildFailed {
        step: None,
        message,
        output: String::new(),
    };
    if spec.remote.is_some() {
        return Err(refuse(
            "build secrets, `ssh` and additional contexts need a local build context (BuildKit is given the context by stackr)".into(),
        ));
    }
    if spec.ssh && std::env::var_os("SSH_AUTH_SOCK").is_none() {
        return Err(refuse(
            "the build forwards the SSH agent (`ssh \"default\"`), but `SSH_AUTH_SOCK` is not set: start an agent (`eval $(ssh-agent)`, `ssh-add`) in the shell that runs stackr".into(),
        ));
    }
    let mut b = ImageBuildFrontendOptions::builder()
        .dockerfile(std::path::Path::new(&spec.dockerfile))
        .enable_ssh(spec.ssh);
    if let Some(target) = &spec.target {
        b = b.target(target);
    }
    for (k, v) in &spec.args {
        b = b.buildarg(k, v);
    }
    for (k, v) in &spec.labels {
        b = b.label(k, v);
    }
    if let Some(p) = &spec.platform {
        b = b.platforms(&platform(p).ok_or_else(|| {
            refuse(format!(
                "`{p}` is not a platform (`OS/ARCH` or `OS/ARCH/VARIANT`)"
            ))
        })?);
    }
    match spec.network.as_deref() {
        None | Some("default" | "bridge") => {}
        Some("host") => b = b.force_network_mode(&ImageBuildNetworkMode::Host),
        Some("none") => b = b.force_network_mode(&ImageBuildNetworkMode::None),
        Some(other) => {
            return Err(refuse(format!(
                "BuildKit runs `RUN` steps on `default`, `host` or `none`, not on the network `{other}`"
            )));
        }
    }
    if let Some(shm) = spec.shm_size {
        b = b.shmsize(shm);
    }
    for s in &spec.secrets {
        let source = match &s.source {
            BuildSecretSource::File(path) => SecretSource::File(path.clone()),
            BuildSecretSource::Env(var) => SecretSource::Env(var.clone()),
        };
        b = b.set_secret(&s.id, &source);
    }
    for (name, source) in &spec.additional_contexts {
        b = b.named_context(
            name,
            NamedContext {
                path: source.clone(),
            },
        );
    }
    for image in &spec.cache_from {
        b = b.cachefrom(&CacheOptionsEntry {
            r#type: "registry".into(),
            attrs: [("ref".to_string(), image.clone())].into_iter().collect(),
        });
    }
    Ok(b.build())
}

/// `os/arch[/variant]`.
fn platform(text: &str) -> Option<ImageBuildPlatform> {
    let mut parts = text.split('/');
    let os = parts.next().filter(|s| !s.is_empty())?;
    let architecture = parts.next().filter(|s| !s.is_empty())?;
    let variant = parts.next().map(str::to_string);
    if parts.next().is_some() {
        return None;
    }
    Some(ImageBuildPlatform {
        os: os.to_string(),
        architecture: architecture.to_string(),
        variant,
    })
}

/// A failed solve as stackr's error: BuildKit's message names the step that failed
/// (`process "/bin/sh -c make" did not complete successfully: exit code: 2`).
fn failure(e: GrpcError) -> EngineError {
    match e {
        GrpcError::TonicStatus { err } => EngineError::BuildFailed {
            step: None,
            message: err.message().to_string(),
            output: String::new(),
        },
        other => EngineError::Other(format!("the engine's BuildKit session failed: {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platforms_have_an_os_an_architecture_and_maybe_a_variant() {
        let p = platform("linux/arm/v7").map(|p| p.to_string());
        assert_eq!(p.as_deref(), Some("linux/arm/v7"));
        assert_eq!(
            platform("linux/amd64").map(|p| p.variant),
            Some(None::<String>)
        );
        assert!(platform("linux").is_none());
        assert!(platform("linux/").is_none());
        assert!(platform("a/b/c/d").is_none());
    }

    #[test]
    fn a_named_network_and_a_remote_context_are_refused_before_anything_is_sent() {
        let spec = BuildSpec {
            tag: "x:1".into(),
            dockerfile: "Dockerfile".into(),
            network: Some("backend".into()),
            ssh: false,
            secrets: vec![stackr_engine::BuildSecret {
                id: "token".into(),
                source: BuildSecretSource::Env("TOKEN".into()),
            }],
            ..BuildSpec::default()
        };
        let Err(EngineError::BuildFailed { message, .. }) = frontend_options(&spec) else {
            panic!("a named network was taken");
        };
        assert!(message.contains("`backend`"), "{message}");
        let remote = BuildSpec {
            network: None,
            remote: Some("https://example.com/repo.git".into()),
            ..spec
        };
        assert!(frontend_options(&remote).is_err());
    }
}
