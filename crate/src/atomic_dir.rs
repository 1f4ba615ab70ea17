//! Replacing a whole directory so that, at every instant, its path holds either the
//! complete old directory or the complete new one (model directories, corpora).
//!
//! The new directory is written in a hidden staging directory beside the target
//! (`.NAME.tmp-PID-N`, same parent, so the same file system) and then put in place
//! by one rename: a plain `rename(2)` when the target is missing or empty, and on
//! Linux `renameat2(RENAME_EXCHANGE)` when it holds an older version, which swaps
//! the two atomically; the old version, now at the staging path, is then removed.
//! Where the exchange is not available (another OS, or a file system without it)
//! the old directory is renamed aside to `.NAME.old-PID-N` and the new one renamed
//! in: a process killed between those two renames leaves the old directory whole at
//! that path (never removed while the target is missing).
//!
//! A process killed while writing leaves its staging directory behind; it is never
//! read, and the next write of the same target removes it (unless the process that
//! made it still runs).
//!
//! ```
//! use speaker_similarity::atomic_dir;
//! # fn main() -> speaker_similarity::Result<()> {
//! let root = std::env::temp_dir().join(format!("atomic-doc-{}", std::process::id()));
//! let target = root.join("export");
//! let staged = atomic_dir::staging(&target)?;
//! std::fs::write(staged.join("a.txt"), "complete").unwrap();
//! atomic_dir::commit(&staged, &target)?;
//! assert_eq!(std::fs::read_to_string(target.join("a.txt")).unwrap(), "complete");
//! # std::fs::remove_dir_all(&root).unwrap();
//! # Ok(())
//! # }
//! ```

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Error, Result};

fn io(path: &Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |e| Error::io(path, e)
}

fn parent_and_name(target: &Path) -> Result<(PathBuf, String)> {
    let parent = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = target
        .file_name()
        .ok_or_else(|| Error::param("dir", format!("{} has no name", target.display())))?
        .to_string_lossy()
        .to_string();
    Ok((parent, name))
}

/// Whether the process that made a leftover `.NAME.tmp-PID-N` may still be writing.
fn still_running(pid: u32) -> bool {
    if pid == std::process::id() {
        return true;
    }
    if cfg!(target_os = "linux") {
        Path::new(&format!("/proc/{pid}")).exists()
    } else {
        false
    }
}

