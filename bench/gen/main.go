// Command gen fills a registry with N runs through qrun's own store code (so
// it cannot drift from the schema), for the query benchmarks of bench/run.sh:
// 4 formats × 8 granularities × seeds, planned in batches of 10,000, with
// the names and layout qrun registers. Run files are not stored (queries
// never read them).
//
//	gen -db FILE -runs 1000000
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"time"

	"github.com/qrun-dev/qrun/layout"
	"github.com/qrun-dev/qrun/namekind"
	"github.com/qrun-dev/qrun/store"
	"github.com/qrun-dev/qrun/vocab"
)

func main() {
	dbPath := flag.String("db", "qrun.db", "registry")
	n := flag.Int("runs", 10000, "runs")
	root := flag.String("root", "/bench/outputs", "output root recorded in the runs' dirs")
	flag.Parse()
	ctx := context.Background()
	st, err := store.OpenSQLite(ctx, *dbPath, store.Options{LockTimeout: time.Minute})
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()
	v := vocab.Builtin()
	formats := []string{"int8", "fp8_per_channel_per_token", "fp8", "w4a8_int"}
	grans := []string{"default", "w_per_tensor", "w_per_out_channel", "w_per_in_channel", "w_group64", "w_group128", "a_per_token_dynamic", "a_per_tensor_static"}
	tmpl := layout.MustParseTemplate(layout.DefaultTemplate)
	var names []store.NameUse
	res := map[[2]string]*vocab.Resolution{}
	for _, f := range formats {
		fm, _ := v.Format(f)
		names = append(names, store.NameUse{Kind: namekind.Format, Name: f, Fingerprint: fm.Fingerprint(), Definition: vocab.Definition(fm.Meaning())})
		for _, g := range grans {
			r, err := v.Resolve(f, g)
			if err != nil {
				log.Fatal(err)
			}
			res[[2]string{f, g}] = r
		}
	}
	for _, g := range grans {
		gr, _ := v.Granularity(g)
		names = append(names, store.NameUse{Kind: namekind.Granularity, Name: g, Fingerprint: gr.Fingerprint(), Definition: vocab.Definition(gr.Meaning())})
	}
	combos := len(formats) * len(grans)
	start := time.Now()
	base := time.Now().Add(-time.Duration(*n) * time.Second)
	for done := 0; done < *n; {
		b := store.PlanBatch{PlanHead: store.PlanHead{Layout: store.Layout{Fingerprint: tmpl.Fingerprint(), Template: tmpl.String()}, Names: names, At: base.Add(time.Duration(done) * time.Second)}}
		for i := 0; i < 10000 && done < *n; i, done = i+1, done+1 {
			f, g := formats[done%combos/len(grans)], grans[done%len(grans)]
			seed := done / combos
			r := res[[2]string{f, g}]
			id := layout.Identity{Model: "Qwen/Qwen3-8B", Format: f, Granularity: g, Params: []layout.Param{{Key: "seed", Value: layout.IntValue(int64(seed))}}}
			dir, err := layout.Dir(*root, tmpl, id)
			if err != nil {
				log.Fatal(err)
			}
			b.Runs = append(b.Runs, store.Run{ID: layout.RunID(id), Model: id.Model, Format: f, Granularity: g,
				Params: fmt.Sprintf(`{"seed":%d}`, seed), Dir: dir, FormatFP: r.Format.Fingerprint(),
				GranularityFP: r.Granularity.Fingerprint(), ConfigFP: r.Fingerprint(), ModelOpt: "0.46"})
		}
		if _, err := store.Plan(ctx, st, b); err != nil {
			log.Fatal(err)
		}
	}
	log.Printf("registry %s: %d runs in %v", *dbPath, *n, time.Since(start).Round(time.Millisecond))
}
