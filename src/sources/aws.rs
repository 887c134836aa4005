//! Region, credentials, timeouts and retries for the AWS clients, and what their failures
//! mean for a person on call.
//!
//! Configuration comes from the AWS default chain (environment, shared config and
//! credentials files, SSO, web identity, container and instance roles); the tool's `region`
//! and `profile` only override it. No endpoint URL is set here, so the SDK's standard
//! per-service variables (`AWS_ENDPOINT_URL_CLOUDWATCH`, `AWS_ENDPOINT_URL_RDS`,
//! `AWS_ENDPOINT_URL_STS`) keep working.
//!
//! Every call is bounded: connect 3 s, each attempt 10 s, each operation 25 s, at most 3
//! attempts with backoff, and the whole collection [`COLLECT_TIMEOUT`]. Error texts are
//! passed through [`redact`] so that no key or token can reach a result or a log.

use std::time::Duration;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_cloudwatch::error::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use aws_smithy_types::retry::RetryConfig;
use aws_smithy_types::timeout::TimeoutConfig;

use super::{cloudwatch, rds};
use crate::diagnosis::load_balancer::{LbSample, LoadBalancerWindow};
use crate::diagnosis::storage::{InstanceWindow, Sample};

/// Upper bound for one check_rds_iops or load balancer collection, credentials included.
pub const COLLECT_TIMEOUT: Duration = Duration::from_secs(60);

/// Why AWS could not be read, in words a person can act on.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SourceError {
    #[error(
        "no AWS region: pass `region` (e.g. \"us-east-1\"), or set AWS_REGION, or a region in the AWS profile"
    )]
    NoRegion,
    #[error(
        "no AWS credentials found ({detail}): configure the default chain — AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE with ~/.aws/credentials, `aws sso login`, or an instance/task role"
    )]
    NoCredentials { detail: String },
    #[error(
        "the AWS credentials have expired ({detail}): refresh them (`aws sso login`, or new temporary credentials) and retry"
    )]
    ExpiredCredentials { detail: String },
    #[error(
        "AWS rejected the credentials ({detail}): check that the access key is active and belongs to the account of this instance"
    )]
    InvalidCredentials { detail: String },
    #[error(
        "access denied to {action} ({detail}): grant {action} to this identity (read-only), or pass the figure it would give as an argument"
    )]
    AccessDenied { action: String, detail: String },
    #[error(
        "{what} not found in this region and account: check the identifier (`aws rds describe-db-instances --query 'DBInstances[].DBInstanceIdentifier'`) and the region"
    )]
    NotFound { what: String },
    #[error(
        "AWS throttled {service} after 3 attempts: wait a minute and retry, or widen period_seconds"
    )]
    Throttled { service: String },
    #[error(
        "{service} did not answer in time ({detail}): check network access to the AWS endpoint (proxy, VPC endpoint) and retry"
    )]
    Timeout { service: String, detail: String },
    #[error(
        "could not reach {service} ({detail}): check network access to the AWS endpoint and any AWS_ENDPOINT_URL_* override"
    )]
    Unreachable { service: String, detail: String },
    #[error("{service} failed: {detail}")]
    Other { service: String, detail: String },
}

impl From<SourceError> for crate::error::ToolError {
    fn from(err: SourceError) -> Self {
        use crate::error::ErrorKind;
        let kind = match &err {
            SourceError::NoRegion | SourceError::NoCredentials { .. } => ErrorKind::NotConfigured,
            SourceError::ExpiredCredentials { .. }
            | SourceError::InvalidCredentials { .. }
            | SourceError::AccessDenied { .. } => ErrorKind::Denied,
            SourceError::NotFound { .. } => ErrorKind::BadInput,
            SourceError::Timeout { .. } => ErrorKind::TimedOut,
            SourceError::Throttled { .. }
            | SourceError::Unreachable { .. }
            | SourceError::Other { .. } => ErrorKind::Unreachable,
        };
        Self::new(kind, err.to_string())
    }
}

impl SourceError {
    fn is_access_denied(&self) -> bool {
        matches!(self, Self::AccessDenied { .. })
    }

    /// What kind of failure this was, in a few words and without the service's own text.
    pub fn kind_words(&self) -> &'static str {
        match self {
            Self::NoRegion => "no region",
            Self::NoCredentials { .. } => "no credentials",
            Self::ExpiredCredentials { .. } => "expired credentials",
            Self::InvalidCredentials { .. } => "credentials rejected",
            Self::AccessDenied { .. } => "access denied",
            Self::NotFound { .. } => "not found",
            Self::Throttled { .. } => "throttled",
            Self::Timeout { .. } => "no answer in time",
            Self::Unreachable { .. } => "endpoint unreachable",
            Self::Other { .. } => "the service answered with an error",
        }
    }
}

