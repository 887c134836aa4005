//! The variables the analysis reads from a line, by name; every other variable is matched
//! and skipped.

/// The variables the analysis reads. Every other variable is matched and skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Field {
    RequestTime = 0,
    UpstreamResponseTime,
    UpstreamConnectTime,
    UpstreamHeaderTime,
    UpstreamStatus,
    Status,
    Request,
    RequestMethod,
    Uri,
    RequestUri,
    TimeLocal,
    TimeIso8601,
    Msec,
}

/// How many [`Field`]s there are.
pub const FIELD_COUNT: usize = 13;

/// Every [`Field`], in discriminant order.
pub(super) const FIELDS: [Field; FIELD_COUNT] = [
    Field::RequestTime,
    Field::UpstreamResponseTime,
    Field::UpstreamConnectTime,
    Field::UpstreamHeaderTime,
    Field::UpstreamStatus,
    Field::Status,
    Field::Request,
    Field::RequestMethod,
    Field::Uri,
    Field::RequestUri,
    Field::TimeLocal,
    Field::TimeIso8601,
    Field::Msec,
];

impl Field {
    pub(super) fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "request_time" => Self::RequestTime,
            "upstream_response_time" => Self::UpstreamResponseTime,
            "upstream_connect_time" => Self::UpstreamConnectTime,
            "upstream_header_time" => Self::UpstreamHeaderTime,
            "upstream_status" => Self::UpstreamStatus,
            "status" => Self::Status,
            "request" => Self::Request,
            "request_method" => Self::RequestMethod,
            "uri" => Self::Uri,
            "request_uri" => Self::RequestUri,
            "time_local" => Self::TimeLocal,
            "time_iso8601" => Self::TimeIso8601,
            "msec" => Self::Msec,
            _ => return None,
        })
    }

    /// The variable's name in nginx.
    pub fn name(self) -> &'static str {
        match self {
            Self::RequestTime => "request_time",
            Self::UpstreamResponseTime => "upstream_response_time",
            Self::UpstreamConnectTime => "upstream_connect_time",
            Self::UpstreamHeaderTime => "upstream_header_time",
            Self::UpstreamStatus => "upstream_status",
            Self::Status => "status",
            Self::Request => "request",
            Self::RequestMethod => "request_method",
            Self::Uri => "uri",
            Self::RequestUri => "request_uri",
            Self::TimeLocal => "time_local",
            Self::TimeIso8601 => "time_iso8601",
            Self::Msec => "msec",
        }
    }
}
