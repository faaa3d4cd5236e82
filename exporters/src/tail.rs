//! Following a log file across rotation and restarts.
//!
//! Guarantees: a line is passed on whole, once. A partial last line waits for
//! its newline. After a rename rotation the old file is kept open and read
//! for [`ROTATE_WAIT`] (a writer may append before it reopens), while the new
//! file is read from its start. After a copy-truncate (same file, now
//! shorter) the file is read from its start; lines written between the copy
//! and the truncate are lost, by that method's design. A checkpoint is the
//! file's identity and the offset after the last line passed on; on restart a
//! file with the same identity resumes there, and a file rotated while we were
//! stopped is found in its folder by identity and finished first.
//!
//! Known limit: a file rotated twice between two polls (a quarter second
//! apart), or twice while stopped, has its middle generation skipped.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read as _, Seek as _, SeekFrom};
#[cfg(unix)]
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::lines::LineBuffer;
/// How long a renamed-away file is still read for late writes.
pub(crate) const ROTATE_WAIT: Duration = Duration::from_secs(10);
/// Checkpoints are written at most this often.
const SAVE_EVERY: Duration = Duration::from_secs(1);

/// Where to start reading a file never read before (one with no
/// checkpoint).
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum StartAt {
    /// New lines only (the default: a restart without checkpoint does not recount history).
    #[default]
    End,
    /// The whole file.
    Beginning,
}

/// Which file, and how far into it every line has been passed on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Checkpoint {
    pub(crate) path: PathBuf,
    pub(crate) dev: u64,
    pub(crate) ino: u64,
    pub(crate) offset: u64,
    /// Fingerprint of the file's first bytes: filesystems reuse inode
    /// numbers, so identity alone can mistake a new file for the old one.
    #[serde(default)]
    pub(crate) head: u64,
}

/// Checkpoints of every followed file, kept in one JSON file.
#[derive(Debug)]
pub(crate) struct CheckpointStore {
    file: PathBuf,
    entries: BTreeMap<PathBuf, Checkpoint>,
    dirty: bool,
    saved: Option<Instant>,
}

#[derive(Serialize, Deserialize)]
struct StoreFile {
    version: u32,
    files: Vec<Checkpoint>,
}

/// Why the checkpoint file could not be read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CheckpointError {
    #[error("cannot read checkpoints {path}: {source}", path = path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error("checkpoints {path} are corrupt ({source}); move the file away to start over", path = path.display())]
    Corrupt { path: PathBuf, source: serde_json::Error },
}

impl CheckpointStore {
    /// Reads the store; a missing file is an empty store.
    pub(crate) fn load(file: &Path) -> Result<Self, CheckpointError> {
        let entries = match std::fs::read(file) {
            Ok(bytes) => {
                let parsed: StoreFile = serde_json::from_slice(&bytes)
                    .map_err(|source| CheckpointError::Corrupt { path: file.into(), source })?;
                parsed.files.into_iter().map(|c| (c.path.clone(), c)).collect()
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(source) => return Err(CheckpointError::Read { path: file.into(), source }),
        };
        Ok(Self { file: file.into(), entries, dirty: false, saved: None })
    }

    pub(crate) fn get(&self, path: &Path) -> Option<&Checkpoint> {
        self.entries.get(path)
    }

    pub(crate) fn record(&mut self, c: Option<Checkpoint>) {
        let Some(c) = c else { return };
        if self.entries.get(&c.path) != Some(&c) {
            self.entries.insert(c.path.clone(), c);
            self.dirty = true;
        }
    }

    /// Writes changes, atomically (temporary file, fsync, rename), at most
    /// once a second: a crash recounts at most that much.
    pub(crate) fn save(&mut self) -> std::io::Result<()> {
        if !self.dirty || self.saved.is_some_and(|t| t.elapsed() < SAVE_EVERY) {
            return Ok(());
        }
        self.save_now()
    }

    pub(crate) fn save_now(&mut self) -> std::io::Result<()> {
        use std::io::Write as _;
        let doc = StoreFile { version: 1, files: self.entries.values().cloned().collect() };
        let bytes = serde_json::to_vec_pretty(&doc).map_err(std::io::Error::other)?;
        let tmp = self.file.with_extension("json.tmp");
        let mut f = File::create(&tmp)?;
        f.write_all(&bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, &self.file)?;
        // The rename itself is durable only once the folder is synced.
        if let Some(dir) = self.file.parent().filter(|d| !d.as_os_str().is_empty()) {
            File::open(dir)?.sync_all()?;
        }
        self.dirty = false;
        self.saved = Some(Instant::now());
        Ok(())
    }
}

#[cfg(unix)]
fn identity(m: &std::fs::Metadata) -> (u64, u64) {
    (m.dev(), m.ino())
}

/// Bytes of a file's start that make its fingerprint.
const HEAD_BYTES: u64 = 256;

/// A stable hash (FNV-1a) of the first `min(len, HEAD_BYTES)` bytes.
fn fingerprint(path: &Path, len: u64) -> Option<u64> {
    let mut head = Vec::new();
    File::open(path).ok()?.take(len.min(HEAD_BYTES)).read_to_end(&mut head).ok()?;
    Some(head.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)))
}

