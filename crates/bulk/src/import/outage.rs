//! Waiting out an outage: writes that failed because a directory could
//! not be reached (a restart, a dropped network, throttling past the
//! backend's retries) are done again, once, when it answers again — what
//! `--resume` would do, in the same run ([`ExecuteOptions::outage_wait`]).
//!
//! [`ExecuteOptions::outage_wait`]: super::execute::ExecuteOptions::outage_wait

use std::collections::HashSet;
use std::time::Duration;

use userphoto_directory::config::Target;

use super::execute::CancelToken;
use super::model::Plan;
use super::report::{Outcome, RunReport};
use super::reporter::{Event, Reporter};

/// Waits until every target `plan` writes to answers a lookup again,
/// probing with backoff (1 s doubling to 15 s), for at most `patience`.
/// False when one still does not, or the run is cancelled.
pub(super) async fn wait_for_targets(
    targets: &[Target],
    plan: &Plan,
    patience: Duration,
    reporter: &dyn Reporter,
    cancel: &CancelToken,
) -> bool {
    let mut probes: Vec<(&Target, String)> = Vec::new();
    for t in targets {
        let name = plan
            .entries
            .iter()
            .filter(|e| e.steps.iter().any(|s| s.target == t.kind))
            .find_map(|e| e.name.clone());
        if let Some(name) = name {
            probes.push((t, name));
        }
    }
    let writes = plan.entries.iter().map(|e| e.steps.len()).sum();
    reporter.event(&Event::Waiting {
        targets: probes
            .iter()
            .map(|(t, _)| t.kind.as_str().to_owned())
            .collect(),
        writes,
        patience_s: patience.as_secs(),
    });
    let deadline = tokio::time::Instant::now() + patience;
    let mut pause = Duration::from_secs(1);
    loop {
        let mut answering = true;
        for (t, name) in &probes {
            let key = t.directory.capabilities().listing_key;
            let probe = t.directory.find_users(key, std::slice::from_ref(name));
            if !matches!(tokio::time::timeout_at(deadline, probe).await, Ok(Ok(_))) {
                answering = false;
                break;
            }
        }
        if answering {
            return true;
        }
        let now = tokio::time::Instant::now();
        if now >= deadline {
            return false;
        }
        tokio::select! {
            () = cancel.cancelled() => return false,
            () = tokio::time::sleep_until((now + pause).min(deadline)) => {}
        }
        pause = (pause * 2).min(Duration::from_secs(15));
    }
}

