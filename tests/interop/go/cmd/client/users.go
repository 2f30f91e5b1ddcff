package main

// The user steps: create (with a retry of the same request id), get, list, update and delete the
// subject user.

import (
	"fmt"

	userv1 "github.com/usersuite/usersuite/gen/go/user/v1"
	"github.com/usersuite/usersuite/tests/interop/go/scenario"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
)

// maxPages bounds a listing, so a server that never ends its pages fails the step.
const maxPages = 1000

func (r *runner) create(step scenario.Step) (scenario.Outcome, string) {
	ctx, cancel := r.call(step)
	defer cancel()
	user, err := r.client.CreateUser(ctx, &userv1.CreateUserRequest{
		User:      &userv1.User{DisplayName: step.DisplayName, Email: r.text(step.Email)},
		RequestId: r.requestID(step),
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
