//! Command-line arguments exactly as typed (clap derive). Turning them into
//! library options happens in each command module.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use userphoto_directory::config::TargetKind;
use userphoto_directory::UserKey;

mod jobs;
mod requests;

pub(crate) use self::jobs::{ImportArgs, ReportArgs, SyncArgs};
pub(crate) use self::requests::{RequestsAction, RequestsArgs};

/// Get staff photos right in Active Directory, Microsoft 365, Exchange and
/// LDAP directories.
#[derive(Debug, Parser)]
#[command(name = "userphoto", version, about, long_about = None, propagate_version = true)]
pub(crate) struct Cli {
    /// Configuration file (default: ./userphoto.toml when present).
    #[arg(long, global = true, value_name = "FILE", env = "USERPHOTO_CONFIG")]
    pub(crate) config: Option<PathBuf>,

    /// Print one JSON object per line instead of text.
    #[arg(long, global = true)]
    pub(crate) json: bool,

    /// More detail (repeat for even more).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub(crate) verbose: u8,

    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Turn photos into square, metadata-free JPEGs sized for directories.
    ///
    /// Every input is decoded by content (JPEG, PNG, GIF, BMP, TIFF, WebP),
    /// turned upright, cropped square, resized and written as
    /// "<name> <N>x<N>.jpg" in --out, ready for `userphoto import`.
    #[command(
        after_help = "Examples:\n  userphoto convert ~/hr-photos --out ./ready\n  userphoto convert -r ~/hr-photos --out ./ready --size 648 --size 96\n  userphoto convert John.Smith.png --out . --size 96 --max-bytes 8000"
    )]
    Convert(ConvertArgs),

    /// Serve the web UI for the configured targets (loopback only by
    /// default; the printed address carries a one-time sign-in token).
    #[command(
        after_help = "Examples:\n  userphoto serve\n  userphoto serve --listen 127.0.0.1:8080 --no-open\n  userphoto serve --link      (a new sign-in link from the running server)"
    )]
    Serve(ServeArgs),

    /// Serve the web UI against a built-in sandbox: 20 sample users in two
    /// local folders (AD-sized and HD), no server needed.
    #[command(
        after_help = "Examples:\n  userphoto demo\n  userphoto demo --reset\n  userphoto demo --data ./demo-sandbox --no-open\n  userphoto demo --link       (a new sign-in link from the running demo)"
    )]
    Demo(DemoArgs),

    /// Show each target: configured, reachable, authenticated, permitted,
    /// and the mode (ON-PREMISES, CLOUD or HYBRID).
    Detect,

    /// List the users of a target (streamed).
    #[command(
        after_help = "Examples:\n  userphoto users\n  userphoto users --source ad --search john\n  userphoto users --json | jq -r .name"
    )]
    Users(UsersArgs),

    /// Show a user's photo at a target, and save it with --out.
    #[command(
        after_help = "Examples:\n  userphoto get John.Smith --target ad\n  userphoto get john.smith@corp.example.com --by upn --target m365 --out john.jpg"
    )]
    Get(GetArgs),

    /// Write a user's photo: prepared for each target, HD targets first,
    /// the current photo backed up, the change audited.
    ///
    /// Without --target, a source of 96×96 or smaller goes to the
    /// Active Directory-sized targets only, a larger one to every configured
    /// target.
    #[command(
        after_help = "Examples:\n  userphoto set John.Smith john.jpg\n  userphoto set John.Smith john.jpg --target ad --dry-run"
    )]
    Set(SetArgs),

    /// Remove a user's photo at a target (backed up first).
    Remove(RemoveArgs),

    /// Export every current photo of the targets into a folder that
    /// `userphoto restore` can read.
    Backup(BackupArgs),

    /// Put photos back from a backup folder (the newest kept photo of each
    /// user), backing up what they replace.
    #[command(
        after_help = "Examples:\n  userphoto restore ~/.local/share/userphoto/backups --user John.Smith\n  userphoto restore ./export --target ad --dry-run"
    )]
    Restore(RestoreArgs),

    /// Import a folder of photos: match each file to a user by its name,
    /// show or run the plan (HD targets first, backups, audit), resumable.
    ///
    /// A file belongs to the user whose name (sAMAccountName on-premises,
    /// alias in the cloud, or --match-by) is the file name up to the first
    /// space or the extension: `John.Smith 648x648.jpg` is John.Smith's,
    /// `John.Smith648x648.jpg` is nobody's. Any case; NFC.
    #[command(
        after_help = "Examples:\n  userphoto import ~/hr-photos --dry-run\n  userphoto import ~/hr-photos --report import.csv\n  userphoto import ~/hr-photos --match-by employee-id --target ad\n  userphoto import ~/hr-photos --mapping names.csv --confirm\n  userphoto import ~/hr-photos --resume\n\nExit status: 0 when everything planned was done, 1 when anything failed or\nwas left undone (the rest is still done), 2 when the import could not run."
    )]
    Import(ImportArgs),
    /// Run the `[[sync]]` jobs of userphoto.toml (or the named ones)
    /// unattended, for a timer: a run with nothing new reads and writes no
    /// photo (the sync state), one line per job, a lock per job.
    #[command(
        after_help = "Examples:\n  userphoto sync\n  userphoto sync hr-photos --json\n  userphoto sync hr-photos --verify\n\nExit status: 0 when every job did everything, 1 when a job failed, was\nalready running or left something undone, 2 when sync could not run.\nSee docs/SYNC.md for the job format and timer examples."
    )]
    Sync(SyncArgs),
    /// Photo coverage per target: users without a photo, with only
    /// Exchange's 64×64 in AD, with an HD photo but no AD thumbnail,
    /// written longer ago than --older-than; when userphoto last wrote each
    /// and from which file; files in --source matching nobody.
    #[command(
        after_help = "Examples:\n  userphoto report\n  userphoto report --older-than 365 --source /srv/hr-photos\n  userphoto report --csv > coverage.csv\n  userphoto report --html coverage.html\n  userphoto --json report --target ad"
    )]
    Report(ReportArgs),
    /// Write the Active Directory thumbnail from the user's existing HD
    /// photo in Microsoft 365 (for users whose source image is gone).
    ///
    /// USER is named as in Active Directory; it is found in Microsoft 365
    /// by UPN, then mail, then onPremisesSamAccountName ([m365]
    /// match_order). The 96×96 is made by the usual pipeline; the current
    /// thumbnail is backed up first.
    ///
    /// With --all: every user with an HD photo, found in Active Directory
    /// by UPN, then mail, then logon name; thumbnails already in place are
    /// left alone (unchanged), with progress, a summary and --report.
    #[command(
        after_help = "Examples:\n  userphoto use-existing-hd John.Smith\n  userphoto use-existing-hd john.smith@corp.example.com --by upn --dry-run\n  userphoto use-existing-hd --all --dry-run\n  userphoto use-existing-hd --all --report hd.csv"
    )]
    UseExistingHd(UseExistingHdArgs),
    /// Sign in to Microsoft 365 as an admin (device code flow), for
    /// `[m365]` sections with `sign_in = "device-code"`.
    #[command(after_help = "Examples:\n  userphoto login m365")]
    Login(LoginArgs),
    /// The self-service approval queue ([team]): list, show, approve,
    /// reject employees' photo requests.
    #[command(
        after_help = "Examples:\n  userphoto requests list\n  userphoto requests list --json --all\n  userphoto requests show 12 --photo proposed.jpg\n  userphoto requests approve 12 --approver helpdesk1\n  userphoto requests reject 13 --reason \"Please use a photo of your face\"\n\nExit status: 0 when done, 1 when an approval failed at a target (the\nrequest is 'failed' with the reason; approve it again), 2 when it could\nnot run (no such request, or not in a state that allows it)."
    )]
    Requests(RequestsArgs),
}

