// Command client runs the shared interop scenario against a usersuite server with grpc-go.
//
// Configuration comes from the environment, the same for every interop client:
// INTEROP_TARGET (e.g. dns:///127.0.0.1:50051), INTEROP_TOKEN, INTEROP_SCENARIO,
// INTEROP_SERVICE_CONFIG and INTEROP_RUN_ID; INTEROP_ORDERS_TARGET and INTEROP_BILLING_TARGET
// (with INTEROP_ORDERS_SERVICE_CONFIG and INTEROP_BILLING_SERVICE_CONFIG) for the order steps,
// which are skipped without them. `client roundtrip` instead reads a serialized
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

	billingv1 "github.com/usersuite/usersuite/gen/go/billing/v1"
	orderv1 "github.com/usersuite/usersuite/gen/go/order/v1"
	userv1 "github.com/usersuite/usersuite/gen/go/user/v1"
	"github.com/usersuite/usersuite/tests/interop/go/scenario"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// The default deadline of a call whose step names none; the service config's timeout caps it.
const defaultDeadline = 5 * time.Second

// A step that waits (wait_ms) calls again after these pauses, doubling from the first.
const (
	firstPause = 20 * time.Millisecond
	maxPause   = 500 * time.Millisecond
)

type runner struct {
	scn       *scenario.Scenario
	client    userv1.UserServiceClient
	orders    orderv1.OrderServiceClient
	billing   billingv1.BillingServiceClient
	account   *billingv1.Account
	labelled  map[string]*orderv1.Order
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
	conns := map[string]*grpc.ClientConn{}
	for name, service := range scn.Services {
		conn, err := dial(service)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", name, err)
		}
		if conn != nil {
			defer conn.Close()
			conns[name] = conn
		}
	}
	if conns["users"] == nil {
		return 0, fmt.Errorf("%s is not set", scn.Services["users"].TargetEnv)
	}
	r := &runner{scn: scn, client: userv1.NewUserServiceClient(conns["users"]), token: os.Getenv("INTEROP_TOKEN"), runID: os.Getenv("INTEROP_RUN_ID"), labelled: map[string]*orderv1.Order{}}
	if conn := conns["orders"]; conn != nil {
		r.orders = orderv1.NewOrderServiceClient(conn)
	}
	if conn := conns["billing"]; conn != nil {
		r.billing = billingv1.NewBillingServiceClient(conn)
	}
	failed, skipped := 0, 0
	for _, step := range scn.Steps {
		if conns[step.ServiceName()] == nil {
			skipped++
			fmt.Printf("SKIP %s: %s is not set\n", step.Name, scn.Services[step.ServiceName()].TargetEnv)
			continue
		}
		outcome, problem := r.attempt(step)
		if problem != "" {
			failed++
			fmt.Printf("FAIL %s: %s\n", step.Name, problem)
		} else {
			fmt.Printf("PASS %s code=%s reason=%s\n", step.Name, outcome.Code, outcome.Reason)
		}
	}
	ran := len(scn.Steps) - skipped
	fmt.Printf("go: %d of %d steps passed (%d skipped)\n", ran-failed, ran, skipped)
	return failed, nil
}

// dial opens the channel of a service whose target variable is set (nil otherwise), on the
// service's published config: retryPolicy (UNAVAILABLE only, exponential backoff with jitter),
// timeout and round_robin.
func dial(service scenario.Service) (*grpc.ClientConn, error) {
	target := os.Getenv(service.TargetEnv)
	if target == "" {
		return nil, nil
	}
	serviceConfig, err := os.ReadFile(os.Getenv(service.ServiceConfigEnv))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", service.ServiceConfigEnv, err)
	}
	return grpc.NewClient(
		target,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultServiceConfig(string(serviceConfig)),
		grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: 60 * time.Second, Timeout: 20 * time.Second}),
	)
}

// attempt runs a step and compares its outcome; a step with wait_ms runs again, after a growing
// pause, until the outcome matches or the time is up.
func (r *runner) attempt(step scenario.Step) (scenario.Outcome, string) {
	giveUp := time.Now().Add(time.Duration(step.WaitMs) * time.Millisecond)
	pause := firstPause
	for attempts := 1; ; attempts++ {
		outcome, problem := r.do(step)
		if problem == "" {
			problem = r.scn.Mismatch(step, outcome)
		}
		if problem == "" || step.WaitMs == 0 {
			return outcome, problem
		}
		if !time.Now().Add(pause).Before(giveUp) {
			return outcome, fmt.Sprintf("waited %d ms (%d calls) for %s; last: %s", step.WaitMs, attempts, step.Expect.Describe(), problem)
		}
		time.Sleep(pause)
		pause = min(2*pause, maxPause)
	}
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
	case "GetAccount":
		return r.getAccount(step)
	case "UpdateAccount":
		return r.updateAccount(step)
	case "CreateOrder":
		return r.createOrder(step)
	case "GetOrder":
		return r.getOrder(step)
	case "CancelOrder":
		return r.cancelOrder(step)
	}
	return scenario.Outcome{}, "unknown call " + step.Call
}

// requestID is the step's request id: a new one, the previous one, or none.
func (r *runner) requestID(step scenario.Step) string {
	switch step.RequestID {
	case "fresh":
		r.reqID = newUUID()
	case "none":
		r.reqID = ""
	}
	return r.reqID
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
