//! Which file belongs to which user.
//!
//! Why a module of its own: the naming rule is the one thing an admin must
//! get right for a bulk import ("the file naming is your most important
//! job"), so it is written once, as pure functions, and tested on the cases
//! that bite: macOS NFD names, `John.Smith 648x648.jpg` (John.Smith's) versus
//! `John.Smith648x648.jpg` (nobody's), case, several files for one user.
//!
//! The rule: the user's name is the file name up to the first space, or up
//! to the extension when there is no space; it is NFC-normalised and
//! compared case-insensitively with [`normalize_key`]. A mapping CSV
//! (`file,user`) overrides the rule for the files it lists.
//!
//! Several files for one user: the one named exactly `<name>.<ext>` wins,
//! then the newest, then the first by path (so runs are deterministic); the
//! others are duplicates — never two uploads for one user in a run.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use unicode_normalization::UnicodeNormalization;
use userphoto_directory::normalize_key;

/// The user name a file name carries: NFC-normalised, up to the first space
/// or, without a space, up to the extension. `None` for a name that gives
/// nothing (`" x.jpg"`, `".jpg"`).
///
/// ```
/// use userphoto_bulk::import::matching::name_from_file;
/// assert_eq!(name_from_file("John.Smith 648x648.jpg").as_deref(), Some("John.Smith"));
/// assert_eq!(name_from_file("John.Smith.jpg").as_deref(), Some("John.Smith"));
/// assert_eq!(name_from_file("John.Smith648x648.jpg").as_deref(), Some("John.Smith648x648"));
/// ```
pub fn name_from_file(file_name: &str) -> Option<String> {
    let nfc: String = file_name.nfc().collect();
    let name = match nfc.split_once(' ') {
        Some((head, _)) => head,
        None => match nfc.rfind('.') {
            Some(dot) if dot > 0 => &nfc[..dot],
            _ => nfc.as_str(),
        },
    };
    let name = name.trim();
    (!name.is_empty()).then(|| name.to_owned())
}

/// Whether the file is named exactly `<name>.<ext>` (nothing after the
/// name), which wins over `<name> anything.<ext>`.
fn is_exact(file_name: &str) -> bool {
    let nfc: String = file_name.nfc().collect();
    !nfc.contains(' ')
}

/// A file offered to the matcher.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileCandidate {
    /// Full path.
    pub path: PathBuf,
    /// Path relative to the imported folder.
    pub relative: PathBuf,
    /// Last modification time (newest wins among duplicates).
    pub modified: Option<SystemTime>,
}

impl FileCandidate {
    /// The file's own name, lossily as text.
    pub fn file_name(&self) -> String {
        self.path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }
}

/// The files that name one user, after choosing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserFiles {
    /// The name as found (first spelling seen, NFC), e.g. `John.Smith`.
    pub name: String,
    /// The file chosen for the user.
    pub chosen: FileCandidate,
    /// Whether the choice came from the mapping file.
    pub mapped: bool,
    /// The other files for the same user, not uploaded.
    pub duplicates: Vec<FileCandidate>,
}

/// The outcome of matching file names to user names (before any directory
/// is asked whether those users exist).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Matched {
    /// One entry per user name, in order of the chosen file's path.
    pub users: Vec<UserFiles>,
    /// Files that give no name at all.
    pub nameless: Vec<FileCandidate>,
}

/// A `file,user` mapping that overrides the naming rule.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Mapping {
    /// Normalised file name or relative path → user name.
    rows: HashMap<String, String>,
}

/// Why a mapping file cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("{}: {message}", path.display())]
pub struct MappingError {
    /// The mapping file.
    pub path: PathBuf,
    /// What is wrong, and what to do.
    pub message: String,
}

/// What is wrong with a line of a mapping file.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MappingProblem {
    /// The CSV itself cannot be read there.
    #[error("line {line}: {detail}")]
    Unreadable {
        /// The line.
        line: u64,
        /// What the CSV reader said.
        detail: String,
    },
    /// A row with one cell.
    #[error(
        "line {line}: a row needs two cells, file and user (e.g. `John Smith.jpg,John.Smith`)"
    )]
    OneCell {
        /// The line.
        line: u64,
    },
    /// A row with an empty file or user.
    #[error("line {line}: the file or the user is empty")]
    Empty {
        /// The line.
        line: u64,
    },
    /// One file mapped to two users.
    #[error("line {line}: {file} is mapped to both {first} and {second}; keep one row per file")]
    Twice {
        /// The line.
        line: u64,
        /// The file.
        file: String,
        /// The user of the earlier row.
        first: String,
        /// The user of this row.
        second: String,
    },
}

