//! Why a plan row or a report row is what it is, as data.
//!
//! Why a module of its own: the engine decides (this file is unmatched,
//! that user has no mailbox, this photo is damaged); each front end says
//! it in its own words — the command line names its flags and calls
//! targets by their section, the web UI names no flag and says "AD" and
//! "HD". So the engine hands out a [`Reason`] with the data a sentence
//! needs, and [`Wording::reason`](crate::wording::Wording::reason) (called
//! only by front ends) turns it into that sentence. Scripts get
//! [`Reason::code`], the same string whichever front end planned.
//!
//! Errors from lower layers (the imaging pipeline, a directory) are not
//! serialisable values; they arrive as a [`Detail`]: their code and both of
//! the sentences their own crate words (the command line's and the plain
//! one), so a saved plan or report can be worded later by any front end.

use serde::{Deserialize, Serialize};
use userphoto_directory::config::TargetKind;
use userphoto_directory::{Error as DirError, UserKey};
use userphoto_imaging::ImagingError;

/// A lower layer's error, kept as its code and both of its wordings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Detail {
    /// A machine-readable code (`corrupt`, `permission-denied`, …); named
    /// `cause` when saved, beside the reason's own `code`.
    #[serde(rename = "cause")]
    pub code: String,
    /// The sentence for the command line (may name flags).
    pub text: String,
    /// The sentence for a front end without flags.
    pub plain: String,
}

impl Detail {
    /// An image the pipeline refused.
    pub fn image(error: &ImagingError) -> Self {
        Detail {
            code: error.code().to_owned(),
            text: error.to_string(),
            plain: error.plain_message(),
        }
    }

    /// A directory's failure.
    pub fn directory(error: &DirError) -> Self {
        Detail {
            code: error.code().to_owned(),
            text: error.to_string(),
            plain: error.plain_message(),
        }
    }

    /// A file that could not be read from disk.
    pub fn io(error: &std::io::Error) -> Self {
        let text = format!("cannot read the file: {error}");
        Detail {
            code: "unreadable".to_owned(),
            plain: text.clone(),
            text,
        }
    }

    /// Something with one wording only.
    pub fn other(code: &str, text: impl Into<String>) -> Self {
        let text = text.into();
        Detail {
            code: code.to_owned(),
            plain: text.clone(),
            text,
        }
    }
}

