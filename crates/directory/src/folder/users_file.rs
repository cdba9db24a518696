//! The folder backend's users file, `users.csv`: reading, checking, writing.
//!
//! Kept apart from the backend itself because it is the one place that
//! parses text a person may have edited by hand, so it is where the careful
//! error messages (file, line, column, what to write instead) live.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::user::{normalize_key, User};

/// The columns of `users.csv`, in the order they are written.
pub const COLUMNS: [&str; 9] = [
    "id",
    "sam_account_name",
    "upn",
    "mail",
    "alias",
    "employee_id",
    "display_name",
    "enabled",
    "access",
];

/// What the folder pretends about a user's photo access, so that a demo or a
/// test can show every state a real directory has.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Access {
    /// Photos can be read and written (`ok`, or an empty cell).
    #[default]
    Ok,
    /// The user has no mailbox (`no-mailbox`): reads answer
    /// [`PhotoLookup::NoMailbox`](crate::PhotoLookup::NoMailbox), writes fail
    /// with [`Error::Precondition`].
    NoMailbox,
    /// The user's photo is off limits (`not-accessible`): reads answer
    /// [`PhotoLookup::NotAccessible`](crate::PhotoLookup::NotAccessible),
    /// writes fail with [`Error::PermissionDenied`].
    NotAccessible,
}

impl Access {
    /// The word used in the `access` column.
    pub fn as_str(self) -> &'static str {
        match self {
            Access::Ok => "ok",
            Access::NoMailbox => "no-mailbox",
            Access::NotAccessible => "not-accessible",
        }
    }

    fn parse(cell: &str) -> Option<Self> {
        match cell.to_ascii_lowercase().replace('_', "-").as_str() {
            "" | "ok" => Some(Access::Ok),
            "no-mailbox" => Some(Access::NoMailbox),
            "not-accessible" => Some(Access::NotAccessible),
            _ => None,
        }
    }
}

impl fmt::Display for Access {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One row of `users.csv`: a user and its access state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FolderUser {
    /// The user (its `id` names the photo file).
    pub user: User,
    /// Whether its photo can be read and written.
    pub access: Access,
}

impl FolderUser {
    /// A user with the given access state.
    pub fn new(user: User, access: Access) -> Self {
        FolderUser { user, access }
    }
}

impl From<User> for FolderUser {
    /// A user whose photo can be read and written.
    fn from(user: User) -> Self {
        FolderUser {
            user,
            access: Access::Ok,
        }
    }
}

/// Parses the users file at `path` (whose text is `text`).
pub(crate) fn parse(path: &Path, text: &[u8]) -> Result<Vec<FolderUser>> {
    let invalid = |line: Option<u64>, what: String| {
        let at = line.map_or_else(String::new, |l| format!(" line {l}"));
        Error::InvalidConfig {
            message: format!("{}{at}: {what}", path.display()),
        }
    };
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .comment(Some(b'#'))
        .from_reader(text);
    let headers = reader
        .headers()
        .map_err(|e| {
            invalid(
                None,
                format!(
                    "cannot read the header row ({e}); the first line must name the columns: {}",
                    COLUMNS.join(",")
                ),
            )
        })?
        .clone();
    let mut index: HashMap<&'static str, usize> = HashMap::new();
    for (i, name) in headers.iter().enumerate() {
        let name = name.trim_start_matches('\u{feff}').to_ascii_lowercase();
        let Some(column) = COLUMNS.iter().find(|c| **c == name) else {
            return Err(invalid(
                Some(1),
                format!(
                    "unknown column {name:?}; the columns are {}",
                    COLUMNS.join(",")
                ),
            ));
        };
        if index.insert(column, i).is_some() {
            return Err(invalid(
                Some(1),
                format!("column {name:?} appears twice; keep one"),
            ));
        }
    }
    if !index.contains_key("id") {
        return Err(invalid(
            Some(1),
            format!(
                "there is no id column; the columns are {}",
                COLUMNS.join(",")
            ),
        ));
    }

    let mut users = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = e.position().map(csv::Position::line);
            invalid(
                line,
                format!("{e}; every row needs the same columns as the header"),
            )
        })?;
        let line = record.position().map(csv::Position::line);
        let cell = |column: &str| -> Option<String> {
            index
                .get(column)
                .and_then(|&i| record.get(i))
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        let Some(id) = cell("id") else {
            return Err(invalid(
                line,
                "the id is empty; give every user a unique id".into(),
            ));
        };
        let enabled = match cell("enabled").map(|v| v.to_ascii_lowercase()).as_deref() {
            None => None,
            Some("true" | "yes" | "1") => Some(true),
            Some("false" | "no" | "0") => Some(false),
            Some(other) => {
                return Err(invalid(
                    line,
                    format!("enabled is {other:?}; write true, false, or leave it empty"),
                ))
            }
        };
        let access_cell = cell("access").unwrap_or_default();
        let Some(access) = Access::parse(&access_cell) else {
            return Err(invalid(
                line,
                format!(
                    "access is {access_cell:?}; write ok, no-mailbox or not-accessible (or leave it empty)"
                ),
            ));
        };
        let mut user = User::new(id);
        user.sam_account_name = cell("sam_account_name");
        user.upn = cell("upn");
        user.mail = cell("mail");
        user.alias = cell("alias");
        user.employee_id = cell("employee_id");
        user.display_name = cell("display_name");
        user.enabled = enabled;
        users.push(FolderUser { user, access });
    }
    check_unique(path, &users)?;
    Ok(users)
}

