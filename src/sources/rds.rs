//! RDS: what the instance's storage was provisioned with (DescribeDBInstances).

use aws_sdk_rds::Client;

use super::aws::{SourceError, classify};
use crate::diagnosis::storage::InstanceDescription;

/// Describes one DB instance. An unknown identifier is [`SourceError::NotFound`].
pub async fn describe(
    client: &Client,
    db_instance_identifier: &str,
) -> Result<InstanceDescription, SourceError> {
    let response = client
        .describe_db_instances()
        .db_instance_identifier(db_instance_identifier)
        .send()
        .await
        .map_err(|e| classify("rds", "rds:DescribeDBInstances", e))?;
    let Some(db) = response.db_instances().first() else {
        return Err(SourceError::NotFound {
            what: format!("DB instance `{db_instance_identifier}`"),
        });
    };
    Ok(InstanceDescription {
        storage_type: db.storage_type().map(str::to_owned),
        allocated_storage_gib: db.allocated_storage().map(f64::from),
        iops: db.iops().filter(|i| *i > 0).map(f64::from),
        storage_throughput_mibps: db.storage_throughput().filter(|t| *t > 0).map(f64::from),
        instance_class: db.db_instance_class().map(str::to_owned),
        engine: db.engine().map(str::to_owned),
    })
}
