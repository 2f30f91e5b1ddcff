// Command client runs the shared interop scenario against a usersuite server with grpc-go.
//
// Configuration comes from the environment, the same for every interop client:
// INTEROP_TARGET (e.g. dns:///127.0.0.1:50051), INTEROP_TOKEN, INTEROP_SCENARIO,
// INTEROP_SERVICE_CONFIG and INTEROP_RUN_ID. `client roundtrip` instead reads a serialized
// user.v1.User on stdin and writes it back as this client's generated code re-serializes it,
// which shows whether fields unknown to this contract survive.
package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	userv1 "github.com/usersuite/usersuite/gen/go/user/v1"
	"github.com/usersuite/usersuite/tests/interop/go/scenario"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
)

// The default deadline of a call whose step names none; the service config's timeout caps it.
const defaultDeadline = 5 * time.Second

// maxPages bounds a listing, so a server that never ends its pages fails the step.
const maxPages = 1000

type runner struct {
	scn       *scenario.Scenario
	client    userv1.UserServiceClient
	token     string
	runID     string
	subject   *userv1.User
	reqID     string
	staleEtag string
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "roundtrip" {
		if err := roundtrip(); err != nil {
			fmt.Fprintln(os.Stderr, "roundtrip:", err)
			os.Exit(1)
		}
		return
	}
	failed, err := run()
	if err != nil {
		fmt.Fprintln(os.Stderr, "go client:", err)
		os.Exit(2)
	}
	if failed > 0 {
		os.Exit(1)
	}
}

func roundtrip() error {
	raw, err := io.ReadAll(os.Stdin)
	if err != nil {
		return err
	}
	user := &userv1.User{}
	if err := proto.Unmarshal(raw, user); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "unknown field bytes: %d\n", len(user.ProtoReflect().GetUnknown()))
	out, err := proto.Marshal(user)
	if err != nil {
		return err
	}
	_, err = os.Stdout.Write(out)
	return err
}

func run() (int, error) {
	scn, err := scenario.Load(os.Getenv("INTEROP_SCENARIO"))
	if err != nil {
		return 0, err
	}
	serviceConfig, err := os.ReadFile(os.Getenv("INTEROP_SERVICE_CONFIG"))
	if err != nil {
		return 0, err
	}
	conn, err := grpc.NewClient(
		os.Getenv("INTEROP_TARGET"),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		// retryPolicy (UNAVAILABLE only, exponential backoff with jitter), timeout and round_robin.
		grpc.WithDefaultServiceConfig(string(serviceConfig)),
		grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: 60 * time.Second, Timeout: 20 * time.Second}),
	)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	r := &runner{scn: scn, client: userv1.NewUserServiceClient(conn), token: os.Getenv("INTEROP_TOKEN"), runID: os.Getenv("INTEROP_RUN_ID")}
	failed := 0
	for _, step := range scn.Steps {
		outcome, problem := r.do(step)
		if problem == "" {
			problem = scn.Mismatch(step.Expect, outcome)
		}
		if problem != "" {
			failed++
			fmt.Printf("FAIL %s: %s\n", step.Name, problem)
		} else {
			fmt.Printf("PASS %s code=%s reason=%s\n", step.Name, outcome.Code, outcome.Reason)
		}
	}
	fmt.Printf("go: %d of %d steps passed\n", len(scn.Steps)-failed, len(scn.Steps))
	return failed, nil
}

// call makes the context of one call: its deadline and, unless the step says otherwise, the token.
func (r *runner) call(step scenario.Step) (context.Context, context.CancelFunc) {
	deadline := defaultDeadline
	if step.DeadlineMs > 0 {
		deadline = time.Duration(step.DeadlineMs) * time.Millisecond
	}
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	if step.WithToken() {
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+r.token)
	}
	return ctx, cancel
}

// outcome decodes a call's error natively: status.FromError and its google.rpc details.
func (r *runner) outcome(err error) scenario.Outcome {
	st, _ := status.FromError(err)
	o := scenario.Outcome{Code: r.scn.Codes[st.Code()]}
	for _, detail := range st.Details() {
		switch d := detail.(type) {
		case *errdetails.ErrorInfo:
			o.Domain, o.Reason = d.Domain, d.Reason
		case *errdetails.BadRequest:
			for _, v := range d.FieldViolations {
				o.Violations = append(o.Violations, v.Field)
			}
		case error:
			// A detail that does not decode is a broken contract, not a detail to ignore.
			o.Code = "UNDECODABLE_DETAIL: " + d.Error()
		}
	}
	return o
}

