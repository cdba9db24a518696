//! The arguments of the commands that run over many photos: `import`,
//! `sync` and `report`.

use clap::Args;
use std::path::PathBuf;
use userphoto_directory::UserKey;

use super::{parse_key, QualityArgs, TargetsArg, WriteArgs};

#[derive(Debug, Args)]
pub(crate) struct ImportArgs {
    /// The folder of photos.
    #[arg(value_name = "FOLDER")]
    pub(crate) folder: PathBuf,

    #[command(flatten)]
    pub(crate) targets: TargetsArg,

    /// Match file names on this key: sam-account-name, upn, mail, alias,
    /// employee-id [default: the listing name of the target].
    #[arg(long, value_name = "KEY", value_parser = parse_key)]
    pub(crate) match_by: Option<UserKey>,

    /// A CSV of `file,user` rows that overrides the naming rule.
    #[arg(long, value_name = "CSV")]
    pub(crate) mapping: Option<PathBuf>,

    /// Ask before each user's photos are written (needs a terminal).
    #[arg(long, conflicts_with = "dry_run")]
    pub(crate) confirm: bool,

    /// Continue the interrupted import of this folder: do only what it
    /// left undone, from its saved plan.
    #[arg(long, conflicts_with_all = ["dry_run", "match_by", "mapping", "crop", "strict"])]
    pub(crate) resume: bool,

    /// Write a report: CSV, or JSON when FILE ends in .json.
    #[arg(long, value_name = "FILE")]
    pub(crate) report: Option<PathBuf>,

    /// Look into subfolders.
    #[arg(short, long)]
    pub(crate) recursive: bool,

    /// Threads preparing photos [default: every core].
    #[arg(long, short = 'j', value_name = "N", value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=256))]
    pub(crate) jobs: Option<usize>,

    /// Writes at once per target [default: what the target suggests].
    #[arg(long, value_name = "N", value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=64))]
    pub(crate) concurrency: Option<usize>,

    /// When a directory cannot be reached (a restart, a dropped network),
    /// wait up to this many seconds for it to answer, then carry on with
    /// the writes that waited; 0: do not wait (they fail, and `--resume`
    /// retries them later).
    #[arg(long, value_name = "SECONDS", default_value_t = 120, value_parser = clap::builder::RangedU64ValueParser::<u64>::new().range(0..=86_400))]
    pub(crate) outage_wait: u64,

    #[command(flatten)]
    pub(crate) quality: QualityArgs,

    /// Where the plan, journal and digest cache of runs are kept
    /// [default: `import` beside the audit log].
    #[arg(long, value_name = "DIR", env = "USERPHOTO_STATE_DIR")]
    pub(crate) state_dir: Option<PathBuf>,

    /// Read every current photo instead of trusting the sync state, and
    /// report (not overwrite) photos changed in the directory since
    /// userphoto wrote them.
    #[arg(long, conflicts_with = "resume")]
    pub(crate) verify: bool,

    #[command(flatten)]
    pub(crate) write: WriteArgs,
}

#[derive(Debug, Args)]
pub(crate) struct ReportArgs {
    #[command(flatten)]
    pub(crate) targets: TargetsArg,

    /// Flag photos userphoto wrote more than DAYS days ago.
    #[arg(long, value_name = "DAYS")]
    pub(crate) older_than: Option<u32>,

    /// A folder of photos: list its files that match nobody.
    #[arg(long, value_name = "DIR")]
    pub(crate) source: Option<PathBuf>,

    /// Every row as CSV on standard output.
    #[arg(long, conflicts_with = "html")]
    pub(crate) csv: bool,

    /// Write a self-contained HTML page with thumbnails to FILE.
    #[arg(long, value_name = "FILE")]
    pub(crate) html: Option<PathBuf>,

    /// In the table, every user (not only those with a finding).
    #[arg(long)]
    pub(crate) all: bool,

    /// Where the sync state is kept [default: `import` beside the audit log].
    #[arg(long, value_name = "DIR", env = "USERPHOTO_STATE_DIR")]
    pub(crate) state_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct SyncArgs {
    /// The jobs to run, by name [default: every [[sync]] job].
    #[arg(value_name = "JOB")]
    pub(crate) jobs: Vec<String>,

    /// Read every current photo, and report (not overwrite) the ones
    /// changed in the directory since userphoto wrote them.
    #[arg(long)]
    pub(crate) verify: bool,

    /// Threads preparing photos [default: every core].
    #[arg(long = "threads", short = 'j', value_name = "N", value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=256))]
    pub(crate) jobs_threads: Option<usize>,

    /// Where the sync state, digest cache, journals and job locks are kept
    /// [default: `import` beside the audit log, shared with import].
    #[arg(long, value_name = "DIR", env = "USERPHOTO_STATE_DIR")]
    pub(crate) state_dir: Option<PathBuf>,
}
