//! `pre-start`, `post-start` and `pre-stop`: commands run before stackr starts a service (each
//! in a container of its own, once or per replica), in a service's container after stackr
//! starts it, and before stackr stops it (compose's `pre_start`, `post_start` and `pre_stop`).

use kdl::KdlNode;

use crate::model::Hook;
use crate::reader::{Reader, Shape};

const USAGE: &str = "post-start \"PROGRAM\" \"ARG\" ... user=\"USER\" workdir=\"/DIR\" privileged=#true { env KEY=\"VALUE\" }";
const PRE_START_USAGE: &str = "pre-start \"PROGRAM\" \"ARG\" ... image=\"IMAGE\" per-replica=#true user=\"USER\" workdir=\"/DIR\" privileged=#true { env KEY=\"VALUE\" }";

/// Reads one hook node.
pub(crate) fn decode(r: &mut Reader<'_>, node: &KdlNode, place: &str) -> Option<Hook> {
    let name = node.name().value();
    let pre_start = name == crate::keyword::ServiceNode::PreStart.as_str();
    let v = r.open(
        node,
        &Shape {
            min: 1,
            max: None,
            what: "a command",
            props: if pre_start {
                &["user", "workdir", "privileged", "image", "per-replica"]
            } else {
                &["user", "workdir", "privileged"]
            },
            children: true,
            usage: if pre_start { PRE_START_USAGE } else { USAGE },
        },
    );
    let command = r.argv(&v, &format!("`{name}`"))?;
    let mut hook = Hook {
        span: r.span(node.span()),
        command,
        user: v
            .prop("user")
            .and_then(|e| r.nonempty(e, "the hook's `user`")),
        workdir: v
            .prop("workdir")
            .and_then(|e| r.container_path(e, "the hook's `workdir`")),
        privileged: v.prop("privileged").and_then(|e| r.bool(e, "`privileged`")),
        env: Vec::new(),
        image: v
            .prop("image")
            .and_then(|e| r.nonempty(e, "the hook's `image`")),
        per_replica: v
            .prop("per-replica")
            .and_then(|e| r.bool(e, "`per-replica`")),
    };
    for c in v.children() {
        match c.name().value() {
            "env" => {
                let kv = r.map(c, &format!("the environment of a `{name}` hook of {place}"));
                hook.env.extend(kv);
            }
            _ => r.unknown_node(c, &format!("a `{name}` hook of {place}"), &["env"]),
        }
    }
    Some(hook)
}