func (r *runner) text(s string) string { return strings.ReplaceAll(s, "{run}", r.runID) }

func (r *runner) do(step scenario.Step) (scenario.Outcome, string) {
	if step.Call != "CreateUser" && r.subject == nil {
		return scenario.Outcome{}, "no subject user: the create step failed"
	}
	switch step.Call {
	case "CreateUser":
		return r.create(step)
	case "GetUser":
		return r.get(step)
	case "ListUsers":
		return r.list(step)
	case "UpdateUser":
		return r.update(step)
	case "DeleteUser":
		return r.delete(step)
	}
	return scenario.Outcome{}, "unknown call " + step.Call
}

func (r *runner) create(step scenario.Step) (scenario.Outcome, string) {
	switch step.RequestID {
	case "fresh":
		r.reqID = newUUID()
	case "none":
		r.reqID = ""
	}
	ctx, cancel := r.call(step)
	defer cancel()
	user, err := r.client.CreateUser(ctx, &userv1.CreateUserRequest{
		User:      &userv1.User{DisplayName: step.DisplayName, Email: r.text(step.Email)},
		RequestId: r.reqID,
	})
	if err != nil {
		return r.outcome(err), ""
	}
	if step.Expect.SameUser && (r.subject == nil || user.Name != r.subject.Name) {
		return r.outcome(nil), fmt.Sprintf("retry returned %s, not the first call's user", user.Name)
	}
	if step.RequestID == "fresh" {
		r.subject = user
	}
	return r.outcome(nil), ""
}

func (r *runner) get(step scenario.Step) (scenario.Outcome, string) {
	ctx, cancel := r.call(step)
	defer cancel()
	user, err := r.client.GetUser(ctx, &userv1.GetUserRequest{Name: r.subject.Name})
	if err != nil {
		return r.outcome(err), ""
	}
	return r.outcome(nil), checkName(step, user)
}

func checkName(step scenario.Step, user *userv1.User) string {
	if step.Expect.DisplayName != "" && user.DisplayName != step.Expect.DisplayName {
		return fmt.Sprintf("display_name %q, expected %q", user.DisplayName, step.Expect.DisplayName)
	}
	return ""
}

func (r *runner) list(step scenario.Step) (scenario.Outcome, string) {
	for i := range step.SeedUsers {
		ctx, cancel := r.call(step)
		_, err := r.client.CreateUser(ctx, &userv1.CreateUserRequest{User: &userv1.User{
			DisplayName: fmt.Sprintf("Seed %d", i), Email: r.text(fmt.Sprintf("seed%d.{run}@example.com", i)),
		}})
		cancel()
		if err != nil {
			return r.outcome(err), "seeding failed"
		}
	}
	pages, found, token := 0, false, ""
	for pages < maxPages {
		ctx, cancel := r.call(step)
		page, err := r.client.ListUsers(ctx, &userv1.ListUsersRequest{PageSize: step.PageSize, PageToken: token})
		cancel()
		if err != nil {
			return r.outcome(err), ""
		}
		pages++
		for _, user := range page.Users {
			found = found || user.Name == r.subject.Name
		}
		if token = page.NextPageToken; token == "" {
			break
		}
	}
	if pages < step.Expect.MinPages || !found {
		return r.outcome(nil), fmt.Sprintf("%d pages, subject listed: %v", pages, found)
	}
	return r.outcome(nil), ""
}

func (r *runner) etag(step scenario.Step) string {
	if step.Etag == "stale" {
		return r.staleEtag
	}
	return r.subject.Etag
}

func (r *runner) update(step scenario.Step) (scenario.Outcome, string) {
	ctx, cancel := r.call(step)
	defer cancel()
	user, err := r.client.UpdateUser(ctx, &userv1.UpdateUserRequest{
		User:       &userv1.User{Name: r.subject.Name, DisplayName: step.DisplayName, Etag: r.etag(step)},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: step.UpdateMask},
	})
	if err != nil {
		return r.outcome(err), ""
	}
	if user.Etag == r.subject.Etag {
		return r.outcome(nil), "the etag did not change"
	}
	r.staleEtag, r.subject = r.subject.Etag, user
	return r.outcome(nil), checkName(step, user)
}

func (r *runner) delete(step scenario.Step) (scenario.Outcome, string) {
	ctx, cancel := r.call(step)
	defer cancel()
	_, err := r.client.DeleteUser(ctx, &userv1.DeleteUserRequest{Name: r.subject.Name, Etag: r.etag(step)})
	return r.outcome(err), ""
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
