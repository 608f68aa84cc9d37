//! The language schema (`stackr_spec::schema`, what editors offer) against what users read:
//! every node and property of the book's valid examples, the examples, the root stack file
//! and the valid fixtures is in the schema at its place. (The schema's own tests check the
//! other way: everything it lists decodes.)

use kdl::KdlDocument;
use stackr_spec::schema;

use crate::format::stack_texts;

fn walk(doc: &KdlDocument, path: &mut Vec<String>, place: &str, missing: &mut Vec<String>) {
    for node in doc.nodes() {
        let name = node.name().value().to_string();
        path.push(name);
        let names: Vec<&str> = path.iter().map(String::as_str).collect();
        match schema::node(&names) {
            Some(found) => {
                for e in node.entries() {
                    let Some(prop) = e.name() else { continue };
                    if !found.map && found.prop(prop.value()).is_none() {
                        missing.push(format!("{place}: `{}` of {names:?}", prop.value()));
                    }
                }
                if !found.map
                    && !found.options
                    && let Some(children) = node.children()
                {
                    walk(children, path, place, missing);
                }
            }
            None => missing.push(format!("{place}: node {names:?}")),
        }
        path.pop();
    }
}

#[test]
fn every_node_and_property_users_read_is_in_the_schema() {
    let mut missing = Vec::new();
    let mut read = 0;
    for text in stack_texts().into_iter().filter(|t| t.valid) {
        let Ok(doc) = text.text.parse::<KdlDocument>() else {
            continue;
        };
        read += 1;
        walk(&doc, &mut Vec::new(), &text.place, &mut missing);
    }
    assert!(read > 100, "only {read} stack files read");
    assert!(
        missing.is_empty(),
        "not in the schema:\n{}",
        missing.join("\n")
    );
}
