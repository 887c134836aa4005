//! The one error a tool call can end with, whatever the flow and the source.
//!
//! Every failure is one of five kinds, and each kind has one text for the caller and one
//! log line for the operator. The message says what was found and what to do; it never
//! quotes what a source sent back (a file's bytes, a server's reply) and never a secret.

use std::fmt;

use crate::diagnosis::InputError;

/// What went wrong, as the caller can act on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// An argument is wrong: the message names the field and how to fix it.
    BadInput,
    /// A source could not be reached or answered with an error.
    Unreachable,
    /// A source refused this identity, or the operator has not allowed what was asked.
    Denied,
    /// A source did not answer within its deadline.
    TimedOut,
    /// What the call needs is not configured on this server (a target, a region, credentials).
    NotConfigured,
}

impl ErrorKind {
    /// The kind as logs and tests spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::BadInput => "bad_input",
            ErrorKind::Unreachable => "unreachable",
            ErrorKind::Denied => "denied",
            ErrorKind::TimedOut => "timed_out",
            ErrorKind::NotConfigured => "not_configured",
        }
    }
}

/// Why a tool produced no report.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolError {
    pub kind: ErrorKind,
    /// The argument at fault, for [`ErrorKind::BadInput`] (a JSON path such as
    /// `access_log.since`); the argument that named the unreachable source otherwise, if any.
    pub field: Option<String>,
    /// What was found and what to do, in words a person can act on.
    pub message: String,
}

impl ToolError {
    /// A wrong argument: `field` is its JSON path.
    pub fn bad_input(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::BadInput, message).on(field)
    }

    /// The operator has not allowed what the argument `field` asks for, or the source
    /// refused this identity.
    pub fn denied(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Denied, message).on(field)
    }

    /// The source the argument `field` names could not be reached.
    pub fn unreachable(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unreachable, message).on(field)
    }

    /// A failed read of a file or socket the argument `field` named: `what` says what was
    /// being done; the kind follows the operating system's answer.
    pub fn io(field: impl Into<String>, what: impl fmt::Display, err: &std::io::Error) -> Self {
        use std::io::ErrorKind as Io;
        let kind = match err.kind() {
            Io::PermissionDenied => ErrorKind::Denied,
            Io::NotFound | Io::InvalidData | Io::InvalidInput | Io::UnexpectedEof => {
                ErrorKind::BadInput
            }
            Io::TimedOut | Io::WouldBlock => ErrorKind::TimedOut,
            _ => ErrorKind::Unreachable,
        };
        Self::new(kind, format!("{what}: {err}")).on(field)
    }

    /// The same error, with what to do appended to the message.
    pub fn hint(mut self, what_to_do: &str) -> Self {
        self.message = format!("{}; {what_to_do}", self.message);
        self
    }

    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            field: None,
            message: message.into(),
        }
    }

    /// The same error, attributed to the argument that named the source.
    pub fn on(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    /// The text the caller reads: the tool, what kind of failure, and the message.
    pub fn text(&self, tool: &str) -> String {
        match (self.kind, &self.field) {
            (ErrorKind::BadInput, Some(field)) => {
                format!("{tool}: invalid argument `{field}`: {}", self.message)
            }
            (_, Some(field)) => format!("{tool}: `{field}`: {}", self.message),
            (_, None) => format!("{tool}: {}", self.message),
        }
    }

    /// The operator's log line: one per failed call, at a level that matches the kind (a
    /// caller's mistake is info, a source that fails is a warning). The message is logged
    /// only for source failures: a bad argument's message can repeat what the caller sent.
    pub fn log(&self, tool: &str) {
        let kind = self.kind.as_str();
        let field = self.field.as_deref().unwrap_or("");
        match self.kind {
            ErrorKind::BadInput => tracing::info!(tool, kind, field, "rejected arguments"),
            _ => tracing::warn!(tool, kind, field, error = %self.message, "source failed"),
        }
    }
}

impl fmt::Display for ToolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.field {
            Some(field) if self.kind == ErrorKind::BadInput => {
                write!(f, "invalid argument `{field}`: {}", self.message)
            }
            Some(field) => write!(f, "`{field}`: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for ToolError {}

impl From<InputError> for ToolError {
    fn from(err: InputError) -> Self {
        Self {
            kind: ErrorKind::BadInput,
            field: Some(err.field),
            message: err.message,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_argument_names_its_field() {
        let err = ToolError::from(InputError::new("access_log.since", "must be a time"));
        assert_eq!(err.kind, ErrorKind::BadInput);
        assert_eq!(
            err.text("break_down_latency"),
            "break_down_latency: invalid argument `access_log.since`: must be a time"
        );
    }

    #[test]
    fn a_source_failure_names_the_argument_that_named_the_source() {
        let err = ToolError::new(ErrorKind::Unreachable, "nothing listens there").on("listen_port");
        assert_eq!(
            err.text("break_down_latency"),
            "break_down_latency: `listen_port`: nothing listens there"
        );
        assert_eq!(err.kind.as_str(), "unreachable");
    }
}