/// Whether `path` is the file a checkpoint was taken of.
fn same_file(path: &Path, cp: &Checkpoint) -> bool {
    std::fs::metadata(path).is_ok_and(|m| {
        identity(&m) == (cp.dev, cp.ino)
            && m.len() >= cp.offset.min(HEAD_BYTES)
            && fingerprint(path, cp.offset) == Some(cp.head)
    })
}

/// One open file and the partial line read from it.
#[derive(Debug)]
struct Open {
    file: File,
    dev: u64,
    ino: u64,
    /// Bytes read from the file so far.
    pos: u64,
    /// Read and not yet passed on: the start of a line whose newline has
    /// not been read yet.
    lines: LineBuffer,
}

impl Open {
    fn at(path: &Path, offset: u64) -> std::io::Result<Self> {
        let mut file = File::open(path)?;
        let (dev, ino) = identity(&file.metadata()?);
        file.seek(SeekFrom::Start(offset))?;
        Ok(Self { file, dev, ino, pos: offset, lines: LineBuffer::default() })
    }

    /// The offset just after the last line passed on.
    fn committed(&self) -> u64 {
        self.pos - self.lines.partial().len() as u64
    }

    /// Reads to the end of the file, passing complete lines.
    fn drain(&mut self, long_lines: &mut u64, on_chunk: &mut impl FnMut(&[u8])) -> std::io::Result<usize> {
        let mut consumed = 0;
        loop {
            let n = self.lines.fill(&mut self.file)?;
            if n == 0 {
                return Ok(consumed);
            }
            self.pos += n as u64;
            let lines = self.lines.lines();
            if !lines.is_empty() {
                on_chunk(lines);
                consumed += lines.len();
            }
            *long_lines += std::mem::take(&mut self.lines.long_lines);
        }
    }
}

/// Follows one path.
#[derive(Debug)]
pub(crate) struct Tailer {
    path: PathBuf,
    current: Option<Open>,
    /// Files renamed away, still read until their deadline.
    rotated: Vec<(Open, Instant)>,
    /// Where to start if the file appears for the first time.
    start_at: StartAt,
    /// Lines dropped: longer than 1 MiB, or left without a newline in a
    /// rotated-away file.
    pub(crate) long_lines: u64,
    /// Why lines may have been lost on open, when they may have.
    pub(crate) lost: Option<String>,
}

