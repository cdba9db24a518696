//! Entry points for the fuzz targets in `fuzz/` (and their corpus replay
//! in the normal test run). Not an API: any answer is fine, a panic is a
//! bug.

/// The import's `--mapping` CSV (`file,user`).
pub fn mapping_csv(data: &[u8]) {
    let _ = crate::import::matching::Mapping::parse(&String::from_utf8_lossy(data));
}

/// An import journal (`journal.jsonl`), as a resumed run reads it.
pub fn journal(data: &[u8]) {
    let _ = crate::import::journal::journal_from_bytes(data);
}
