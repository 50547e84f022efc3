//! A fast path for the JSONPaths most plans use: singular paths (`$.a.b`, `$['a'][0]`) are
//! answered by walking the body with serde's streaming visitors, skipping everything off the
//! path without building it and stopping as soon as the value is read. Any other path goes
//! through `serde_json_path` on the parsed document.

use serde::de::{
    DeserializeSeed, Deserializer, Error as _, IgnoredAny, MapAccess, SeqAccess, Visitor,
};
use serde::Deserialize;
use serde_json::Value;
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Seg {
    Key(String),
    Index(usize),
}

/// A JSONPath that selects at most one node by names and non-negative indices only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SingularPath(Vec<Seg>);

/// What a seek found.
#[derive(Debug, PartialEq)]
pub(crate) enum Seek {
    Found(Value),
    Missing,
    NotJson,
}

impl SingularPath {
    /// Recognises `$`, `.name`, `['name']`, `["name"]` and `[n]`; anything else (wildcards,
    /// filters, slices, negative indices, escapes, descendants) is `None`.
    pub fn parse(src: &str) -> Option<SingularPath> {
        let mut rest = src.trim().strip_prefix('$')?;
        let mut segs = Vec::new();
        while !rest.is_empty() {
            if let Some(r) = rest.strip_prefix('.') {
                if r.starts_with('.') {
                    return None;
                }
                let end = r
                    .char_indices()
                    .find(|&(_, c)| !(c.is_alphanumeric() || c == '_'))
                    .map_or(r.len(), |(i, _)| i);
                let name = &r[..end];
                if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
                    return None;
                }
                segs.push(Seg::Key(name.to_string()));
                rest = &r[end..];
            } else if let Some(r) = rest.strip_prefix('[') {
                let close = r.find(']')?;
                let inner = r[..close].trim();
                rest = &r[close + 1..];
                let quoted = |q: char| {
                    inner
                        .strip_prefix(q)
                        .and_then(|s| s.strip_suffix(q))
                        .filter(|s| !s.contains(['\\', '\'', '"']))
                };
                if let Some(name) = quoted('\'').or_else(|| quoted('"')) {
                    segs.push(Seg::Key(name.to_string()));
                } else if !inner.is_empty() && inner.bytes().all(|b| b.is_ascii_digit()) {
                    if inner.len() > 1 && inner.starts_with('0') {
                        return None;
                    }
                    segs.push(Seg::Index(inner.parse().ok()?));
                } else {
                    return None;
                }
            } else {
                return None;
            }
        }
        Some(SingularPath(segs))
    }

    pub fn seek(&self, body: &[u8]) -> Seek {
        let mut found = None;
        let mut de = serde_json::Deserializer::from_slice(body);
        let walked = Seeker {
            segs: &self.0,
            found: &mut found,
        }
        .deserialize(&mut de);
        if let Some(v) = found {
            return Seek::Found(v);
        }
        match walked.and_then(|()| de.end()) {
            Ok(()) => Seek::Missing,
            // A value of the wrong type on the path (a string where an object should be).
            Err(e) if e.is_data() => Seek::Missing,
            Err(_) => Seek::NotJson,
        }
    }
}

/// Walks `segs` into the value being deserialized; on arrival parses that value into
/// `found` and aborts the parse with an error, since nothing after it matters.
struct Seeker<'a> {
    segs: &'a [Seg],
    found: &'a mut Option<Value>,
}

impl<'de> DeserializeSeed<'de> for Seeker<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        match self.segs.split_first() {
            None => {
                *self.found = Some(Value::deserialize(d)?);
                Err(D::Error::custom("found"))
            }
            Some((seg, rest)) => d.deserialize_any(Step {
                seg,
                rest,
                found: self.found,
            }),
        }
    }
}

struct Step<'a> {
    seg: &'a Seg,
    rest: &'a [Seg],
    found: &'a mut Option<Value>,
}

impl<'de> Visitor<'de> for Step<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.seg {
            Seg::Key(_) => f.write_str("an object"),
            Seg::Index(_) => f.write_str("an array"),
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let Seg::Key(want) = self.seg else {
            return Err(A::Error::invalid_type(serde::de::Unexpected::Map, &self));
        };
        while let Some(hit) = map.next_key_seed(KeyIs(want))? {
            if hit {
                map.next_value_seed(Seeker {
                    segs: self.rest,
                    found: self.found,
                })?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let Seg::Index(want) = *self.seg else {
            return Err(A::Error::invalid_type(serde::de::Unexpected::Seq, &self));
        };
        for _ in 0..want {
            if seq.next_element::<IgnoredAny>()?.is_none() {
                return Ok(());
            }
        }
        let seeker = Seeker {
            segs: self.rest,
            found: self.found,
        };
        if seq.next_element_seed(seeker)?.is_none() {
            return Ok(());
        }
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(())
    }
}

/// Compares an object key with the wanted name without allocating.
struct KeyIs<'a>(&'a str);