impl Mapping {
    /// Reads a CSV with columns `file,user` (a header row naming them is
    /// optional; extra columns are ignored; `#` lines are comments).
    ///
    /// # Errors
    /// When the file cannot be read, a row has fewer than two cells, or a
    /// file is mapped twice to different users.
    pub fn load(path: &Path) -> Result<Self, MappingError> {
        let text = std::fs::read_to_string(path).map_err(|e| MappingError {
            path: path.to_path_buf(),
            message: format!("cannot read the mapping file: {e}"),
        })?;
        Self::parse(&text).map_err(|problem| MappingError {
            path: path.to_path_buf(),
            message: problem.to_string(),
        })
    }

    /// Parses mapping CSV text (see [`Mapping::load`]).
    ///
    /// # Errors
    /// What is wrong, and on which line.
    pub fn parse(text: &str) -> Result<Self, MappingProblem> {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .comment(Some(b'#'))
            .trim(csv::Trim::All)
            .from_reader(text.as_bytes());
        let mut rows = HashMap::new();
        for (i, record) in reader.records().enumerate() {
            let record = record.map_err(|e| MappingProblem::Unreadable {
                line: i as u64 + 1,
                detail: e.to_string(),
            })?;
            let line = record.position().map_or(i as u64 + 1, |p| p.line());
            if record.iter().all(str::is_empty) {
                continue;
            }
            let (Some(file), Some(user)) = (record.get(0), record.get(1)) else {
                return Err(MappingProblem::OneCell { line });
            };
            if i == 0 && file.eq_ignore_ascii_case("file") && user.eq_ignore_ascii_case("user") {
                continue;
            }
            if file.is_empty() || user.is_empty() {
                return Err(MappingProblem::Empty { line });
            }
            let key = file_key(file);
            if let Some(previous) = rows.insert(key, user.to_owned()) {
                if !userphoto_directory::keys_equal(&previous, user) {
                    return Err(MappingProblem::Twice {
                        line,
                        file: file.to_owned(),
                        first: previous,
                        second: user.to_owned(),
                    });
                }
            }
        }
        Ok(Mapping { rows })
    }

    /// How many rows.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The user a file is mapped to: by relative path, else by file name,
    /// else by full path (`C:\Photos\hr\ann.jpg` or `/photos/hr/ann.jpg`).
    pub fn user_for(&self, file: &FileCandidate) -> Option<&str> {
        let relative = file.relative.to_string_lossy();
        self.rows
            .get(&file_key(&relative))
            .or_else(|| self.rows.get(&file_key(&file.file_name())))
            .or_else(|| self.rows.get(&file_key(&file.path.to_string_lossy())))
            .map(String::as_str)
    }
}

/// How a mapping row's file is compared: NFC, lower case, `/` separators
/// (so `hr\ann.jpg` written on Windows matches `hr/ann.jpg`), without a
/// leading `./` or Windows' verbatim `\\?\` prefix.
fn file_key(file: &str) -> String {
    let file = file.replace('\\', "/");
    let file = file.strip_prefix("//?/").unwrap_or(&file);
    let file = file.trim_start_matches("./");
    normalize_key(file)
}

/// Groups `files` by the user they name (the mapping first, then the
/// naming rule) and chooses one file per user.
pub fn match_files(files: Vec<FileCandidate>, mapping: Option<&Mapping>) -> Matched {
    let mut groups: HashMap<String, (String, Vec<(FileCandidate, bool)>)> = HashMap::new();
    let mut order: Vec<String> = Vec::new();
    let mut nameless = Vec::new();
    for file in files {
        let (name, mapped) = match mapping.and_then(|m| m.user_for(&file)) {
            Some(user) => (Some(user.nfc().collect::<String>()), true),
            None => (name_from_file(&file.file_name()), false),
        };
        let Some(name) = name else {
            nameless.push(file);
            continue;
        };
        let key = normalize_key(&name);
        let group = groups.entry(key.clone()).or_insert_with(|| {
            order.push(key);
            (name, Vec::new())
        });
        group.1.push((file, mapped));
    }
    let mut users: Vec<UserFiles> = order
        .into_iter()
        .filter_map(|key| groups.remove(&key))
        .filter_map(|(name, files)| choose(name, files))
        .collect();
    users.sort_by(|a, b| a.chosen.path.cmp(&b.chosen.path));
    Matched { users, nameless }
}