impl Tailer {
    pub(crate) fn open(path: &Path, store: &CheckpointStore, start_at: StartAt) -> std::io::Result<Self> {
        let mut t = Self { path: path.into(), current: None, rotated: Vec::new(), start_at, long_lines: 0, lost: None };
        let now = std::fs::metadata(path).ok();
        match (store.get(path), now) {
            (Some(cp), Some(meta)) if same_file(path, cp) => {
                // Shorter than the checkpoint: truncated while we were away.
                let offset = if meta.len() < cp.offset { 0 } else { cp.offset };
                t.current = Some(Open::at(path, offset)?);
            }
            (Some(cp), now) => {
                // Rotated while we were away: finish the old file first.
                match find_rotated(path, cp) {
                    Some(old) => t.rotated.push((Open::at(&old, cp.offset)?, Instant::now() + ROTATE_WAIT)),
                    None => {
                        t.lost = Some(format!("{} was rotated while stopped and the old file is gone", path.display()));
                    }
                }
                if now.is_some() {
                    t.current = Some(Open::at(path, 0)?);
                }
                t.start_at = StartAt::Beginning;
            }
            (None, Some(meta)) => {
                let offset = if start_at == StartAt::End { meta.len() } else { 0 };
                t.current = Some(Open::at(path, offset)?);
            }
            // Not there yet: everything in it will be new.
            (None, None) => t.start_at = StartAt::Beginning,
        }
        Ok(t)
    }

    /// Passes every complete line appended since the last poll; returns the
    /// bytes passed.
    pub(crate) fn poll(&mut self, mut on_chunk: impl FnMut(&[u8])) -> std::io::Result<usize> {
        let mut consumed = 0;
        let now = Instant::now();
        for (old, _) in &mut self.rotated {
            consumed += old.drain(&mut self.long_lines, &mut on_chunk)?;
        }
        let long_lines = &mut self.long_lines;
        self.rotated.retain(|(old, deadline)| {
            let keep = now < *deadline;
            if !keep && !old.lines.partial().is_empty() {
                // The writer never finished that line.
                *long_lines += 1;
            }
            keep
        });

        if self.current.is_none() {
            match std::fs::metadata(&self.path) {
                Ok(meta) => {
                    let offset = if self.start_at == StartAt::End { meta.len() } else { 0 };
                    self.current = Some(Open::at(&self.path, offset)?);
                    // A file that appears later is read whole.
                    self.start_at = StartAt::Beginning;
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(consumed),
                Err(e) => return Err(e),
            }
        }
        let Some(cur) = &mut self.current else { return Ok(consumed) };
        consumed += cur.drain(&mut self.long_lines, &mut on_chunk)?;

        // Rotation shows after we have read the open file to its end.
        let meta = match std::fs::metadata(&self.path) {
            Ok(m) => m,
            // Renamed away and not yet recreated: keep reading the old one.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(consumed),
            Err(e) => return Err(e),
        };
        if identity(&meta) != (cur.dev, cur.ino) {
            let old = Open::at(&self.path, 0)?;
            if let Some(previous) = self.current.replace(old) {
                self.rotated.push((previous, now + ROTATE_WAIT));
            }
            if let Some(cur) = &mut self.current {
                consumed += cur.drain(&mut self.long_lines, &mut on_chunk)?;
            }
        } else if meta.len() < cur.pos {
            // Copy-truncate: the same file, shorter than what we read.
            cur.file.seek(SeekFrom::Start(0))?;
            cur.pos = 0;
            cur.lines.clear();
            consumed += cur.drain(&mut self.long_lines, &mut on_chunk)?;
        }
        Ok(consumed)
    }

    /// Where the current file has been read to, line-wise.
    pub(crate) fn checkpoint(&self) -> Option<Checkpoint> {
        let c = self.current.as_ref()?;
        let offset = c.committed();
        let head = fingerprint(&self.path, offset)?;
        Some(Checkpoint { path: self.path.clone(), dev: c.dev, ino: c.ino, offset, head })
    }
}

/// The file a checkpoint was taken of, renamed within `path`'s folder.
fn find_rotated(path: &Path, cp: &Checkpoint) -> Option<PathBuf> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or_else(|| Path::new("."));
    std::fs::read_dir(dir).ok()?.filter_map(Result::ok).map(|e| e.path()).find(|p| p != path && same_file(p, cp))
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use super::*;
    use crate::lines::MAX_LINE;

