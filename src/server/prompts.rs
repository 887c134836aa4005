//! MCP prompts, loaded from `prompts/*.md`.
//!
//! Each file is TOML front matter between `+++` lines (name, title, description and
//! `[[arguments]]`) followed by the markdown body of the user message, where `{{argument}}`
//! is replaced by the argument's value and an optional argument left out reads `(not given)`.
//! The texts live in files so that they can be reviewed as prose; they are compiled in with
//! `include_str!`, and a unit test proves every one of them parses.

use std::sync::LazyLock;

use rmcp::{
    ErrorData,
    model::{GetPromptResult, JsonObject, Prompt, PromptArgument, PromptMessage, Role},
};
use serde::Deserialize;

const SOURCES: &[(&str, &str)] = &[
    (
        "troubleshoot.md",
        include_str!("../../prompts/troubleshoot.md"),
    ),
    (
        "incident_triage.md",
        include_str!("../../prompts/incident_triage.md"),
    ),
    (
        "capacity_review.md",
        include_str!("../../prompts/capacity_review.md"),
    ),
];

/// Text substituted for an optional argument that was not given.
pub const NOT_GIVEN: &str = "(not given)";

/// Longest argument value accepted, in characters; a prompt argument is a name or a figure.
const MAX_ARGUMENT_CHARS: usize = 2_000;

/// One prompt file, parsed.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromptTemplate {
    pub name: String,
    pub title: String,
    pub description: String,
    #[serde(default)]
    pub arguments: Vec<ArgumentSpec>,
    #[serde(skip)]
    pub body: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArgumentSpec {
    pub name: String,
    pub description: String,
    #[serde(default)]
    pub required: bool,
}

/// Parses one prompt file.
pub fn parse(file: &str, text: &str) -> Result<PromptTemplate, String> {
    let rest = text
        .strip_prefix("+++\n")
        .ok_or_else(|| format!("{file}: must start with a `+++` line"))?;
    let end = rest
        .find("\n+++\n")
        .ok_or_else(|| format!("{file}: front matter is not closed by a `+++` line"))?;
    let mut template: PromptTemplate =
        toml::from_str(&rest[..end]).map_err(|e| format!("{file}: {e}"))?;
    template.body = rest[end + 5..].trim().to_owned();
    for arg in &template.arguments {
        if !template.body.contains(&format!("{{{{{}}}}}", arg.name)) {
            return Err(format!(
                "{file}: argument `{}` is not used in the body",
                arg.name
            ));
        }
    }
    Ok(template)
}

/// Every prompt, parsed once.
pub fn prompt_templates() -> &'static [PromptTemplate] {
    static TEMPLATES: LazyLock<Vec<PromptTemplate>> = LazyLock::new(|| {
        SOURCES
            .iter()
            .map(|(file, text)| {
                parse(file, text).unwrap_or_else(|e| panic!("bundled prompt is invalid: {e}"))
            })
            .collect()
    });
    &TEMPLATES
}

pub(super) fn list() -> Vec<Prompt> {
    prompt_templates()
        .iter()
        .map(|t| {
            let args = t
                .arguments
                .iter()
                .map(|a| {
                    PromptArgument::new(&a.name)
                        .with_description(&a.description)
                        .with_required(a.required)
                })
                .collect();
            Prompt::new(&t.name, Some(&t.description), Some(args)).with_title(&t.title)
        })
        .collect()
}

