//! Runs the shared interop scenario against usersuite with tonic and prost.
//!
//! Configuration comes from the environment, the same for every interop client: INTEROP_TARGET
//! (e.g. dns:///127.0.0.1:50051), INTEROP_TOKEN, INTEROP_SCENARIO, INTEROP_SERVICE_CONFIG and
//! INTEROP_RUN_ID; INTEROP_ORDERS_TARGET and INTEROP_BILLING_TARGET (with
//! INTEROP_ORDERS_SERVICE_CONFIG and INTEROP_BILLING_SERVICE_CONFIG) for the order steps, which
//! are skipped without them.
mod orders;
mod resilience;
mod scenario;
mod users;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use tonic::transport::Channel;
use tonic::{Request, Status};
use tonic_types::StatusExt;

use resilience::Resilience;
use scenario::{Outcome, Scenario, Step};

pub mod userv1 {
    tonic::include_proto!("user.v1");
}
// The order and billing contracts; their events and saga messages are compiled too, so that a
// contract Rust cannot generate or compile fails `make interop-clients`, though unused here.
#[allow(dead_code)]
pub mod orderv1 {
    tonic::include_proto!("order.v1");
}
#[allow(dead_code)]
pub mod billingv1 {
    tonic::include_proto!("billing.v1");
}
use billingv1::billing_service_client::BillingServiceClient;
use billingv1::Account;
use orderv1::order_service_client::OrderServiceClient;
use orderv1::Order;
use userv1::user_service_client::UserServiceClient;
use userv1::User;

// A step that waits (wait_ms) calls again after these pauses, doubling from the first.
const FIRST_PAUSE: Duration = Duration::from_millis(20);
const MAX_PAUSE: Duration = Duration::from_millis(500);

/// One RPC through `Runner::call`: tonic's client methods share no trait, so a macro names one.
/// The connected service is the users one unless named.
macro_rules! rpc {
    ($runner:expr, $step:expr, $method:ident, $message:expr) => {
        rpc!($runner, &$runner.users, $step, $method, $message)
    };
    ($runner:expr, $connected:expr, $step:expr, $method:ident, $message:expr) => {
        $runner.call(
            $connected,
            $step,
            stringify!($method),
            $message,
            |mut c, r| async move { c.$method(r).await },
        )
    };
}
pub(crate) use rpc;

/// A service's client with its published service config.
struct Connected<C> {
    client: C,
    resilience: Resilience,
}

struct Runner {
    scenario: Scenario,
    users: Connected<UserServiceClient<Channel>>,
    orders: Option<Connected<OrderServiceClient<Channel>>>,
    billing: Option<Connected<BillingServiceClient<Channel>>>,
    token: String,
    run_id: String,
    subject: User,
    request_id: String,
    stale_etag: String,
    // The account as last seen (its etag), and the orders kept under the steps' labels.
    account: Option<Account>,
    labelled: HashMap<String, Order>,
}

fn env(name: &str) -> Result<String, Box<dyn std::error::Error>> {
    std::env::var(name).map_err(|_| format!("{name} is not set").into())
}

/// tonic reports its own enforcement of the grpc-timeout header as CANCELLED ("Timeout
/// expired"); gRPC calls that DEADLINE_EXCEEDED, as every other client does.
fn deadline_as_such(status: Status) -> Status {
    let expired = tonic::TimeoutExpired(()).to_string();
    if status.code() == tonic::Code::Cancelled && status.message() == expired {
        return Status::deadline_exceeded(expired);
    }
    status
}

fn new_uuid() -> String {
    let hex = format!("{:032x}", fastrand::u128(..));
    let variant = ["8", "9", "a", "b"][fastrand::usize(..4)];
    format!(
        "{}-{}-4{}-{variant}{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[13..16],
        &hex[17..20],
        &hex[20..]
    )
}

impl Runner {
    fn text(&self, value: &str) -> String {
        value.replace("{run}", &self.run_id)
    }

    /// One attempt's request: the step's deadline (or the service config's) and the token.
    fn request<T>(&self, step: &Step, timeout: Duration, message: T) -> Request<T> {
        let mut request = Request::new(message);
        request.set_timeout(Self::deadline(step, timeout));
        if step.token.unwrap_or(true) {
            let value = format!("Bearer {}", self.token)
                .parse()
                .expect("a token is ASCII");
            request.metadata_mut().insert("authorization", value);
        }
        request
    }

    /// The step's deadline, else the service config's timeout.
    fn deadline(step: &Step, timeout: Duration) -> Duration {
        step.deadline_ms.map_or(timeout, Duration::from_millis)
    }

    /// A unary call with the step's deadline enforced here too, retried as the method's policy
    /// says.
    async fn call<C: Clone, T: Clone, R, F, Fut>(
        &self,
        connected: &Connected<C>,
        step: &Step,
        method: &str,
        message: T,
        rpc: F,
    ) -> Result<R, Status>
    where
        F: Fn(C, Request<T>) -> Fut,
        Fut: std::future::Future<Output = Result<tonic::Response<R>, Status>>,
    {
        let timeout = connected.resilience.timeout;
        let attempts = connected.resilience.retry(method, || {
            rpc(
                connected.client.clone(),
                self.request(step, timeout, message.clone()),
            )
        });
        match tokio::time::timeout(Self::deadline(step, timeout), attempts).await {
            Ok(result) => result
                .map(tonic::Response::into_inner)
                .map_err(deadline_as_such),
            Err(_) => Err(Status::deadline_exceeded("deadline passed on the client")),
        }
    }

