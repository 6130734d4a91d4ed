package store

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/qrun-dev/qrun/namekind"
)

func TestRunsFiltersLimitCountSince(t *testing.T) {
	forEachStore(t, func(t *testing.T, s Store) {
		ctx := t.Context()
		t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

		// Three plans at three times.
		b1 := sweep([]string{qwen}, []def{int8F, fp8F}, []def{g64, g128}) // 4 runs at t0
		b1.At = t0
		b2 := sweep([]string{"Qwen/Qwen3-4B"}, []def{int8F}, []def{g64, perOut}) // 2 runs at t0+1h
		b2.At = t0.Add(time.Hour)
		b3 := sweep([]string{qwen}, []def{nvfp4F}, []def{defaultG}, `{"seed":1}`, `{"seed":2}`) // 2 runs at t0+2h
		b3.At = t0.Add(2 * time.Hour)
		for _, b := range []PlanBatch{b1, b2, b3} {
			mustPlan(t, s, b)
		}
		if err := s.Mark(ctx, b1.Runs[0].ID, StatusRunning, nil, ""); err != nil {
			t.Fatal(err)
		}
		if err := s.Mark(ctx, b2.Runs[0].ID, StatusFailed, nil, ""); err != nil {
			t.Fatal(err)
		}

		ids := func(rs ...Run) []string { return runIDs(rs) }
		cases := []struct {
			name string
			f    RunFilter
			want []string
		}{
			{"all", RunFilter{}, ids(append(append(slices.Clone(b1.Runs), b2.Runs...), b3.Runs...)...)},
			{"granularity", RunFilter{Granularity: []string{"w_group64"}}, ids(b1.Runs[0], b1.Runs[2], b2.Runs[0])},
			{"two granularities", RunFilter{Granularity: []string{"w_group128", "w_per_out_channel"}}, ids(b1.Runs[1], b1.Runs[3], b2.Runs[1])},
			{"format", RunFilter{Format: []string{"int8"}}, ids(b1.Runs[0], b1.Runs[1], b2.Runs[0], b2.Runs[1])},
			{"model", RunFilter{Model: []string{"Qwen/Qwen3-4B"}}, ids(b2.Runs...)},
			{"status", RunFilter{Status: []string{"running", "failed"}}, ids(b1.Runs[0], b2.Runs[0])},
			{"planned", RunFilter{Status: []string{"planned"}, Format: []string{"int8"}}, ids(b1.Runs[1], b2.Runs[1])},
			{"combined", RunFilter{Granularity: []string{"w_group64"}, Format: []string{"int8"}, Model: []string{qwen}}, ids(b1.Runs[0])},
			{"since", RunFilter{Since: t0.Add(time.Hour)}, ids(append(slices.Clone(b2.Runs), b3.Runs...)...)},
			{"since exclusive", RunFilter{Since: t0.Add(time.Hour + 1)}, ids(b3.Runs...)},
			{"since and format", RunFilter{Since: t0.Add(30 * time.Minute), Format: []string{"int8"}}, ids(b2.Runs...)},
			{"nothing", RunFilter{Granularity: []string{"w_group32"}}, nil},
		}
		for _, c := range cases {
			got, err := s.Runs(ctx, c.f)
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			if !slices.Equal(runIDs(got), c.want) {
				t.Errorf("%s: runs %v, want %v", c.name, runIDs(got), c.want)
			}
			n, err := s.CountRuns(ctx, c.f)
			if err != nil || n != len(c.want) {
				t.Errorf("%s: count %d, %v; want %d", c.name, n, err, len(c.want))
			}
			c.f.Limit = 2
			if n, _ := s.CountRuns(ctx, c.f); n != len(c.want) {
				t.Errorf("%s: count with a limit = %d, want %d (limit ignored)", c.name, n, len(c.want))
			}
		}

		// Newest first, ties by id; the limit keeps the newest.
		all, _ := s.Runs(ctx, RunFilter{})
		for i := 1; i < len(all); i++ {
			a, b := all[i-1], all[i]
			if a.CreatedAt.Before(b.CreatedAt) || (a.CreatedAt.Equal(b.CreatedAt) && a.ID > b.ID) {
				t.Fatalf("order: %s@%v before %s@%v", a.ID, a.CreatedAt, b.ID, b.CreatedAt)
			}
		}
		top, _ := s.Runs(ctx, RunFilter{Limit: 3})
		if len(top) != 3 || !slices.Equal(runIDs(top[:2]), ids(b3.Runs...)) || !top[2].CreatedAt.Equal(b2.At) {
			t.Fatalf("limit 3 = %v", top)
		}
		if !all[0].CreatedAt.Equal(b3.At) || all[0].CreatedAt.Location() != time.UTC {
			t.Fatalf("created at %v, want %v in UTC", all[0].CreatedAt, b3.At)
		}

		if _, err := s.Runs(ctx, RunFilter{Status: []string{"done"}}); err == nil {
			t.Fatal("unknown status accepted")
		}
		if _, err := s.Runs(ctx, RunFilter{Limit: -1}); err == nil {
			t.Fatal("negative limit accepted")
		}
	})
}