/// Refuses empty ids and ids equal ignoring case (they would name the same
/// photo file on Windows and macOS).
pub(crate) fn check_unique(path: &Path, users: &[FolderUser]) -> Result<()> {
    let mut seen: HashMap<String, &str> = HashMap::new();
    for u in users {
        if u.user.id.trim().is_empty() {
            return Err(Error::InvalidConfig {
                message: format!(
                    "{}: a user has an empty id; give every user a unique id",
                    path.display()
                ),
            });
        }
        if let Some(first) = seen.insert(normalize_key(&u.user.id), &u.user.id) {
            return Err(Error::InvalidConfig {
                message: format!(
                    "{}: the ids {first:?} and {:?} are the same ignoring case; make every id unique",
                    path.display(),
                    u.user.id
                ),
            });
        }
    }
    Ok(())
}

/// Renders `users` as the text of a users file.
pub(crate) fn render(users: &[FolderUser]) -> Result<Vec<u8>> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    let to_error =
        |e: csv::Error| Error::other("folder", format!("cannot render the users file: {e}"));
    writer.write_record(COLUMNS).map_err(to_error)?;
    for FolderUser { user, access } in users {
        let enabled = user
            .enabled
            .map_or("", |e| if e { "true" } else { "false" });
        writer
            .write_record([
                user.id.as_str(),
                user.sam_account_name.as_deref().unwrap_or(""),
                user.upn.as_deref().unwrap_or(""),
                user.mail.as_deref().unwrap_or(""),
                user.alias.as_deref().unwrap_or(""),
                user.employee_id.as_deref().unwrap_or(""),
                user.display_name.as_deref().unwrap_or(""),
                enabled,
                access.as_str(),
            ])
            .map_err(to_error)?;
    }
    writer
        .into_inner()
        .map_err(|e| Error::other("folder", format!("cannot render the users file: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(text: &str) -> Result<Vec<FolderUser>> {
        parse(Path::new("users.csv"), text.as_bytes())
    }

    #[test]
    fn round_trips() {
        let users = vec![
            FolderUser::from(
                User::new("u1")
                    .with_sam_account_name("John.Smith")
                    .with_display_name("Smith, John")
                    .with_enabled(true),
            ),
            FolderUser::new(User::new("u2").with_mail("a@b.c"), Access::NoMailbox),
            FolderUser::new(User::new("u3").with_enabled(false), Access::NotAccessible),
        ];
        let text = render(&users).expect("render");
        assert_eq!(parse(Path::new("x"), &text).expect("parse"), users);
    }

    #[test]
    fn tolerates_bom_comments_order_and_missing_columns() {
        let users =
            parse_str("\u{feff}display_name,id\n# a comment\n John Smith , u1\n").expect("parse");
        assert_eq!(users.len(), 1);
        assert_eq!(users[0].user.display_name.as_deref(), Some("John Smith"));
        assert_eq!(users[0].access, Access::Ok);
    }

    #[test]
    fn explains_mistakes() {
        let cases = [
            ("id,emial\nu1,x\n", "line 1: unknown column \"emial\""),
            ("mail\nx@y\n", "no id column"),
            ("id,enabled\nu1,maybe\n", "line 2: enabled is \"maybe\""),
            ("id,access\nu1,hidden\n", "line 2: access is \"hidden\""),
            ("id,mail\nu1\n", "line 2"),
            ("id\nAbc\nabc\n", "same ignoring case"),
            ("id,mail\n,x@y\n", "the id is empty"),
        ];
        for (text, want) in cases {
            let err = parse_str(text).expect_err(text).to_string();
            assert!(err.contains(want), "{text:?}: {err}");
            assert!(err.starts_with("users.csv"), "{err}");
        }
    }
}
