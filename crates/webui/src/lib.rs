//! The local web UI served by `userphoto serve` and `userphoto demo`.
//! Filled in by the web UI issue.
