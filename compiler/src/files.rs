//! Where the compiler reads the files a plan names (imports, data files, body files): the
//! disk, optionally recording every file read so that they can be stored with the compiled
//! plan, or such a stored bundle, so that `ptl run plan.ptlc --set …` checks and compiles the
//! plan again exactly as it was, on a machine without the files.

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// A file as stored with a compiled plan: the path the compiler named it by, and its bytes.
pub type StoredFile = (String, Vec<u8>);

/// The files a check reads. The default reads the disk and records nothing.
#[derive(Debug, Clone, Default)]
pub struct Files {
    /// Read only these (path as the compiler named it → bytes), never the disk.
    bundle: Option<Arc<HashMap<String, Vec<u8>>>>,
    /// Every file read from the disk, in order, once each.
    recorded: Option<Arc<Mutex<Vec<StoredFile>>>>,
}

impl Files {
    /// The disk, keeping a copy of every file read (see [`Files::recorded`]).
    pub fn recording() -> Files {
        Files {
            bundle: None,
            recorded: Some(Arc::default()),
        }
    }

    /// Only the files of `bundle`, as [`Files::recorded`] returned them.
    pub fn bundle(bundle: Vec<StoredFile>) -> Files {
        Files {
            bundle: Some(Arc::new(bundle.into_iter().collect())),
            recorded: None,
        }
    }

    pub fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        let key = path.to_string_lossy();
        if let Some(bundle) = &self.bundle {
            return bundle.get(key.as_ref()).cloned().ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::NotFound,
                    "not among the compiled plan's files",
                )
            });
        }
        let bytes = std::fs::read(path)?;
        self.record(&key, &bytes);
        Ok(bytes)
    }

    /// Keeps `bytes` as the file at `path` (the root file, which the caller read).
    pub fn record(&self, path: &str, bytes: &[u8]) {
        if let Some(recorded) = &self.recorded {
            let mut recorded = recorded.lock().unwrap_or_else(|e| e.into_inner());
            if !recorded.iter().any(|(p, _)| p == path) {
                recorded.push((path.to_string(), bytes.to_vec()));
            }
        }
    }

    /// The identity of a file, to read it once however it is named: its canonical path on
    /// the disk; in a bundle, the path as written (the bundle was recorded with those).
    pub fn canonical(&self, path: &Path) -> PathBuf {
        if self.bundle.is_some() {
            return path.to_path_buf();
        }
        std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
    }

    /// The files read so far by a [`Files::recording`].
    pub fn recorded(&self) -> Vec<StoredFile> {
        self.recorded
            .as_ref()
            .map(|r| r.lock().unwrap_or_else(|e| e.into_inner()).clone())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bundle_serves_only_its_files_and_recording_keeps_each_once() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("a.csv");
        std::fs::write(&path, "id\n1\n").expect("written");
        let rec = Files::recording();
        assert_eq!(rec.read(&path).expect("on disk"), b"id\n1\n");
        rec.read(&path).expect("again");
        let stored = rec.recorded();
        assert_eq!(stored.len(), 1);

        std::fs::remove_file(&path).expect("removed");
        let bundle = Files::bundle(stored);
        assert_eq!(bundle.read(&path).expect("from the bundle"), b"id\n1\n");
        let other = dir.path().join("b.csv");
        assert_eq!(
            bundle.read(&other).map_err(|e| e.kind()),
            Err(io::ErrorKind::NotFound)
        );
        assert_eq!(bundle.canonical(&path), path);
    }
}