/// The part of `plan` to do again after `report`: for each entry with a
/// write that failed because a directory was unreachable, that write and
/// every later one of the same user — plan order is HD first, Active
/// Directory last, and a retried HD write must not end up after the AD one
/// (on-premises Exchange writes its own thumbnail into AD). `None` when
/// nothing is worth retrying.
pub(super) fn retry_plan(plan: &Plan, report: &RunReport) -> Option<Plan> {
    let failed: HashSet<(&str, &str)> = report
        .items
        .iter()
        .filter(|i| i.outcome == Outcome::Failed && i.retryable)
        .filter_map(|i| Some((i.file.as_str(), i.target.as_deref()?)))
        .collect();
    if failed.is_empty() {
        return None;
    }
    let mut again = plan.clone();
    again.entries.retain_mut(|e| {
        let first = e
            .steps
            .iter()
            .position(|s| failed.contains(&(e.relative.as_str(), s.target.as_str())));
        match first {
            Some(i) => {
                e.steps.drain(..i);
                true
            }
            None => false,
        }
    });
    Some(again)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::model::{Action, Entry, Step, PLAN_VERSION};
    use crate::import::report::{ItemResult, Summary};
    use userphoto_directory::config::TargetKind;
    use userphoto_directory::UserKey;
    use userphoto_imaging::{CropMode, Limits};

    fn step(target: TargetKind) -> Step {
        Step {
            target,
            user: None,
            action: Action::Set,
            reason: None,
            size: 96,
            budget: 100_000,
            new_sha256: None,
            new_bytes: None,
            current_sha256: None,
            current_bytes: None,
        }
    }

    /// A plan writing `names` to HD (m365) first, then AD.
    fn plan(names: &[&str]) -> Plan {
        Plan {
            version: PLAN_VERSION,
            folder: "/hr".into(),
            key: UserKey::SamAccountName,
            targets: vec![TargetKind::M365, TargetKind::Ad],
            crop: CropMode::Centre,
            limits: Limits::default(),
            strict: false,
            entries: names
                .iter()
                .map(|n| Entry {
                    file: format!("/hr/{n}.jpg").into(),
                    relative: format!("{n}.jpg"),
                    name: Some((*n).to_owned()),
                    action: Action::Set,
                    reason: None,
                    stamp: None,
                    width: None,
                    height: None,
                    steps: vec![step(TargetKind::M365), step(TargetKind::Ad)],
                    warnings: Vec::new(),
                    checks: Vec::new(),
                })
                .collect(),
        }
    }

    fn row(name: &str, target: TargetKind, outcome: Outcome, retryable: bool) -> ItemResult {
        ItemResult {
            file: format!("{name}.jpg"),
            user: Some(name.to_owned()),
            user_id: None,
            target: Some(target.as_str().to_owned()),
            outcome,
            bytes: None,
            reason: None,
            error: (outcome == Outcome::Failed).then(|| "failed".to_owned()),
            backup: None,
            retryable,
        }
    }

    #[test]
    fn retry_plan_redoes_an_unreachable_write_and_every_later_one_of_its_user() {
        use Outcome::{Failed, Written};
        use TargetKind::{Ad, M365};
        let plan = plan(&["a", "b", "c", "d"]);
        let items = vec![
            // HD unreachable, AD written: both again, HD before AD.
            row("a", M365, Failed, true),
            row("a", Ad, Written, false),
            // Only AD unreachable: AD again.
            row("b", M365, Written, false),
            row("b", Ad, Failed, true),
            // Refused (not retryable): not again.
            row("c", M365, Failed, false),
            row("c", Ad, Written, false),
            row("d", M365, Written, false),
            row("d", Ad, Written, false),
        ];
        let report = RunReport {
            summary: Summary::of(&items),
            items,
        };
        let again = retry_plan(&plan, &report).expect("something to retry");
        let got: Vec<(String, Vec<TargetKind>)> = again
            .entries
            .iter()
            .map(|e| {
                (
                    e.relative.clone(),
                    e.steps.iter().map(|s| s.target).collect(),
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![("a.jpg".into(), vec![M365, Ad]), ("b.jpg".into(), vec![Ad])]
        );

        let settled = RunReport {
            summary: Summary::default(),
            items: vec![row("c", M365, Failed, false), row("a", Ad, Written, false)],
        };
        assert!(retry_plan(&plan, &settled).is_none(), "nothing retryable");
    }

    #[test]
    fn a_retry_replaces_the_rows_it_redoes_and_the_counts() {
        use TargetKind::Ad;
        let items = vec![
            row("a", Ad, Outcome::Written, false),
            row("b", Ad, Outcome::Failed, true),
        ];
        let mut report = RunReport {
            summary: Summary::of(&items),
            items,
        };
        report.replace_items(RunReport {
            summary: Summary::default(),
            items: vec![row("b", Ad, Outcome::Written, false)],
        });
        assert_eq!(report.items.len(), 2);
        assert!(report.items.iter().all(|i| i.outcome == Outcome::Written));
        assert_eq!(report.summary.written, 2);
        assert_eq!(report.summary.failed, 0);
        assert!(report.summary.is_success());
    }

    #[test]
    fn a_retry_keeps_what_the_first_pass_wrote_and_its_backup() {
        use TargetKind::{Ad, M365};
        let backed_up = |mut i: ItemResult, path: &str| {
            i.backup = Some(path.to_owned());
            i
        };
        let items = vec![
            row("a", M365, Outcome::Failed, true),
            backed_up(row("a", Ad, Outcome::Written, false), "ad/a/1.jpg"),
            row("b", M365, Outcome::Failed, true),
            backed_up(row("b", Ad, Outcome::Written, false), "ad/b/1.jpg"),
        ];
        let mut report = RunReport {
            summary: Summary::of(&items),
            items,
        };
        // HD is written this time; AD then finds our photo still in place
        // (a), or is cut short by Ctrl-C (b): b's AD must be done again
        // after its new HD photo, so it is not done.
        report.replace_items(RunReport {
            summary: Summary::default(),
            items: vec![
                row("a", M365, Outcome::Written, false),
                row("a", Ad, Outcome::Unchanged, false),
                row("b", M365, Outcome::Written, false),
                backed_up(row("b", Ad, Outcome::NotDone, false), "ad/b/2.jpg"),
            ],
        });
        let outcome = |name: &str, t: TargetKind| {
            report
                .items
                .iter()
                .find(|i| {
                    i.user.as_deref() == Some(name) && i.target.as_deref() == Some(t.as_str())
                })
                .map(|i| (i.outcome, i.backup.clone()))
        };
        assert_eq!(
            outcome("a", Ad),
            Some((Outcome::Written, Some("ad/a/1.jpg".into())))
        );
        assert_eq!(
            outcome("b", Ad),
            Some((Outcome::NotDone, Some("ad/b/1.jpg".into()))),
            "the user's own photo's backup, not the first pass's"
        );
        assert_eq!(report.summary.written, 3);
    }
}
