//! Loading a plan and the libraries it imports: one [`SourceFile`] per file (so diagnostics can
//! point into the file they are about), the parsed trees, and the plan's items in the order
//! they take effect, with each `import` replaced by the library's items.
//!
//! `import "x.ptl"` is relative to the importing file; `import "std:name"` asks the
//! [`StdResolver`] (the CLI embeds the standard libraries). A file imported twice by different
//! routes is expanded once; an import of a file still being expanded is a cycle.

use crate::files::Files;
use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use miette::NamedSource;

use crate::ast::{self, Item, Span, Stmt};
use crate::diagnostic::Diagnostic;
use crate::parse::{parse_file, SyntaxError};
use crate::report::Located;

/// Prefix of imports that name a built-in library instead of a file.
pub const STD_PREFIX: &str = "std:";

type ResolveFn = dyn Fn(&str) -> Option<String> + Send + Sync;

/// Supplies the text of `std:NAME` libraries: called with `NAME` (without the prefix).
#[derive(Clone)]
pub struct StdResolver(Arc<ResolveFn>);

impl StdResolver {
    pub fn new(f: impl Fn(&str) -> Option<String> + Send + Sync + 'static) -> Self {
        StdResolver(Arc::new(f))
    }
    pub fn resolve(&self, name: &str) -> Option<String> {
        (self.0)(name)
    }
}

impl fmt::Debug for StdResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StdResolver(..)")
    }
}

/// Index into [`Loaded::files`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileId(pub usize);

/// One loaded file: its text and the name diagnostics show for it.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// The path as reached from the root (`plans/lib.ptl`), or `std:name`.
    pub name: String,
    /// Where it is on disk; `None` for a `std:` library, which has no directory.
    pub path: Option<PathBuf>,
    pub text: Arc<String>,
}

impl SourceFile {
    pub fn named_source(&self) -> NamedSource<Arc<String>> {
        NamedSource::new(&self.name, Arc::clone(&self.text))
    }

    /// Directory that relative paths in this file (imports, CSV files) start from.
    pub fn dir(&self) -> Option<&Path> {
        self.path
            .as_deref()
            .map(|p| p.parent().unwrap_or(Path::new("")))
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &self.text[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |n| n + 1);
        (line, before[line_start..].chars().count() + 1)
    }
}

/// An item of the plan and the file it was written in.
#[derive(Debug, Clone, Copy)]
pub struct ItemRef {
    pub file: FileId,
    pub index: usize,
}

/// The root file and everything it imports.
#[derive(Debug, Default)]
pub struct Loaded {
    pub files: Vec<SourceFile>,
    /// The tree of each file, `None` where it did not parse.
    pub trees: Vec<Option<ast::File>>,
    /// The plan's items in effect order, imports expanded.
    pub items: Vec<ItemRef>,
    pub diagnostics: Vec<Located>,
    /// A file did not parse or an import is missing: checking names now would only report
    /// the consequences.
    pub incomplete: bool,
    /// Where imports and the files the plan names (data, bodies) are read from.
    pub fs: Files,
}

impl Loaded {
    pub fn item(&self, r: ItemRef) -> Option<&Stmt<Item>> {
        self.trees.get(r.file.0)?.as_ref()?.items.get(r.index)
    }

    pub fn root(&self) -> Option<&ast::File> {
        self.trees.first()?.as_ref()
    }
}

/// Parses `source` (the text of `path`) and every file it imports.
pub fn load(path: &Path, source: &str, resolver: Option<&StdResolver>) -> Loaded {
    load_from(path, source, resolver, Files::default())
}

/// [`load`], reading imports and later the plan's files through `fs`.
pub fn load_from(path: &Path, source: &str, resolver: Option<&StdResolver>, fs: Files) -> Loaded {
    fs.record(&path.to_string_lossy(), source.as_bytes());
    let mut loader = Loader {
        loaded: Loaded {
            fs,
            ..Loaded::default()
        },
        resolver,
        stack: Vec::new(),
        done: HashSet::new(),
    };
    let root = loader.add_file(
        path.to_string_lossy().into_owned(),
        Some(path.to_path_buf()),
        source.to_string(),
    );
    let key = key_of_path(&loader.loaded.fs, path);
    loader.stack.push((key, root));
    if loader.loaded.trees[root.0].is_some() {
        loader.expand(root);
    }
    loader.loaded
}

struct Loader<'r> {
    loaded: Loaded,
    resolver: Option<&'r StdResolver>,
    /// Files being expanded, outermost first, with their identity for cycle detection.
    stack: Vec<(String, FileId)>,
    /// Files already expanded.
    done: HashSet<String>,
}

