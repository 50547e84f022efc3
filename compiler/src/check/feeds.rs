//! The data files behind feeder lets (`csv("file.csv")`, `json("file.json")`): read once at
//! compile time, each file once however many lets name it, so that agents get the rows in the
//! plan and need no files.

use std::collections::HashMap;
use std::path::PathBuf;

use crate::check::model::DatasetData;
use crate::check::names::{FeedKind, Names};
use crate::check::Sink;
use crate::diagnostic::Diagnostic;
use crate::source::{io_reason, Loaded};

/// Loads the file of every feeder `let`, once per file, and records each let's dataset.
pub fn load_datasets(loaded: &Loaded, names: &Names<'_>, sink: &mut Sink) -> Vec<DatasetData> {
    let mut datasets = Vec::new();
    let mut by_path: HashMap<PathBuf, u32> = HashMap::new();
    for entry in &names.lets {
        let Some((kind, lit)) = entry.feed() else {
            continue;
        };
        let file = &loaded.files[entry.file.0];
        let Some(dir) = file.dir() else {
            sink.push(
                entry.file,
                Diagnostic::FeedUnreadable {
                    kind: kind.as_str(),
                    path: lit.value.clone(),
                    reason: "a standard library cannot read files".to_string(),
                    span: lit.span.into(),
                },
            );
            continue;
        };
        let path = dir.join(&lit.value);
        let key = loaded.fs.canonical(&path);
        if let Some(&index) = by_path.get(&key) {
            entry.dataset.set(Some(index));
            continue;
        }
        let bytes = match loaded.fs.read(&path) {
            Ok(bytes) => bytes,
            Err(e) => {
                sink.push(
                    entry.file,
                    Diagnostic::FeedUnreadable {
                        kind: kind.as_str(),
                        path: lit.value.clone(),
                        reason: io_reason(&e),
                        span: lit.span.into(),
                    },
                );
                continue;
            }
        };
        let parsed = match kind {
            FeedKind::Csv => super::csv::parse(&lit.value, &bytes).map_err(|(row, reason)| {
                Diagnostic::CsvMalformed {
                    path: lit.value.clone(),
                    row,
                    reason,
                    span: lit.span.into(),
                }
            }),
            FeedKind::Json => super::json_feed::parse(&lit.value, &bytes).map_err(|reason| {
                Diagnostic::JsonFeedMalformed {
                    path: lit.value.clone(),
                    reason,
                    span: lit.span.into(),
                }
            }),
        };
        match parsed {
            Ok(data) => {
                let index = datasets.len() as u32;
                datasets.push(data);
                by_path.insert(key, index);
                entry.dataset.set(Some(index));
            }
            Err(d) => sink.push(entry.file, d),
        }
    }
    datasets
}
