// The language-neutral interop scenario: its steps and the comparison of an outcome with them.
import { readFileSync } from "node:fs";

export interface Expect {
  code: string;
  reason?: string;
  field_violations?: string[];
  same_user?: boolean;
  display_name?: string;
  min_pages?: number;
}

export interface Step {
  name: string;
  call: string;
  display_name?: string;
  email?: string;
  request_id?: "fresh" | "previous" | "none";
  seed_users?: number;
  page_size?: number;
  update_mask?: string[];
  etag?: "current" | "stale";
  token?: boolean;
  deadline_ms?: number;
  expect: Expect;
}

export interface Scenario {
  error_domain: string;
  codes: string[];
  steps: Step[];
}

export interface Outcome {
  code: string;
  domain?: string;
  reason?: string;
  violations?: string[];
}

export function loadScenario(path: string): Scenario {
  return JSON.parse(readFileSync(path, "utf8")) as Scenario;
}

/** What differs between the outcome and the expectation; empty when they agree. */
export function mismatch(scenario: Scenario, expect: Expect, outcome: Outcome): string {
  const problems: string[] = [];
  if (outcome.code !== expect.code) {
    problems.push(`code ${outcome.code}, expected ${expect.code}`);
  }
  if (expect.reason && (outcome.reason !== expect.reason || outcome.domain !== scenario.error_domain)) {
    problems.push(
      `ErrorInfo ${outcome.domain}/${outcome.reason}, expected ${scenario.error_domain}/${expect.reason}`,
    );
  }
  if (expect.field_violations) {
    const got = [...(outcome.violations ?? [])].sort().join(",");
    const want = [...expect.field_violations].sort().join(",");
    if (got !== want) {
      problems.push(`BadRequest fields [${got}], expected [${want}]`);
    }
  }
  return problems.join("; ");
}
