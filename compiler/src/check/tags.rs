//! Tags (`tag group = "checkout"` in a request): the plan's table of distinct key/value pairs,
//! in order of first use, that requests and `tag(…)` thresholds index.

use ptl_bytecode::Tag;

use crate::ast::RequestStmt;
use crate::check::targets::all_requests;
use crate::check::CheckContext;

/// Every distinct tag of the plan's requests, in order of first use.
pub fn collect(cx: &CheckContext<'_>) -> Vec<Tag> {
    let mut tags: Vec<Tag> = Vec::new();
    for (_, request) in all_requests(cx) {
        for stmt in &request.body {
            if let RequestStmt::Tag { key, value } = &stmt.node {
                let tag = Tag {
                    key: key.name.clone(),
                    value: value.value.clone(),
                };
                if !tags.contains(&tag) {
                    tags.push(tag);
                }
            }
        }
    }
    tags
}

/// The index of `key = value` in the table.
pub fn index(tags: &[Tag], key: &str, value: &str) -> Option<u32> {
    tags.iter()
        .position(|t| t.key == key && t.value == value)
        .map(|i| i as u32)
}
