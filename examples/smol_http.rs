//! Placeholder: issue 4 fills it.
fn main() {}
