//! `userphoto remove`: remove a user's photo at one target, backed up and
//! audited.

use userphoto_directory::config::Config;

use super::{open, ops, report_change, write_options};
use crate::args::RemoveArgs;
use crate::output::{Output, Status};

pub(crate) async fn run(
    args: &RemoveArgs,
    config: &Config,
    out: &Output,
) -> anyhow::Result<Status> {
    let target = open(config, args.target).await?;
    let ops = ops(config)?;
    let change = ops
        .remove_photo(
            &target,
            &args.user.user,
            args.user.by,
            &write_options(&args.write),
        )
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    report_change(out, &ops, "remove", &change);
    Ok(Status::Success)
}
