//! Placeholder: issue 3 fills it.
fn main() {}