/// Parses a target name (`ad`, `m365`, `exchange`, `ldap`, `folder`,
/// `google`).
fn parse_target(s: &str) -> Result<TargetKind, String> {
    s.parse::<TargetKind>().map_err(|e| e.to_string())
}

/// Parses a user key (`upn`, `mail`, `employee-id`, `sam-account-name`…).
fn parse_key(s: &str) -> Result<UserKey, String> {
    s.parse::<UserKey>().map_err(|e| e.to_string())
}

#[derive(Debug, Args)]
pub(crate) struct UsersArgs {
    /// The target to list [default: the first configured of ad, m365,
    /// google, ldap, exchange, folder].
    #[arg(long, value_name = "T", value_parser = parse_target)]
    pub(crate) source: Option<TargetKind>,

    /// Only users whose name, UPN, mail, alias or display name starts with
    /// TEXT (any case).
    #[arg(long, value_name = "TEXT")]
    pub(crate) search: Option<String>,

    /// Stop after N users.
    #[arg(long, value_name = "N")]
    pub(crate) limit: Option<usize>,
}

/// How the user is named on the command line.
#[derive(Debug, Args)]
pub(crate) struct UserArg {
    /// The user, by the target's listing name (sAMAccountName for ad, uid
    /// for ldap, …) unless --by says otherwise; any case.
    #[arg(value_name = "USER")]
    pub(crate) user: String,