impl<'de> DeserializeSeed<'de> for KeyIs<'_> {
    type Value = bool;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeyIs<'_> {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a key")
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<bool, E> {
        Ok(v == self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;
    use serde_json_path::JsonPath;

    fn key(k: &str) -> Seg {
        Seg::Key(k.to_string())
    }

    #[test]
    fn parses_singular_paths_only() {
        let p = |s| SingularPath::parse(s).map(|p| p.0);
        assert_eq!(p("$"), Some(vec![]));
        assert_eq!(p("$.token"), Some(vec![key("token")]));
        assert_eq!(
            p("$.items[0]['na me'][\"x\"]._y2"),
            Some(vec![
                key("items"),
                Seg::Index(0),
                key("na me"),
                key("x"),
                key("_y2")
            ])
        );
        assert_eq!(p("$.a[12]"), Some(vec![key("a"), Seg::Index(12)]));
        for other in [
            "$..a",
            "$.*",
            "$[*]",
            "$[-1]",
            "$[0:2]",
            "$[?@.a]",
            "$['a','b']",
            "$['a\\'b']",
            "$.1a",
            "a",
            "$.a.",
            "$[01]",
            "$.a b",
        ] {
            assert_eq!(p(other), None, "{other}");
        }
    }

    #[test]
    fn seeks_values() {
        let body = br#"{"skip": {"deep": [1, {"x": "y"}]}, "items": [{"id": 7}, {"id": "e\"8"}],
                        "token": "abc", "n": 1.5, "none": null}"#;
        let seek = |p: &str| SingularPath::parse(p).expect("singular").seek(body);
        assert_eq!(seek("$.token"), Seek::Found(json!("abc")));
        assert_eq!(seek("$.items[1].id"), Seek::Found(json!("e\"8")));
        assert_eq!(seek("$['items'][0]"), Seek::Found(json!({"id": 7})));
        assert_eq!(seek("$.n"), Seek::Found(json!(1.5)));
        assert_eq!(seek("$.none"), Seek::Found(Value::Null));
        assert_eq!(seek("$.missing"), Seek::Missing);
        assert_eq!(seek("$.items[5]"), Seek::Missing);
        assert_eq!(seek("$.token.x"), Seek::Missing);
        assert_eq!(seek("$.items.x"), Seek::Missing);
        assert_eq!(seek("$[0]"), Seek::Missing);
        let not_json = SingularPath::parse("$.a").expect("singular");
        assert_eq!(not_json.seek(b"<html>"), Seek::NotJson);
        assert_eq!(not_json.seek(br#"{"b": 1"#), Seek::NotJson);
        assert_eq!(not_json.seek(br#"{"b": 1} trailing"#), Seek::NotJson);
    }

    fn tree() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            "[a-c\"\\\\é]{0,4}".prop_map(Value::from),
        ];
        leaf.prop_recursive(4, 32, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
                proptest::collection::btree_map("[a-c]{1,2}", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    fn path() -> impl Strategy<Value = String> {
        proptest::collection::vec(
            prop_oneof![
                "[a-c]{1,2}".prop_map(|k| format!(".{k}")),
                "[a-c]{1,2}".prop_map(|k| format!("['{k}']")),
                (0usize..4).prop_map(|i| format!("[{i}]")),
            ],
            0..4,
        )
        .prop_map(|segs| format!("${}", segs.concat()))
    }

    proptest! {
        #[test]
        fn agrees_with_serde_json_path(doc in tree(), p in path()) {
            let body = serde_json::to_vec(&doc).expect("serialises");
            let full = JsonPath::parse(&p).expect("valid path");
            let want = full.query(&doc).first().cloned();
            let got = match SingularPath::parse(&p).expect("singular").seek(&body) {
                Seek::Found(v) => Some(v),
                Seek::Missing => None,
                Seek::NotJson => panic!("valid JSON reported as not JSON"),
            };
            prop_assert_eq!(got, want);
        }
    }
}
