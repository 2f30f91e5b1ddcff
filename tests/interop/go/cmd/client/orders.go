package main

// The order flow: the subject user's billing account, and orders whose credit it reserves.

import (
	"fmt"
	"strconv"
	"strings"

	billingv1 "github.com/usersuite/usersuite/gen/go/billing/v1"
	orderv1 "github.com/usersuite/usersuite/gen/go/order/v1"
	"github.com/usersuite/usersuite/tests/interop/go/scenario"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
)

// accountName is the subject user's account: accounts/ID for users/ID.
func (r *runner) accountName() string {
	return "accounts/" + strings.TrimPrefix(r.subject.Name, "users/")
}

// accountOutcome is a successful call's outcome with the account's fields; the account is kept
// for the next step's etag.
func (r *runner) accountOutcome(account *billingv1.Account) scenario.Outcome {
	r.account = account
	o := r.outcome(nil)
	o.Values = map[string]string{
		"state":              account.State.String(),
		"reserved_minor":     strconv.FormatInt(account.ReservedMinor, 10),
		"credit_limit_minor": strconv.FormatInt(account.CreditLimitMinor, 10),
	}
	return o
}

// orderOutcome is a successful call's outcome with the order's fields; the order is kept under
// the step's label for later steps.
func (r *runner) orderOutcome(step scenario.Step, order *orderv1.Order) scenario.Outcome {
	if step.Order != "" {
		r.labelled[step.Order] = order
	}
	o := r.outcome(nil)
	o.Values = map[string]string{
		"state":            order.State.String(),
		"rejection_reason": order.RejectionReason.String(),
		"total_minor":      strconv.FormatInt(order.TotalMinor, 10),
	}
	return o
}

func (r *runner) getAccount(step scenario.Step) (scenario.Outcome, string) {
	ctx, cancel := r.call(step)
	defer cancel()
	account, err := r.billing.GetAccount(ctx, &billingv1.GetAccountRequest{Name: r.accountName()})
	if err != nil {
		return r.outcome(err), ""
	}
	return r.accountOutcome(account), ""
}

func (r *runner) updateAccount(step scenario.Step) (scenario.Outcome, string) {
	if r.account == nil {
		return scenario.Outcome{}, "no account seen yet: an earlier GetAccount step failed"
	}
	etag := ""
	if step.Etag == "current" {
		etag = r.account.Etag
	}
	ctx, cancel := r.call(step)
	defer cancel()
	account, err := r.billing.UpdateAccount(ctx, &billingv1.UpdateAccountRequest{
		Account:    &billingv1.Account{Name: r.accountName(), CreditLimitMinor: step.CreditLimitMinor, Etag: etag},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: step.UpdateMask},
	})
	if err != nil {
		return r.outcome(err), ""
	}
	return r.accountOutcome(account), ""
}

func (r *runner) createOrder(step scenario.Step) (scenario.Outcome, string) {
	lines := make([]*orderv1.LineItem, 0, len(step.LineItems))
	for _, line := range step.LineItems {
		lines = append(lines, &orderv1.LineItem{Sku: line.Sku, Quantity: line.Quantity, UnitPriceMinor: line.UnitPriceMinor})
	}
	ctx, cancel := r.call(step)
	defer cancel()
	order, err := r.orders.CreateOrder(ctx, &orderv1.CreateOrderRequest{
		Order:     &orderv1.Order{User: r.subject.Name, LineItems: lines, CurrencyCode: step.CurrencyCode},
		RequestId: r.requestID(step),
	})
	if err != nil {
		return r.outcome(err), ""
	}
	return r.orderOutcome(step, order), ""
}

// orderName is the order a step names: literally (order_name) or by the label of an earlier step.
func (r *runner) orderName(step scenario.Step) (string, string) {
	if step.OrderName != "" {
		return r.text(step.OrderName), ""
	}
	if order, ok := r.labelled[step.Order]; ok {
		return order.Name, ""
	}
	return "", fmt.Sprintf("no order labelled %q: the step that creates it failed", step.Order)
}

func (r *runner) getOrder(step scenario.Step) (scenario.Outcome, string) {
	name, problem := r.orderName(step)
	if problem != "" {
		return scenario.Outcome{}, problem
	}
	ctx, cancel := r.call(step)
	defer cancel()
	order, err := r.orders.GetOrder(ctx, &orderv1.GetOrderRequest{Name: name})
	if err != nil {
		return r.outcome(err), ""
	}
	return r.orderOutcome(step, order), ""
}

func (r *runner) cancelOrder(step scenario.Step) (scenario.Outcome, string) {
	name, problem := r.orderName(step)
	if problem != "" {
		return scenario.Outcome{}, problem
	}
	etag := ""
	if order, ok := r.labelled[step.Order]; ok && step.Etag == "current" {
		etag = order.Etag
	}
	ctx, cancel := r.call(step)
	defer cancel()
	order, err := r.orders.CancelOrder(ctx, &orderv1.CancelOrderRequest{Name: name, Etag: etag, RequestId: r.requestID(step)})
	if err != nil {
		return r.outcome(err), ""
	}
	return r.orderOutcome(step, order), ""
}
