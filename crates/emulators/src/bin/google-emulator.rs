//! `google-emulator`: the Google Workspace EMULATOR (Admin SDK Directory
//! API and Google's OAuth token endpoint) on a loopback port, for manual
//! work with the CLI and the web UI and for scripts.
//!
//! ```text
//! google-emulator --listen 127.0.0.1:8766 --users 500 --quota 40 --key-out sa.json
//! ```
//!
//! It writes the test service account's key file (mode 0600) and prints
//! the `[google]` section to paste into `userphoto.toml`; it runs until
//! Ctrl-C or SIGTERM and refuses a non-loopback address.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use userphoto_emulators::google::{GoogleEmulator, GoogleUser, Knobs, DEFAULT_ADMIN};
use userphoto_emulators::serve_on_loopback;

/// The Google Workspace emulator (test double; loopback only).
#[derive(Debug, Parser)]
#[command(name = "google-emulator", version)]
struct Args {
    /// Where to listen (loopback only).
    #[arg(long, default_value = "127.0.0.1:8766")]
    listen: SocketAddr,
    /// How many generated users (`emu00000@example.test`, …).
    #[arg(long, default_value_t = 25)]
    users: usize,
    /// Directory API requests per second before `403 userRateLimitExceeded`.
    #[arg(long)]
    quota: Option<f64>,
    /// Share of requests answered 503 at random (0–1).
    #[arg(long, default_value_t = 0.0)]
    random_503: f64,
    /// Self-set photos survive `users.photos.update` (and one user,
    /// `selfie@example.test`, has one).
    #[arg(long)]
    self_set_survives: bool,
    /// Seconds an access token lives.
    #[arg(long, default_value_t = 3600)]
    token_lifetime: u64,
    /// Where to write the service account key file (JSON).
    #[arg(long, default_value = "google-emulator-key.json")]
    key_out: PathBuf,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let mut knobs = Knobs::default()
        .with_users(args.users)
        .with_faults(args.random_503, 0.0)
        .with_token_lifetime(Duration::from_secs(args.token_lifetime.max(1)));
    if let Some(rate) = args.quota {
        knobs = knobs.with_quota(rate, rate);
    }
    if args.self_set_survives {
        knobs = knobs.with_self_set_survives_update().with_user(
            GoogleUser::new("900000000000000000003", "selfie@example.test").with_self_set_photo(),
        );
    }
    let key_out = args.key_out.clone();
    let emulator = serve_on_loopback(
        "google-emulator",
        args.listen,
        |listener| GoogleEmulator::serve(listener, knobs),
        |e: &GoogleEmulator| {
            if let Err(err) = write_key(&key_out, &e.key_json()) {
                eprintln!("google-emulator: {err:#}");
            }
            announce(e, &key_out);
        },
    )
    .await?;
    let stats = emulator.stats();
    println!(
        "google emulator: stopping after {} requests ({} quota errors, {} writes)",
        stats.requests, stats.quota_errors, stats.writes
    );
    emulator.stop();
    Ok(())
}

/// Writes the key file readable by its owner only (userphoto refuses a key
/// others can read).
fn write_key(path: &PathBuf, json: &str) -> anyhow::Result<()> {
    std::fs::write(path, json).with_context(|| format!("cannot write {}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .with_context(|| format!("cannot restrict {}", path.display()))?;
    }
    Ok(())
}

fn announce(emulator: &GoogleEmulator, key: &std::path::Path) {
    println!("google emulator: listening on {}", emulator.api_url());
    println!("# userphoto.toml");
    println!("[google]");
    println!("key_file = \"{}\"", key.display());
    println!("subject = \"{DEFAULT_ADMIN}\"");
    println!("api_url = \"{}\"", emulator.api_url());
    println!("oauth_url = \"{}\"", emulator.token_url());
}
