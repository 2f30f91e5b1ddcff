// The published gRPC service config, applied the way connect-es allows: the method timeout as
// the default deadline and the retryPolicy as an interceptor (connect-node has no service config).
import { readFileSync } from "node:fs";
import { ConnectError, type Interceptor } from "@connectrpc/connect";

interface RetryPolicy {
  maxAttempts: number;
  initialBackoff: string;
  maxBackoff: string;
  backoffMultiplier: number;
  retryableStatusCodes: string[];
}

interface MethodConfig {
  name: { service: string; method?: string }[];
  timeout: string;
  retryPolicy?: RetryPolicy;
}

interface ServiceConfig {
  methodConfig: MethodConfig[];
}

export interface Resilience {
  timeoutMs: number;
  retry: Interceptor;
}

function durationMs(text: string): number {
  return Number(text.replace(/s$/, "")) * 1000;
}

/** The policy of a method as gRPC picks it: the config naming the method, else its service's. */
function policyOf(config: ServiceConfig, service: string, method: string): RetryPolicy | undefined {
  const named = (exact: boolean) =>
    config.methodConfig.find((entry) =>
      entry.name.some((name) => name.service === service && (exact ? name.method === method : !name.method)),
    );
  return (named(true) ?? named(false))?.retryPolicy;
}

/** Retries the codes the method's policy names with exponential backoff and full jitter (gRFC A6). */
function retryInterceptor(config: ServiceConfig, codeNames: string[]): Interceptor {
  return (next) => async (request) => {
    const policy = policyOf(config, request.method.parent.typeName, request.method.name);
    if (!policy) return next(request);
    const retryable = new Set(policy.retryableStatusCodes.map((name) => codeNames.indexOf(name)));
    let backoff = durationMs(policy.initialBackoff);
    for (let attempt = 1; ; attempt++) {
      try {
        return await next(request);
      } catch (error) {
        const code = ConnectError.from(error).code;
        if (attempt >= policy.maxAttempts || !retryable.has(code) || request.signal.aborted) {
          throw error;
        }
        await new Promise((resolve) => setTimeout(resolve, Math.random() * backoff));
        backoff = Math.min(backoff * policy.backoffMultiplier, durationMs(policy.maxBackoff));
      }
    }
  };
}

export function loadResilience(path: string, codeNames: string[]): Resilience {
  const config = JSON.parse(readFileSync(path, "utf8")) as ServiceConfig;
  // Every method of a package has the same timeout: the first config's is the default deadline.
  return { timeoutMs: durationMs(config.methodConfig[0].timeout), retry: retryInterceptor(config, codeNames) };
}