/// Renders a prompt, or explains which argument is missing or wrong.
pub fn render(template: &PromptTemplate, arguments: Option<&JsonObject>) -> Result<String, String> {
    let empty = JsonObject::new();
    let arguments = arguments.unwrap_or(&empty);
    if let Some(unknown) = arguments
        .keys()
        .find(|k| !template.arguments.iter().any(|a| &a.name == *k))
    {
        let known: Vec<_> = template.arguments.iter().map(|a| a.name.as_str()).collect();
        return Err(format!(
            "prompt `{}` has no argument `{unknown}`; its arguments are: {}",
            template.name,
            known.join(", ")
        ));
    }
    let mut body = template.body.clone();
    for spec in &template.arguments {
        let value = match arguments.get(&spec.name) {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::String(s)) => {
                Some(s.trim().to_owned()).filter(|s| !s.is_empty())
            }
            Some(serde_json::Value::Number(n)) => Some(n.to_string()),
            Some(serde_json::Value::Bool(b)) => Some(b.to_string()),
            Some(_) => return Err(format!("argument `{}` must be a string", spec.name)),
        };
        let value = match value {
            Some(v) if v.chars().count() > MAX_ARGUMENT_CHARS => {
                return Err(format!(
                    "argument `{}` is longer than {MAX_ARGUMENT_CHARS} characters",
                    spec.name
                ));
            }
            Some(v) => v,
            None if spec.required => {
                return Err(format!(
                    "prompt `{}` needs the argument `{}`: {}",
                    template.name, spec.name, spec.description
                ));
            }
            None => NOT_GIVEN.to_owned(),
        };
        body = body.replace(&format!("{{{{{}}}}}", spec.name), &value);
    }
    Ok(body)
}

pub(super) fn get(
    name: &str,
    arguments: Option<&JsonObject>,
) -> Result<GetPromptResult, ErrorData> {
    let template = prompt_templates()
        .iter()
        .find(|t| t.name == name)
        .ok_or_else(|| {
            let names: Vec<_> = prompt_templates().iter().map(|t| t.name.as_str()).collect();
            ErrorData::invalid_params(
                format!("unknown prompt `{name}`; available: {}", names.join(", ")),
                None,
            )
        })?;
    let body = render(template, arguments).map_err(|e| ErrorData::invalid_params(e, None))?;
    Ok(
        GetPromptResult::new(vec![PromptMessage::new_text(Role::User, body)])
            .with_description(&template.description),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_bundled_prompt_parses_and_uses_its_arguments() {
        let names: Vec<_> = prompt_templates().iter().map(|t| t.name.as_str()).collect();
        assert_eq!(
            names,
            ["troubleshoot", "incident_triage", "capacity_review"]
        );
        for t in prompt_templates() {
            assert!(!t.description.is_empty());
            assert!(
                t.arguments.iter().any(|a| a.required),
                "{} has no required argument",
                t.name
            );
            assert!(!t.body.contains("+++"), "{}", t.name);
        }
    }

    #[test]
    fn render_fills_arguments_and_marks_the_rest() {
        let t = prompt_templates()
            .iter()
            .find(|t| t.name == "incident_triage")
            .unwrap();
        let args = json!({"transaction": "GET /api/orders/{id}", "span_sql": "SELECT * FROM orders WHERE id = %s"});
        let body = render(t, args.as_object()).unwrap();
        assert!(body.contains("GET /api/orders/{id}"));
        // Each Sentry field is mapped to the tool argument it feeds.
        assert!(
            body.contains(
                "| span SQL | SELECT * FROM orders WHERE id = %s | `slow_queries` `query_text`"
            ),
            "{body}"
        );
        assert!(body.contains("`break_down_latency` `endpoint`"), "{body}");
        assert!(body.contains(NOT_GIVEN));
        assert!(!body.contains("{{"), "unreplaced placeholder in {body}");
    }

    #[test]
    fn render_rejects_missing_and_unknown_arguments() {
        let t = prompt_templates()
            .iter()
            .find(|t| t.name == "capacity_review")
            .unwrap();
        assert!(render(t, None).unwrap_err().contains("replicas"));
        let args =
            json!({"replicas": 1, "workers_per_replica": 2, "avg_latency_ms": 3, "colour": "red"});
        assert!(render(t, args.as_object()).unwrap_err().contains("colour"));
    }

    #[test]
    fn malformed_files_are_rejected() {
        assert!(parse("x.md", "no front matter").is_err());
        assert!(parse("x.md", "+++\nname = \"x\"\n").is_err());
        let unused = "+++\nname=\"x\"\ntitle=\"t\"\ndescription=\"d\"\n[[arguments]]\nname=\"a\"\ndescription=\"d\"\n+++\nbody";
        assert!(parse("x.md", unused).unwrap_err().contains("not used"));
    }
}
