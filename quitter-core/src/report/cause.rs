//! Why a quitter quit: [`QuitCause`], and [`EventDetail`], the conversion
//! from whatever a quit source produced into the cause's optional detail.
//!
//! The first cause given to a node wins; later `quit_with` calls on the same
//! node keep it. Descendants quit by propagation share their ancestor's cause.

use alloc::borrow::Cow;
use alloc::boxed::Box;
use alloc::string::{String, ToString};
use core::fmt;

/// Why a quitter quit: which source fired (label and index) and what it said.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct QuitCause {
    /// A human label, e.g. `"OS interrupt signal"`.
    pub label: Cow<'static, str>,
    /// The index of the source in the main runner's list, if a source fired.
    pub index: Option<usize>,
    /// What the source produced, e.g. `"SIGTERM"` or an error message.
    pub detail: Option<String>,
    /// The quit was caused by a failure (a source that produced an error,
    /// or [`failed`](Self::failed)): the exit code is at least 1 even if
    /// every task returned.
    pub failure: bool,
}

impl QuitCause {
    /// The label [`Quitter::quit`](crate::Quitter::quit) uses.
    pub const REQUESTED: &'static str = "quit requested";

    /// The label of a quit that an abort made
    /// ([`Quitter::abort`](crate::Quitter::abort) of a quitter not quit
    /// yet, or a stage not reached when its parent was aborted).
    pub const ABORTED: &'static str = "aborted";

    /// A cause with a label and nothing else.
    pub fn new(label: impl Into<Cow<'static, str>>) -> Self {
        QuitCause {
            label: label.into(),
            index: None,
            detail: None,
            failure: false,
        }
    }

    /// Marks the cause as a failure (see [`failure`](Self::failure)).
    pub fn failed(mut self) -> Self {
        self.failure = true;
        self
    }

    /// Sets the source index.
    pub fn with_index(mut self, index: usize) -> Self {
        self.index = Some(index);
        self
    }

    /// Sets the detail from anything a source may produce; an event that
    /// is a failure (an `Err`, an `io::Error`) marks the cause as one.
    pub fn with_detail(mut self, detail: impl EventDetail) -> Self {
        self.failure |= detail.is_failure();
        self.detail = detail.into_detail();
        self
    }
}

impl fmt::Display for QuitCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "'{}'", self.label)?;
        if let Some(detail) = &self.detail {
            write!(f, " ({detail})")?;
        }
        Ok(())
    }
}

/// What a quit source's event says, turned into a [`QuitCause::detail`],
/// and whether it is a failure ([`QuitCause::failure`]).
///
/// Implemented for `()` (no detail), strings, `Option`s of these, `Result`s
/// whose error is `Display` (an `Err` is a failure, its text the detail),
/// and with `std`, `std::io::Error` (a failure). Map anything else to a
/// `String`, or a `Result`, first.
pub trait EventDetail {
    /// Is this event a failure? (Default: no.)
    fn is_failure(&self) -> bool {
        false
    }

    /// The detail text, if any.
    fn into_detail(self) -> Option<String>;
}

impl EventDetail for () {
    fn into_detail(self) -> Option<String> {
        None
    }
}

impl EventDetail for String {
    fn into_detail(self) -> Option<String> {
        Some(self)
    }
}

impl EventDetail for &str {
    fn into_detail(self) -> Option<String> {
        Some(self.into())
    }
}

impl EventDetail for Box<str> {
    fn into_detail(self) -> Option<String> {
        Some(self.into())
    }
}

impl EventDetail for Cow<'static, str> {
    fn into_detail(self) -> Option<String> {
        Some(self.into_owned())
    }
}

impl<T: EventDetail> EventDetail for Option<T> {
    fn is_failure(&self) -> bool {
        self.as_ref().is_some_and(EventDetail::is_failure)
    }

    fn into_detail(self) -> Option<String> {
        self.and_then(EventDetail::into_detail)
    }
}

impl<T: EventDetail, E: fmt::Display> EventDetail for Result<T, E> {
    fn is_failure(&self) -> bool {
        match self {
            Ok(value) => value.is_failure(),
            Err(_) => true,
        }
    }

    fn into_detail(self) -> Option<String> {
        match self {
            Ok(value) => value.into_detail(),
            Err(error) => Some(error.to_string()),
        }
    }
}

#[cfg(feature = "std")]
impl EventDetail for std::io::Error {
    fn is_failure(&self) -> bool {
        true
    }

    fn into_detail(self) -> Option<String> {
        Some(self.to_string())
    }
}
