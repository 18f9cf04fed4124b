//! The process-wide claim on OS signal handling.
//!
//! go-quitter panics if a second main quitter is made, because two would
//! race for the same signals. Here roots are plain values, and the *adapter*
//! that installs signal handlers claims the process once; a second claim, by
//! either adapter, is an error ([`SignalsAlreadyClaimed`]), not a panic.
//! The claim is a single atomic flag, released when the [`SignalClaim`]
//! drops.

use core::fmt;
use core::sync::atomic::{AtomicBool, Ordering};

static CLAIMED: AtomicBool = AtomicBool::new(false);

/// Proof that this holder installed the process's quit signal handlers.
/// Dropping it lets another installation happen.
#[derive(Debug)]
#[must_use = "the claim is released when dropped"]
pub struct SignalClaim(());

impl SignalClaim {
    /// Claims the process's quit signals, once at a time.
    pub fn acquire() -> Result<SignalClaim, SignalsAlreadyClaimed> {
        match CLAIMED.compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => Ok(SignalClaim(())),
            Err(_) => Err(SignalsAlreadyClaimed),
        }
    }
}

impl Drop for SignalClaim {
    fn drop(&mut self) {
        CLAIMED.store(false, Ordering::Release);
    }
}

/// Refused: this process's quit signal handlers are already installed by
/// another main runner.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SignalsAlreadyClaimed;

impl fmt::Display for SignalsAlreadyClaimed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("quit signal handlers are already installed in this process")
    }
}

#[cfg(feature = "std")]
impl std::error::Error for SignalsAlreadyClaimed {}

/// The shutdown signal handlers could not be installed.
#[cfg(feature = "std")]
#[derive(Debug)]
#[non_exhaustive]
pub enum SignalError {
    /// They are already installed in this process by another main helper.
    AlreadyClaimed(SignalsAlreadyClaimed),
    /// The runtime or the OS refused (e.g. no tokio runtime).
    Install(std::io::Error),
}

#[cfg(feature = "std")]
impl fmt::Display for SignalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SignalError::AlreadyClaimed(e) => e.fmt(f),
            SignalError::Install(e) => write!(f, "cannot install the quit signal handlers: {e}"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for SignalError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SignalError::AlreadyClaimed(e) => Some(e),
            SignalError::Install(e) => Some(e),
        }
    }
}

#[cfg(feature = "std")]
impl From<SignalsAlreadyClaimed> for SignalError {
    fn from(e: SignalsAlreadyClaimed) -> Self {
        SignalError::AlreadyClaimed(e)
    }
}

#[cfg(feature = "std")]
impl From<std::io::Error> for SignalError {
    fn from(e: std::io::Error) -> Self {
        SignalError::Install(e)
    }
}
