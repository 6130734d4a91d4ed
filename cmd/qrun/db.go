package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/qrun-dev/qrun/store"
)

func newCmdDB(io *IOStreams, g *globalOptions) *cobra.Command {
	return newGroupCmd("db", "Registry maintenance: copy a solo registry into a team one", "copy", newCmdDBCopy(io, g))
}

type dbCopyOptions struct {
	IO       *IOStreams
	Global   *globalOptions
	From, To string
}

func newCmdDBCopy(io *IOStreams, g *globalOptions) *cobra.Command {
	opts := &dbCopyOptions{IO: io, Global: g}
	cmd := &cobra.Command{
		Use:   "copy --from REGISTRY --to REGISTRY",
		Short: "Copy every run, name, layout, event and run file of one registry into another",
		Long: `Copy a registry into another, typically a solo SQLite registry into the team's
PostgreSQL one:

  qrun db copy --from sqlite:.qrun/qrun.db --to postgres://qrun@db.example/qrun

Runs keep their ids, directories, statuses, times, events and files; names keep
their definitions, first runs and retirement. What the target already holds,
the same, is left alone: copying twice changes nothing. Nothing is copied when
the target holds a name with another definition (exit 3), runs under another
layout (exit 3), or a run whose id or directory belongs to another run (exit 1).
Afterwards the target is read back and checked against the source: counts,
fingerprints and file checksums.

A registry is sqlite:PATH, a bare PATH, or a postgres:// URL.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return dbCopyRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.From, "from", "", "the registry to copy from (sqlite:PATH, PATH or postgres://…)")
	cmd.Flags().StringVar(&opts.To, "to", "", "the registry to copy into (postgres://…, sqlite:PATH or PATH)")
	return cmd
}

func dbCopyRun(ctx context.Context, opts *dbCopyOptions) error {
	if opts.From == "" || opts.To == "" {
		return usageErrorf("db copy needs --from REGISTRY and --to REGISTRY (sqlite:PATH, PATH or postgres://…)")
	}
	from, to, err := copyLocations(opts.Global, opts.From, opts.To)
	if err != nil {
		return err
	}
	src, err := openRegistryAt(ctx, from, opts.Global, true)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := openRegistryAt(ctx, to, opts.Global, false)
	if err != nil {
		return err
	}
	defer dst.Close()

	rep, err := store.Copy(ctx, src, dst)
	if err != nil {
		return err
	}
	w := opts.IO.ErrOut
	fromName, toName := store.Redact(from), store.Redact(to)
	if rep.Added.Zero() {
		fmt.Fprintf(w, "nothing to copy: %s already holds everything of %s\n", toName, fromName)
	} else {
		fmt.Fprintf(w, "copied %s from %s to %s", rep.Added, fromName, toName)
		if rep.Present.Runs > 0 {
			fmt.Fprintf(w, " (%s already there)", plural(rep.Present.Runs, "run"))
		}
		fmt.Fprintln(w)
	}
	for _, n := range rep.Retired {
		fmt.Fprintf(w, "retired %s %s in %s, as it is in %s\n", n.Kind, n.Name, toName, fromName)
	}
	fmt.Fprintf(w, "verified: %s holds all %s of %s, with the same fingerprints and checksums\n", toName, rep.Verified, fromName)
	return nil
}

// copyLocations checks and normalises the two registries of a copy.
func copyLocations(g *globalOptions, from, to string) (string, string, error) {
	norm := func(flag, loc string) (string, error) {
		loc = strings.TrimSpace(loc)
		if store.IsPostgresURL(loc) {
			return loc, nil
		}
		if scheme, _, ok := strings.Cut(loc, "://"); ok && scheme != "sqlite" {
			return "", usageErrorf("--%s %s: unknown scheme %s; give sqlite:PATH, a PATH or a postgres:// URL", flag, store.Redact(loc), quoteValue(scheme+"://"))
		}
		path := store.SQLitePath(loc)
		if path == "" {
			return "", usageErrorf("--%s %s: the SQLite path is empty", flag, loc)
		}
		return filepath.Clean(g.abs(path)), nil
	}
	f, err := norm("from", from)
	if err != nil {
		return "", "", err
	}
	t, err := norm("to", to)
	if err != nil {
		return "", "", err
	}
	if f == t {
		return "", "", usageErrorf("--from and --to are the same registry (%s)", store.Redact(f))
	}
	return f, t, nil
}

// openRegistryAt opens a registry named on the command line (not the
// project's): the source of a copy read-only and required to exist, the
// target created when it is new.
func openRegistryAt(ctx context.Context, loc string, g *globalOptions, source bool) (store.Store, error) {
	opts, err := storeOptions(g, source)
	if err != nil {
		return nil, err
	}
	opts.MustExist = source
	s, err := store.Open(ctx, loc, opts)
	if source && errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("registry %s does not exist (or holds no qrun registry): nothing to copy", store.Redact(loc))
	}
	return s, err
}

// storeOptions are the registry options of this invocation: read-only or
// not, --allow-network-fs, QRUN_LOCK_TIMEOUT.
func storeOptions(g *globalOptions, readOnly bool) (store.Options, error) {
	opts := store.Options{ReadOnly: readOnly, AllowNetworkFS: g.pf.allowNetworkFS, WorkDir: g.wd}
	if v := g.getenv("QRUN_LOCK_TIMEOUT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return opts, fmt.Errorf("QRUN_LOCK_TIMEOUT=%q is not a duration such as 30s or 2m", v)
		}
		opts.LockTimeout = d
	}
	return opts, nil
}

// openPostgres opens the project's PostgreSQL registry (see openStore).
// With mustExist, a database without a registry yet is (nil, nil), as a
// missing SQLite file is.
func (g *globalOptions) openPostgres(ctx context.Context, loc string, readOnly, mustExist bool) (store.Store, error) {
	opts, err := storeOptions(g, readOnly)
	if err != nil {
		return nil, err
	}
	opts.MustExist = mustExist
	opts.OutputRoot, _ = g.outputRoot() // see openStore
	s, err := store.OpenPostgres(ctx, loc, opts)
	if mustExist && errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return s, nil
}
