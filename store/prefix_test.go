package store

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestRunByPrefix(t *testing.T) {
	forEachStore(t, func(t *testing.T, s Store) {
		ctx := t.Context()
		b := sweep([]string{qwen}, []def{int8F, fp8F}, []def{g64, g128}, "{}", `{"seed":1}`, `{"seed":2}`)
		// Ids chosen to share prefixes: abcd1… twice, abce once, and
		// 0000 once next to ids that only share three digits with it.
		ids := []string{"abcd10000000", "abcd1fffffff", "abce00000000", "000000000000", "000f00000000", "fff000000000"}
		for i, id := range ids {
			b.Runs[i].ID = id
			b.Runs[i].Dir += "/" + id
		}
		b.Runs = b.Runs[:len(ids)]
		mustPlan(t, s, b)

		for _, c := range []struct {
			prefix string
			want   []string
		}{
			{"abcd", []string{"abcd10000000", "abcd1fffffff"}},
			{"abcd1f", []string{"abcd1fffffff"}},
			{"abc", []string{"abcd10000000", "abcd1fffffff", "abce00000000"}},
			{"abcf", nil},
			{"f", []string{"fff000000000"}},
			{"0000", []string{"000000000000"}},
			{"000000000000", []string{"000000000000"}},
		} {
			got, err := s.RunIDsWithPrefix(ctx, c.prefix, 0)
			if err != nil || strings.Join(got, ",") != strings.Join(c.want, ",") {
				t.Errorf("RunIDsWithPrefix(%q) = %v, %v; want %v", c.prefix, got, err, c.want)
			}
		}
		if got, err := s.RunIDsWithPrefix(ctx, "abc", 2); err != nil || len(got) != 2 {
			t.Errorf("limit 2: %v, %v", got, err)
		}
		for _, bad := range []string{"", "ABCD", "abcd'", "abcd%", "0123456789abc"} {
			if _, err := s.RunIDsWithPrefix(ctx, bad, 0); err == nil {
				t.Errorf("prefix %q accepted", bad)
			}
		}

		r, err := RunByPrefix(ctx, s, "abce")
		if err != nil || r.ID != "abce00000000" || r.Format == "" {
			t.Fatalf("unique prefix: %+v, %v", r, err)
		}
		if r, err := RunByPrefix(ctx, s, "abcd1fffffff"); err != nil || r.ID != "abcd1fffffff" {
			t.Fatalf("whole id: %+v, %v", r, err)
		}
		_, err = RunByPrefix(ctx, s, "abcd")
		var amb *AmbiguousError
		if !errors.As(err, &amb) || len(amb.Candidates) != 2 || amb.More {
			t.Fatalf("ambiguous prefix: %v", err)
		}
		if msg := err.Error(); !strings.Contains(msg, "abcd10000000 (") || !strings.Contains(msg, "abcd1fffffff (") || !strings.Contains(msg, "give more of the id") {
			t.Errorf("ambiguous message: %s", msg)
		}
		if _, err := RunByPrefix(ctx, s, "abcf"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("no match: %v", err)
		}
		if _, err := RunByPrefix(ctx, s, "abc"); err == nil || errors.Is(err, ErrNotFound) {
			t.Fatalf("3-digit prefix: %v", err)
		}
	})
}

func TestRunByPrefixListsAtMostTen(t *testing.T) {
	s := openTest(t, "")
	b := sweep([]string{qwen}, []def{int8F, fp8F}, []def{g64, g128}, "{}", `{"seed":1}`, `{"seed":2}`)
	for i := range b.Runs {
		b.Runs[i].ID = "beef" + strings.Repeat("0", 6) + string("0123456789ab"[i]) + "0"
	}
	mustPlan(t, s, b)
	_, err := RunByPrefix(context.Background(), s, "beef")
	var amb *AmbiguousError
	if !errors.As(err, &amb) || len(amb.Candidates) != 10 || !amb.More || !strings.Contains(err.Error(), "more than 10 runs") {
		t.Fatalf("12 runs with one prefix: %v", err)
	}
}
