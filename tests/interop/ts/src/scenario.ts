// The language-neutral interop scenario: its steps and the comparison of an outcome with them.
import { readFileSync } from "node:fs";

export interface Expect {
  code: string;
  reason?: string;
  field_violations?: string[];
  same_user?: boolean;
  display_name?: string;
  min_pages?: number;
  // Fields of an order or an account answered; absent ones are not checked.
  state?: string;
  rejection_reason?: string;
  total_minor?: number;
  reserved_minor?: number;
  credit_limit_minor?: number;
}

/** The answer fields an expectation may name (Outcome.values holds them as text). */
const VALUE_FIELDS = ["state", "rejection_reason", "total_minor", "reserved_minor", "credit_limit_minor"] as const;

export interface LineItem {
  sku: string;
  quantity: number;
  unit_price_minor: number;
}

export interface Step {
  name: string;
  service?: string;
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
  wait_ms?: number;
  order?: string;
  order_name?: string;
  line_items?: LineItem[];
  currency_code?: string;
  credit_limit_minor?: number;
  expect: Expect;
}

/** Where a service's steps go: its error domain and the variables naming its target and config. */
export interface Service {
  error_domain: string;
  target_env: string;
  service_config_env: string;
}

export interface Scenario {
  services: Record<string, Service>;
  codes: string[];
  steps: Step[];
}

export interface Outcome {
  code: string;
  domain?: string;
  reason?: string;
  violations?: string[];
  values?: Record<string, string>;
}

// A step that waits (wait_ms) calls again after these pauses, doubling from the first.
const FIRST_PAUSE_MS = 20;
const MAX_PAUSE_MS = 500;

export function loadScenario(path: string): Scenario {
  return JSON.parse(readFileSync(path, "utf8")) as Scenario;
}

/** The service a step calls: users unless it says otherwise. */
export function serviceOf(step: Step): string {
  return step.service ?? "users";
}

function expectedValues(expect: Expect): [string, string][] {
  return VALUE_FIELDS.filter((name) => expect[name] !== undefined).map((name) => [name, String(expect[name])]);
}

/** What differs between the outcome and the step's expectation; empty when they agree. */
export function mismatch(scenario: Scenario, step: Step, outcome: Outcome): string {
  const expect = step.expect;
  const domain = scenario.services[serviceOf(step)].error_domain;
  const problems: string[] = [];
  if (outcome.code !== expect.code) {
    problems.push(`code ${outcome.code}, expected ${expect.code}`);
  }
  if (expect.reason && (outcome.reason !== expect.reason || outcome.domain !== domain)) {
    problems.push(`ErrorInfo ${outcome.domain}/${outcome.reason}, expected ${domain}/${expect.reason}`);
  }
  if (expect.field_violations) {
    const got = [...(outcome.violations ?? [])].sort().join(",");
    const want = [...expect.field_violations].sort().join(",");
    if (got !== want) {
      problems.push(`BadRequest fields [${got}], expected [${want}]`);
    }
  }
  if (outcome.code === "OK") {
    for (const [name, want] of expectedValues(expect)) {
      const got = outcome.values?.[name];
      if (got !== want) problems.push(`${name} ${got}, expected ${want}`);
    }
  }
  return problems.join("; ");
}

/** The expectation in a line, for a step that waited for it in vain. */
function describe(expect: Expect): string {
  const parts = [`code ${expect.code}`];
  if (expect.reason) parts.push(`reason ${expect.reason}`);
  for (const [name, want] of expectedValues(expect)) parts.push(`${name} ${want}`);
  return parts.join(", ");
}

/**
 * Runs a step once (`once` returns its outcome and any problem found on the way) and compares
 * the outcome; a step with wait_ms runs again, after a growing pause, until the outcome matches
 * or the time is up.
 */
export async function attempt(
  scenario: Scenario,
  step: Step,
  once: () => Promise<[Outcome, string]>,
): Promise<[Outcome, string]> {
  const giveUp = Date.now() + (step.wait_ms ?? 0);
  let pause = FIRST_PAUSE_MS;
  for (let calls = 1; ; calls++) {
    const [outcome, found] = await once();
    const problem = found || mismatch(scenario, step, outcome);
    if (!problem || !step.wait_ms) return [outcome, problem];
    if (Date.now() + pause >= giveUp) {
      return [outcome, `waited ${step.wait_ms} ms (${calls} calls) for ${describe(step.expect)}; last: ${problem}`];
    }
    await new Promise((resolve) => setTimeout(resolve, pause));
    pause = Math.min(2 * pause, MAX_PAUSE_MS);
  }
}