/// Picks one file: mapped first, then exactly `<name>.<ext>`, then the
/// newest, then the first by path.
fn choose(name: String, mut files: Vec<(FileCandidate, bool)>) -> Option<UserFiles> {
    files.sort_by(|(a, a_mapped), (b, b_mapped)| {
        b_mapped
            .cmp(a_mapped)
            .then_with(|| is_exact(&b.file_name()).cmp(&is_exact(&a.file_name())))
            .then_with(|| b.modified.cmp(&a.modified))
            .then_with(|| a.path.cmp(&b.path))
    });
    let mut it = files.into_iter();
    let (chosen, mapped) = it.next()?;
    Some(UserFiles {
        name,
        chosen,
        mapped,
        duplicates: it.map(|(f, _)| f).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn file(name: &str, age_secs: u64) -> FileCandidate {
        FileCandidate {
            path: PathBuf::from("/photos").join(name),
            relative: PathBuf::from(name),
            modified: Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000 - age_secs)),
        }
    }

    #[test]
    fn the_name_ends_at_the_first_space_or_the_extension() {
        assert_eq!(
            name_from_file("John.Smith 648x648.jpg").as_deref(),
            Some("John.Smith")
        );
        assert_eq!(
            name_from_file("John.Smith648x648.jpg").as_deref(),
            Some("John.Smith648x648")
        );
        assert_eq!(
            name_from_file("John.Smith.jpg").as_deref(),
            Some("John.Smith")
        );
        assert_eq!(
            name_from_file("Jane.Doe(ext).png").as_deref(),
            Some("Jane.Doe(ext)")
        );
        assert_eq!(
            name_from_file("john.smith@corp.example.test.jpg").as_deref(),
            Some("john.smith@corp.example.test")
        );
        assert_eq!(name_from_file("noext").as_deref(), Some("noext"));
        assert_eq!(name_from_file(" leading.jpg"), None);
        assert_eq!(name_from_file(".jpg").as_deref(), Some(".jpg"));
    }

    #[test]
    fn nfd_names_from_macos_match_nfc_directory_names() {
        let nfd = "Jose\u{301}.Mu\u{308}ller 648x648.jpg";
        let name = name_from_file(nfd).expect("a name");
        assert_eq!(name, "Jos\u{e9}.M\u{fc}ller");
        assert_eq!(normalize_key(&name), normalize_key("JOSÉ.MÜLLER"));
    }

    #[test]
    fn case_does_not_split_a_user_and_duplicates_prefer_the_exact_name() {
        let m = match_files(
            vec![
                file("john.smith 2024.jpg", 0), // newest
                file("JOHN.SMITH.jpg", 100),    // exact
                file("John.Smith648x648.jpg", 0),
            ],
            None,
        );
        assert_eq!(m.users.len(), 2, "{m:?}");
        let john = m
            .users
            .iter()
            .find(|u| normalize_key(&u.name) == "john.smith")
            .expect("john");
        assert_eq!(john.chosen.file_name(), "JOHN.SMITH.jpg");
        assert_eq!(john.duplicates.len(), 1);
        assert_eq!(john.duplicates[0].file_name(), "john.smith 2024.jpg");
        assert!(m.users.iter().any(|u| u.name == "John.Smith648x648"));
    }

    #[test]
    fn without_an_exact_name_the_newest_wins_then_the_path() {
        let m = match_files(
            vec![
                file("a.b old.jpg", 500),
                file("a.b new.jpg", 10),
                file("a.b newer.jpg", 10),
            ],
            None,
        );
        assert_eq!(m.users.len(), 1);
        assert_eq!(m.users[0].chosen.file_name(), "a.b new.jpg");
        let again = match_files(
            vec![
                file("a.b newer.jpg", 10),
                file("a.b old.jpg", 500),
                file("a.b new.jpg", 10),
            ],
            None,
        );
        assert_eq!(again, m, "the choice does not depend on listing order");
    }

    #[test]
    fn a_mapping_overrides_the_rule_by_file_name_or_relative_path() {
        let mapping = Mapping::parse(
            "file,user\n# HR's names\nIMG_0001.JPG , John.Smith\nsub/IMG_0002.jpg,anna.smith\n\n",
        )
        .expect("parses");
        assert_eq!(mapping.len(), 2);
        let mut nested = file("IMG_0002.jpg", 0);
        nested.relative = PathBuf::from("sub").join("IMG_0002.jpg");
        let m = match_files(
            vec![file("img_0001.jpg", 0), nested, file("John.Smith.jpg", 0)],
            Some(&mapping),
        );
        let john = m
            .users
            .iter()
            .find(|u| normalize_key(&u.name) == "john.smith")
            .expect("john");
        assert!(john.mapped);
        assert_eq!(john.chosen.file_name(), "img_0001.jpg", "mapped wins");
        assert_eq!(john.duplicates.len(), 1);
        assert!(m.users.iter().any(|u| u.name == "anna.smith"));
    }

    #[test]
    fn bad_mappings_say_which_line() {
        let err = Mapping::parse("a.jpg,x\nb.jpg\n").expect_err("short row");
        assert_eq!(err, MappingProblem::OneCell { line: 2 });
        assert!(err.to_string().starts_with("line 2:"), "{err}");
        let err = Mapping::parse("a.jpg,x\nA.JPG,y\n").expect_err("conflict");
        assert!(
            matches!(err, MappingProblem::Twice { line: 2, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("both"), "{err}");
        assert!(Mapping::parse("a.jpg,x\nA.JPG,X\n").is_ok());
    }
}
