// Package scenario reads the language-neutral interop scenario and checks call outcomes against it.
package scenario

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
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
}

// Step is one call of the scenario.
type Step struct {
	Name        string   `json:"name"`
	Call        string   `json:"call"`
	DisplayName string   `json:"display_name"`
	Email       string   `json:"email"`
	RequestID   string   `json:"request_id"`
	SeedUsers   int      `json:"seed_users"`
	PageSize    int32    `json:"page_size"`
	UpdateMask  []string `json:"update_mask"`
	Etag        string   `json:"etag"`
	Token       *bool    `json:"token"`
	DeadlineMs  int64    `json:"deadline_ms"`
	Expect      Expect   `json:"expect"`
}

// Scenario is the whole file.
type Scenario struct {
	Domain string   `json:"error_domain"`
	Codes  []string `json:"codes"`
	Steps  []Step   `json:"steps"`
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

// Outcome is what a call produced: its status and the decoded error details.
type Outcome struct {
	Code       string
	Domain     string
	Reason     string
	Violations []string
}

// Mismatch compares an outcome with the step's expectation; empty when they agree.
func (s *Scenario) Mismatch(e Expect, o Outcome) string {
	var problems []string
	if o.Code != e.Code {
		problems = append(problems, fmt.Sprintf("code %s, expected %s", o.Code, e.Code))
	}
	if e.Reason != "" && (o.Reason != e.Reason || o.Domain != s.Domain) {
		problems = append(problems, fmt.Sprintf("ErrorInfo %s/%s, expected %s/%s", o.Domain, o.Reason, s.Domain, e.Reason))
	}
	if e.FieldViolations != nil {
		got := slices.Sorted(slices.Values(o.Violations))
		want := slices.Sorted(slices.Values(e.FieldViolations))
		if !slices.Equal(got, want) {
			problems = append(problems, fmt.Sprintf("BadRequest fields %v, expected %v", got, want))
		}
	}
	return strings.Join(problems, "; ")
}