    /// Match USER on another key: upn, mail, alias, employee-id,
    /// display-name, id, sam-account-name.
    #[arg(long, value_name = "KEY", value_parser = parse_key)]
    pub(crate) by: Option<UserKey>,
}

#[derive(Debug, Args)]
pub(crate) struct GetArgs {
    #[command(flatten)]
    pub(crate) user: UserArg,

    /// The target to read from.
    #[arg(long, short = 't', value_name = "T", value_parser = parse_target)]
    pub(crate) target: TargetKind,

    /// Resize the photo to N×N pixels before writing it with --out.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(16..=4096))]
    pub(crate) size: Option<u32>,

    /// Write the photo to FILE.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub(crate) out: Option<PathBuf>,
}

/// Backup and dry-run switches shared by the writing commands.
#[derive(Debug, Args)]
pub(crate) struct WriteArgs {
    /// Do not keep the current photo before replacing or removing it.
    #[arg(long)]
    pub(crate) no_backup: bool,

    /// Show what would change, and change nothing.
    #[arg(long)]
    pub(crate) dry_run: bool,
}

/// `--target T`, repeatable: the targets a command works on (set, import,
/// backup, restore).
#[derive(Debug, Args)]
pub(crate) struct TargetsArg {
    /// Only this target (repeatable): ad, m365, exchange, ldap, folder,
    /// google
    /// [default: every configured target; set and import apply the size
    /// rule].
    #[arg(long = "target", short = 't', value_name = "T", value_parser = parse_target)]
    pub(crate) kinds: Vec<TargetKind>,
}

impl TargetsArg {
    /// Whether targets were named.
    pub(crate) fn is_explicit(&self) -> bool {
        !self.kinds.is_empty()
    }

    /// Whether `kind` is among the targets (all are, when none is named).
    pub(crate) fn admits(&self, kind: &str) -> bool {
        self.kinds.is_empty() || self.kinds.iter().any(|t| t.as_str() == kind)
    }
}

/// How photos are framed and checked (convert, import).
#[derive(Debug, Args)]
pub(crate) struct QualityArgs {
    /// How to choose the square.
    #[arg(long, value_enum, default_value_t = CropArg::Auto)]
    pub(crate) crop: CropArg,

    /// Treat quality warnings (no face, several faces, face too small,
    /// source smaller than a size, very dark, very blurry) as failures:
    /// such photos are not written and the exit status is non-zero.
    #[arg(long)]
    pub(crate) strict: bool,
}

#[derive(Debug, Args)]
pub(crate) struct SetArgs {
    #[command(flatten)]
    pub(crate) user: UserArg,

