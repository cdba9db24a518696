//! The `userphoto` command line.
fn main() {}
