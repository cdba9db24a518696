//! `ews-emulator`: the Exchange Web Services EMULATOR on a loopback port,
//! for manual work with the CLI and the web UI and for scripts.
//!
//! ```text
//! ews-emulator --listen 127.0.0.1:8766 --mailbox user2452@corp.example.test --auth ntlm
//! ```
//!
//! It prints its URL and the `[exchange]` section to paste into
//! `userphoto.toml` (users still come from `[ad]`: give it the `mail`
//! addresses of the AD users that should have a mailbox) and runs until
//! Ctrl-C or SIGTERM. It refuses a non-loopback address: it is a test
//! double, not a service, and it speaks plain http.

use std::net::SocketAddr;

use clap::Parser;
use userphoto_emulators::ews::{
    EmulatedAuth, EwsEmulator, EwsKnobs, DEFAULT_PASSWORD, DEFAULT_USERNAME,
};
use userphoto_emulators::serve_on_loopback;

/// The Exchange EWS emulator (test double; loopback only).
#[derive(Debug, Parser)]
#[command(name = "ews-emulator", version)]
struct Args {
    /// Where to listen (loopback only).
    #[arg(long, default_value = "127.0.0.1:8766")]
    listen: SocketAddr,
    /// A primary SMTP address that has a mailbox (repeat, or comma-separated).
    #[arg(long = "mailbox", value_delimiter = ',')]
    mailboxes: Vec<String>,
    /// A mailbox whose photo the account may not change (ErrorAccessDenied).
    #[arg(long = "denied", value_delimiter = ',')]
    denied: Vec<String>,
    /// Authentication offered: ntlm, basic, both, or negotiate (NTLM, and
    /// Kerberos with --keytab, under the Negotiate scheme only).
    #[arg(long, default_value = "both")]
    auth: EmulatedAuth,
    /// The account accepted (`DOMAIN\user` or a UPN).
    #[arg(long, default_value = DEFAULT_USERNAME)]
    username: String,
    /// Answer as Exchange 2013 (no SetUserPhoto).
    #[arg(long)]
    exchange_2013: bool,
    /// The next N SOAP requests answer ErrorServerBusy.
    #[arg(long, default_value_t = 0)]
    busy: u32,
    /// The BackOffMilliseconds those faults carry.
    #[arg(long, default_value_t = 250)]
    busy_backoff_ms: u64,
    /// With --auth negotiate: verify Kerberos tickets with this keytab (the
    /// service keys of HTTP/<host>, e.g. from `samba-tool domain
    /// exportkeytab`); needs a build with the `kerberos` feature.
    #[arg(long)]
    keytab: Option<std::path::PathBuf>,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if let Some(keytab) = &args.keytab {
        // GSSAPI finds the acceptor's keys through this variable.
        std::env::set_var("KRB5_KTNAME", format!("FILE:{}", keytab.display()));
    }
    // The password is the emulator's fixed throwaway value, so it is never
    // read from the command line (where `ps` would show it).
    let knobs = EwsKnobs::default()
        .with_credentials(args.username.clone(), DEFAULT_PASSWORD)
        .with_auth(args.auth)
        .with_mailboxes(args.mailboxes.iter().cloned())
        .with_mailboxes(args.denied.iter().cloned())
        .with_denied(args.denied.iter().cloned())
        .exchange_2013(args.exchange_2013)
        .with_busy(args.busy, args.busy_backoff_ms)
        .with_kerberos(args.keytab.is_some());
    let emulator = serve_on_loopback(
        "ews-emulator",
        args.listen,
        |listener| EwsEmulator::serve(listener, knobs),
        |emulator| announce(emulator, &args),
    )
    .await?;
    let stats = emulator.stats();
    println!(
        "ews emulator: stopping after {} SOAP and {} REST requests ({} photos set, {} NTLM and {} Kerberos sign-ins)",
        stats.soap_requests, stats.rest_requests, stats.photos_set, stats.ntlm_sign_ins, stats.kerberos_sign_ins
    );
    Ok(())
}

/// Prints the URL and the `[exchange]` section to paste.
fn announce(emulator: &EwsEmulator, args: &Args) {
    let auth = match args.auth {
        EmulatedAuth::Basic => "basic",
        EmulatedAuth::Negotiate if args.keytab.is_some() => "kerberos",
        _ => "ntlm",
    };
    println!("ews emulator: listening on {}", emulator.ews_url());
    println!(
        "# userphoto.toml (export USERPHOTO_EXCHANGE_PASSWORD={DEFAULT_PASSWORD}; users come from [ad])"
    );
    println!("[exchange]");
    println!("ews_url = \"{}\"", emulator.ews_url());
    println!("username = '{}'", args.username);
    println!("password_env = \"USERPHOTO_EXCHANGE_PASSWORD\"");
    println!("auth = \"{auth}\"");
    if auth == "kerberos" {
        println!("# kerberos: with a ticket (kinit) for HTTP/<host of ews_url>; username and password are the NTLM fallback's");
    }
    println!("allow_insecure = true  # the emulator speaks plain http on loopback");
    if args.mailboxes.is_empty() && args.denied.is_empty() {
        println!("# no --mailbox given: every address answers ErrorNonExistentMailbox");
    }
}
