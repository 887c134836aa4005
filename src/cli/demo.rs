//! `demo`: a bundled incident walked through Steps 1–4 with the real analyses, for someone
//! with no service at hand. Each step feeds the next exactly as an agent would: the
//! observations of Step 1 go to the matcher unchanged, plus what a person saw on dashboards.

use anyhow::{Context, Result};
use serde_json::{Map, Value};

use crate::diagnosis::{capacity, latency, symptoms};
use crate::input;
use crate::render::Summary;

const INCIDENT: &str = include_str!("../../examples/incident.json");

pub fn run(as_json: bool) -> Result<()> {
    let incident: Value = serde_json::from_str(INCIDENT).context("bundled incident")?;
    let section = |name: &str| {
        incident
            .get(name)
            .cloned()
            .with_context(|| format!("bundled incident has no `{name}`"))
    };

    let step1: latency::LatencyInput = input::parse_value(section("step1_break_down_latency")?)?;
    // The bundled incident names no log, so no time window needs the clock.
    let latency = latency::analyze(&latency::check(step1, 0)?)?;

    let mut observations = match serde_json::to_value(&latency.observations)? {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    if let Value::Object(extra) = section("step2_also_observed")? {
        observations.extend(extra);
    }
    let mut match_args = Map::new();
    match_args.insert("observations".into(), Value::Object(observations));
    let step2: symptoms::MatchInput = input::parse(match_args)?;
    let matched = symptoms::analyze(&step2)?;

    let step3: capacity::CapacityInput = input::parse_value(section("step3_capacity_math")?)?;
    let capacity = capacity::analyze(&step3)?;

    if as_json {
        let all = serde_json::json!([
            {"step": "break_down_latency", "report": latency},
            {"step": "match_symptom", "report": matched},
            {"step": "capacity_math", "report": capacity},
        ]);
        return super::write_out(&(serde_json::to_string_pretty(&all)? + "\n"));
    }
    let title = incident["title"].as_str().unwrap_or_default();
    let stack = incident["stack"].as_str().unwrap_or_default();
    super::write_out(&format!(
        "Example incident: {title}\nStack: {stack}\n\n\
         == Step 1 — break_down_latency: where does the time go? ==\n{}\n\
         == Step 2 — match_symptom: which symptom is this? ==\n{}\n\
         == Steps 4–5 — capacity_math: ceiling, queue and what-if ==\n{}\n\
         Run `python-web-troubleshooter --help` for the same analyses on your own figures, or `serve` for the MCP server.\n",
        latency.summary(),
        matched.summary(),
        capacity.summary()
    ))
}