    /// A failed call's status with its google.rpc details, decoded by tonic_types::StatusExt.
    fn outcome(&self, status: &Status) -> Outcome {
        let mut outcome = Outcome {
            code: self.scenario.codes[status.code() as usize].clone(),
            ..Default::default()
        };
        match status.check_error_details() {
            Ok(details) => {
                if let Some(info) = details.error_info() {
                    outcome.domain.clone_from(&info.domain);
                    outcome.reason.clone_from(&info.reason);
                }
                if let Some(bad) = details.bad_request() {
                    outcome.violations = bad
                        .field_violations
                        .iter()
                        .map(|v| v.field.clone())
                        .collect();
                }
            }
            // A detail that does not decode is a broken contract, not a detail to ignore.
            Err(error) => outcome.code = format!("UNDECODABLE_DETAIL: {error}"),
        }
        outcome
    }

    /// Runs a step and compares its outcome; a step with wait_ms runs again, after a growing
    /// pause, until the outcome matches or the time is up.
    async fn attempt(&mut self, step: &Step) -> (Outcome, String) {
        let wait = Duration::from_millis(step.wait_ms.unwrap_or(0));
        let give_up = Instant::now() + wait;
        let mut pause = FIRST_PAUSE;
        let mut calls = 1;
        loop {
            let (outcome, mut problem) = self.run(step).await;
            if problem.is_empty() {
                problem = self.scenario.mismatch(step, &outcome);
            }
            if problem.is_empty() || wait.is_zero() {
                return (outcome, problem);
            }
            if Instant::now() + pause >= give_up {
                let waited = format!("waited {} ms ({calls} calls)", wait.as_millis());
                let expected = step.expect.describe();
                return (outcome, format!("{waited} for {expected}; last: {problem}"));
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(MAX_PAUSE);
            calls += 1;
        }
    }

    fn ok() -> Outcome {
        Outcome {
            code: "OK".into(),
            ..Default::default()
        }
    }

    /// Runs a step: a failed call's status is its outcome, a returned string a problem.
    async fn run(&mut self, step: &Step) -> (Outcome, String) {
        if step.call != "CreateUser" && self.subject.name.is_empty() {
            return (
                Outcome::default(),
                "no subject user: the create step failed".into(),
            );
        }
        let result = match step.call.as_str() {
            "CreateUser" => self.create(step).await,
            "GetUser" => self.get(step).await,
            "ListUsers" => self.list(step).await,
            "UpdateUser" => self.update(step).await,
            "DeleteUser" => self.delete(step).await,
            "GetAccount" | "UpdateAccount" | "CreateOrder" | "GetOrder" | "CancelOrder" => {
                return self.order_flow(step).await
            }
            other => Ok(format!("unknown call {other}")),
        };
        match result {
            Ok(problem) => (Self::ok(), problem),
            Err(status) => (self.outcome(&status), String::new()),
        }
    }

    /// The step's request id: a new one, the previous one, or none.
    fn next_request_id(&mut self, step: &Step) -> String {
        match step.request_id.as_str() {
            "fresh" => self.request_id = new_uuid(),
            "none" => self.request_id.clear(),
            _ => {}
        }
        self.request_id.clone()
    }
}

/// A client of the service if its target variable is set, on its published service config.
async fn connect<C>(
    scenario: &Scenario,
    service: &str,
    new: impl FnOnce(Channel) -> C,
) -> Result<Option<Connected<C>>, Box<dyn std::error::Error>> {
    let service = &scenario.services[service];
    let Ok(target) = std::env::var(&service.target_env) else {
        return Ok(None);
    };
    let resilience = Resilience::load(&env(&service.service_config_env)?, &scenario.codes)?;
    let client = new(resilience::connect(&target).await?);
    Ok(Some(Connected { client, resilience }))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let scenario = Scenario::load(&env("INTEROP_SCENARIO")?)?;
    let users = connect(&scenario, "users", UserServiceClient::new)
        .await?
        .ok_or("INTEROP_TARGET is not set")?;
    let orders = connect(&scenario, "orders", OrderServiceClient::new).await?;
    let billing = connect(&scenario, "billing", BillingServiceClient::new).await?;
    let mut runner = Runner {
        scenario,
        users,
        orders,
        billing,
        token: env("INTEROP_TOKEN")?,
        run_id: env("INTEROP_RUN_ID")?,
        subject: User::default(),
        request_id: String::new(),
        stale_etag: String::new(),
        account: None,
        labelled: HashMap::new(),
    };
    // The runner changes as steps run, so the steps leave it before the loop.
    let steps = std::mem::take(&mut runner.scenario.steps);
    let (mut failed, mut skipped) = (0, 0);
    for step in &steps {
        let connected = match step.service.as_str() {
            "orders" => runner.orders.is_some(),
            "billing" => runner.billing.is_some(),
            _ => true,
        };
        if !connected {
            skipped += 1;
            let variable = &runner.scenario.services[&step.service].target_env;
            println!("SKIP {}: {variable} is not set", step.name);
            continue;
        }
        let (outcome, problem) = runner.attempt(step).await;
        if problem.is_empty() {
            println!(
                "PASS {} code={} reason={}",
                step.name, outcome.code, outcome.reason
            );
        } else {
            failed += 1;
            println!("FAIL {}: {problem}", step.name);
        }
    }
    let ran = steps.len() - skipped;
    println!(
        "rust: {} of {ran} steps passed ({skipped} skipped)",
        ran - failed
    );
    std::process::exit(i32::from(failed > 0));
}
