//! How messages for a person are worded, per front end.
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

    /// The plain sentence of `error`, without the target in front.
    fn ops_detail(&self, error: &OpsError) -> String {
        match error {
            OpsError::Image(e) => self.imaging_error(e),
            OpsError::Directory { source, .. } => self.directory_error(source),
            OpsError::Backup { user, source, .. } => format!(
                "the current photo of {user} could not be backed up, so nothing was changed: {source}"
            ),
            OpsError::NoMailbox { target, user } => format!(
                "{user} has no mailbox in {}, so it cannot hold a photo there; give the user a mailbox or write to Active Directory instead",
                self.target(*target)
            ),
            OpsError::CannotBackUp { user, reason, .. } => format!(
                "the current photo of {user} cannot be read ({reason}), so it cannot be backed up and nothing was changed; a photo is only replaced once it is backed up, so fix what keeps it from being read"
            ),
            OpsError::BackupRead { source, .. } => source.to_string(),
            OpsError::Audit { user, source, .. } => {
                format!("the photo of {user} was changed, but {source}")
            }
        }
    }
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