/// Removes anything that could be a credential from a text meant for a result or a log:
/// the values of the AWS secret variables in this process, and access-key-shaped tokens.
pub fn redact(text: &str) -> String {
    let mut out = text.to_owned();
    for var in [
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_SECURITY_TOKEN",
        "AWS_ACCESS_KEY_ID",
        "AWS_BEARER_TOKEN_BEDROCK",
    ] {
        if let Ok(value) = std::env::var(var)
            && value.len() >= 4
        {
            out = out.replace(&value, "[redacted]");
        }
    }
    // Access key ids: AKIA/ASIA followed by 16 upper-case letters or digits.
    let bytes: Vec<char> = out.chars().collect();
    let mut cleaned = String::with_capacity(out.len());
    let mut i = 0;
    while i < bytes.len() {
        let rest: String = bytes[i..bytes.len().min(i + 20)].iter().collect();
        let key_like = rest.len() == 20
            && (rest.starts_with("AKIA") || rest.starts_with("ASIA"))
            && rest
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
        if key_like {
            cleaned.push_str("[redacted]");
            i += 20;
        } else {
            cleaned.push(bytes[i]);
            i += 1;
        }
    }
    cleaned
}

/// Turns an SDK error into a [`SourceError`]. `service` names the client (`cloudwatch`),
/// `action` the IAM action (`cloudwatch:GetMetricData`).
pub fn classify<E, R>(service: &str, action: &str, err: SdkError<E, R>) -> SourceError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    let detail = redact(&DisplayErrorContext(&err).to_string());
    let detail = shorten(&detail);
    let lower = detail.to_ascii_lowercase();
    match &err {
        SdkError::ServiceError(ctx) => {
            let code = ctx.err().code().unwrap_or_default();
            let message = ctx
                .err()
                .message()
                .map(|m| shorten(&redact(m)))
                .unwrap_or_default();
            let detail = if message.is_empty() {
                code.to_owned()
            } else {
                format!("{code}: {message}")
            };
            match code {
                "AccessDenied"
                | "AccessDeniedException"
                | "UnauthorizedOperation"
                | "UnauthorizedAccess"
                | "AuthorizationError" => SourceError::AccessDenied {
                    action: action.to_owned(),
                    detail,
                },
                "ExpiredToken"
                | "ExpiredTokenException"
                | "RequestExpired"
                | "TokenRefreshRequired" => SourceError::ExpiredCredentials { detail },
                "InvalidClientTokenId"
                | "UnrecognizedClientException"
                | "SignatureDoesNotMatch"
                | "IncompleteSignature"
                | "InvalidAccessKeyId"
                | "MissingAuthenticationToken" => SourceError::InvalidCredentials { detail },
                "Throttling"
                | "ThrottlingException"
                | "TooManyRequestsException"
                | "RequestLimitExceeded"
                | "RequestThrottled"
                | "LimitExceededException" => SourceError::Throttled {
                    service: service.to_owned(),
                },
                "DBInstanceNotFound" | "DBInstanceNotFoundFault" => SourceError::NotFound {
                    what: "the DB instance".to_owned(),
                },
                _ => SourceError::Other {
                    service: service.to_owned(),
                    detail,
                },
            }
        }
        SdkError::TimeoutError(_) => SourceError::Timeout {
            service: service.to_owned(),
            detail,
        },
        SdkError::DispatchFailure(d) if d.is_timeout() => SourceError::Timeout {
            service: service.to_owned(),
            detail,
        },
        _ if lower.contains("no credentials")
            || lower.contains("credentialsnotloaded")
            || lower.contains("failed to load credentials")
            || lower.contains("credentials provider") =>
        {
            SourceError::NoCredentials { detail }
        }
        _ if lower.contains("expired") => SourceError::ExpiredCredentials { detail },
        SdkError::DispatchFailure(_) => SourceError::Unreachable {
            service: service.to_owned(),
            detail,
        },
        _ => SourceError::Other {
            service: service.to_owned(),
            detail,
        },
    }
}

fn shorten(text: &str) -> String {
    const MAX: usize = 400;
    if text.chars().count() <= MAX {
        text.to_owned()
    } else {
        let cut: String = text.chars().take(MAX).collect();
        format!("{cut}…")
    }
}

/// Loads the AWS configuration for a check: default chain, with `region` and `profile`
/// overriding it, bounded timeouts and retries, and an HTTPS client (rustls, ring).
pub async fn load(region: Option<&str>, profile: Option<&str>) -> Result<SdkConfig, SourceError> {
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
            aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https();
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .http_client(http)
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(3))
                .read_timeout(Duration::from_secs(10))
                .operation_attempt_timeout(Duration::from_secs(10))
                .operation_timeout(Duration::from_secs(25))
                .build(),
        )
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(3)
                .with_initial_backoff(Duration::from_millis(200))
                .with_max_backoff(Duration::from_secs(2)),
        );
    if let Some(profile) = profile {
        loader = loader.profile_name(profile);
    }
    if let Some(region) = region {
        loader = loader.region(Region::new(region.to_owned()));
    }
    let config = loader.load().await;
    if config.region().is_none() {
        return Err(SourceError::NoRegion);
    }
    Ok(config)
}

