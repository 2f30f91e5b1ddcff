// The order flow of the interop scenario over connect-es's gRPC transport: the subject user's
// billing account (billing.v1), and orders whose total it reserves (order.v1).
import { randomUUID } from "node:crypto";
import { create, type DescEnum } from "@bufbuild/protobuf";
import { FieldMaskSchema } from "@bufbuild/protobuf/wkt";
import { type CallOptions, type Client, createClient, type Transport } from "@connectrpc/connect";
import {
  type Account,
  AccountSchema,
  Account_StateSchema,
  BillingService,
} from "../../../../gen/ts/billing/v1/billing_pb.js";
import {
  LineItemSchema,
  type Order,
  OrderSchema,
  OrderService,
  Order_RejectionReasonSchema,
  Order_StateSchema,
} from "../../../../gen/ts/order/v1/order_pb.js";
import { type Resilience, loadResilience } from "./resilience.js";
import { type Outcome, type Scenario, type Step, serviceOf } from "./scenario.js";

/** A connect-es gRPC transport to `target` (host:port or dns:///host:port) on the service config. */
/** An enum value by its proto name (STATE_APPROVED), as the scenario writes it. */
function nameOf(schema: DescEnum, value: number): string {
  return schema.value[value]?.name ?? String(value);
}

interface Connected<S> {
  client: S;
  timeoutMs: number;
}

export class OrderFlow {
  private account?: Account;
  private readonly labelled = new Map<string, Order>();
  private requestId = "";

  constructor(
    private readonly orders: Connected<Client<typeof OrderService>> | undefined,
    private readonly billing: Connected<Client<typeof BillingService>> | undefined,
    private readonly token: string,
    private readonly runId: string,
    // The client's decoding of a failed call, and the subject user's name (users/ID).
    private readonly outcomeOf: (error: unknown) => Outcome,
    private readonly subject: () => string,
  ) {}

  /** Whether the step's service has a target (INTEROP_ORDERS_TARGET, INTEROP_BILLING_TARGET). */
  serves(step: Step): boolean {
    return serviceOf(step) === "orders" ? this.orders !== undefined : this.billing !== undefined;
  }

  /** Runs a step; a thrown call error is its outcome, a returned string a problem. */
  async run(step: Step): Promise<[Outcome, string]> {
    if (!this.subject()) return [{ code: "" }, "no subject user: the create step failed"];
    try {
      return await this.call(step);
    } catch (error) {
      return [this.outcomeOf(error), ""];
    }
  }

  private options(step: Step, timeoutMs: number): CallOptions {
    const headers: Record<string, string> = {};
    if (step.token !== false) headers.authorization = `Bearer ${this.token}`;
    return { headers, timeoutMs: step.deadline_ms ?? timeoutMs };
  }

  private nextRequestId(step: Step): string {
    if (step.request_id === "fresh") this.requestId = randomUUID();
    if (step.request_id === "none") this.requestId = "";
    return this.requestId;
  }

  private call(step: Step): Promise<[Outcome, string]> {
    switch (step.call) {
      case "GetAccount":
      case "UpdateAccount":
        return this.accountCall(step, this.billing as Connected<Client<typeof BillingService>>);
      case "CreateOrder":
      case "GetOrder":
      case "CancelOrder":
        return this.orderCall(step, this.orders as Connected<Client<typeof OrderService>>);
    }
    return Promise.resolve([{ code: "" }, `unknown call ${step.call}`]);
  }

  private async accountCall(step: Step, billing: Connected<Client<typeof BillingService>>): Promise<[Outcome, string]> {
    const name = this.subject().replace(/^users\//, "accounts/");
    const options = this.options(step, billing.timeoutMs);
    let account: Account;
    if (step.call === "GetAccount") {
      account = await billing.client.getAccount({ name }, options);
    } else {
      if (!this.account) return [{ code: "" }, "no account seen yet: an earlier GetAccount step failed"];
      const etag = step.etag === "current" ? this.account.etag : "";
      account = await billing.client.updateAccount(
        {
          account: create(AccountSchema, { name, creditLimitMinor: BigInt(step.credit_limit_minor ?? 0), etag }),
          updateMask: create(FieldMaskSchema, { paths: step.update_mask ?? [] }),
        },
        options,
      );
    }
    this.account = account;
    const values = {
      state: nameOf(Account_StateSchema, account.state),
      reserved_minor: String(account.reservedMinor),
      credit_limit_minor: String(account.creditLimitMinor),
    };
    return [{ code: "OK", values }, ""];
  }

  /** The order a step names: literally (order_name) or by the label of an earlier step. */
  private orderName(step: Step): string | undefined {
    return step.order_name ? step.order_name.replaceAll("{run}", this.runId) : this.labelled.get(step.order ?? "")?.name;
  }

  private async orderCall(step: Step, orders: Connected<Client<typeof OrderService>>): Promise<[Outcome, string]> {
    const options = this.options(step, orders.timeoutMs);
    let order: Order;
    if (step.call === "CreateOrder") {
      const lineItems = (step.line_items ?? []).map((line) =>
        create(LineItemSchema, {
          sku: line.sku,
          quantity: line.quantity,
          unitPriceMinor: BigInt(line.unit_price_minor),
        }),
      );
      const wanted = create(OrderSchema, { user: this.subject(), lineItems, currencyCode: step.currency_code ?? "" });
      order = await orders.client.createOrder({ order: wanted, requestId: this.nextRequestId(step) }, options);
    } else {
      const name = this.orderName(step);
      if (!name) return [{ code: "" }, `no order labelled ${step.order}: the step that creates it failed`];
      if (step.call === "GetOrder") {
        order = await orders.client.getOrder({ name }, options);
      } else {
        const etag = step.etag === "current" ? (this.labelled.get(step.order ?? "")?.etag ?? "") : "";
        order = await orders.client.cancelOrder({ name, etag, requestId: this.nextRequestId(step) }, options);
      }
    }
    if (step.order) this.labelled.set(step.order, order);
    const values = {
      state: nameOf(Order_StateSchema, order.state),
      rejection_reason: nameOf(Order_RejectionReasonSchema, order.rejectionReason),
      total_minor: String(order.totalMinor),
    };
    return [{ code: "OK", values }, ""];
  }
}

/**
 * The order flow on the services whose target variable is set (each on its service config),
 * over the transport `transportFor` makes (connect-es's gRPC transport unless told otherwise).
 */
export function openOrderFlow(
  scenario: Scenario,
  token: string,
  runId: string,
  outcomeOf: (error: unknown) => Outcome,
  subject: () => string,
  transportFor: (target: string, resilience: Resilience) => Transport,
): OrderFlow {
  const connect = <S extends typeof OrderService | typeof BillingService>(service: string, desc: S) => {
    const { target_env: targetEnv, service_config_env: configEnv } = scenario.services[service];
    const target = process.env[targetEnv];
    if (!target) return undefined;
    const config = process.env[configEnv];
    if (!config) throw new Error(`${configEnv} is not set`);
    const resilience = loadResilience(config, scenario.codes);
    return { client: createClient(desc, transportFor(target, resilience)), timeoutMs: resilience.timeoutMs };
  };
  return new OrderFlow(
    connect("orders", OrderService),
    connect("billing", BillingService),
    token,
    runId,
    outcomeOf,
    subject,
  );
}
