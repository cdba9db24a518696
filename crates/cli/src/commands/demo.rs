//! `userphoto demo`: the web UI over a sandbox of sample users, so a
//! newcomer sees every screen with one command and no directory server.

use anyhow::anyhow;
use serde_json::json;

use crate::args::DemoArgs;
use crate::output::{Output, Status};

pub(crate) async fn run(args: &DemoArgs, out: &Output) -> anyhow::Result<Status> {
    // Kept across restarts unless asked otherwise: what was tried (and the
    // sign-in it needs) is still there after a restart.
    let dir = if args.temporary {
        None
    } else {
        Some(match &args.data {
            Some(d) => d.clone(),
            None => userphoto_webui::demo::default_dir().ok_or_else(|| {
                anyhow!("there is no home folder to keep the demo sandbox in; give --data DIR or --temporary")
            })?,
        })
    };
    if args.web.link {
        let dir = dir.ok_or_else(|| {
            anyhow!("a --temporary demo cannot be reached with --link; start the demo without --temporary")
        })?;
        let start = match &args.data {
            Some(d) => format!("userphoto demo --data {}", d.display()),
            None => "userphoto demo".to_owned(),
        };
        return super::serve::print_link(&dir, "userphoto demo", &start, out).await;
    }
    if args.reset {
        if let Some(d) = &dir {
            userphoto_webui::demo::reset(d)
                .map_err(|e| anyhow!("cannot reset the demo sandbox: {e}"))?;
        }
    }
    let demo = userphoto_webui::demo::sandbox(dir.as_deref())
        .await
        .map_err(|e| anyhow!("cannot prepare the demo sandbox: {e}"))?;
    let bar = indicatif::ProgressBar::hidden();
    if out.json {
        out.json_line(&json!({"type": "demo", "sandbox": demo.root}));
    } else {
        let note = if dir.is_some() {
            " (kept across restarts; --reset starts afresh)"
        } else {
            " (removed on exit)"
        };
        out.line(
            &bar,
            &format!(
                "userphoto: DEMO — sample users in {}{note}",
                demo.root.display()
            ),
        );
    }
    let (targets, ops) = (demo.targets.clone(), demo.ops.clone());
    let site = super::serve::Site {
        demo: true,
        sample_folder: Some(demo.incoming.clone()),
        state_dir: demo.root.join("import"),
        data_dir: demo.root.clone(),
    };
    let status = super::serve::serve_ui(&args.web, site, targets, Vec::new(), ops, out).await;
    drop(demo);
    status
}
