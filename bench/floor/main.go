// Command floor is the performance floor for `qrun plan`: a minimal program
// that writes the same run directories and files (atomically, one syncfs at
// the end, like qrun) and inserts the same registry rows in one transaction
// (multi-row INSERTs of 256 runs, like qrun), and does nothing else — no
// vocabulary, no validation, no name checks, no YAML encoder. bench/run.sh
// compares qrun with it.
//
//	floor -root DIR -db FILE -formats 4 -granularities 8 -seeds 313
package main

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"
	"time"

	_ "github.com/mattn/go-sqlite3"
	"golang.org/x/sys/unix"

	"github.com/qrun-dev/qrun/store"
)

func main() {
	root := flag.String("root", "outputs", "output root")
	dbPath := flag.String("db", "qrun.db", "registry")
	nf := flag.Int("formats", 4, "formats")
	ng := flag.Int("granularities", 8, "granularities")
	ns := flag.Int("seeds", 313, "seeds")
	flag.Parse()
	ctx := context.Background()

	// The registry's schema comes from qrun's own migrations.
	st, err := store.OpenSQLite(ctx, *dbPath, store.Options{})
	if err != nil {
		log.Fatal(err)
	}
	st.Close()
	db, err := sql.Open("sqlite3", "file:"+*dbPath+"?_journal_mode=WAL&_synchronous=FULL&_txlock=immediate&_foreign_keys=on&_busy_timeout=5000&_cache_size=-40960")
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		log.Fatal(err)
	}
	prep := func(q string) *sql.Stmt {
		s, err := tx.Prepare(q)
		if err != nil {
			log.Fatal(err)
		}
		return s
	}
	const chunk = 256
	values := func(head, row string, n int) string {
		return head + " VALUES " + strings.TrimSuffix(strings.Repeat(row+", ", n), ", ")
	}
	insRecipe := prep(`INSERT INTO recipes (sha256, body) VALUES (?, ?) ON CONFLICT DO NOTHING`)
	var runArgs, evArgs, fileArgs []any
	n := 0
	flush := func() {
		if n == 0 {
			return
		}
		for _, x := range []struct {
			head, row string
			args      []any
		}{
			{`INSERT INTO runs (id, model, format, granularity, params, dir, format_fp, granularity_fp, config_fp, layout_fp, modelopt, status, created_at, updated_at)`, `(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'planned', ?, ?)`, runArgs},
			{`INSERT INTO events (run_id, kind, status, payload, at)`, `(?, 'plan', 'planned', ?, ?)`, evArgs},
			{`INSERT INTO run_files (run_id, manifest, manifest_sha256, recipe_sha256)`, `(?, ?, ?, ?)`, fileArgs},
		} {
			if _, err := tx.Exec(values(x.head, x.row, n), x.args...); err != nil {
				log.Fatal(err)
			}
		}
		runArgs, evArgs, fileArgs, n = runArgs[:0], evArgs[:0], fileArgs[:0], 0
	}
	now := time.Now().UnixNano()
	fp := func(s string) string { h := sha256.Sum256([]byte(s)); return hex.EncodeToString(h[:]) }
	layoutFP := fp("{model}/{format}/{granularity}")
	if _, err := tx.Exec(`INSERT INTO layouts (fingerprint, template, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`, layoutFP, "{model}/{format}/{granularity}", now); err != nil {
		log.Fatal(err)
	}
	seq := 0
	write := func(p string, data []byte) {
		seq++
		tmp := fmt.Sprintf("%s.tmp-%d", p, seq)
		if err := os.WriteFile(tmp, data, 0o644); err != nil {
			log.Fatal(err)
		}
		if err := os.Rename(tmp, p); err != nil {
			log.Fatal(err)
		}
	}
	for f := 0; f < *nf; f++ {
		for g := 0; g < *ng; g++ {
			format, gran := fmt.Sprintf("fmt%d", f), fmt.Sprintf("gran%d", g)
			recipe := []byte(fmt.Sprintf("metadata:\n  recipe_type: ptq\nquantize:\n  quant_cfg:\n    - {quantizer_name: '*', enable: false}\n  algorithm: max\n# %s %s %01800d\n", format, gran, 0))
			rsha := fp(string(recipe))
			if _, err := insRecipe.Exec(rsha, recipe); err != nil {
				log.Fatal(err)
			}
			for s := 0; s < *ns; s++ {
				id := fp(fmt.Sprint(format, gran, s))[:12]
				dir := filepath.Join(*root, "Qwen3-8B", format, gran, fmt.Sprintf("seed=%d", s))
				if err := os.MkdirAll(dir, 0o755); err != nil {
					log.Fatal(err)
				}
				manifest := []byte(fmt.Sprintf("qrun_manifest: 1\nrun_id: %s\nmodel: Qwen/Qwen3-8B\nformat:\n  name: %s\ngranularity:\n  name: %s\nparams:\n  seed: %d\nhydra:\n  overrides:\n    - hydra.run.dir='%s'\n# %01000d\n", id, format, gran, s, dir, 0))
				write(filepath.Join(dir, "modelopt_recipe.yaml"), recipe)
				write(filepath.Join(dir, "manifest.yaml"), manifest)
				params := fmt.Sprintf(`{"seed":%d}`, s)
				runArgs = append(runArgs, id, "Qwen/Qwen3-8B", format, gran, params, dir, fp(format), fp(gran), fp(format+gran), layoutFP, "0.46", now, now)
				evArgs = append(evArgs, id, `{"dir":"`+dir+`"}`, now)
				fileArgs = append(fileArgs, id, manifest, fp(string(manifest)), rsha)
				if n++; n == chunk {
					flush()
				}
			}
		}
	}
	flush()
	// One sync of the file system, as qrun does, then the commit.
	d, err := os.Open(*root)
	if err != nil {
		log.Fatal(err)
	}
	if err := unix.Syncfs(int(d.Fd())); err != nil {
		log.Fatal(err)
	}
	d.Close()
	if err := tx.Commit(); err != nil {
		log.Fatal(err)
	}
}