/// Why a plan row or a report row is what it is: see the [module](self).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "code", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Reason {
    // ---- files ----
    /// The file's extension is not an image's.
    NotAnImage,
    /// The folder or a file in it could not be listed or read.
    CannotList {
        /// What the operating system said.
        detail: String,
    },
    /// The file name gives no user name.
    NoNameInFile,
    /// Another file carries the same user name and was chosen.
    AlsoNamed {
        /// This file (relative path).
        file: String,
        /// The user name both carry.
        name: String,
        /// The file chosen instead (relative path).
        chosen: String,
    },
    /// No target has a user with this name.
    NoSuchUser {
        /// The key names are matched on.
        key: UserKey,
        /// The name the file carries.
        name: String,
        /// The targets asked.
        targets: Vec<TargetKind>,
    },
    /// Another file of this run reaches the same user in every target.
    SameUserAs {
        /// The other file (relative path).
        file: String,
    },
    /// A note: the mapping file named the user.
    MappedByFile,
    /// The file cannot be read or is not a usable image.
    Unusable(Detail),
    /// `--strict`: the photo has quality findings.
    StrictQuality {
        /// The findings, as sentences.
        findings: Vec<String>,
    },
    // ---- steps ----
    /// Another file of this run reaches the same user in this target.
    SameUserInTarget {
        /// The target.
        target: TargetKind,
        /// The other file (relative path).
        file: String,
    },
    /// The target (the one names are matched in) has no such user.
    NotInTarget {
        /// The target.
        target: TargetKind,
    },
    /// Another target (HYBRID) has no counterpart of the user.
    NoCounterpart {
        /// The target.
        target: TargetKind,
        /// The keys of the matched user looked for, in order.
        order: Vec<UserKey>,
        /// The target the user was matched in.
        primary: TargetKind,
        /// The key the name itself was looked for by.
        key: UserKey,
    },
    /// Several users match.
    Ambiguous {
        /// The target.
        target: TargetKind,
        /// Who matches.
        candidates: Vec<String>,
    },
    /// The size rule leaves an HD target out for a small source.
    SmallSourceSkipped {
        /// Source width.
        width: u32,
        /// Source height.
        height: u32,
    },
    /// A small source written to an HD target the person named.
    SmallSourceWritten {
        /// Source width.
        width: u32,
        /// Source height.
        height: u32,
    },
    /// A quality finding about the photo (no face, too dark, …).
    Quality {
        /// The finding's code (`no_face`, `too_dark`, …).
        check: String,
        /// The pipeline's sentence.
        text: String,
    },
    /// The photo was written smaller than the target's size (the source
    /// is smaller; never upscaled).
    SmallerThanTarget {
        /// The target's size.
        requested: u32,
        /// The side written.
        size: u32,
    },
    /// The user has no mailbox, so no photo at that target.
    NoMailbox {
        /// The target.
        target: TargetKind,
    },
    /// The current photo could not be read while planning.
    CurrentUnreadable(Detail),
    // ---- runs ----
    /// The plan names a target this run did not open.
    NotOpen {
        /// The target.
        target: TargetKind,
    },
    /// No photo was prepared for the target.
    NothingPrepared,
    /// The person said no when asked.
    Declined,
    /// An interrupted run already did it.
    DoneByInterruptedRun,
    /// The run stopped before this.
    Stopped,
    /// The writes for this user stopped unexpectedly (a task panicked).
    WriterStopped {
        /// What the runtime said.
        detail: String,
    },
    /// The write failed.
    WriteFailed(Detail),
    // ---- use existing HD ----
    /// The user has no photo at the HD target.
    NoHdPhoto {
        /// The HD target.
        hd: TargetKind,
    },
    /// The HD photo could not be read or used.
    HdUnusable(Detail),
    /// A name given is not a user of the HD target.
    UnknownName {
        /// The key looked for.
        key: UserKey,
        /// The name.
        name: String,
        /// The target.
        target: TargetKind,
    },
    /// A name given is several users.
    AmbiguousName {
        /// The key looked for.
        key: UserKey,
        /// The name.
        name: String,
        /// The target.
        target: TargetKind,
        /// How many.
        count: usize,
    },
    /// The user's counterpart at the thumbnail target was not found.
    NotFoundIn {
        /// The target.
        target: TargetKind,
    },
    /// Another user already writes to the same user at `target`.
    SameTargetUser {
        /// The target.
        target: TargetKind,
        /// Who writes it.
        first: String,
    },

    // ---- sync state ----
    /// The photo to write is the one we wrote to this user at `at` (the
    /// sync state); the directory was not read (`--verify` reads it).
    Synced {
        /// The target.
        target: TargetKind,
        /// When we wrote it, seconds since the Unix epoch.
        at: i64,
    },
    /// The source is unchanged since our write at `at`, but the photo in
    /// `target` is no longer ours: someone changed it there. Reported, not
    /// overwritten.
    ChangedSinceSync {
        /// The target.
        target: TargetKind,
        /// When we wrote it, seconds since the Unix epoch.
        at: i64,
    },
    /// A row of a CSV source that could not be used.
    SourceRow {
        /// Its line in the CSV.
        line: usize,
        /// What is wrong, and what to do.
        message: String,
    },
    /// The tenant's photo update setting (`photoUpdateSettings`) says
    /// photos are managed on premises: Microsoft 365 accepts no photo
    /// update, so the photo goes to Active Directory only (and reaches the
    /// cloud through directory synchronisation).
    CloudPhotosManagedOnPremises {
        /// The cloud target.
        target: TargetKind,
    },
}

impl Reason {
    /// The machine-readable code: the same for every front end.
    pub fn code(&self) -> String {
        match self {
            Reason::Unusable(d)
            | Reason::CurrentUnreadable(d)
            | Reason::WriteFailed(d)
            | Reason::HdUnusable(d) => d.code.clone(),
            other => serde_json::to_value(other)
                .ok()
                .and_then(|v| v.get("code").and_then(|c| c.as_str()).map(str::to_owned))
                .unwrap_or_default(),
        }
    }

    /// Whether this is only a note or warning on a row that is done as
    /// planned (not why it is not done).
    pub fn is_note(&self) -> bool {
        matches!(
            self,
            Reason::MappedByFile
                | Reason::SmallSourceWritten { .. }
                | Reason::Quality { .. }
                | Reason::SmallerThanTarget { .. }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_kebab_case_names_or_the_lower_layers_code() {
        assert_eq!(Reason::NoNameInFile.code(), "no-name-in-file");
        assert_eq!(
            Reason::NoMailbox {
                target: TargetKind::M365
            }
            .code(),
            "no-mailbox"
        );
        let damaged = ImagingError::Corrupt {
            format: "JPEG",
            detail: "premature end".into(),
        };
        assert_eq!(Reason::Unusable(Detail::image(&damaged)).code(), "corrupt");
    }

    #[test]
    fn reasons_survive_a_saved_plan() {
        let r = Reason::NoCounterpart {
            target: TargetKind::M365,
            order: vec![UserKey::Upn, UserKey::Mail],
            primary: TargetKind::Ad,
            key: UserKey::SamAccountName,
        };
        let text = serde_json::to_string(&r).expect("serialise");
        assert!(text.contains("\"code\":\"no-counterpart\""), "{text}");
        assert_eq!(serde_json::from_str::<Reason>(&text).expect("read back"), r);
    }
}