/// Remove what killed writers of `target` left beside it: staging directories of
/// processes no longer running, and renamed-aside old versions once the target is
/// back in place.
pub(crate) fn clean_leftovers(target: &Path) -> Result<()> {
    let (parent, name) = parent_and_name(target)?;
    let Ok(entries) = std::fs::read_dir(&parent) else {
        return Ok(());
    };
    let tmp = format!(".{name}.tmp-");
    let old = format!(".{name}.old-");
    let target_there = target.exists();
    for e in entries.flatten() {
        let file = e.file_name().to_string_lossy().to_string();
        let pid = |rest: &str| rest.split('-').next().and_then(|p| p.parse::<u32>().ok());
        let stale = if let Some(rest) = file.strip_prefix(&tmp) {
            pid(rest).is_some_and(|p| !still_running(p))
        } else if let Some(rest) = file.strip_prefix(&old) {
            target_there && pid(rest).is_some_and(|p| !still_running(p))
        } else {
            false
        };
        if stale {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
    Ok(())
}

fn unique(parent: &Path, name: &str, what: &str) -> PathBuf {
    static N: AtomicU64 = AtomicU64::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    parent.join(format!(".{name}.{what}-{}-{n}", std::process::id()))
}

/// A new, empty staging directory beside `target` (leftovers of killed writers of
/// `target` are removed first).
pub fn staging(target: &Path) -> Result<PathBuf> {
    let (parent, name) = parent_and_name(target)?;
    std::fs::create_dir_all(&parent).map_err(io(&parent))?;
    clean_leftovers(target)?;
    let dir = unique(&parent, &name, "tmp");
    std::fs::create_dir(&dir).map_err(io(&dir))?;
    Ok(dir)
}

#[cfg(target_os = "linux")]
fn exchange(a: &Path, b: &Path) -> std::io::Result<()> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let ca = CString::new(a.as_os_str().as_bytes())?;
    let cb = CString::new(b.as_os_str().as_bytes())?;
    // SAFETY: both paths are NUL-terminated strings that outlive the call.
    let r = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            ca.as_ptr(),
            libc::AT_FDCWD,
            cb.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(not(target_os = "linux"))]
fn exchange(_: &Path, _: &Path) -> std::io::Result<()> {
    Err(std::io::Error::new(
        std::io::ErrorKind::Unsupported,
        "no atomic exchange here",
    ))
}

fn sync_dir(dir: &Path) {
    if let Ok(f) = std::fs::File::open(dir) {
        let _ = f.sync_all();
    }
}

/// Put the complete directory `staged` (from [`staging`]) at `target`, replacing
/// whatever directory is there in one step; `staged` is gone afterwards. On error
/// the target is as it was and `staged` is removed.
pub fn commit(staged: &Path, target: &Path) -> Result<()> {
    let (parent, name) = parent_and_name(target)?;
    let fail = |e: std::io::Error| {
        let _ = std::fs::remove_dir_all(staged);
        Error::io(target, e)
    };
    sync_dir(staged);
    // Missing or empty target: one rename (rename(2) replaces an empty directory).
    let empty = match std::fs::symlink_metadata(target) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => true,
        Err(e) => return Err(fail(e)),
        Ok(m) if m.is_dir() => std::fs::read_dir(target).map_err(&fail)?.next().is_none(),
        Ok(_) => {
            let _ = std::fs::remove_dir_all(staged);
            return Err(Error::Model {
                path: target.to_path_buf(),
                reason: "exists and is not a directory".into(),
            });
        }
    };
    if empty && std::fs::rename(staged, target).is_ok() {
        sync_dir(&parent);
        return Ok(());
    }
    if exchange(staged, target).is_ok() {
        // `staged` now holds the old version.
        sync_dir(&parent);
        let _ = std::fs::remove_dir_all(staged);
        return Ok(());
    }
    // No exchange: old aside, new in; the old one is put back if that fails.
    let old = unique(&parent, &name, "old");
    let aside = target.exists();
    if aside {
        std::fs::rename(target, &old).map_err(&fail)?;
    }
    if let Err(e) = std::fs::rename(staged, target) {
        if aside {
            let _ = std::fs::rename(&old, target);
        }
        return Err(fail(e));
    }
    sync_dir(&parent);
    if aside {
        let _ = std::fs::remove_dir_all(&old);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, text: &str) {
        std::fs::write(dir.join("f.txt"), text).unwrap();
    }

    #[test]
    fn directories_are_replaced_whole_and_staging_leftovers_cleaned() {
        let root = tempfile::tempdir().unwrap();
        let target = root.path().join("m");
        for (i, text) in ["one", "two", "three"].iter().enumerate() {
            let s = staging(&target).unwrap();
            assert!(s
                .file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(".m.tmp-"));
            write(&s, text);
            if i == 1 {
                std::fs::write(s.join("extra"), "x").unwrap();
            }
            commit(&s, &target).unwrap();
            assert!(!s.exists());
            assert_eq!(
                std::fs::read_to_string(target.join("f.txt")).unwrap(),
                *text
            );
            // Only the new version's files: nothing carried over from the old one.
            assert_eq!(target.join("extra").exists(), i == 1);
        }
        // A killed writer's staging directory (a pid that cannot be running) is
        // removed by the next write; nothing else beside the target is touched.
        let dead = root.path().join(".m.tmp-4294967295-0");
        std::fs::create_dir(&dead).unwrap();
        let other = root.path().join(".other.tmp-4294967295-0");
        std::fs::create_dir(&other).unwrap();
        let s = staging(&target).unwrap();
        assert!(!dead.exists() && other.exists());
        write(&s, "four");
        commit(&s, &target).unwrap();
        let names: Vec<String> = std::fs::read_dir(root.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
        // An empty target directory is replaced too; a file is refused.
        let empty = root.path().join("empty");
        std::fs::create_dir(&empty).unwrap();
        let s = staging(&empty).unwrap();
        write(&s, "x");
        commit(&s, &empty).unwrap();
        assert!(empty.join("f.txt").exists());
        let file = root.path().join("file");
        std::fs::write(&file, "keep").unwrap();
        let s = staging(&file).unwrap();
        assert!(commit(&s, &file).is_err());
        assert!(!s.exists());
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "keep");
    }
}
