//! `userphoto convert`.

use crate::args::ConvertArgs;
use crate::output::{human_bytes, Output, Status};
use anyhow::{bail, Context};
use serde_json::json;
use userphoto_bulk::convert::{convert_all, ConvertOptions, FileResult, Outcome};
use userphoto_bulk::scan::scan;
use userphoto_imaging::{Framing, Limits, OutputSpec, PrepareOptions, AD_SIZE, HD_SIZE};

fn prepare_options(args: &ConvertArgs) -> anyhow::Result<PrepareOptions> {
    let sizes = if args.sizes.is_empty() {
        vec![HD_SIZE, AD_SIZE]
    } else {
        args.sizes.clone()
    };
    if args.max_bytes.len() > sizes.len() {
        bail!(
            "{} --max-bytes values given for {} sizes; give at most one per --size, in the same order",
            args.max_bytes.len(),
            sizes.len()
        );
    }
    let outputs = sizes
        .iter()
        .enumerate()
        .map(|(i, &size)| match args.max_bytes.get(i) {
            Some(&max_bytes) => OutputSpec { size, max_bytes },
            None => OutputSpec::with_default_budget(size),
        })
        .collect();
    Ok(PrepareOptions {
        outputs,
        crop: args.quality.crop.into(),
        upscale: args.upscale,
        strict: args.quality.strict,
        limits: Limits {
            max_input_bytes: args.max_input_bytes,
            max_pixels: args.max_pixels,
        },
        ..PrepareOptions::default()
    })
}

pub(crate) fn run(args: &ConvertArgs, out: &Output) -> anyhow::Result<Status> {
    let prepare = prepare_options(args)?;
    // A mistake in the options is the user's, once, not every file's.
    prepare.validate()?;
    let options = ConvertOptions {
        out_dir: args.out.clone(),
        prepare,
        force: args.force,
        jobs: args.jobs,
    };
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create the output folder {}", args.out.display()))?;

    let scanned = scan(&args.paths, args.recursive);
    let bar = out.progress(scanned.files.len() as u64, "converting");
    for p in &scanned.problems {
        if out.json {
            out.json_line(&json!({"type": "file", "file": p.path, "status": "failed", "code": "unreadable", "error": p.message}));
        } else {
            out.problem(&bar, &format!("{}: {}", p.path.display(), p.message));
        }
    }
    if scanned.files.is_empty() && scanned.problems.is_empty() {
        bail!(
            "no files found in {}; give image files or a folder (-r to include subfolders)",
            join_paths(&args.paths)
        );
    }

    let summary = convert_all(&scanned.files, &options, |result| {
        report_file(out, &bar, result);
        bar.inc(1);
    });
    bar.finish_and_clear();

    let failed = summary.failed + scanned.problems.len();
    if out.json {
        out.json_line(&json!({
            "type": "summary",
            "converted": summary.converted,
            "failed": failed,
            "skipped": summary.skipped,
            "bytes_in": summary.bytes_in,
            "bytes_out": summary.bytes_out,
        }));
    } else {
        out.line(
            &bar,
            &format!(
                "{} converted, {} failed, {} skipped; {} in → {} out",
                summary.converted,
                failed,
                summary.skipped,
                human_bytes(summary.bytes_in),
                human_bytes(summary.bytes_out)
            ),
        );
    }
    Ok(if failed > 0 {
        Status::PartialFailure
    } else {
        Status::Success
    })
}

fn join_paths(paths: &[std::path::PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn report_file(out: &Output, bar: &indicatif::ProgressBar, r: &FileResult) {
    let name = r.source.display();
    match &r.outcome {
        Outcome::Converted { outputs, report } => {
            if out.json {
                out.json_line(&json!({"type": "file", "file": r.source, "status": "converted", "outputs": outputs, "report": report}));
                return;
            }
            for w in &report.warnings {
                out.problem(bar, &format!("{name}: warning: {w}"));
            }
            if out.verbose > 0 {
                let sizes: Vec<String> = outputs
                    .iter()
                    .map(|o| {
                        format!(
                            "{}×{} {} q{}",
                            o.size,
                            o.size,
                            human_bytes(o.bytes as u64),
                            o.quality
                        )
                    })
                    .collect();
                let mut line = format!(
                    "{name}: {} {}×{}",
                    report.format.name(),
                    report.width,
                    report.height
                );
                if report.orientation != 1 {
                    line.push_str(&format!(", orientation {} applied", report.orientation));
                }
                if report.framing != Framing::Centre {
                    let c = report.crop;
                    line.push_str(&format!(
                        ", {} square {}×{} at {},{}",
                        match report.framing {
                            Framing::Face => "face",
                            Framing::UpperCentre => "upper-centre",
                            _ => "given",
                        },
                        c.side as u32,
                        c.side as u32,
                        c.x as u32,
                        c.y as u32
                    ));
                }
                line.push_str(&format!(" → {}", sizes.join(", ")));
                if out.verbose > 1 && !report.notes.is_empty() {
                    line.push_str(&format!(" ({})", report.notes.join("; ")));
                }
                out.line(bar, &line);
            }
        }
        Outcome::Failed(e) => {
            if out.json {
                out.json_line(&json!({"type": "file", "file": r.source, "status": "failed", "code": e.code(), "error": e.to_string()}));
            } else {
                out.problem(bar, &format!("{name}: error: {e}"));
            }
        }
        Outcome::Skipped { reason } => {
            if out.json {
                out.json_line(&json!({"type": "file", "file": r.source, "status": "skipped", "reason": reason}));
            } else {
                out.problem(bar, &format!("{name}: skipped: {reason}"));
            }
        }
    }
}
