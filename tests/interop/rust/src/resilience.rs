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
    // The codes by number, filled in on load.
    #[serde(skip)]
    retryable: Vec<Code>,
}

#[derive(Deserialize)]
struct Name {
    #[serde(default)]
    method: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MethodConfig {
    #[serde(default)]
    name: Vec<Name>,
    timeout: String,
    retry_policy: Option<RetryPolicy>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ServiceConfig {
    method_config: Vec<MethodConfig>,
}

/// One package's service config (every entry names that package's one service).
pub struct Resilience {
    pub timeout: Duration,
    methods: Vec<MethodConfig>,
}

fn duration(text: &str) -> Duration {
    Duration::from_secs_f64(text.trim_end_matches('s').parse().unwrap_or(0.0))
}

/// A method name as both spellings compare: `GetOrder` (the config's) and `get_order` (tonic's).
fn normalized(method: &str) -> String {
    method.replace('_', "").to_lowercase()
}

impl Resilience {
    pub fn load(path: &str, code_names: &[String]) -> Result<Self, Box<dyn std::error::Error>> {
        let mut config: ServiceConfig = serde_json::from_str(&std::fs::read_to_string(path)?)?;
        for policy in config
            .method_config
            .iter_mut()
            .filter_map(|m| m.retry_policy.as_mut())
        {
            policy.retryable = policy
                .retryable_status_codes
                .iter()
                .filter_map(|name| code_names.iter().position(|n| n == name))
                .map(|number| Code::from_i32(number as i32))
                .collect();
        }
        // Every method of a package has the same timeout: the first config's is the default.
        let timeout = duration(&config.method_config[0].timeout);
        Ok(Self {
            timeout,
            methods: config.method_config,
        })
    }

    /// The method's policy as gRPC picks it: the config naming the method, else the service's.
    fn policy(&self, method: &str) -> Option<&RetryPolicy> {
        let named = |exact: bool| {
            self.methods.iter().find(|config| {
                config.name.iter().any(|name| {
                    if exact {
                        normalized(&name.method) == normalized(method)
                    } else {
                        name.method.is_empty()
                    }
                })
            })
        };
        named(true).or_else(|| named(false))?.retry_policy.as_ref()
    }

    /// Calls `attempt` until it succeeds, fails with a code the method's policy does not retry,
    /// or runs out of attempts; sleeps a random share of an exponentially growing backoff in
    /// between. A method without a policy is called once.
    pub async fn retry<T, F, Fut>(&self, method: &str, mut attempt: F) -> Result<T, Status>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, Status>>,
    {
        let Some(policy) = self.policy(method) else {
            return attempt().await;
        };
        let mut backoff = duration(&policy.initial_backoff);
        let mut made = 1;
        loop {
            match attempt().await {
                Err(status)
                    if made < policy.max_attempts && policy.retryable.contains(&status.code()) =>
                {
                    tokio::time::sleep(backoff.mul_f64(fastrand::f64())).await;
                    backoff = backoff
                        .mul_f64(policy.backoff_multiplier)
                        .min(duration(&policy.max_backoff));
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
