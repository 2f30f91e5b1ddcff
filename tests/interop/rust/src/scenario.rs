//! The language-neutral interop scenario: its steps and the comparison of an outcome with them.
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
}

#[derive(Deserialize)]
pub struct Step {
    pub name: String,
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
    pub expect: Expect,
}

#[derive(Deserialize)]
pub struct Scenario {
    pub error_domain: String,
    pub codes: Vec<String>,
    pub steps: Vec<Step>,
}

/// What a call produced: its status and the decoded error details.
#[derive(Default)]
pub struct Outcome {
    pub code: String,
    pub domain: String,
    pub reason: String,
    pub violations: Vec<String>,
}

impl Scenario {
    pub fn load(path: &str) -> Result<Self, Box<dyn std::error::Error>> {
        Ok(serde_json::from_str(&std::fs::read_to_string(path)?)?)
    }

    /// What differs between the outcome and the expectation; empty when they agree.
    pub fn mismatch(&self, expect: &Expect, outcome: &Outcome) -> String {
        let mut problems = Vec::new();
        if outcome.code != expect.code {
            problems.push(format!("code {}, expected {}", outcome.code, expect.code));
        }
        if !expect.reason.is_empty()
            && (outcome.reason != expect.reason || outcome.domain != self.error_domain)
        {
            problems.push(format!(
                "ErrorInfo {}/{}, expected {}/{}",
                outcome.domain, outcome.reason, self.error_domain, expect.reason
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
        problems.join("; ")
    }
}
