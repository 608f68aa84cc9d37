//! What the operations need from this machine besides the stack: the env files services name
//! and the values of the secrets they use, read before anything on the engine is touched.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use stackr_reconcile::desired::SecretValue;
use stackr_spec::interpolate::parse_dotenv_all;
use stackr_spec::{ReadError, SecretSource, Stack, limits};

use crate::{HostError, HostWarning};

/// What the desired state needs from this machine: the secret values, and the env files
/// services name unless `env_files` is false (a build needs none); `probe_volume` is where
/// stackr's probe runner lives on the engine.
pub fn read(
    stack: &Stack,
    env_files: bool,
    probe_volume: String,
    warnings: &mut Vec<HostWarning>,
) -> Result<stackr_reconcile::desired::Inputs, HostError> {
    Ok(stackr_reconcile::desired::Inputs {
        env_files: if env_files {
            self::env_files(stack, warnings)?
        } else {
            BTreeMap::new()
        },
        secrets: secret_values(stack, warnings)?,
        probe_volume: Some(probe_volume),
        ..Default::default()
    })
}

/// The value of every secret a service uses: a missing file or an unset variable is an error.
/// Values are never part of an error or a warning.
pub fn secret_values(
    stack: &Stack,
    warnings: &mut Vec<HostWarning>,
) -> Result<BTreeMap<String, SecretValue>, HostError> {
    let mut out = BTreeMap::new();
    // A build's secrets too: a missing value stops `up` before the build, and logs mask it.
    let used: BTreeSet<&String> = stack
        .services
        .values()
        .flat_map(|s| {
            let builds = s.build.iter().flat_map(|b| &b.secrets);
            s.secrets
                .iter()
                .map(|f| &f.name.value)
                .chain(builds.map(|f| &f.name.value))
        })
        .collect();
    for name in used {
        let Some(secret) = stack.secrets.get(name) else {
            continue;
        };
        let value = match secret.source.as_ref().map(|s| &s.value) {
            Some(SecretSource::File(path)) => {
                let v =
                    crate::files::read_regular(path, limits::MAX_FILE_BYTES).map_err(|error| {
                        HostError::SecretFile {
                            name: name.clone(),
                            path: path.clone(),
                            error,
                        }
                    })?;
                let acknowledged = secret
                    .acknowledge_readable
                    .as_ref()
                    .is_some_and(|a| a.value);
                if !acknowledged && let Some(mode) = readable_mode(path) {
                    warnings.push(HostWarning::ReadableSecret {
                        name: name.clone(),
                        path: path.clone(),
                        mode,
                    });
                }
                v
            }
            Some(SecretSource::Env(var)) => match std::env::var_os(var) {
                Some(v) => v.into_encoded_bytes(),
                None => {
                    return Err(HostError::SecretVariable {
                        name: name.clone(),
                        var: var.clone(),
                    });
                }
            },
            _ => continue,
        };
        out.insert(name.clone(), SecretValue(value));
    }
    Ok(out)
}

/// The content of every config a service uses that comes from a file, for the Swarm target
/// (which makes a Swarm config of it): a missing file is an error.
pub fn config_contents(stack: &Stack) -> Result<BTreeMap<String, Vec<u8>>, HostError> {
    let mut out = BTreeMap::new();
    for s in stack.services.values() {
        for f in &s.configs {
            let name = &f.name.value;
            let Some(config) = stack.configs.get(name) else {
                continue;
            };
            if out.contains_key(name) {
                continue;
            }
            if let Some(stackr_spec::ConfigSource::File(path)) =
                config.source.as_ref().map(|s| &s.value)
            {
                let data =
                    crate::files::read_regular(path, limits::MAX_FILE_BYTES).map_err(|error| {
                        HostError::ConfigFile {
                            name: name.clone(),
                            path: path.clone(),
                            error,
                        }
                    })?;
                out.insert(name.clone(), data);
            }
        }
    }
    Ok(out)
}

/// The file's mode when its group or others can read it.
#[cfg(unix)]
fn readable_mode(path: &Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).ok()?.permissions().mode();
    (mode & 0o077 != 0).then_some(mode & 0o777)
}

#[cfg(not(unix))]
fn readable_mode(_path: &Path) -> Option<u32> {
    None
}

/// Every env file the stack's services name, read (missing optional ones are skipped).
pub fn env_files(
    stack: &Stack,
    warnings: &mut Vec<HostWarning>,
) -> Result<BTreeMap<PathBuf, Vec<(String, String)>>, HostError> {
    let shell: BTreeMap<String, String> = std::env::vars().collect();
    let mut out = BTreeMap::new();
    for s in stack.services.values() {
        for f in s.env_files.iter().chain(&s.options.label_files) {
            let path = &f.path.value;
            if out.contains_key(path) {
                continue;
            }
            let text = match crate::files::read_text(path) {
                Ok(text) => text,
                Err(ReadError::NotFound) if !f.required => continue,
                Err(error) => {
                    return Err(HostError::EnvFileRead {
                        path: path.clone(),
                        service: s.name.value.clone(),
                        error,
                    });
                }
            };
            let d = parse_dotenv_all(&text, &shell);
            warnings.extend(d.unset.iter().map(|(e, _)| HostWarning::UnsetInEnvFile {
                path: path.clone(),
                service: s.name.value.clone(),
                message: e.to_string(),
            }));
            if !d.errors.is_empty() {
                return Err(HostError::EnvFile {
                    path: path.clone(),
                    service: s.name.value.clone(),
                    lines: d.errors.iter().map(ToString::to_string).collect(),
                });
            }
            out.insert(path.clone(), d.vars);
        }
    }
    Ok(out)
}
