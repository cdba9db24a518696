//! The userphoto engine for many photos.
//!
//! * [`scan`] finds the image files of a folder (hidden and temporary files
//!   ignored);
//! * [`convert`] prepares every file into directory-ready JPEGs on all cores
//!   and writes them next to each other, never overwriting by accident.
//!
//! Matching files to users, planning, executing against directories with
//! backups and a journal come with the bulk-import issue.

pub mod convert;
pub mod scan;