    /// The photo: JPEG, PNG, GIF, BMP, TIFF or WebP, any size.
    #[arg(value_name = "IMAGE")]
    pub(crate) image: PathBuf,

    /// How to choose the square (as for convert).
    #[arg(long, value_enum, default_value_t = CropArg::Auto)]
    pub(crate) crop: CropArg,

    #[command(flatten)]
    pub(crate) targets: TargetsArg,

    #[command(flatten)]
    pub(crate) write: WriteArgs,
}

#[derive(Debug, Args)]
pub(crate) struct RemoveArgs {
    #[command(flatten)]
    pub(crate) user: UserArg,

    /// The target to remove the photo from.
    #[arg(long, short = 't', value_name = "T", value_parser = parse_target)]
    pub(crate) target: TargetKind,

    #[command(flatten)]
    pub(crate) write: WriteArgs,
}

#[derive(Debug, Args)]
pub(crate) struct BackupArgs {
    /// The folder to export into (created if missing; a manifest is kept).
    #[arg(long, short = 'o', value_name = "DIR")]
    pub(crate) out: PathBuf,

    #[command(flatten)]
    pub(crate) targets: TargetsArg,

    /// Photos read at once [default: what the target suggests].
    #[arg(long, short = 'j', value_name = "N", value_parser = clap::value_parser!(u16).range(1..=64))]
    pub(crate) jobs: Option<u16>,
}

#[derive(Debug, Args)]
pub(crate) struct RestoreArgs {
    /// A backup folder (or its manifest.jsonl): the configured backup
    /// folder, or one written by `userphoto backup --out`.
    #[arg(value_name = "BACKUP")]
    pub(crate) backup: PathBuf,

    /// Only this user (repeatable): id, listing name or display name.
    #[arg(long = "user", short = 'u', value_name = "USER")]
    pub(crate) users: Vec<String>,

    #[command(flatten)]
    pub(crate) targets: TargetsArg,

    #[command(flatten)]
    pub(crate) write: WriteArgs,
}

/// How to frame the square. `auto` is the default everywhere (CLI and web
/// UI) so one photo is framed the same way whichever front end writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum CropArg {
    /// The centred square (Exchange's rule; the default before face framing).
    #[value(alias = "center")]
    Centre,
    /// Around the largest face (centred, eyes a little above the middle);
    /// the centred square, with a warning, when no face is found.
    Face,
    /// Around the face when one is found; otherwise centred (landscape) or
    /// upper-centre (portrait). The default.
    Auto,
}

impl From<CropArg> for userphoto_imaging::CropMode {
    fn from(c: CropArg) -> Self {
        match c {
            CropArg::Centre => Self::Centre,
            CropArg::Face => Self::Face,
            CropArg::Auto => Self::Auto,
        }
    }
}

#[derive(Debug, Args)]
pub(crate) struct ConvertArgs {
    /// Image files and/or folders to convert.
    #[arg(required = true, value_name = "PATH")]
    pub(crate) paths: Vec<PathBuf>,

    /// Folder to write the JPEGs to (created if missing).
    #[arg(long, short = 'o', value_name = "DIR")]
    pub(crate) out: PathBuf,

    /// Output size in pixels, repeatable [default: 648 and 96].
    #[arg(long = "size", value_name = "N", value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub(crate) sizes: Vec<u32>,

    /// Byte budget per size, in the same order as --size [default: 10 KB up
    /// to 96 px, 300 KB above].
    #[arg(long = "max-bytes", value_name = "BYTES")]
    pub(crate) max_bytes: Vec<usize>,

    #[command(flatten)]
    pub(crate) quality: QualityArgs,

    /// Look into subfolders (their structure is kept under --out).
    #[arg(short, long)]
    pub(crate) recursive: bool,

    /// Enlarge sources smaller than a size instead of writing them at their
    /// own size.
    #[arg(long)]
    pub(crate) upscale: bool,

