//! The bulk engine: scan a folder, match files to users, plan, execute with
//! backups and a journal, report. Filled in by the bulk-import issue.
