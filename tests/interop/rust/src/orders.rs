//! The order flow: the subject user's billing account (billing.v1), and orders whose total it
//! reserves (order.v1).
use tonic::Status;

use crate::billingv1::{account, Account, GetAccountRequest, UpdateAccountRequest};
use crate::orderv1::{
    order, CancelOrderRequest, CreateOrderRequest, GetOrderRequest, LineItem, Order,
};
use crate::scenario::{Outcome, Step};
use crate::{rpc, Runner};

impl Runner {
    /// Runs an order or billing step: a failed call's status is its outcome, a returned string a
    /// problem.
    pub(crate) async fn order_flow(&mut self, step: &Step) -> (Outcome, String) {
        let result = match step.call.as_str() {
            "GetAccount" | "UpdateAccount" => self.account_call(step).await,
            _ => self.order_call(step).await,
        };
        match result {
            Ok(outcome) => outcome,
            Err(status) => (self.outcome(&status), String::new()),
        }
    }

    /// The subject user's account: accounts/ID for users/ID.
    fn account_name(&self) -> String {
        let id = self.subject.name.trim_start_matches("users/");
        format!("accounts/{id}")
    }

    async fn account_call(&mut self, step: &Step) -> Result<(Outcome, String), Status> {
        let billing = self
            .billing
            .as_ref()
            .expect("the step runs with a billing target");
        let name = self.account_name();
        let account = if step.call == "GetAccount" {
            rpc!(self, billing, step, get_account, GetAccountRequest { name }).await?
        } else {
            let Some(seen) = &self.account else {
                let problem = "no account seen yet: an earlier GetAccount step failed";
                return Ok((Outcome::default(), problem.into()));
            };
            let etag = if step.etag == "current" {
                seen.etag.clone()
            } else {
                String::new()
            };
            let message = UpdateAccountRequest {
                account: Some(Account {
                    name,
                    credit_limit_minor: step.credit_limit_minor,
                    etag,
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: step.update_mask.clone(),
                }),
            };
            rpc!(self, billing, step, update_account, message).await?
        };
        let mut outcome = Self::ok();
        let state = account::State::try_from(account.state).map_or("", |s| s.as_str_name());
        outcome.values.insert("state", state.into());
        outcome
            .values
            .insert("reserved_minor", account.reserved_minor.to_string());
        outcome
            .values
            .insert("credit_limit_minor", account.credit_limit_minor.to_string());
        self.account = Some(account);
        Ok((outcome, String::new()))
    }

    /// The order a step names: literally (order_name) or by the label of an earlier step.
    fn order_named(&self, step: &Step) -> Option<String> {
        if !step.order_name.is_empty() {
            return Some(self.text(&step.order_name));
        }
        self.labelled.get(&step.order).map(|o| o.name.clone())
    }

    async fn order_call(&mut self, step: &Step) -> Result<(Outcome, String), Status> {
        let request_id = self.next_request_id(step);
        let orders = self
            .orders
            .as_ref()
            .expect("the step runs with an orders target");
        let order = if step.call == "CreateOrder" {
            let line_items = step
                .line_items
                .iter()
                .map(|line| LineItem {
                    sku: line.sku.clone(),
                    quantity: line.quantity,
                    unit_price_minor: line.unit_price_minor,
                })
                .collect();
            let order = Order {
                user: self.subject.name.clone(),
                line_items,
                currency_code: step.currency_code.clone(),
                ..Default::default()
            };
            let message = CreateOrderRequest {
                order: Some(order),
                request_id,
                ..Default::default()
            };
            rpc!(self, orders, step, create_order, message).await?
        } else {
            let Some(name) = self.order_named(step) else {
                let problem = format!(
                    "no order labelled {:?}: the step that creates it failed",
                    step.order
                );
                return Ok((Outcome::default(), problem));
            };
            if step.call == "GetOrder" {
                rpc!(self, orders, step, get_order, GetOrderRequest { name }).await?
            } else {
                let etag = match self.labelled.get(&step.order) {
                    Some(seen) if step.etag == "current" => seen.etag.clone(),
                    _ => String::new(),
                };
                let message = CancelOrderRequest {
                    name,
                    etag,
                    request_id,
                };
                rpc!(self, orders, step, cancel_order, message).await?
            }
        };
        let mut outcome = Self::ok();
        let state = order::State::try_from(order.state).map_or("", |s| s.as_str_name());
        let reason = order::RejectionReason::try_from(order.rejection_reason)
            .map_or("", |r| r.as_str_name());
        outcome.values.insert("state", state.into());
        outcome.values.insert("rejection_reason", reason.into());
        outcome
            .values
            .insert("total_minor", order.total_minor.to_string());
        if !step.order.is_empty() {
            self.labelled.insert(step.order.clone(), order);
        }
        Ok((outcome, String::new()))
    }
}
