//! `userphoto use-existing-hd USER`: make the Active Directory thumbnail
//! from the HD photo the user already has in Microsoft 365.
//!
//! Why: when the source image is gone but the 648×648 is in the cloud, the
//! original tool's "Use existing HD" fills `thumbnailPhoto` from it, so the
//! photo on-premises Exchange writes (64×64) does not win. The user is
//! named as on-premises (sAMAccountName unless --by), found in Microsoft
//! 365 by UPN, then mail, then onPremisesSamAccountName (`[m365]
//! match_order`), and the 96×96 goes through the usual pipeline and the
//! usual backup-then-write-then-audit path.
//!
//! `--all` is the bulk form: `userphoto_bulk::import::use_existing_hd` over
//! every user of the HD target, with the import's progress, summary and
//! report.

use std::sync::Arc;

use anyhow::anyhow;
use userphoto_bulk::import::{use_existing_hd, CancelToken};
use userphoto_bulk::ops::{find_user, SetOptions};
use userphoto_directory::config::{Config, Target};

use super::import::{print_summary, CliReporter};
use super::{open, ops, report_change, write_options};
use crate::args::UseExistingHdArgs;
use crate::output::{Output, Status};

pub(crate) async fn run(
    args: &UseExistingHdArgs,
    config: &Config,
    out: &Output,
) -> anyhow::Result<Status> {
    let (from, to) = (args.from, args.to);
    let hd = open(config, from).await?;
    let thumb = open(config, to).await?;
    let Some(name) = args.user.as_deref().filter(|_| !args.all) else {
        return run_all(args, config, out, &hd, &thumb).await;
    };
    let on_prem = find_user(&thumb, args.by, name)
        .await
        .map_err(|e| anyhow!("{e}"))?;
    let options = SetOptions {
        write: write_options(&args.write),
        ..SetOptions::default()
    };
    let ops = ops(config)?;
    // The same library call as the web UI's "Use existing HD" button.
    let done = ops
        .use_existing_hd(&hd, &thumb, &on_prem, &options)
        .await
        .map_err(|e| anyhow!("{e}"))?;
    report_change(out, &ops, "set", &done.change);
    Ok(Status::Success)
}

/// `--all`: every user with an HD photo in `hd` gets its thumbnail in
/// `thumb`; per-user problems are reported and the rest carries on.
async fn run_all(
    args: &UseExistingHdArgs,
    config: &Config,
    out: &Output,
    hd: &Target,
    thumb: &Target,
) -> anyhow::Result<Status> {
    let ops = ops(config)?;
    let bar = Arc::new(out.progress(0, "use-existing-hd"));
    let reporter = CliReporter::counting_every_item(Arc::clone(&bar), out);
    let cancel = CancelToken::new();
    {
        let (cancel, bar) = (cancel.clone(), Arc::clone(&bar));
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                bar.println("userphoto: stopping after the writes in flight");
                cancel.cancel();
                if tokio::signal::ctrl_c().await.is_ok() {
                    std::process::exit(130);
                }
            }
        });
    }
    let mut report = use_existing_hd(
        hd,
        thumb,
        &[],
        &ops,
        &write_options(&args.write),
        &reporter,
        &cancel,
    )
    .await
    .map_err(|e| anyhow!("{e}"))?;
    bar.finish_and_clear();
    let wording = userphoto_bulk::wording::Wording::command_line();
    report.word(&|r| wording.reason(r));
    if let Some(path) = &args.report {
        report.write(path).map_err(|e| anyhow!("{e}"))?;
    }
    print_summary(out, "use-existing-hd", &report, args.report.as_deref());
    Ok(if report.summary.is_success() {
        Status::Success
    } else {
        Status::PartialFailure
    })
}
