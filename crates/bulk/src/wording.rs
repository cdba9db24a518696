//! How messages for a person are worded, per front end. Only front ends
//! call this module: the engine hands out [`Reason`]s and errors, and
//! never words them itself.
//!
//! Why a module of its own: the command line names its flags in remedies
//! ("raise --max-input-bytes", "pass --no-backup") and calls targets by
//! their configuration section (`ad`, `m365`, `folder`). Another front end
//! (the web UI) has no flags and its own names for targets (the columns
//! and panes say "AD" and "HD"). The library words its messages — plan
//! reasons, errors — once, here, for whichever front end asks, so front
//! ends stay thin and say the same things.
//!
//! [`Wording::command_line`] (the default) is the CLI's wording, unchanged;
//! [`Wording::plain`] names no flag, with
//! [`Wording::with_target_name`] for each target's name.

use userphoto_directory::config::TargetKind;
use userphoto_directory::{Error as DirError, UserKey};
use userphoto_imaging::ImagingError;

use crate::import::ImportError;
use crate::ops::OpsError;
use crate::reason::{Detail, Reason};

/// How messages for a person are worded: see the [module](self).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Wording {
    plain: bool,
    names: Vec<(TargetKind, String)>,
}

impl Wording {
    /// The command line's wording: flags in remedies, targets by their
    /// section name.
    pub fn command_line() -> Self {
        Wording::default()
    }

    /// Wording without command-line flags, for other front ends; targets
    /// by their section name until [`Wording::with_target_name`] names
    /// them.
    pub fn plain() -> Self {
        Wording {
            plain: true,
            names: Vec::new(),
        }
    }

    /// Calls `kind` `name` in messages (`AD`, `HD`).
    pub fn with_target_name(mut self, kind: TargetKind, name: impl Into<String>) -> Self {
        self.names.retain(|(k, _)| *k != kind);
        self.names.push((kind, name.into()));
        self
    }

    /// Whether remedies name no command-line flag.
    pub fn is_plain(&self) -> bool {
        self.plain
    }

    /// The name of `kind` in messages.
    pub fn target(&self, kind: TargetKind) -> &str {
        self.names
            .iter()
            .find(|(k, _)| *k == kind)
            .map_or(kind.as_str(), |(_, name)| name.as_str())
    }