impl Loader<'_> {
    fn add_file(&mut self, name: String, path: Option<PathBuf>, text: String) -> FileId {
        let id = FileId(self.loaded.files.len());
        let tree = match parse_file(&text) {
            Ok(tree) => Some(tree),
            Err(err) => {
                self.loaded.diagnostics.push(Located::new(id, syntax(err)));
                self.loaded.incomplete = true;
                None
            }
        };
        self.loaded.files.push(SourceFile {
            name,
            path,
            text: Arc::new(text),
        });
        self.loaded.trees.push(tree);
        id
    }

    fn expand(&mut self, file: FileId) {
        let count = self.loaded.trees[file.0]
            .as_ref()
            .map_or(0, |t| t.items.len());
        for index in 0..count {
            let import = match self.loaded.trees[file.0]
                .as_ref()
                .map(|t| &t.items[index].node)
            {
                Some(Item::Import(lit)) => lit.clone(),
                Some(_) => {
                    self.loaded.items.push(ItemRef { file, index });
                    continue;
                }
                None => continue,
            };
            self.import(file, &import);
        }
    }

    fn import(&mut self, from: FileId, lit: &ast::StrLit) {
        let target = match self.locate(from, &lit.value) {
            Ok(target) => target,
            Err(reason) => {
                self.fail(
                    from,
                    ImportFailure::Missing(lit.value.clone(), reason),
                    lit.span,
                );
                return;
            }
        };
        if let Some(pos) = self.stack.iter().position(|(key, _)| *key == target.key) {
            let mut chain: Vec<String> = self.stack[pos..]
                .iter()
                .map(|(_, id)| self.loaded.files[id.0].name.clone())
                .collect();
            chain.push(target.name.clone());
            let diagnostic = Diagnostic::ImportCycle {
                chain: chain.join(" → "),
                span: lit.span.into(),
            };
            // The items are already in the plan; the cycle is an error but checking can go on.
            self.loaded.diagnostics.push(Located::new(from, diagnostic));
            return;
        }
        if self.done.contains(&target.key) {
            return;
        }
        let text = match target.text {
            Ok(text) => text,
            Err(reason) => {
                self.fail(
                    from,
                    ImportFailure::Missing(lit.value.clone(), reason),
                    lit.span,
                );
                return;
            }
        };
        let id = self.add_file(target.name, target.path, text);
        let Some(tree) = self.loaded.trees[id.0].as_ref() else {
            return;
        };
        if tree.plan_name.is_some() {
            self.fail(from, ImportFailure::Plan(lit.value.clone()), lit.span);
            return;
        }
        self.stack.push((target.key.clone(), id));
        self.expand(id);
        self.stack.pop();
        self.done.insert(target.key);
    }

    fn locate(&self, from: FileId, written: &str) -> Result<Target, String> {
        if let Some(name) = written.strip_prefix(STD_PREFIX) {
            let text = match self.resolver.and_then(|r| r.resolve(name)) {
                Some(text) => Ok(text),
                None => Err(format!("there is no standard library `{name}`")),
            };
            return Ok(Target {
                key: written.to_string(),
                name: written.to_string(),
                path: None,
                text,
            });
        }
        let dir = self.loaded.files[from.0].dir().ok_or_else(|| {
            "a standard library can only import other `std:` libraries".to_string()
        })?;
        let path = dir.join(written);
        let text = self
            .loaded
            .fs
            .read(&path)
            .map_err(|e| io_reason(&e))
            .and_then(|b| String::from_utf8(b).map_err(|_| "not UTF-8 text".to_string()));
        Ok(Target {
            key: key_of_path(&self.loaded.fs, &path),
            name: path.to_string_lossy().into_owned(),
            path: Some(path),
            text,
        })
    }

    fn fail(&mut self, from: FileId, failure: ImportFailure, span: Span) {
        let diagnostic = match failure {
            ImportFailure::Missing(path, reason) => Diagnostic::ImportNotFound {
                path,
                reason,
                span: span.into(),
            },
            ImportFailure::Plan(path) => Diagnostic::ImportedPlan {
                path,
                span: span.into(),
            },
        };
        self.loaded.diagnostics.push(Located::new(from, diagnostic));
        self.loaded.incomplete = true;
    }
}

enum ImportFailure {
    Missing(String, String),
    Plan(String),
}

struct Target {
    /// Identity of the file: its canonical path, or `std:name`.
    key: String,
    name: String,
    path: Option<PathBuf>,
    text: Result<String, String>,
}

fn key_of_path(fs: &Files, path: &Path) -> String {
    fs.canonical(path).to_string_lossy().into_owned()
}

/// A short reason for a failed read, without the OS error number (stable across systems).
pub(crate) fn io_reason(err: &std::io::Error) -> String {
    match err.kind() {
        std::io::ErrorKind::NotFound => "file not found".to_string(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        std::io::ErrorKind::InvalidData => "the file is not UTF-8 text".to_string(),
        std::io::ErrorKind::IsADirectory => "this is a directory".to_string(),
        _ => err.to_string(),
    }
}

fn syntax(err: SyntaxError) -> Diagnostic {
    Diagnostic::Syntax {
        message: err.message,
        span: err.span.into(),
        expected: err.expected,
    }
}
