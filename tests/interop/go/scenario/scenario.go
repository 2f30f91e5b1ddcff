// Package scenario reads the language-neutral interop scenario and checks call outcomes against it.
package scenario

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
)

// Expect is what a step must produce.
type Expect struct {
	Code            string   `json:"code"`
	Reason          string   `json:"reason"`
	FieldViolations []string `json:"field_violations"`
	SameUser        bool     `json:"same_user"`
	DisplayName     string   `json:"display_name"`
	MinPages        int      `json:"min_pages"`
	// Fields of an order or an account answered; absent ones are not checked.
	State            string `json:"state"`
	RejectionReason  string `json:"rejection_reason"`
	TotalMinor       *int64 `json:"total_minor"`
	ReservedMinor    *int64 `json:"reserved_minor"`
	CreditLimitMinor *int64 `json:"credit_limit_minor"`
}

// LineItem is one line of a CreateOrder step.
type LineItem struct {
	Sku            string `json:"sku"`
	Quantity       int32  `json:"quantity"`
	UnitPriceMinor int64  `json:"unit_price_minor"`
}

// Step is one call of the scenario.
type Step struct {
	Name             string     `json:"name"`
	Service          string     `json:"service"`
	Call             string     `json:"call"`
	DisplayName      string     `json:"display_name"`
	Email            string     `json:"email"`
	RequestID        string     `json:"request_id"`
	SeedUsers        int        `json:"seed_users"`
	PageSize         int32      `json:"page_size"`
	UpdateMask       []string   `json:"update_mask"`
	Etag             string     `json:"etag"`
	Token            *bool      `json:"token"`
	DeadlineMs       int64      `json:"deadline_ms"`
	WaitMs           int64      `json:"wait_ms"`
	Order            string     `json:"order"`
	OrderName        string     `json:"order_name"`
	LineItems        []LineItem `json:"line_items"`
	CurrencyCode     string     `json:"currency_code"`
	CreditLimitMinor int64      `json:"credit_limit_minor"`
	Expect           Expect     `json:"expect"`
}

// Service is where a service's steps go: its error domain and the variables naming its target
// and its published service config.
type Service struct {
	Domain           string `json:"error_domain"`
	TargetEnv        string `json:"target_env"`
	ServiceConfigEnv string `json:"service_config_env"`
}

// Scenario is the whole file.
type Scenario struct {
	Services map[string]Service `json:"services"`
	Codes    []string           `json:"codes"`
	Steps    []Step             `json:"steps"`
}

// Load reads the scenario file.
func Load(path string) (*Scenario, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var s Scenario
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &s, nil
}

// WithToken tells whether the step sends the bearer token (the default).
func (s Step) WithToken() bool { return s.Token == nil || *s.Token }

// ServiceName is the service the step calls (users unless it says otherwise).
func (s Step) ServiceName() string {
	if s.Service == "" {
		return "users"
	}
	return s.Service
}

// Outcome is what a call produced: its status, the decoded error details and, for an order or
// an account, its fields as the scenario names them (enum values by their proto names).
type Outcome struct {
	Code       string
	Domain     string
	Reason     string
	Violations []string
	Values     map[string]string
}

// values are the answer fields the expectation names, as text.
func (e Expect) values() map[string]string {
	want := map[string]string{}
	for name, value := range map[string]string{"state": e.State, "rejection_reason": e.RejectionReason} {
		if value != "" {
			want[name] = value
		}
	}
	for name, value := range map[string]*int64{"total_minor": e.TotalMinor, "reserved_minor": e.ReservedMinor, "credit_limit_minor": e.CreditLimitMinor} {
		if value != nil {
			want[name] = strconv.FormatInt(*value, 10)
		}
	}
	return want
}

// Mismatch compares an outcome with the step's expectation; empty when they agree.
func (s *Scenario) Mismatch(step Step, o Outcome) string {
	e := step.Expect
	var problems []string
	if o.Code != e.Code {
		problems = append(problems, fmt.Sprintf("code %s, expected %s", o.Code, e.Code))
	}
	domain := s.Services[step.ServiceName()].Domain
	if e.Reason != "" && (o.Reason != e.Reason || o.Domain != domain) {
		problems = append(problems, fmt.Sprintf("ErrorInfo %s/%s, expected %s/%s", o.Domain, o.Reason, domain, e.Reason))
	}
	if e.FieldViolations != nil {
		got := slices.Sorted(slices.Values(o.Violations))
		want := slices.Sorted(slices.Values(e.FieldViolations))
		if !slices.Equal(got, want) {
			problems = append(problems, fmt.Sprintf("BadRequest fields %v, expected %v", got, want))
		}
	}
	if o.Code == "OK" {
		want := e.values()
		for _, name := range slices.Sorted(maps.Keys(want)) {
			if got, ok := o.Values[name]; !ok || got != want[name] {
				problems = append(problems, fmt.Sprintf("%s %s, expected %s", name, got, want[name]))
			}
		}
	}
	return strings.Join(problems, "; ")
}

// Describe is the expectation in a line, for a step that waited for it in vain.
func (e Expect) Describe() string {
	parts := []string{"code " + e.Code}
	if e.Reason != "" {
		parts = append(parts, "reason "+e.Reason)
	}
	want := e.values()
	for _, name := range slices.Sorted(maps.Keys(want)) {
		parts = append(parts, name+" "+want[name])
	}
	return strings.Join(parts, ", ")
}
