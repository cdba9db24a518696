//! Benchmark: 1,000 photo PUTs through the Graph backend against the Graph
//! EMULATOR throttled like Microsoft Graph's identity write quota for one
//! app in one tenant (3,000 requests per 150 s = 20 requests/s; token
//! bucket of one second's worth, `Retry-After` on 429).
//!
//! ```text
//! cargo bench -p userphoto-directory --bench graph_put
//! cargo bench -p userphoto-directory --bench graph_put -- --puts 200 --rate 50
//! ```
//!
//! Passes (exit 0) when the achieved rate is at least 90 % of the quota,
//! no write failed and no user was written twice (the emulator counts
//! writes per user); prints the number of 429s received. The point: the
//! shared limiter turns every 429 into one pause for all tasks, so the
//! quota is used fully without a storm of retries.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use secrecy::SecretString;
use userphoto_directory::graph::{GraphCredential, GraphDirectory};
use userphoto_directory::{DirectoryExt as _, Photo, UserQuery};
use userphoto_emulators::graph::{GraphEmulator, Knobs, DEFAULT_CLIENT_SECRET};

fn arg(name: &str, default: f64) -> f64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn photo(n: usize) -> Photo {
    let mut bytes = b"\xFF\xD8\xFF\xE0".to_vec();
    bytes.extend_from_slice(format!("benchmark photo {n:05}").as_bytes());
    bytes.resize(20_000, 0x55);
    bytes.extend_from_slice(b"\xFF\xD9");
    Photo::new(bytes).expect("a jpeg-shaped photo")
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let puts = arg("--puts", 1_000.0) as usize;
    let rate = arg("--rate", 20.0);
    let concurrency = arg("--concurrency", 16.0) as usize;
    let emulator = GraphEmulator::start(Knobs::default().with_users(puts).with_page_size(999))
        .await
        .expect("the emulator starts");
    let dir = GraphDirectory::builder(emulator.tenant_id(), emulator.client_id())
        .graph_url(emulator.graph_url())
        .login_url(emulator.login_url())
        .credential(GraphCredential::Secret(SecretString::from(
            DEFAULT_CLIENT_SECRET,
        )))
        .max_concurrency(8)
        .build()
        .expect("the backend builds");
    let users = dir
        .collect_users(&UserQuery::all())
        .await
        .expect("the users list");
    assert_eq!(users.len(), puts);
    // Throttle from here on, with a full bucket.
    emulator.update(|k| {
        k.throttle = Some(userphoto_emulators::graph::Throttle {
            rate_per_sec: rate,
            burst: rate,
        })
    });
    let dir = Arc::new(dir);
    let start = Instant::now();
    let results: Vec<bool> = futures::stream::iter(users.iter().enumerate())
        .map(|(n, user)| {
            let dir = dir.clone();
            async move {
                match userphoto_directory::Directory::set_photo(dir.as_ref(), user, &photo(n)).await
                {
                    Ok(()) => true,
                    Err(e) => {
                        eprintln!("graph_put: {user}: {e}");
                        false
                    }
                }
            }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let elapsed = start.elapsed();
    let failed = results.iter().filter(|ok| !**ok).count();
    let per_user = emulator.writes_per_user();
    let duplicates: u64 = per_user.values().map(|n| n.saturating_sub(1)).sum();
    let missing = users
        .iter()
        .filter(|u| !per_user.contains_key(&u.id))
        .count();
    let stats = emulator.stats();
    let achieved = puts as f64 / elapsed.as_secs_f64().max(f64::EPSILON);
    // The bucket starts full (one second's worth), so the best possible
    // time is (puts - burst) / rate.
    let share = achieved / rate;
    println!("graph_put: {puts} PUTs against the Graph emulator throttled at {rate} requests/s");
    println!("  elapsed            {:.2} s", elapsed.as_secs_f64());
    println!(
        "  achieved rate      {achieved:.2} PUTs/s = {:.1} % of the quota",
        share * 100.0
    );
    println!("  failed writes      {failed}");
    println!("  duplicate writes   {duplicates}");
    println!("  users not written  {missing}");
    println!(
        "  429s received      {} (emulator counted {})",
        dir.throttled_count(),
        stats.throttled
    );
    println!("  requests sent      {}", dir.requests_sent());
    let ok = share >= 0.90 && failed == 0 && duplicates == 0 && missing == 0;
    println!("  result             {}", if ok { "PASS" } else { "FAIL" });
    emulator.stop();
    tokio::time::sleep(Duration::from_millis(50)).await;
    if !ok {
        std::process::exit(1);
    }
}
