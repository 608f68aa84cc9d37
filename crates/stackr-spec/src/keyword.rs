//! The node names of the stack language as typed enums (just's `keyword.rs` is the model): one
//! list per place, which drives decoding (an exhaustive `match`, so a keyword cannot be added
//! without being decoded), "did you mean" suggestions, and printing.

/// An enum of keywords, each with its text.
macro_rules! keywords {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $text:literal,)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($variant,)*
        }

        impl $name {
            /// Every keyword, in the reference's order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)*];
            /// The text of every keyword, in the same order (for suggestions).
            pub const NAMES: &'static [&'static str] = &[$($text,)*];

            /// The keyword as written in a stack file.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)*
                }
            }

            /// The keyword written `text`, if it is one.
            pub fn from_name(text: &str) -> Option<$name> {
                match text {
                    $($text => Some($name::$variant),)*
                    _ => None,
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

keywords! {
    /// A node inside `service`.
    ServiceNode {
        Image = "image",
        Build = "build",
        Command = "command",
        Entrypoint = "entrypoint",
        Env = "env",
        EnvFile = "env-file",
        Port = "port",
        Expose = "expose",
        Mount = "mount",
        Tmpfs = "tmpfs",
        Networks = "networks",
        Network = "network",
        NetworkMode = "network-mode",
        Health = "health",
        DependsOn = "depends-on",
        Restart = "restart",
        Scale = "scale",
        ContainerName = "container-name",
        User = "user",
        WorkingDir = "working-dir",
        Labels = "labels",
        Init = "init",
        Tty = "tty",
        StdinOpen = "stdin-open",
        StopSignal = "stop-signal",
        StopGracePeriod = "stop-grace-period",
        Limits = "limits",
        Reservations = "reservations",
        ShmSize = "shm-size",
        Device = "device",
        ReadOnly = "read-only",
        Privileged = "privileged",
        CapAdd = "cap-add",
        CapDrop = "cap-drop",
        NoNewPrivileges = "no-new-privileges",
        SecurityOpt = "security-opt",
        Ulimit = "ulimit",
        Sysctls = "sysctls",
        Logging = "logging",
        ExtraHosts = "extra-hosts",
        Hostname = "hostname",
        PullPolicy = "pull-policy",
        Secret = "secret",
        Config = "config",
        Watch = "watch",
        Acknowledge = "acknowledge",
        Update = "update",
        Rollback = "rollback",
        PreStart = "pre-start",
        PostStart = "post-start",
        PreStop = "pre-stop",
        Placement = "placement",
        EndpointMode = "endpoint-mode",
        Dns = "dns",
        DnsSearch = "dns-search",
        DnsOpt = "dns-opt",
        Domainname = "domainname",
        MacAddress = "mac-address",
        Platform = "platform",
        Runtime = "runtime",
        Ipc = "ipc",
        Pid = "pid",
        Uts = "uts",
        UsernsMode = "userns-mode",
        Cgroup = "cgroup",
        CgroupParent = "cgroup-parent",
        GroupAdd = "group-add",
        DeviceCgroupRule = "device-cgroup-rule",
        StorageOpt = "storage-opt",
        Annotations = "annotations",
        OomKillDisable = "oom-kill-disable",
        OomScoreAdj = "oom-score-adj",
        CpuShares = "cpu-shares",
        CpuPeriod = "cpu-period",
        CpuQuota = "cpu-quota",
        Cpuset = "cpuset",
        MemSwappiness = "mem-swappiness",
        MemswapLimit = "memswap-limit",
        Links = "links",
        ExternalLinks = "external-links",
        VolumesFrom = "volumes-from",
        Gpu = "gpu",
        LabelFile = "label-file",
        Blkio = "blkio",
    }
}

keywords! {
    /// A node inside `blkio`.
    BlkioNode {
        WeightDevice = "weight-device",
        DeviceReadBps = "device-read-bps",
        DeviceWriteBps = "device-write-bps",
        DeviceReadIops = "device-read-iops",
        DeviceWriteIops = "device-write-iops",
    }
}

keywords! {
    /// A node inside `gpu`.
    GpuNode {
        DeviceIds = "device-ids",
        Capabilities = "capabilities",
        Options = "options",
    }
}

keywords! {
    /// A node inside `update` and `rollback`.
    UpdateNode {
        Order = "order",
        Parallelism = "parallelism",
        Delay = "delay",
        Monitor = "monitor",
        FailureAction = "failure-action",
        MaxFailureRatio = "max-failure-ratio",
    }
}

#[cfg(test)]
mod tests {
    use super::ServiceNode;

    #[test]
    fn every_service_keyword_reads_back_as_itself() {
        assert_eq!(ServiceNode::ALL.len(), ServiceNode::NAMES.len());
        for k in ServiceNode::ALL {
            assert_eq!(ServiceNode::from_name(k.as_str()), Some(*k));
        }
        assert_eq!(ServiceNode::from_name("environment"), None);
    }
}
