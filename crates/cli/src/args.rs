//! Command-line arguments exactly as typed (clap derive). Turning them into
//! library options happens in each command module.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// Get staff photos right in Active Directory, Microsoft 365, Exchange and
/// LDAP directories.
#[derive(Debug, Parser)]
#[command(name = "userphoto", version, about, long_about = None, propagate_version = true)]
pub(crate) struct Cli {
    /// Configuration file (default: ./userphoto.toml when present).
    #[arg(long, global = true, value_name = "FILE", env = "USERPHOTO_CONFIG")]
    pub(crate) config: Option<PathBuf>,

    /// Print one JSON object per line instead of text.
    #[arg(long, global = true)]
    pub(crate) json: bool,

    /// More detail (repeat for even more).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub(crate) verbose: u8,

    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Turn photos into square, metadata-free JPEGs sized for directories.
    ///
    /// Every input is decoded by content (JPEG, PNG, GIF, BMP, TIFF, WebP),
    /// turned upright, cropped square, resized and written as
    /// "<name> <N>x<N>.jpg" in --out, ready for `userphoto import`.
    #[command(
        after_help = "Examples:\n  userphoto convert ~/hr-photos --out ./ready\n  userphoto convert -r ~/hr-photos --out ./ready --size 648 --size 96\n  userphoto convert John.Smith.png --out . --size 96 --max-bytes 8000"
    )]
    Convert(ConvertArgs),
}

/// How to frame the square.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum CropArg {
    /// The centred square (Exchange's rule).
    #[value(alias = "center")]
    Centre,
}

#[derive(Debug, Args)]
pub(crate) struct ConvertArgs {
    /// Image files and/or folders to convert.
    #[arg(required = true, value_name = "PATH")]
    pub(crate) paths: Vec<PathBuf>,

    /// Folder to write the JPEGs to (created if missing).
    #[arg(long, short = 'o', value_name = "DIR")]
    pub(crate) out: PathBuf,

    /// Output size in pixels, repeatable [default: 648 and 96].
    #[arg(long = "size", value_name = "N", value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub(crate) sizes: Vec<u32>,

    /// Byte budget per size, in the same order as --size [default: 10 KB up
    /// to 96 px, 300 KB above].
    #[arg(long = "max-bytes", value_name = "BYTES")]
    pub(crate) max_bytes: Vec<usize>,

    /// How to choose the square.
    #[arg(long, value_enum, default_value_t = CropArg::Centre)]
    pub(crate) crop: CropArg,

    /// Look into subfolders (their structure is kept under --out).
    #[arg(short, long)]
    pub(crate) recursive: bool,

    /// Enlarge sources smaller than a size instead of writing them at their
    /// own size.
    #[arg(long)]
    pub(crate) upscale: bool,

    /// Replace outputs that already exist.
    #[arg(long)]
    pub(crate) force: bool,

    /// Worker threads [default: every core].
    #[arg(long, short = 'j', value_name = "N")]
    pub(crate) jobs: Option<usize>,

    /// Refuse input files larger than this many bytes.
    #[arg(long, value_name = "BYTES", default_value_t = 50 * 1024 * 1024)]
    pub(crate) max_input_bytes: usize,

    /// Refuse images declaring more pixels than this (decompression bombs).
    #[arg(long, value_name = "PIXELS", default_value_t = 100_000_000)]
    pub(crate) max_pixels: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn convert_parses_repeated_sizes() {
        let cli = Cli::try_parse_from([
            "userphoto",
            "convert",
            "a.jpg",
            "--out",
            "o",
            "--size",
            "648",
            "--size",
            "96",
        ]);
        let Ok(Cli {
            command: Command::Convert(c),
            ..
        }) = cli
        else {
            panic!("did not parse");
        };
        assert_eq!(c.sizes, vec![648, 96]);
    }

    #[test]
    fn convert_rejects_size_zero() {
        assert!(Cli::try_parse_from([
            "userphoto",
            "convert",
            "a.jpg",
            "--out",
            "o",
            "--size",
            "0"
        ])
        .is_err());
    }
}
