//! ctkit binary entry point.
fn main() {}