func TestLookups(t *testing.T) {
	forEachStore(t, func(t *testing.T, s Store) {
		ctx := t.Context()
		b := sweep([]string{qwen, "Qwen/Qwen3-4B"}, []def{int8F, fp8F}, []def{g64, g128})
		mustPlan(t, s, b)

		r, err := s.Run(ctx, b.Runs[2].ID)
		if err != nil || r.Dir != b.Runs[2].Dir || r.Params != "{}" || r.ConfigFP != b.Runs[2].ConfigFP {
			t.Fatalf("run = %+v, %v", r, err)
		}
		r, err = s.RunByDir(ctx, b.Runs[5].Dir)
		if err != nil || r.ID != b.Runs[5].ID {
			t.Fatalf("run by dir = %+v, %v", r, err)
		}
		if _, err := s.Run(ctx, "000000000000"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("unknown id: %v", err)
		}
		if _, err := s.RunByDir(ctx, "/nowhere"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("unknown dir: %v", err)
		}

		grans, err := s.Names(ctx, namekind.Granularity)
		if err != nil || len(grans) != 2 || grans[0].Name != "w_group128" || grans[1].Name != "w_group64" {
			t.Fatalf("granularities = %+v, %v", grans, err)
		}
		formats, _ := s.Names(ctx, namekind.Format)
		if len(formats) != 2 || formats[0].Name != "fp8" || formats[0].Kind != namekind.Format {
			t.Fatalf("formats = %+v", formats)
		}
		if _, err := s.Names(ctx, "model"); err == nil {
			t.Fatal("unknown kind accepted")
		}
		if _, err := s.Name(ctx, namekind.Format, "w_group64"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("name of another kind: %v", err)
		}
		for _, c := range []struct {
			k    namekind.Kind
			name string
			want int
		}{{namekind.Format, "int8", 4}, {namekind.Granularity, "w_group64", 4}, {namekind.Granularity, "int8", 0}, {namekind.Format, "nope", 0}} {
			if n, err := s.RunsUsingName(ctx, c.k, c.name); err != nil || n != c.want {
				t.Errorf("runs using %s %s = %d, %v; want %d", c.k, c.name, n, err, c.want)
			}
		}
		if problems, err := s.Check(ctx); err != nil || len(problems) != 0 {
			t.Fatalf("check = %v, %v", problems, err)
		}
	})
}

func TestEventsAreAppendOnly(t *testing.T) {
	forEachStore(t, func(t *testing.T, s Store) {
		mustPlan(t, s, sweep([]string{qwen}, []def{int8F}, []def{g64}))
		before := snapshot(t, s)
		for _, q := range []string{
			`UPDATE events SET payload = '{}'`,
			`UPDATE events SET status = 'failed'`,
			`DELETE FROM events`,
		} {
			_, err := rawDB(s).Exec(q)
			if err == nil || !containsAll(err.Error(), "append-only") {
				t.Errorf("%s: err = %v, want the append-only refusal", q, err)
			}
		}
		if snapshot(t, s) != before {
			t.Fatal("events changed")
		}
		// Runs with events can't be deleted either (foreign key).
		if _, err := rawDB(s).Exec(`DELETE FROM runs`); err == nil {
			t.Fatal("deleted runs that have events")
		}
	})
}

// TestCheckReportsDamage: Check names every row a hand edit with the
// foreign keys off left pointing at nothing, on both backends, and on
// PostgreSQL a recipe whose body no longer matches its sha256.
func TestCheckReportsDamage(t *testing.T) {
	forEachBackend(t, func(t *testing.T, bk backend) {
		ctx := t.Context()
		s := bk.new(t)
		b := sweep([]string{qwen}, []def{int8F}, []def{g64})
		b.Runs[0].Files = &RunFiles{Manifest: []byte("manifest\n"), Recipe: []byte("recipe\n")}
		mustPlan(t, s, b)
		db := rawDB(s)
		var want []string
		for _, e := range column[int64](t, db, `SELECT id FROM events`) {
			want = append(want, fmt.Sprintf("events row %d refers to a missing runs row", e))
		}
		keysOff, keysOn := `PRAGMA foreign_keys = OFF`, `PRAGMA foreign_keys = ON`
		if bk.name == "postgres" {
			keysOff, keysOn = `SET session_replication_role = replica`, `SET session_replication_role = DEFAULT`
			want = append(want,
				"names row format int8 refers to a missing runs row",
				"names row granularity w_group64 refers to a missing runs row",
				"run_files row "+b.Runs[0].ID+" refers to a missing runs or recipes row",
				"recipes row "+sha256Hex([]byte("recipe\n"))+": the recipe does not match its sha256")
		} else {
			for _, n := range column[int64](t, db, `SELECT rowid FROM names`) {
				want = append(want, fmt.Sprintf("names row %d refers to a missing runs row", n))
			}
			for _, f := range column[int64](t, db, `SELECT rowid FROM run_files`) {
				want = append(want, fmt.Sprintf("run_files row %d refers to a missing runs row", f))
			}
		}

		// The damage, on one connection with the keys off (and on again
		// before it goes back to the pool).
		conn, err := db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range []string{keysOff, `DELETE FROM runs`, `UPDATE recipes SET body = 'edited'`, keysOn} {
			if _, err := conn.ExecContext(ctx, q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		conn.Close()

		problems, err := s.Check(ctx)
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(problems)
		slices.Sort(want)
		if !slices.Equal(problems, want) {
			t.Errorf("check =\n%q\nwant\n%q", problems, want)
		}
	})
}
