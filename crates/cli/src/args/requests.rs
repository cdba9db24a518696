//! `userphoto requests`: the self-service approval queue from the command
//! line (docs/SELF-SERVICE.md).

use std::path::PathBuf;

use clap::{Args, Subcommand};

#[derive(Debug, Args)]
pub(crate) struct RequestsArgs {
    #[command(subcommand)]
    pub(crate) action: RequestsAction,
}

#[derive(Debug, Subcommand)]
pub(crate) enum RequestsAction {
    /// List requests: by default the queue (pending, approving, failed),
    /// oldest first.
    List {
        /// Every request, whatever its state.
        #[arg(long, conflicts_with = "state")]
        all: bool,
        /// Only requests in STATE: pending, approving, approved, rejected,
        /// withdrawn, failed (repeatable).
        #[arg(long, value_name = "STATE")]
        state: Vec<String>,
        /// Only this employee's requests (account name, any case).
        #[arg(long, value_name = "USER")]
        user: Option<String>,
    },
    /// Show one request, and save its photo with --photo.
    Show {
        /// The request's number.
        id: i64,
        /// Write the photo as uploaded to FILE.
        #[arg(long, value_name = "FILE")]
        photo: Option<PathBuf>,
    },
    /// Approve a request: the photo is written to the [team] targets, the
    /// current one backed up, the change audited naming the approver.
    /// Approvals a killed process left unfinished are finished first.
    Approve {
        /// The request's number.
        id: i64,
        /// Who approves, for the audit log [default: the local user].
        #[arg(long, value_name = "NAME")]
        approver: Option<String>,
    },
    /// Reject a request; the employee sees the reason.
    Reject {
        /// The request's number.
        id: i64,
        /// Why (shown to the employee).
        #[arg(long, value_name = "TEXT")]
        reason: String,
        /// Who rejects [default: the local user].
        #[arg(long, value_name = "NAME")]
        approver: Option<String>,
    },
}
