//! The published gRPC service config, applied the way tonic allows: the method timeout as the
//! default deadline, the retryPolicy as a retry loop (tonic has no service config), and a
//! balanced channel over every address of a `dns:///` target.
use std::future::Future;
use std::time::Duration;

use serde::Deserialize;
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Status};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RetryPolicy {
    max_attempts: u32,
    initial_backoff: String,
    max_backoff: String,
    backoff_multiplier: f64,
    retryable_status_codes: Vec<String>,
}

#[derive(Deserialize)]
struct MethodConfig {
    timeout: String,
    #[serde(rename = "retryPolicy")]
    retry_policy: RetryPolicy,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ServiceConfig {
    method_config: Vec<MethodConfig>,
}

pub struct Resilience {
    pub timeout: Duration,
    policy: RetryPolicy,
    retryable: Vec<Code>,
}

fn duration(text: &str) -> Duration {
    Duration::from_secs_f64(text.trim_end_matches('s').parse().unwrap_or(0.0))
}

impl Resilience {
    pub fn load(path: &str, code_names: &[String]) -> Result<Self, Box<dyn std::error::Error>> {
        let mut config: ServiceConfig = serde_json::from_str(&std::fs::read_to_string(path)?)?;
        let method = config.method_config.remove(0);
        let retryable = method
            .retry_policy
            .retryable_status_codes
            .iter()
            .filter_map(|name| code_names.iter().position(|n| n == name))
            .map(|number| Code::from_i32(number as i32))
            .collect();
        Ok(Self {
            timeout: duration(&method.timeout),
            policy: method.retry_policy,
            retryable,
        })
    }

    /// Calls `attempt` until it succeeds, fails with a code the policy does not retry, or runs
    /// out of attempts; sleeps a random share of an exponentially growing backoff in between.
    pub async fn retry<T, F, Fut>(&self, mut attempt: F) -> Result<T, Status>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, Status>>,
    {
        let mut backoff = duration(&self.policy.initial_backoff);
        let mut made = 1;
        loop {
            match attempt().await {
                Err(status)
                    if made < self.policy.max_attempts
                        && self.retryable.contains(&status.code()) =>
                {
                    tokio::time::sleep(backoff.mul_f64(fastrand::f64())).await;
                    backoff = backoff
                        .mul_f64(self.policy.backoff_multiplier)
                        .min(duration(&self.policy.max_backoff));
                    made += 1;
                }
                result => return result,
            }
        }
    }
}

/// A channel to `target` (`host:port` or `dns:///host:port`) with HTTP/2 keepalive; a `dns:///`
/// target is balanced over every address the name resolves to.
pub async fn connect(target: &str) -> Result<Channel, Box<dyn std::error::Error>> {
    let endpoint = |address: String| -> Result<Endpoint, tonic::transport::Error> {
        Ok(Endpoint::from_shared(format!("http://{address}"))?
            .http2_keep_alive_interval(Duration::from_secs(60))
            .keep_alive_timeout(Duration::from_secs(20)))
    };
    match target.strip_prefix("dns:///") {
        Some(name) => {
            let addresses = tokio::net::lookup_host(name).await?;
            let endpoints = addresses
                .map(|a| endpoint(a.to_string()))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Channel::balance_list(endpoints.into_iter()))
        }
        None => Ok(endpoint(target.to_string())?.connect().await?),
    }
}
