//! `graph-emulator`: the Microsoft Graph EMULATOR on a loopback port, for
//! manual work with the CLI and the web UI and for scripts.
//!
//! ```text
//! graph-emulator --listen 127.0.0.1:8765 --users 2500 --throttle 20
//! ```
//!
//! It prints the `[m365]` section to paste into `userphoto.toml` and runs
//! until Ctrl-C or SIGTERM. It refuses a non-loopback address: it is a test double,
//! not a service.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::bail;
use clap::Parser;
use userphoto_emulators::graph::{EmulatedUser, GraphEmulator, Knobs, DEFAULT_CLIENT_SECRET};
use userphoto_emulators::serve_on_loopback;

/// The Microsoft Graph emulator (test double; loopback only).
#[derive(Debug, Parser)]
#[command(name = "graph-emulator", version)]
struct Args {
    /// Where to listen (loopback only).
    #[arg(long, default_value = "127.0.0.1:8765")]
    listen: SocketAddr,
    /// How many generated users (`emu00000@contoso.test`, …).
    #[arg(long, default_value_t = 25)]
    users: usize,
    /// The largest page of users.
    #[arg(long, default_value_t = 999)]
    page_size: usize,
    /// Throttle every Graph request to this many per second (token bucket).
    #[arg(long)]
    throttle: Option<f64>,
    /// The bucket size (default: one second's worth).
    #[arg(long)]
    burst: Option<f64>,
    /// Share of requests answered 429 at random (0–1).
    #[arg(long, default_value_t = 0.0)]
    random_429: f64,
    /// Share of requests answered 503 at random (0–1).
    #[arg(long, default_value_t = 0.0)]
    random_503: f64,
    /// Milliseconds a write reads back stale.
    #[arg(long, default_value_t = 0)]
    read_after_write_ms: u64,
    /// Seconds an access token lives.
    #[arg(long, default_value_t = 3599)]
    token_lifetime: u64,
    /// Add a user without a mailbox (`emu-nomail`) and one whose photo the
    /// app may not change (`emu-locked`).
    #[arg(long)]
    special_users: bool,
    /// Add a user synchronised from Active Directory (repeatable): this
    /// UPN and mail, its local part as alias and onPremisesSamAccountName
    /// — so a HYBRID setup against a real AD finds its users here.
    #[arg(long = "synced-user", value_name = "UPN")]
    synced_users: Vec<String>,
    /// A group membership for the id token's `groups` claim (OpenID
    /// Connect sign-in), repeatable: `UPN=GROUP-OBJECT-ID`.
    #[arg(long = "group-member", value_name = "UPN=GROUP")]
    group_members: Vec<String>,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let mut knobs = Knobs::default()
        .with_users(args.users)
        .with_page_size(args.page_size)
        .with_faults(args.random_429, args.random_503, Duration::from_secs(1))
        .with_read_after_write(Duration::from_millis(args.read_after_write_ms))
        .with_token_lifetime(Duration::from_secs(args.token_lifetime.max(1)));
    if let Some(rate) = args.throttle {
        knobs = knobs.with_throttle(rate, args.burst.unwrap_or(rate));
    }
    if args.special_users {
        knobs = knobs
            .with_user(
                EmulatedUser::new("00000000-0000-4000-9000-000000000001", "emu-nomail")
                    .without_mailbox(),
            )
            .with_user(
                EmulatedUser::new("00000000-0000-4000-9000-000000000002", "emu-locked").forbidden(),
            );
    }
    for (i, upn) in args.synced_users.iter().enumerate() {
        let Some((alias, _)) = upn.split_once('@') else {
            bail!(
                "graph-emulator: --synced-user {upn}: give a UPN such as user1@corp.example.test"
            );
        };
        knobs = knobs.with_user(
            EmulatedUser::new(format!("10000000-0000-4000-8000-{i:012}"), alias)
                .with_upn(upn.as_str())
                .with_mail(Some(upn.clone())),
        );
    }
    for m in &args.group_members {
        let Some((upn, group)) = m.split_once('=') else {
            bail!("graph-emulator: --group-member {m}: give UPN=GROUP-OBJECT-ID");
        };
        knobs.group_members.push((upn.to_owned(), group.to_owned()));
    }
    let emulator = serve_on_loopback(
        "graph-emulator",
        args.listen,
        |listener| GraphEmulator::serve(listener, knobs),
        announce,
    )
    .await?;
    let stats = emulator.stats();
    println!(
        "graph emulator: stopping after {} requests ({} throttled, {} writes)",
        stats.requests, stats.throttled, stats.writes
    );
    emulator.stop();
    Ok(())
}

/// Prints the URL and the `[m365]` section to paste (`e2e/run hybrid`
/// reads its fields).
fn announce(emulator: &GraphEmulator) {
    println!("graph emulator: listening on {}", emulator.graph_url());
    println!("# userphoto.toml (export USERPHOTO_M365_SECRET={DEFAULT_CLIENT_SECRET})");
    println!("[m365]");
    println!("tenant_id = \"{}\"", emulator.tenant_id());
    println!("client_id = \"{}\"", emulator.client_id());
    println!("client_secret_env = \"USERPHOTO_M365_SECRET\"");
    println!("graph_url = \"{}\"", emulator.graph_url());
    println!("login_url = \"{}\"", emulator.login_url());
}
