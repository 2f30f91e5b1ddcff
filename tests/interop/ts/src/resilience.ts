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

interface ServiceConfig {
  methodConfig: { timeout: string; retryPolicy: RetryPolicy }[];
}

export interface Resilience {
  timeoutMs: number;
  retry: Interceptor;
}

function durationMs(text: string): number {
  return Number(text.replace(/s$/, "")) * 1000;
}

/** Retries the codes the policy names with exponential backoff and full jitter (gRFC A6). */
function retryInterceptor(policy: RetryPolicy, codeNames: string[]): Interceptor {
  const retryable = new Set(policy.retryableStatusCodes.map((name) => codeNames.indexOf(name)));
  return (next) => async (request) => {
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
  const method = config.methodConfig[0];
  return { timeoutMs: durationMs(method.timeout), retry: retryInterceptor(method.retryPolicy, codeNames) };
}
