package storetest

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fortress-dev/fortress"
)

// sameEvent compares events by value, times by instant.
func sameEvent(a, b fortress.AuditEvent) bool {
	at, bt := a.Time, b.Time
	a.Time, b.Time = time.Time{}, time.Time{}
	return a == b && at.Equal(bt)
}

func mustAppend(t *testing.T, s Store, e fortress.AuditEvent) fortress.AuditEvent {
	t.Helper()
	got, err := s.AppendAudit(context.Background(), e)
	if err != nil {
		t.Fatalf("AppendAudit(%s): %v", e.Event, err)
	}
	return got
}

func testAppendAudit(t *testing.T, s Store) {
	ctx := context.Background()
	before := time.Now().Truncate(time.Microsecond)
	first := mustAppend(t, s, fortress.AuditEvent{
		Event: "auth.login.failure", SubjectID: 7, ClientIP: "198.51.100.2", RequestID: "0123456789abcdef",
		Outcome: "failure", Detail: "wrong_password",
	})
	after := time.Now()
	want := fortress.AuditEvent{
		ID: first.ID, Time: first.Time, Event: "auth.login.failure", SubjectID: 7, ClientIP: "198.51.100.2",
		RequestID: "0123456789abcdef", Outcome: "failure", Detail: "wrong_password",
	}
	if first.ID <= 0 || !sameEvent(first, want) {
		t.Fatalf("appended: got %+v, want %+v", first, want)
	}
	if first.Time.Before(before) || first.Time.After(after) {
		t.Fatalf("time set by the store: got %v, want in [%v, %v]", first.Time, before, after)
	}

	// A given time is kept, to the microsecond, whatever its zone.
	at := time.Date(2030, time.January, 2, 3, 4, 5, 123456789, time.FixedZone("UTC+5", 5*3600))
	second := mustAppend(t, s, fortress.AuditEvent{Time: at, Event: "admin.role.change", ActorID: 1, SubjectID: 7, Outcome: "success"})
	if second.ID <= first.ID || !second.Time.Equal(at.Truncate(time.Microsecond)) || second.ActorID != 1 {
		t.Fatalf("appended with a time: got %+v, want id > %d and time %v", second, first.ID, at.Truncate(time.Microsecond))
	}

	events, total, err := s.ListAudit(ctx, fortress.AuditFilter{Limit: 10})
	if err != nil || total != 2 || len(events) != 2 || !sameEvent(events[0], second) || !sameEvent(events[1], first) {
		t.Fatalf("ListAudit: got %+v, total %d, %v; want [%+v %+v]", events, total, err, second, first)
	}
}