    struct Dir(PathBuf);

    impl Dir {
        fn new(name: &str) -> Self {
            let d = std::env::temp_dir().join(format!("edgewatch-tail-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&d);
            std::fs::create_dir_all(&d).unwrap();
            Self(d)
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn append(path: &Path, text: &str) {
        let mut f = std::fs::OpenOptions::new().create(true).append(true).open(path).unwrap();
        f.write_all(text.as_bytes()).unwrap();
    }

    fn poll(t: &mut Tailer) -> String {
        let mut out = Vec::new();
        t.poll(|c| out.extend_from_slice(c)).unwrap();
        String::from_utf8(out).unwrap()
    }

    fn store(dir: &Dir) -> CheckpointStore {
        CheckpointStore::load(&dir.0.join("checkpoints.json")).unwrap()
    }

    #[test]
    fn passes_whole_lines_once() {
        let d = Dir::new("whole");
        let log = d.0.join("access.log");
        append(&log, "old\n");
        let mut t = Tailer::open(&log, &store(&d), StartAt::End).unwrap();
        assert_eq!(poll(&mut t), "", "start at the end");
        append(&log, "a\nb");
        assert_eq!(poll(&mut t), "a\n");
        append(&log, "c\nd\n");
        assert_eq!(poll(&mut t), "bc\nd\n");
        assert_eq!(poll(&mut t), "");
    }

    #[test]
    fn follows_rename_rotation_with_late_writes() {
        let d = Dir::new("rename");
        let log = d.0.join("access.log");
        append(&log, "");
        let mut t = Tailer::open(&log, &store(&d), StartAt::Beginning).unwrap();
        append(&log, "1\n2\n");
        assert_eq!(poll(&mut t), "1\n2\n");
        std::fs::rename(&log, d.0.join("access.log.1")).unwrap();
        append(&d.0.join("access.log.1"), "3\n"); // the writer has not reopened yet
        append(&log, "4\n");
        let got = poll(&mut t);
        assert_eq!(got, "3\n4\n");
        append(&d.0.join("access.log.1"), "5\n"); // still late
        append(&log, "6\n");
        assert_eq!(poll(&mut t), "5\n6\n");
    }

    #[test]
    fn follows_copy_truncate() {
        let d = Dir::new("truncate");
        let log = d.0.join("access.log");
        append(&log, "");
        let mut t = Tailer::open(&log, &store(&d), StartAt::Beginning).unwrap();
        append(&log, "1\n2\n");
        assert_eq!(poll(&mut t), "1\n2\n");
        std::fs::OpenOptions::new().write(true).truncate(true).open(&log).unwrap();
        append(&log, "3\n");
        assert_eq!(poll(&mut t), "3\n");
    }

    #[test]
    fn resumes_from_a_checkpoint() {
        let d = Dir::new("resume");
        let log = d.0.join("access.log");
        append(&log, "1\n2\n3");
        let mut s = store(&d);
        let mut t = Tailer::open(&log, &s, StartAt::Beginning).unwrap();
        assert_eq!(poll(&mut t), "1\n2\n");
        s.record(t.checkpoint());
        s.save_now().unwrap();
        drop(t);
        append(&log, "\n4\n");
        let t2 = Tailer::open(&log, &store(&d), StartAt::End);
        assert_eq!(poll(&mut t2.unwrap()), "3\n4\n", "the partial line was not committed");
    }

    #[test]
    fn finishes_a_file_rotated_while_stopped() {
        let d = Dir::new("stopped");
        let log = d.0.join("access.log");
        append(&log, "1\n");
        let mut s = store(&d);
        let mut t = Tailer::open(&log, &s, StartAt::Beginning).unwrap();
        assert_eq!(poll(&mut t), "1\n");
        s.record(t.checkpoint());
        s.save_now().unwrap();
        drop(t);
        append(&log, "2\n");
        std::fs::rename(&log, d.0.join("access.log.1")).unwrap();
        append(&log, "3\n");
        let mut t = Tailer::open(&log, &store(&d), StartAt::End).unwrap();
        assert_eq!(t.lost, None);
        assert_eq!(poll(&mut t), "2\n3\n");
    }

    #[test]
    fn says_when_the_rotated_file_is_gone() {
        let d = Dir::new("gone");
        let log = d.0.join("access.log");
        append(&log, "1\n");
        let mut s = store(&d);
        let mut t = Tailer::open(&log, &s, StartAt::Beginning).unwrap();
        poll(&mut t);
        s.record(t.checkpoint());
        s.save_now().unwrap();
        drop(t);
        std::fs::remove_file(&log).unwrap();
        append(&log, "2\n");
        let mut t = Tailer::open(&log, &store(&d), StartAt::End).unwrap();
        assert!(t.lost.is_some());
        assert_eq!(poll(&mut t), "2\n");
    }

    #[test]
    fn waits_for_a_missing_file_and_reads_it_whole() {
        let d = Dir::new("missing");
        let log = d.0.join("later.log");
        let mut t = Tailer::open(&log, &store(&d), StartAt::End).unwrap();
        assert_eq!(poll(&mut t), "");
        append(&log, "first\n");
        assert_eq!(poll(&mut t), "first\n");
    }

    #[test]
    fn drops_overlong_lines_and_counts_them() {
        let d = Dir::new("long");
        let log = d.0.join("access.log");
        append(&log, "");
        let mut t = Tailer::open(&log, &store(&d), StartAt::Beginning).unwrap();
        append(&log, &format!("a\n{}\nb\n", "x".repeat(3 * MAX_LINE)));
        assert_eq!(poll(&mut t), "a\nb\n");
        assert_eq!(t.long_lines, 1);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 64, ..Default::default() })]

        /// Appends split anywhere, rotations between polls, restarts from
        /// checkpoints: every complete line comes out once, in order.
        #[test]
        fn every_line_once(steps in proptest::collection::vec((0u8..10, "[a-z]{0,12}", proptest::bool::ANY), 1..40)) {
            let d = Dir::new(&format!("prop-{}", steps.len()));
            let log = d.0.join("access.log");
            append(&log, "");
            let mut s = store(&d);
            let mut t = Tailer::open(&log, &s, StartAt::Beginning).unwrap();
            let (mut written, mut read) = (String::new(), String::new());
            let mut rotations = 0;
            for (action, text, newline) in steps {
                let piece = if newline { format!("{text}\n") } else { text };
                match action {
                    // Rename rotation, right after a poll.
                    0 => {
                        read.push_str(&poll(&mut t));
                        // A partial line is finished in the old file before it rotates.
                        if !written.is_empty() && !written.ends_with('\n') {
                            append(&log, "\n");
                            written.push('\n');
                        }
                        rotations += 1;
                        std::fs::rename(&log, d.0.join(format!("access.log.{rotations}"))).unwrap();
                        append(&log, "");
                    }
                    // Restart from the checkpoint.
                    1 => {
                        read.push_str(&poll(&mut t));
                        s.record(t.checkpoint());
                        s.save_now().unwrap();
                        t = Tailer::open(&log, &store(&d), StartAt::End).unwrap();
                    }
                    2..=4 => read.push_str(&poll(&mut t)),
                    _ => {
                        append(&log, &piece);
                        written.push_str(&piece);
                    }
                }
            }
            read.push_str(&poll(&mut t));
            let complete = &written[..written.rfind('\n').map_or(0, |i| i + 1)];
            proptest::prop_assert_eq!(read, complete);
        }
    }

    #[test]
    fn a_corrupt_store_is_an_error() {
        let d = Dir::new("corrupt");
        std::fs::write(d.0.join("checkpoints.json"), "{nope").unwrap();
        let err = CheckpointStore::load(&d.0.join("checkpoints.json")).unwrap_err();
        assert!(err.to_string().contains("corrupt"), "{err}");
    }
}