    /// Replace outputs that already exist.
    #[arg(long)]
    pub(crate) force: bool,

    /// Worker threads [default: every core].
    #[arg(long, short = 'j', value_name = "N")]
    pub(crate) jobs: Option<usize>,

    /// Refuse input files larger than this many bytes.
    #[arg(long, value_name = "BYTES", default_value_t = 50 * 1024 * 1024)]
    pub(crate) max_input_bytes: usize,

    /// Refuse images declaring more pixels than this (decompression bombs).
    #[arg(long, value_name = "PIXELS", default_value_t = 100_000_000)]
    pub(crate) max_pixels: u64,
}

#[derive(Debug, Args)]
pub(crate) struct UseExistingHdArgs {
    /// The user, by the Active Directory name (sAMAccountName) unless --by
    /// says otherwise; any case. Leave it out with --all.
    #[arg(value_name = "USER", required_unless_present = "all")]
    pub(crate) user: Option<String>,

    /// Match USER on another key: upn, mail, employee-id, id,
    /// sam-account-name.
    #[arg(long, value_name = "KEY", value_parser = parse_key, conflicts_with = "all")]
    pub(crate) by: Option<UserKey>,

    /// Every user who has an HD photo in --from, instead of one USER.
    #[arg(long, conflicts_with = "user")]
    pub(crate) all: bool,

    /// With --all: write a report, CSV or JSON when FILE ends in .json.
    #[arg(long, value_name = "FILE", requires = "all")]
    pub(crate) report: Option<PathBuf>,

    /// The target holding the HD photo.
    #[arg(long, value_name = "T", value_parser = parse_target, default_value = "m365")]
    pub(crate) from: TargetKind,
    /// The target to write the thumbnail to.
    #[arg(long, value_name = "T", value_parser = parse_target, default_value = "ad")]
    pub(crate) to: TargetKind,
    #[command(flatten)]
    pub(crate) write: WriteArgs,
}

/// How the web UI is served (`serve` and `demo`).
#[derive(Debug, Args)]
pub(crate) struct WebArgs {
    /// Address to listen on (port 0: any free port).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8765")]
    pub(crate) listen: std::net::SocketAddr,

    /// Do not open a browser; just print the address.
    #[arg(long)]
    pub(crate) no_open: bool,

    /// Allow listening on a non-loopback address (prints a warning).
    #[arg(long)]
    pub(crate) allow_remote: bool,

    /// Also accept this Host header (NAME:PORT), e.g. behind an SSH
    /// tunnel or with --allow-remote (repeatable).
    #[arg(long = "allow-host", value_name = "NAME:PORT")]
    pub(crate) allow_hosts: Vec<String>,

    /// Refuse uploads larger than this many megabytes.
    #[arg(long, value_name = "MB", default_value_t = 25, value_parser = clap::value_parser!(u32).range(1..=200))]
    pub(crate) max_upload_mb: u32,

    /// Do not start a server: ask the one already running (for the same
    /// data folder) for a fresh one-time sign-in link, print it and exit.
    #[arg(long)]
    pub(crate) link: bool,
}

#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    #[command(flatten)]
    pub(crate) web: WebArgs,
}

#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    #[command(flatten)]
    pub(crate) web: WebArgs,

    /// Keep the sandbox in DIR (created and seeded if new, reused if not)
    /// [default: `demo` in userphoto's data folder, kept across restarts].
    #[arg(long, value_name = "DIR", conflicts_with = "temporary")]
    pub(crate) data: Option<PathBuf>,

    /// Start from a freshly seeded sandbox (removes the kept one first;
    /// only ever a folder that holds a demo sandbox).
    #[arg(long)]
    pub(crate) reset: bool,

    /// Use a temporary sandbox, removed on exit.
    #[arg(long)]
    pub(crate) temporary: bool,
}