/// Reads everything check_rds_iops needs, concurrently: the CloudWatch series, the
/// instance description and the account id. A denied DescribeDBInstances or
/// GetCallerIdentity is a caveat, not a failure; a denied GetMetricData, an unknown instance,
/// bad credentials, throttling and timeouts are failures.
pub async fn collect_storage_sample(check: &InstanceWindow) -> Result<Sample, SourceError> {
    match tokio::time::timeout(COLLECT_TIMEOUT, collect(check)).await {
        Ok(result) => result,
        Err(_) => Err(SourceError::Timeout {
            service: "AWS".to_owned(),
            detail: format!("no answer within {} s", COLLECT_TIMEOUT.as_secs()),
        }),
    }
}

async fn collect(check: &InstanceWindow) -> Result<Sample, SourceError> {
    let config = load(check.region.as_deref(), check.profile.as_deref()).await?;
    let region = config
        .region()
        .map(|r| r.as_ref().to_owned())
        .ok_or(SourceError::NoRegion)?;
    let (start, end) = (check.start, check.end);

    let cw = aws_sdk_cloudwatch::Client::new(&config);
    let rds_client = aws_sdk_rds::Client::new(&config);
    let sts = aws_sdk_sts::Client::new(&config);
    let id = check.db_instance_identifier.as_str();
    let (series, description, identity) = tokio::join!(
        cloudwatch::fetch(&cw, id, start, end, check.period_seconds),
        rds::describe(&rds_client, id),
        sts.get_caller_identity().send(),
    );

    let mut notes = Vec::new();
    let (description, description_note) = match description {
        Ok(d) => (Some(d), None),
        Err(e) if e.is_access_denied() => (
            None,
            Some(format!(
                "DescribeDBInstances was not allowed ({e}); the limits come from the caller's overrides only."
            )),
        ),
        Err(SourceError::NotFound { .. }) => {
            return Err(SourceError::NotFound {
                what: format!("DB instance `{id}` (region {region})"),
            });
        }
        Err(e) => return Err(e),
    };
    let series = series?;
    notes.extend(series.notes);
    let account = match identity {
        Ok(out) => out.account().map(str::to_owned),
        Err(e) => {
            let e = classify("sts", "sts:GetCallerIdentity", e);
            notes.push(format!(
                "The account could not be read (sts:GetCallerIdentity: {e}); it is reported as unknown."
            ));
            None
        }
    };
    tracing::debug!(
        region,
        start,
        end,
        metrics = series.series.len(),
        "collected AWS/RDS sample"
    );
    Ok(Sample {
        region,
        account,
        start,
        end,
        description,
        description_note,
        series: series.series,
        notes,
    })
}

/// Reads a load balancer's CloudWatch series over the checked window, bounded by
/// [`COLLECT_TIMEOUT`] as a whole. No datapoints is not a failure: the analysis says what
/// that means. A denied GetMetricData, bad credentials, throttling and timeouts are.
pub async fn collect_load_balancer(w: &LoadBalancerWindow) -> Result<LbSample, SourceError> {
    let collect = async {
        let config = load(w.region.as_deref(), None).await?;
        let region = config
            .region()
            .map(|r| r.as_ref().to_owned())
            .ok_or(SourceError::NoRegion)?;
        let cw = aws_sdk_cloudwatch::Client::new(&config);
        let (series, notes) = cloudwatch::fetch_load_balancer(&cw, w).await?;
        tracing::debug!(
            region,
            start = w.start,
            end = w.end,
            series = series.len(),
            "collected load balancer sample"
        );
        Ok(LbSample {
            region,
            series,
            notes,
        })
    };
    match tokio::time::timeout(COLLECT_TIMEOUT, collect).await {
        Ok(result) => result,
        Err(_) => Err(SourceError::Timeout {
            service: "AWS".to_owned(),
            detail: format!("no answer within {} s", COLLECT_TIMEOUT.as_secs()),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_key_shapes_are_redacted() {
        let text = "key AKIAIOSFODNN7EXAMPLE and ASIA1234567890ABCDEF, not AKIA-short";
        let out = redact(text);
        assert!(!out.contains("AKIAIOSFODNN7EXAMPLE"), "{out}");
        assert!(!out.contains("ASIA1234567890ABCDEF"), "{out}");
        assert!(out.contains("AKIA-short"));
    }
}
