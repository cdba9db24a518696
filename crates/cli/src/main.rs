//! The `userphoto` command line: parses arguments, calls the library
//! crates, prints results. No photo or directory logic lives here.

mod args;
mod commands;
mod logging;
mod output;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    // Before any thread starts: photo buffers are reused, not faulted in
    // again for every photo (crates/imaging/src/allocator.rs).
    userphoto_imaging::tune_allocator_for_photos();
    let args = args::Cli::parse();
    logging::init(args.verbose);
    let out = output::Output::new(args.json, args.verbose);
    let result = match &args.command {
        args::Command::Convert(c) => commands::convert::run(c, &out),
        command => commands::run(command, args.config.as_deref(), &out),
    };
    match result {
        Ok(status) => status.into(),
        Err(err) => {
            out.fatal(&err);
            ExitCode::from(2)
        }
    }
}