func testListAudit(t *testing.T, s Store) {
	ctx := context.Background()
	base := time.Date(2031, time.May, 1, 12, 0, 0, 0, time.UTC)
	type row struct {
		event            string
		actor, subject   int64
		minutesAfterBase int
	}
	rows := []row{
		{"auth.login.success", 101, 101, 0},
		{"auth.login.failure", 0, 102, 1},
		{"admin.role.change", 101, 102, 2},
		{"auth.login.success", 102, 102, 3},
		{"auth.login.failure", 0, 101, 4},
		{"admin.role.change", 102, 103, 5},
		{"auth.login.success", 103, 103, 6},
		{"auth.login.failure", 0, 103, 7},
		{"account.delete", 101, 101, 8},
		{"auth.login.success", 101, 101, 9},
	}
	// Appended out of time order, so that the order of the list can only come from the times.
	ids := make([]int64, len(rows))
	for _, i := range []int{3, 0, 9, 5, 1, 7, 2, 8, 4, 6} {
		r := rows[i]
		ids[i] = mustAppend(t, s, fortress.AuditEvent{
			Time: base.Add(time.Duration(r.minutesAfterBase) * time.Minute), Event: r.event,
			ActorID: r.actor, SubjectID: r.subject, Outcome: "success",
		}).ID
	}
	at := func(minutes int) time.Time { return base.Add(time.Duration(minutes) * time.Minute) }
	cases := []struct {
		name   string
		filter fortress.AuditFilter
		want   []int // indexes into rows, in the expected order
		total  int
	}{
		{"all", fortress.AuditFilter{}, []int{9, 8, 7, 6, 5, 4, 3, 2, 1, 0}, 10},
		{"event", fortress.AuditFilter{Event: "auth.login.failure"}, []int{7, 4, 1}, 3},
		{"unknown event", fortress.AuditFilter{Event: "auth.login"}, []int{}, 0},
		{"user as actor or subject", fortress.AuditFilter{UserID: 102}, []int{5, 3, 2, 1}, 4},
		{"since inclusive, until exclusive", fortress.AuditFilter{Since: at(3), Until: at(6)}, []int{5, 4, 3}, 3},
		{"bounds between microseconds", fortress.AuditFilter{Since: at(3).Add(time.Nanosecond), Until: at(6).Add(time.Nanosecond)}, []int{6, 5, 4}, 3},
		{"since only", fortress.AuditFilter{Since: at(8)}, []int{9, 8}, 2},
		{"until only", fortress.AuditFilter{Until: at(1)}, []int{0}, 1},
		{"empty range", fortress.AuditFilter{Since: at(5), Until: at(5)}, []int{}, 0},
		{"all filters", fortress.AuditFilter{Event: "auth.login.success", UserID: 101, Since: at(1), Until: at(10)}, []int{9}, 1},
		{"page", fortress.AuditFilter{Limit: 3, Offset: 3}, []int{6, 5, 4}, 10},
		{"last page", fortress.AuditFilter{Limit: 3, Offset: 9}, []int{0}, 10},
		{"past the end", fortress.AuditFilter{Limit: 3, Offset: 10}, []int{}, 10},
		{"filtered page", fortress.AuditFilter{UserID: 101, Limit: 2, Offset: 1}, []int{8, 4}, 5},
	}
	for _, tc := range cases {
		if tc.filter.Limit == 0 {
			tc.filter.Limit = 100
		}
		events, total, err := s.ListAudit(ctx, tc.filter)
		if err != nil {
			t.Fatalf("%s: ListAudit: %v", tc.name, err)
		}
		got := make([]int64, 0, len(events))
		for _, e := range events {
			got = append(got, e.ID)
		}
		want := make([]int64, 0, len(tc.want))
		for _, i := range tc.want {
			want = append(want, ids[i])
		}
		if events == nil || total != tc.total || !slices.Equal(got, want) {
			t.Errorf("%s: got ids %v, total %d; want %v, total %d", tc.name, got, total, want, tc.total)
		}
	}

	// Events of the same microsecond come newest-appended first.
	tie := at(30)
	a := mustAppend(t, s, fortress.AuditEvent{Time: tie, Event: "tie", Outcome: "denied"})
	b := mustAppend(t, s, fortress.AuditEvent{Time: tie, Event: "tie", Outcome: "denied"})
	events, _, err := s.ListAudit(ctx, fortress.AuditFilter{Event: "tie", Limit: 10})
	if err != nil || len(events) != 2 || events[0].ID != b.ID || events[1].ID != a.ID {
		t.Fatalf("equal times: got %+v, %v; want ids %d then %d", events, err, b.ID, a.ID)
	}
}

func testAuditInvariants(t *testing.T, s Store) {
	ctx := context.Background()
	bad := []fortress.AuditEvent{
		{Event: "", Outcome: "success"},
		{Event: strings.Repeat("e", 65), Outcome: "success"},
		{Event: "auth.login.success", Outcome: ""},
		{Event: "auth.login.success", Outcome: "maybe"},
		{Event: "auth.login.success", Outcome: "success", Detail: strings.Repeat("d", 257)},
		{Event: "auth.login.success", Outcome: "success", ClientIP: strings.Repeat("1", 65)},
		{Event: "auth.login.success", Outcome: "success", RequestID: strings.Repeat("r", 129)},
	}
	for i, e := range bad {
		if _, err := s.AppendAudit(ctx, e); err == nil {
			t.Errorf("AppendAudit(bad event %d): got nil error, want the schema to refuse it", i)
		}
	}
	events, total, err := s.ListAudit(ctx, fortress.AuditFilter{Limit: 10})
	if err != nil || total != 0 || len(events) != 0 {
		t.Fatalf("after refused appends: got %d events, %v; want none", total, err)
	}
	for _, outcome := range []string{"success", "failure", "denied"} {
		mustAppend(t, s, fortress.AuditEvent{Event: "e", Outcome: outcome, Detail: strings.Repeat("é", 256)})
	}
}
