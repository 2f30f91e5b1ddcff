//! The language-neutral interop scenario: its steps and the comparison of an outcome with them.
use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;

#[derive(Deserialize, Default)]
pub struct Expect {
    pub code: String,
    #[serde(default)]
    pub reason: String,
    pub field_violations: Option<Vec<String>>,
    #[serde(default)]
    pub same_user: bool,
    #[serde(default)]
    pub display_name: String,
    #[serde(default)]
    pub min_pages: usize,
    // Fields of an order or an account answered; absent ones are not checked.
    pub state: Option<String>,
    pub rejection_reason: Option<String>,
    pub total_minor: Option<i64>,
    pub reserved_minor: Option<i64>,
    pub credit_limit_minor: Option<i64>,
}

#[derive(Deserialize)]
pub struct LineItem {
    pub sku: String,
    pub quantity: i32,
    pub unit_price_minor: i64,
}

#[derive(Deserialize)]
pub struct Step {
    pub name: String,
    #[serde(default = "users")]
    pub service: String,
    pub call: String,
    #[serde(default)]
    pub display_name: String,
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub request_id: String,
    #[serde(default)]
    pub seed_users: usize,
    #[serde(default)]
    pub page_size: i32,
    #[serde(default)]
    pub update_mask: Vec<String>,
    #[serde(default)]
    pub etag: String,
    pub token: Option<bool>,
    pub deadline_ms: Option<u64>,
    pub wait_ms: Option<u64>,
    #[serde(default)]
    pub order: String,
    #[serde(default)]
    pub order_name: String,
    #[serde(default)]
    pub line_items: Vec<LineItem>,
    #[serde(default)]
    pub currency_code: String,
    #[serde(default)]
    pub credit_limit_minor: i64,
    pub expect: Expect,
}

fn users() -> String {
    "users".into()
}

/// Where a service's steps go: its error domain and the variables naming its target and its
/// published service config.
#[derive(Deserialize)]
pub struct Service {
    pub error_domain: String,
    pub target_env: String,
    pub service_config_env: String,
}

#[derive(Deserialize)]
pub struct Scenario {
    pub services: HashMap<String, Service>,
    pub codes: Vec<String>,
    pub steps: Vec<Step>,
}

/// What a call produced: its status, the decoded error details and, for an order or an account,
/// its fields as the scenario names them (enum values by their proto names).
#[derive(Default)]
pub struct Outcome {
    pub code: String,
    pub domain: String,
    pub reason: String,
    pub violations: Vec<String>,
    pub values: BTreeMap<&'static str, String>,
}

impl Expect {
    /// The answer fields the expectation names, as text.
    fn values(&self) -> BTreeMap<&'static str, String> {
        let texts = [
            ("state", self.state.clone()),
            ("rejection_reason", self.rejection_reason.clone()),
        ];
        let numbers = [
            ("total_minor", self.total_minor),
            ("reserved_minor", self.reserved_minor),
            ("credit_limit_minor", self.credit_limit_minor),
        ];
        texts
            .into_iter()
            .filter_map(|(name, value)| value.map(|v| (name, v)))
            .chain(
                numbers
                    .into_iter()
                    .filter_map(|(name, value)| value.map(|v| (name, v.to_string()))),
            )
            .collect()
    }

    /// The expectation in a line, for a step that waited for it in vain.
    pub fn describe(&self) -> String {
        let mut parts = vec![format!("code {}", self.code)];
        if !self.reason.is_empty() {
            parts.push(format!("reason {}", self.reason));
        }
        parts.extend(
            self.values()
                .iter()
                .map(|(name, want)| format!("{name} {want}")),
        );
        parts.join(", ")
    }
}

impl Scenario {
    pub fn load(path: &str) -> Result<Self, Box<dyn std::error::Error>> {
        Ok(serde_json::from_str(&std::fs::read_to_string(path)?)?)
    }

    /// What differs between the outcome and the step's expectation; empty when they agree.
    pub fn mismatch(&self, step: &Step, outcome: &Outcome) -> String {
        let expect = &step.expect;
        let domain = &self.services[&step.service].error_domain;
        let mut problems = Vec::new();
        if outcome.code != expect.code {
            problems.push(format!("code {}, expected {}", outcome.code, expect.code));
        }
        if !expect.reason.is_empty()
            && (outcome.reason != expect.reason || &outcome.domain != domain)
        {
            problems.push(format!(
                "ErrorInfo {}/{}, expected {domain}/{}",
                outcome.domain, outcome.reason, expect.reason
            ));
        }
        if let Some(want) = &expect.field_violations {
            let (mut got, mut want) = (outcome.violations.clone(), want.clone());
            got.sort();
            want.sort();
            if got != want {
                problems.push(format!("BadRequest fields {got:?}, expected {want:?}"));
            }
        }
        if outcome.code == "OK" {
            for (name, want) in expect.values() {
                let got = outcome.values.get(name).map_or("", String::as_str);
                if got != want {
                    problems.push(format!("{name} {got}, expected {want}"));
                }
            }
        }
        problems.join("; ")
    }
}
