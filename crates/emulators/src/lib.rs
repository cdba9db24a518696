//! Dev-only EMULATORS of Microsoft Graph and Exchange Web Services (EWS),
//! written from Microsoft's published documentation, and of Google
//! Workspace (the Admin SDK Directory API and Google's OAuth token
//! endpoint), written from Google's. They are not the real
//! services and never talk to them.
//!
//! Why a crate of its own: the Graph backend must be proven against
//! throttling, paging, expiring tokens and eventual consistency — things a
//! real tenant shows rarely and never on demand. An emulator that behaves
//! like the documented service, with knobs for each of those, lets the
//! conformance suite, the fault tests and the benchmark run on every
//! machine, in-process on port 0 or as the `graph-emulator` and
//! `ews-emulator` binaries on a loopback port for manual work with the CLI
//! and the web UI. The EWS emulator does the same for Exchange on-premises
//! (NTLM and Basic sign-in, Exchange 2013 mode, server-busy faults).
//!
//! ```no_run
//! use userphoto_emulators::graph::{GraphEmulator, Knobs};
//! # async fn demo() -> std::io::Result<()> {
//! let emulator = GraphEmulator::start(Knobs::default().with_users(50)).await?;
//! println!("graph_url = {}, login_url = {}", emulator.graph_url(), emulator.login_url());
//! # Ok(()) }
//! ```

pub mod ews;
pub mod google;
pub mod graph;
mod loopback;

pub use loopback::serve_on_loopback;
