//! One module per subcommand: turn arguments into library options, call the
//! library, print.

pub(crate) mod convert;
