//! The one misuse the quit tree can meet: adding to a quitter that has quit.

use core::fmt;

/// Refused: the quitter (or an ancestor) has already quit, so no task or
/// child may be added to it. Nothing was started.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AlreadyQuit;

impl fmt::Display for AlreadyQuit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the quitter has already quit: no new task or child is accepted")
    }
}

#[cfg(feature = "std")]
impl std::error::Error for AlreadyQuit {}
