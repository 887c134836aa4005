//! python-web-troubleshooter: find out why a Python web service is slow or out of capacity.
//!
//! Workers are buffers, replicas are scale-out, and latency is what actually determines
//! capacity. The crate is laid out so that this rule lives in one place:
//! - [`diagnosis`]: the pure core — numbers in, findings out;
//! - [`input`]: turns JSON arguments (from MCP or a file) into the core's typed inputs;
//! - [`render`]: the human-readable summary of each report;
//! - [`sources`]: I/O adapters that turn outside systems (access logs, worker metrics, the
//!   accept queue, databases, CloudWatch, RDS) into plain data;
//! - [`flows`]: one call of each tool that reaches outside — validate once, gather from the
//!   sources, analyse with the core, combine by value;
//! - [`error`]: the one error a tool call ends with, of five kinds;
//! - [`progress`]: how far a long call has got, for an MCP client or a terminal;
//! - [`server`]: the MCP server (tools, prompts, instructions);
//! - [`config`]: the operator's database targets and settings;
//! - [`cli`]: the same analyses for a person at a terminal.

pub mod cli;
pub mod config;
pub mod diagnosis;
pub mod error;
pub mod flows;
pub mod input;
pub mod progress;
pub mod render;
pub mod server;
pub mod sources;