    /// `kinds` named and joined with `, `.
    pub fn targets(&self, kinds: impl IntoIterator<Item = TargetKind>) -> String {
        kinds
            .into_iter()
            .map(|k| self.target(k))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The name of a match key in messages: the command line's own name
    /// for it (`sam-account-name`, as `--match-by` and the docs spell it),
    /// or words an admin uses (`logon name (sAMAccountName)`).
    pub fn key(&self, key: UserKey) -> String {
        if !self.plain {
            return key.to_string();
        }
        match key {
            UserKey::SamAccountName => "logon name (sAMAccountName)",
            UserKey::Upn => "user principal name (UPN)",
            UserKey::Mail => "e-mail address",
            UserKey::Alias => "alias (mailNickname)",
            UserKey::EmployeeId => "employee ID",
            UserKey::Id => "directory id",
            UserKey::DisplayName => "display name",
        }
        .to_owned()
    }

    /// `order` named and joined with `, then `.
    pub fn keys(&self, order: &[UserKey]) -> String {
        order
            .iter()
            .map(|k| self.key(*k))
            .collect::<Vec<_>>()
            .join(", then ")
    }

    /// An image error's message.
    pub fn imaging_error(&self, error: &ImagingError) -> String {
        if self.plain {
            error.plain_message()
        } else {
            error.to_string()
        }
    }

    /// A directory error's message.
    pub fn directory_error(&self, error: &DirError) -> String {
        if self.plain {
            error.plain_message()
        } else {
            error.to_string()
        }
    }

    /// A single-user operation's error message, led by the target it is
    /// about (`HD: …`).
    pub fn ops_error(&self, error: &OpsError) -> String {
        if !self.plain {
            return error.to_string();
        }
        match error.target() {
            Some(target) => format!("{}: {}", self.target(target), self.ops_detail(error)),
            None => self.ops_detail(error),
        }
    }

    /// [`Wording::ops_error`] without the target's name in front, for a
    /// front end that shows it beside the message. The command line's
    /// wording has no such form: it is the whole `Display`.
    pub fn ops_error_detail(&self, error: &OpsError) -> String {
        if self.plain {
            self.ops_detail(error)
        } else {
            error.to_string()
        }
    }

    /// Why an import could not be planned or run at all.
    pub fn import_error(&self, error: &ImportError) -> String {
        match error {
            ImportError::Directory { target, source } if self.plain => {
                format!("{}: {}", self.target(*target), self.directory_error(source))
            }
            other => other.to_string(),
        }
    }

    /// The sentence for `reason`: why a plan or report row is what it
    /// is, in this front end's words.
    pub fn reason(&self, reason: &Reason) -> String {
        let t = |k: &TargetKind| self.target(*k).to_owned();
        match reason {
            Reason::NotAnImage => "not an image file (by its extension); nothing to import".into(),
            Reason::CannotList { detail } => detail.clone(),
            Reason::NoNameInFile => {
                "the file name gives no user name; name it `<user>.jpg` or `<user> anything.jpg`"
                    .into()
            }
            Reason::AlsoNamed { file, name, chosen } => {
                format!("{file} is also named {name}; only {chosen} is imported for this user")
            }
            Reason::NoSuchUser { key, name, targets } => format!(
                "no user has {} {name:?} in {}; name the file after the user's {} (the name ends at the first space), or map it to a user with a mapping file",
                self.key(*key),
                self.targets(targets.iter().copied()),
                self.key(*key)
            ),
            Reason::SameUserAs { file } => {
                format!("the same user as {file}; only that file is imported for this user")
            }
            Reason::MappedByFile => "matched by the mapping file".into(),
            Reason::Unusable(d) | Reason::WriteFailed(d) => self.detail(d),
            Reason::StrictQuality { findings } => {
                format!("quality check failed (strict): {}", findings.join("; "))
            }
            Reason::SameUserInTarget { target, file } => format!(
                "the same user in {} as {file}; written once, from that file",
                t(target)
            ),
            Reason::NotInTarget { target } => format!("{} has no such user", t(target)),
            Reason::NoCounterpart {
                target,
                order,
                primary,
                key,
            } => format!(
                "{} has no such user (looked for by the {} of the user in {}, and by {})",
                t(target),
                self.keys(order),
                t(primary),
                self.key(*key)
            ),
            Reason::Ambiguous { target, candidates } => format!(
                "{} users match in {}: {}; name the file by a key that is unique, or map it to one user with a mapping file",
                candidates.len(),
                t(target),
                candidates.join("; ")
            ),
            Reason::SmallSourceSkipped { width, height } => format!(
                "the source is only {width}×{height} (HD targets need more than {0}×{0}); photos are never upscaled",
                crate::size_rule::SMALL_SOURCE_MAX
            ),
            Reason::SmallSourceWritten { width, height } => format!(
                "the source is only {width}×{height}, so it is written at that size instead of as an HD photo; use a larger source for HD targets"
            ),
            Reason::Quality { text, .. } => text.clone(),
            Reason::SmallerThanTarget { requested, size } => format!(
                "the source is smaller than {requested}×{requested}, so the photo is written at {size}×{size} (never upscaled); use a larger source for a sharper photo"
            ),
            Reason::NoMailbox { target } => format!(
                "no mailbox in {}, so the user cannot hold a photo there",
                t(target)
            ),
            Reason::CurrentUnreadable(d) => {
                format!("the current photo cannot be read: {}", self.detail(d))
            }
            Reason::NotOpen { target } => format!(
                "{} is not open in this run; configure it or leave it out of the plan",
                t(target)
            ),
            Reason::NothingPrepared => "no photo was prepared for this target".into(),
            Reason::Declined => "declined when asked".into(),
            Reason::DoneByInterruptedRun => "done by the interrupted run".into(),
            Reason::Stopped if self.plain => {
                "the run stopped before this; carry on the import, or import the folder again, to do the rest (what is already in place is skipped)".into()
            }
            Reason::Stopped => {
                "the run stopped before this; resume the import, or run it again, to do the rest"
                    .into()
            }
            Reason::WriterStopped { detail } => format!(
                "the writes for this user stopped unexpectedly ({detail}); run the import again to finish them"
            ),
            Reason::NoHdPhoto { hd } => format!("no HD photo in {}", t(hd)),
            Reason::HdUnusable(d) => format!("the HD photo cannot be used: {}", self.detail(d)),
            Reason::UnknownName { key, name, target } => {
                format!("no user has {} {name:?} in {}", self.key(*key), t(target))
            }
            Reason::AmbiguousName {
                key,
                name,
                target,
                count,
            } => format!(
                "{count} users have {} {name:?} in {}; name one by a unique key",
                self.key(*key),
                t(target)
            ),
            Reason::NotFoundIn { target } => format!("not found in {}", t(target)),
            Reason::SameTargetUser { target, first } => {
                format!("the same {} user as {first}; written once", t(target))
            }
            Reason::Synced { target, at } if self.plain => format!(
                "already written to {} on {} (not read again)",
                t(target),
                date(*at)
            ),
            Reason::Synced { target, at } => format!(
                "already written to {} on {} (not read again; --verify reads it)",
                t(target),
                date(*at)
            ),
            Reason::ChangedSinceSync { target, at } => format!(
                "the photo in {} was changed there after userphoto wrote it on {}; not overwritten",
                t(target),
                date(*at)
            ),
            Reason::SourceRow { line, message } => {
                format!("line {line} of the source CSV: {message}")
            }
            Reason::CloudPhotosManagedOnPremises { target } => format!(
                "{}'s photo update setting says photos are managed on premises: \
                 written to Active Directory only, from where directory synchronisation takes it",
                t(target)
            ),
        }
    }

    /// `plan` as rows, each reason in these words.
    pub fn plan_rows(&self, plan: &crate::import::Plan) -> Vec<crate::import::PlanRow> {
        plan.rows(&|r| self.reason(r))
    }

    /// `item` with its reason in these words.
    pub fn item(&self, item: crate::import::ItemResult) -> crate::import::ItemResult {
        item.worded(&|r| self.reason(r))
    }

    /// A lower layer's sentence in this front end's wording.
    pub fn detail(&self, detail: &Detail) -> String {
        if self.plain {
            detail.plain.clone()
        } else {
            detail.text.clone()
        }
    }

    /// The plain sentence of `error`, without the target in front.
    fn ops_detail(&self, error: &OpsError) -> String {
        match error {
            OpsError::NoMailbox { target, .. } => error.plain_detail(self.target(*target)),
            other => other.plain_detail(""),
        }
    }
}

/// `at` (seconds since the Unix epoch) as `YYYY-MM-DD HH:MM UTC`.
pub fn date(at: i64) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    time::OffsetDateTime::from_unix_timestamp(at)
        .ok()
        .and_then(|d| d.format(&format).ok())
        .unwrap_or_else(|| at.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_wording_is_the_display_and_the_section_names() {
        let w = Wording::command_line();
        let e = ImagingError::InputTooLarge {
            bytes: 60,
            limit: 50,
        };
        assert_eq!(w.imaging_error(&e), e.to_string());
        assert_eq!(
            w.targets([TargetKind::Ad, TargetKind::Folder]),
            "ad, folder"
        );
        assert!(!w.is_plain());
    }

    #[test]
    fn plain_wording_names_no_flag_and_uses_the_front_ends_names() {
        let w = Wording::plain()
            .with_target_name(TargetKind::Ad, "AD")
            .with_target_name(TargetKind::Folder, "HD");
        let e = ImagingError::InputTooLarge {
            bytes: 60,
            limit: 50,
        };
        assert!(!w.imaging_error(&e).contains("--"));
        assert_eq!(w.targets([TargetKind::Ad, TargetKind::Folder]), "AD, HD");
        assert_eq!(w.target(TargetKind::M365), "m365", "unnamed: its section");
        let no_mailbox = OpsError::NoMailbox {
            target: TargetKind::Folder,
            user: "Kiosk.Account".into(),
        };
        assert_eq!(
            w.ops_error(&no_mailbox),
            "HD: Kiosk.Account has no mailbox in HD, so it cannot hold a photo there; give the user a mailbox or write to Active Directory instead"
        );
        assert!(w
            .ops_error_detail(&no_mailbox)
            .starts_with("Kiosk.Account has"));
        assert_eq!(
            Wording::command_line().ops_error(&no_mailbox),
            no_mailbox.to_string()
        );
        assert_eq!(
            w.with_target_name(TargetKind::Ad, "Thumbnail")
                .target(TargetKind::Ad),
            "Thumbnail"
        );
    }
}
