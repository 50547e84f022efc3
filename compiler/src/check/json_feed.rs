//! JSON text behind `let user = json("users.json")`: an array of objects, flattened into the
//! same table of named columns as a CSV file, so that the bytecode and the engine need not know
//! which format a row came from.
//!
//! A field's cell is its text for a string and its JSON text otherwise (`42`, `true`, `null`,
//! `[1,2]`); a nested object becomes one column per field, named by the path (`address.city`).
//! Every object must have the same fields: a row without a cell would otherwise be sent as an
//! empty value without a word.

use serde_json::{Map, Value};

use crate::check::model::DatasetData;

/// Parses the file; an error says where (line and column, or the object's number) and why.
pub fn parse(name: &str, bytes: &[u8]) -> Result<DatasetData, String> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Err("the file is empty".to_string());
    }
    let value: Value = serde_json::from_slice(bytes).map_err(|e| match e.classify() {
        serde_json::error::Category::Io => e.to_string(),
        _ => format!(
            "line {}, column {}: {}",
            e.line(),
            e.column(),
            strip_position(&e.to_string())
        ),
    })?;
    let Value::Array(items) = value else {
        return Err(format!(
            "the file holds {}, not an array of objects",
            kind_of(&value)
        ));
    };
    if items.is_empty() {
        return Err("the array is empty: a feeder needs at least one object".to_string());
    }
    let mut columns: Vec<String> = Vec::new();
    let mut rows: Vec<Vec<String>> = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let Value::Object(object) = item else {
            return Err(format!(
                "item {} is {}, not an object",
                i + 1,
                kind_of(item)
            ));
        };
        let mut fields = Vec::new();
        flatten("", object, &mut fields);
        for (j, (field, _)) in fields.iter().enumerate() {
            if fields[..j].iter().any(|(f, _)| f == field) {
                return Err(format!("object {} names field `{field}` twice", i + 1));
            }
        }
        if i == 0 {
            columns = fields.iter().map(|(f, _)| f.clone()).collect();
            if columns.is_empty() {
                return Err("object 1 has no fields".to_string());
            }
            rows.push(fields.into_iter().map(|(_, v)| v).collect());
            continue;
        }
        let mut row = vec![None; columns.len()];
        for (field, cell) in fields {
            match columns.iter().position(|c| *c == field) {
                Some(c) => row[c] = Some(cell),
                None => {
                    return Err(format!(
                        "object {} has field `{field}`, which object 1 has not: every object needs the same fields",
                        i + 1
                    ))
                }
            }
        }
        let row: Vec<String> = row
            .into_iter()
            .enumerate()
            .map(|(c, cell)| {
                cell.ok_or_else(|| {
                    format!(
                        "object {} has no field `{}`, which object 1 has: every object needs the same fields",
                        i + 1,
                        columns[c]
                    )
                })
            })
            .collect::<Result<_, _>>()?;
        rows.push(row);
    }
    Ok(DatasetData {
        name: name.to_string(),
        columns,
        rows,
    })
}

/// Appends `(path, cell)` for every field of `object`, nested objects by dotted path.
fn flatten(prefix: &str, object: &Map<String, Value>, out: &mut Vec<(String, String)>) {
    for (key, value) in object {
        let path = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        match value {
            Value::Object(inner) if !inner.is_empty() => flatten(&path, inner, out),
            Value::String(s) => out.push((path, s.clone())),
            other => out.push((path, other.to_string())),
        }
    }
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// serde_json ends its messages with " at line L column C"; the position is given apart.
fn strip_position(message: &str) -> &str {
    message
        .rfind(" at line ")
        .map_or(message, |i| &message[..i])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flattens_objects_into_columns() {
        let d = parse(
            "u.json",
            br#"[{"name": "ann", "age": 31, "address": {"city": "Oslo"}, "tags": ["a"]},
                 {"age": 40, "name": "bob", "tags": [], "address": {"city": "Rome"}}]"#,
        )
        .expect("valid");
        assert_eq!(d.columns, ["address.city", "age", "name", "tags"]);
        assert_eq!(d.rows[0], ["Oslo", "31", "ann", "[\"a\"]"]);
        assert_eq!(d.rows[1], ["Rome", "40", "bob", "[]"]);
    }

    #[test]
    fn names_what_is_wrong() {
        let err = |text: &str| parse("u.json", text.as_bytes()).unwrap_err();
        assert!(err("").contains("empty"));
        assert!(err("[]").contains("array is empty"));
        assert!(err(r#"{"a": 1}"#).contains("holds an object, not an array"));
        assert!(err(r#"[{"a": 1}, 2]"#).contains("item 2 is a number"));
        assert!(err(r#"[{"a": 1}, {"b": 1}]"#).contains("object 2 has field `b`"));
        assert!(err(r#"[{"a": 1, "b": 2}, {"a": 1}]"#).contains("object 2 has no field `b`"));
        assert!(err(r#"[{"a": {"b": 1}, "a.b": 2}]"#).contains("`a.b` twice"));
        let syntax = err("[{\"a\": 1},\n {\"a\" 2}]");
        assert!(
            syntax.starts_with("line 2, column 7: expected `:`"),
            "{syntax}"
        );
    }
}
