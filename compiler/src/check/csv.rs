//! CSV text behind `let row = csv("file.csv")`: a header naming the columns, then rows, with
//! the row number of anything malformed.

use crate::check::model::DatasetData;

/// Parses CSV text: a header row of distinct, non-empty names, then at least one row with a
/// cell per column. Errors carry the 1-based line number (the header is line 1).
pub fn parse(name: &str, bytes: &[u8]) -> Result<DatasetData, (Option<u64>, String)> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Err((None, "the file is empty".to_string()));
    }
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes);
    let mut records = reader.records();
    let header = match records.next() {
        Some(Ok(h)) => h,
        Some(Err(e)) => return Err((Some(1), csv_reason(&e))),
        None => return Err((None, "the file is empty".to_string())),
    };
    let columns: Vec<String> = header.iter().map(|c| c.trim().to_string()).collect();
    for (i, column) in columns.iter().enumerate() {
        if column.is_empty() {
            return Err((
                Some(1),
                format!("the header has no name for column {}", i + 1),
            ));
        }
        if columns[..i].contains(column) {
            return Err((Some(1), format!("the header names column `{column}` twice")));
        }
    }
    if columns.iter().any(|c| c.parse::<f64>().is_ok()) {
        return Err((
            Some(1),
            format!(
                "the first row ({}) looks like data: a CSV file starts with a header naming its columns",
                columns.join(",")
            ),
        ));
    }
    let mut rows = Vec::new();
    for (i, record) in records.enumerate() {
        let record = record.map_err(|e| {
            let line = e.position().map_or(i as u64 + 2, |p| p.line());
            (Some(line), csv_reason(&e))
        })?;
        // Rows are numbered by line, so that an editor finds them.
        let row = record.position().map_or(i as u64 + 2, |p| p.line());
        if record.len() == 1 && record.get(0) == Some("") {
            continue;
        }
        if record.len() != columns.len() {
            return Err((
                Some(row),
                format!(
                    "{} cell{}, but the header has {} column{}",
                    record.len(),
                    if record.len() == 1 { "" } else { "s" },
                    columns.len(),
                    if columns.len() == 1 { "" } else { "s" }
                ),
            ));
        }
        rows.push(record.iter().map(str::to_string).collect());
    }
    if rows.is_empty() {
        return Err((None, "the header is not followed by any row".to_string()));
    }
    Ok(DatasetData {
        name: name.to_string(),
        columns,
        rows,
    })
}

fn csv_reason(err: &csv::Error) -> String {
    match err.kind() {
        csv::ErrorKind::Utf8 { .. } => "not UTF-8 text".to_string(),
        _ => err.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_header_and_rows() {
        let d = parse("c.csv", b"id,email\n1,a@x\n2,b@x\n").unwrap();
        assert_eq!(d.columns, ["id", "email"]);
        assert_eq!(d.rows, [["1", "a@x"], ["2", "b@x"]]);
    }

    #[test]
    fn names_the_ragged_row() {
        let err = parse("c.csv", b"id,email\n1,a@x\n2\n3,c@x\n").unwrap_err();
        assert_eq!(err.0, Some(3));
        assert!(
            err.1.contains("1 cell, but the header has 2 columns"),
            "{}",
            err.1
        );
    }

    #[test]
    fn rejects_empty_and_headerless_files() {
        assert_eq!(parse("c.csv", b"").unwrap_err().0, None);
        assert!(parse("c.csv", b"id,email\n")
            .unwrap_err()
            .1
            .contains("not followed"));
        assert_eq!(parse("c.csv", b"id,,x\n1,2,3\n").unwrap_err().0, Some(1));
        assert!(parse("c.csv", b"a,a\n1,2\n")
            .unwrap_err()
            .1
            .contains("twice"));
    }

    #[test]
    fn row_numbers_count_the_header() {
        let err = parse("c.csv", b"a,b\n1,2\n3,4\n5,6,7\n").unwrap_err();
        assert_eq!(err.0, Some(4));
    }
}
