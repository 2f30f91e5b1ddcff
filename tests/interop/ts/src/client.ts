// Runs the shared interop scenario against usersuite with connect-es, over gRPC (to the API), or
// over gRPC-Web or the Connect protocol (through the Envoy gateway): the same generated client,
// another transport.
//
// Configuration comes from the environment, the same for every interop client: INTEROP_TARGET
// (host:port, or the gateway's URL), INTEROP_TOKEN, INTEROP_SCENARIO, INTEROP_SERVICE_CONFIG and
// INTEROP_RUN_ID; INTEROP_TRANSPORT is grpc (the default), grpc-web or connect. The order flow
// (orders.ts) runs when INTEROP_ORDERS_TARGET and INTEROP_BILLING_TARGET are set.
import { randomUUID } from "node:crypto";
import { create, createRegistry } from "@bufbuild/protobuf";
import { FieldMaskSchema } from "@bufbuild/protobuf/wkt";
import { type CallOptions, type Client, ConnectError, type Interceptor, type Transport, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import {
  BadRequestSchema,
  ErrorInfoSchema,
  file_google_rpc_error_details,
} from "../build/google/rpc/error_details_pb.js";
import { type User, UserSchema, UserService } from "../../../../gen/ts/user/v1/user_pb.js";
import { loadResilience } from "./resilience.js";
import { openOrderFlow } from "./orders.js";
import { type Outcome, type Scenario, type Step, attempt, loadScenario, serviceOf } from "./scenario.js";

const MAX_PAGES = 1000;
// Every google.rpc detail type, to tell a detail that does not decode from one we do not read.
const RPC_DETAILS = createRegistry(file_google_rpc_error_details);

function env(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

/** A failed call's status with its google.rpc details, decoded natively by ConnectError. */
function outcomeOf(scenario: Scenario, error: unknown): Outcome {
  const failure = ConnectError.from(error);
  const outcome: Outcome = { code: scenario.codes[failure.code] };
  for (const info of failure.findDetails(ErrorInfoSchema)) {
    outcome.domain = info.domain;
    outcome.reason = info.reason;
  }
  for (const bad of failure.findDetails(BadRequestSchema)) {
    outcome.violations = bad.fieldViolations.map((violation) => violation.field);
  }
  // findDetails skips what it cannot decode; a detail nobody can read is a broken contract.
  const undecodable = failure.details.length - failure.findDetails(RPC_DETAILS).length;
  if (undecodable > 0) {
    outcome.code = `UNDECODABLE_DETAIL (${undecodable} of ${failure.details.length})`;
  }
  return outcome;
}

class Runner {
  private subject?: User;
  private requestId = "";
  private staleEtag = "";

  constructor(
    private readonly scenario: Scenario,
    private readonly client: Client<typeof UserService>,
    private readonly token: string,
    private readonly runId: string,
    private readonly timeoutMs: number,
  ) {}

  get subjectName(): string {
    return this.subject?.name ?? "";
  }

  private options(step: Step): CallOptions {
    const headers: Record<string, string> = {};
    if (step.token !== false) headers.authorization = `Bearer ${this.token}`;
    return { headers, timeoutMs: step.deadline_ms ?? this.timeoutMs };
  }

  private text(value: string | undefined): string {
    return (value ?? "").replaceAll("{run}", this.runId);
  }

  /** Runs a step; a thrown call error is its outcome, a returned string a problem. */
  async run(step: Step): Promise<[Outcome, string]> {
    if (step.call !== "CreateUser" && !this.subject) {
      return [{ code: "" }, "no subject user: the create step failed"];
    }
    try {
      return [{ code: "OK" }, await this.call(step)];
    } catch (error) {
      return [outcomeOf(this.scenario, error), ""];
    }
  }

  private async call(step: Step): Promise<string> {
    const subject = this.subject as User;
    switch (step.call) {
      case "CreateUser":
        return this.create(step);
      case "GetUser":
        return this.checkName(step, await this.client.getUser({ name: subject.name }, this.options(step)));
      case "ListUsers":
        return this.list(step, subject);
      case "UpdateUser":
        return this.update(step, subject);
      case "DeleteUser":
        await this.client.deleteUser({ name: subject.name, etag: this.etag(step, subject) }, this.options(step));
        return "";
    }
    return `unknown call ${step.call}`;
  }

  private checkName(step: Step, user: User): string {
    const want = step.expect.display_name;
    return want && user.displayName !== want ? `display_name ${user.displayName}, expected ${want}` : "";
  }

  private etag(step: Step, subject: User): string {
    return step.etag === "stale" ? this.staleEtag : subject.etag;
  }

  private async create(step: Step): Promise<string> {
    if (step.request_id === "fresh") this.requestId = randomUUID();
    if (step.request_id === "none") this.requestId = "";
    const user = await this.client.createUser(
      {
        user: create(UserSchema, { displayName: step.display_name, email: this.text(step.email) }),
        requestId: this.requestId,
      },
      this.options(step),
    );
    if (step.expect.same_user && user.name !== this.subject?.name) {
      return `retry returned ${user.name}, not the first call's user`;
    }
    if (step.request_id === "fresh") this.subject = user;
    return "";
  }

  private async list(step: Step, subject: User): Promise<string> {
    for (let i = 0; i < (step.seed_users ?? 0); i++) {
      const user = create(UserSchema, { displayName: `Seed ${i}`, email: this.text(`seed${i}.{run}@example.com`) });
      await this.client.createUser({ user }, this.options(step));
    }
    let pages = 0;
    let found = false;
    let pageToken = "";
    while (pages < MAX_PAGES) {
      const page = await this.client.listUsers({ pageSize: step.page_size, pageToken }, this.options(step));
      pages++;
      found ||= page.users.some((user) => user.name === subject.name);
      pageToken = page.nextPageToken;
      if (!pageToken) break;
    }
    return pages < (step.expect.min_pages ?? 0) || !found ? `${pages} pages, subject listed: ${found}` : "";
  }

  private async update(step: Step, subject: User): Promise<string> {
    const user = await this.client.updateUser(
      {
        user: create(UserSchema, { name: subject.name, displayName: step.display_name, etag: this.etag(step, subject) }),
        updateMask: create(FieldMaskSchema, { paths: step.update_mask ?? [] }),
      },
      this.options(step),
    );
    if (user.etag === subject.etag) return "the etag did not change";
    this.staleEtag = subject.etag;
    this.subject = user;
    return this.checkName(step, user);
  }
}

/** The transport by name; `target` is host:port (dns:///host:port) or a URL used as it is. */
function transportFor(kind: string, target: string, retry: Interceptor, timeoutMs: number): Transport {
  const baseUrl = /^https?:\/\//.test(target) ? target : `http://${target.replace(/^dns:\/\/\//, "")}`;
  const common = { baseUrl, interceptors: [retry], defaultTimeoutMs: timeoutMs };
  switch (kind) {
    case "grpc":
      // HTTP/2 keepalive: PING every 60 s while calls are open, give up after 20 s without a reply.
      return createGrpcTransport({ ...common, pingIntervalMs: 60_000, pingTimeoutMs: 20_000 });
    case "grpc-web":
      // HTTP/1.1, as a browser calls the gateway.
      return createGrpcWebTransport({ ...common, httpVersion: "1.1" });
    case "connect":
      // Binary, which Envoy's connect_grpc_bridge turns into gRPC (it does not transcode JSON).
      return createConnectTransport({ ...common, httpVersion: "1.1", useBinaryFormat: true });
  }
  throw new Error(`INTEROP_TRANSPORT is ${kind}: grpc, grpc-web or connect`);
}

async function main(): Promise<number> {
  const scenario = loadScenario(env("INTEROP_SCENARIO"));
  const resilience = loadResilience(env("INTEROP_SERVICE_CONFIG"), scenario.codes);
  const kind = process.env.INTEROP_TRANSPORT ?? "grpc";
  const transport = transportFor(
    kind,
    env("INTEROP_TARGET"),
    resilience.retry,
    resilience.timeoutMs,
  );
  const client = createClient(UserService, transport);
  const runner = new Runner(scenario, client, env("INTEROP_TOKEN"), env("INTEROP_RUN_ID"), resilience.timeoutMs);
  const flow = openOrderFlow(
    scenario,
    env("INTEROP_TOKEN"),
    env("INTEROP_RUN_ID"),
    (error) => outcomeOf(scenario, error),
    () => runner.subjectName,
    (target, orderResilience) => transportFor(kind, target, orderResilience.retry, orderResilience.timeoutMs),
  );
  let failed = 0;
  let skipped = 0;
  for (const step of scenario.steps) {
    const users = serviceOf(step) === "users";
    if (!users && !flow.serves(step)) {
      skipped++;
      console.log(`SKIP ${step.name}: ${scenario.services[serviceOf(step)].target_env} is not set`);
      continue;
    }
    const [outcome, problem] = await attempt(scenario, step, () => (users ? runner.run(step) : flow.run(step)));
    if (problem) {
      failed++;
      console.log(`FAIL ${step.name}: ${problem}`);
    } else {
      console.log(`PASS ${step.name} code=${outcome.code} reason=${outcome.reason ?? ""}`);
    }
  }
  const ran = scenario.steps.length - skipped;
  console.log(`ts (${kind}): ${ran - failed} of ${ran} steps passed (${skipped} skipped)`);
  return failed ? 1 : 0;
}

process.exitCode = await main();
