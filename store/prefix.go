package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// MinPrefix is the shortest run-id prefix that names a run: four hex
// digits, 65,536 values, enough to tell apart the runs people compare.
const MinPrefix = 4

// maxCandidates bounds the runs an ambiguous prefix lists.
const maxCandidates = 10

// IsRunIDPrefix reports whether s can be the start of a run id: MinPrefix
// to 12 lower-case hex digits.
func IsRunIDPrefix(s string) bool {
	return len(s) >= MinPrefix && len(s) <= 12 && strings.Trim(s, "0123456789abcdef") == ""
}

// AmbiguousError is a run-id prefix that more than one run starts with.
type AmbiguousError struct {
	Prefix     string
	Candidates []Run // the first runs with the prefix, by id (at most 10)
	More       bool  // more runs have the prefix than Candidates holds
}

func (e *AmbiguousError) Error() string {
	ids := make([]string, len(e.Candidates))
	for i, r := range e.Candidates {
		ids[i] = r.ID + " (" + r.Format + " " + r.Granularity + ")"
	}
	if e.More {
		return fmt.Sprintf("run id prefix %s matches more than %d runs: %s, …; give more of the id", e.Prefix, len(ids), strings.Join(ids, ", "))
	}
	return fmt.Sprintf("run id prefix %s matches %d runs: %s; give more of the id", e.Prefix, len(ids), strings.Join(ids, ", "))
}

// RunIDsWithPrefix lists the ids of the runs whose id starts with prefix,
// in id order, at most limit of them (0 for all). A range over the primary
// key: one index seek whatever the registry's size.
func (r *registry) RunIDsWithPrefix(ctx context.Context, prefix string, limit int) ([]string, error) {
	if prefix == "" || len(prefix) > 12 || strings.Trim(prefix, "0123456789abcdef") != "" {
		return nil, fmt.Errorf("run id prefix %q: want 1 to 12 lower-case hex digits", prefix)
	}
	if limit < 0 {
		return nil, fmt.Errorf("invalid limit %d: want 0 (no limit) or more", limit)
	}
	// Every id is lower-case hex, and 'g' sorts after 'f' (PostgreSQL's
	// runs.id is COLLATE "C", SQLite compares bytes).
	q := `SELECT id FROM runs WHERE id >= ? AND id < ? ORDER BY id`
	args := []any{prefix, prefix + "g"}
	if limit > 0 {
		q += ` LIMIT ?`
		args = append(args, limit)
	}
	return r.readStrings(ctx, q, args...)
}

// RunByPrefix returns the one run whose id is id or starts with it (see
// IsRunIDPrefix). No such run is an error wrapping ErrNotFound; several
// are an *AmbiguousError listing them.
func RunByPrefix(ctx context.Context, s Store, id string) (Run, error) {
	if len(id) == 12 {
		return s.Run(ctx, id)
	}
	if !IsRunIDPrefix(id) {
		return Run{}, fmt.Errorf("run id prefix %q: want %d to 12 lower-case hex digits", id, MinPrefix)
	}
	ids, err := s.RunIDsWithPrefix(ctx, id, maxCandidates+1)
	if err != nil {
		return Run{}, err
	}
	switch len(ids) {
	case 0:
		return Run{}, errorf(ErrNotFound, "no run id starts with %s", id)
	case 1:
		return s.Run(ctx, ids[0])
	}
	amb := &AmbiguousError{Prefix: id}
	if len(ids) > maxCandidates {
		ids, amb.More = ids[:maxCandidates], true
	}
	for _, c := range ids {
		r, err := s.Run(ctx, c)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return Run{}, err
		}
		if err == nil {
			amb.Candidates = append(amb.Candidates, r)
		}
	}
	return Run{}, amb
}
