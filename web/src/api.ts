// The API as the console calls it: the generated client over the gateway it was served by.
import { Code, type CallOptions, type Client, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { BadRequestSchema, ErrorInfoSchema } from "../build/google/rpc/error_details_pb.js";
import { UserService } from "../../gen/ts/user/v1/user_pb.js";

export type Users = Client<typeof UserService>;

// Calls the console makes without a deadline of their own are cut after this.
const TIMEOUT_MS = 10_000;

/** The client, over the Connect protocol to the origin that served the page. Envoy's
 * connect_grpc_bridge turns Connect into gRPC for the API; it bridges the binary format. */
export function usersClient(): Users {
  const transport = createConnectTransport({
    baseUrl: window.location.origin,
    useBinaryFormat: true,
    defaultTimeoutMs: TIMEOUT_MS,
  });
  return createClient(UserService, transport);
}

/** The bearer token as every call sends it, the same header gRPC clients use. */
export function withToken(token: string): CallOptions {
  return token ? { headers: { authorization: `Bearer ${token}` } } : {};
}

/** The canonical name of a status code, as gRPC documents it: FailedPrecondition -> FAILED_PRECONDITION. */
function codeName(code: Code): string {
  return Code[code].replace(/(?<=[a-z])(?=[A-Z])/g, "_").toUpperCase();
}

/** A failed call as a person reads it: the code and message, then the google.rpc details. */
export function describeError(error: unknown): string[] {
  const failure = ConnectError.from(error);
  const lines = [`${codeName(failure.code)}: ${failure.rawMessage}`];
  for (const info of failure.findDetails(ErrorInfoSchema)) {
    lines.push(`reason ${info.reason} (${info.domain})`);
  }
  for (const bad of failure.findDetails(BadRequestSchema)) {
    for (const violation of bad.fieldViolations) {
      lines.push(`${violation.field}: ${violation.description}`);
    }
  }
  return lines;
}