#[derive(Debug, Args)]
pub(crate) struct LoginArgs {
    /// The target to sign in to (m365).
    #[arg(value_name = "TARGET", value_parser = parse_target)]
    pub(crate) target: TargetKind,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn convert_parses_repeated_sizes() {
        let cli = Cli::try_parse_from([
            "userphoto",
            "convert",
            "a.jpg",
            "--out",
            "o",
            "--size",
            "648",
            "--size",
            "96",
        ]);
        let Ok(Cli {
            command: Command::Convert(c),
            ..
        }) = cli
        else {
            panic!("did not parse");
        };
        assert_eq!(c.sizes, vec![648, 96]);
    }

    #[test]
    fn crop_defaults_to_auto_in_set_convert_and_import() {
        let parse = |args: &[&str]| {
            Cli::try_parse_from(std::iter::once("userphoto").chain(args.iter().copied()))
                .map(|c| c.command)
        };
        let Ok(Command::Set(s)) = parse(&["set", "John.Smith", "a.jpg"]) else {
            panic!("set did not parse");
        };
        assert_eq!(s.crop, CropArg::Auto);
        let Ok(Command::Convert(c)) = parse(&["convert", "a.jpg", "--out", "o"]) else {
            panic!("convert did not parse");
        };
        assert_eq!(c.quality.crop, CropArg::Auto);
        let Ok(Command::Import(i)) = parse(&["import", "photos"]) else {
            panic!("import did not parse");
        };
        assert_eq!(i.quality.crop, CropArg::Auto);
        let Ok(Command::Set(s)) = parse(&["set", "John.Smith", "a.jpg", "--crop", "centre"]) else {
            panic!("set --crop centre did not parse");
        };
        assert_eq!(s.crop, CropArg::Centre);
        // The library default is the same, so callers that build options
        // themselves (the web UI) frame alike.
        assert_eq!(
            userphoto_imaging::CropMode::from(CropArg::Auto),
            userphoto_imaging::CropMode::default()
        );
    }

    #[test]
    fn convert_parses_face_framing_and_strict() {
        for (word, crop) in [
            ("face", CropArg::Face),
            ("auto", CropArg::Auto),
            ("center", CropArg::Centre),
        ] {
            let cli = Cli::try_parse_from([
                "userphoto",
                "convert",
                "a.jpg",
                "--out",
                "o",
                "--crop",
                word,
                "--strict",
            ]);
            let Ok(Cli {
                command: Command::Convert(c),
                ..
            }) = cli
            else {
                panic!("--crop {word} did not parse");
            };
            assert_eq!(c.quality.crop, crop);
            assert!(c.quality.strict);
        }
    }

    #[test]
    fn set_parses_targets_keys_and_switches() {
        let cli = Cli::try_parse_from([
            "userphoto",
            "set",
            "John.Smith",
            "a.jpg",
            "--target",
            "m365",
            "-t",
            "AD",
            "--by",
            "upn",
            "--no-backup",
            "--dry-run",
        ]);
        let Ok(Cli {
            command: Command::Set(s),
            ..
        }) = cli
        else {
            panic!("did not parse");
        };
        assert_eq!(s.targets.kinds, vec![TargetKind::M365, TargetKind::Ad]);
        assert_eq!(s.user.by, Some(UserKey::Upn));
        assert!(s.write.no_backup && s.write.dry_run);
    }

    #[test]
    fn unknown_targets_and_keys_are_refused_with_the_choices() {
        let err = Cli::try_parse_from(["userphoto", "get", "x", "--target", "azure"])
            .expect_err("bad target")
            .to_string();
        assert!(err.contains("ad, m365, exchange, ldap, folder"), "{err}");
        let err = Cli::try_parse_from(["userphoto", "get", "x", "-t", "ad", "--by", "shoe"])
            .expect_err("bad key")
            .to_string();
        assert!(err.contains("employee-id"), "{err}");
    }

    #[test]
    fn convert_rejects_size_zero() {
        assert!(Cli::try_parse_from([
            "userphoto",
            "convert",
            "a.jpg",
            "--out",
            "o",
            "--size",
            "0"
        ])
        .is_err());
    }
}
