package main

import (
	"strings"

	"github.com/spf13/cobra"

	"github.com/qrun-dev/qrun/namekind"
	"github.com/qrun-dev/qrun/vocab"
)

type vocabListOptions struct {
	IO     *IOStreams
	Global *globalOptions
	Kind   string
	jsonOutput
}

func newCmdVocabList(io *IOStreams, g *globalOptions, runF func(*vocabListOptions) error) *cobra.Command {
	opts := &vocabListOptions{IO: io, Global: g}
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the granularities and formats in effect (built-in and from vocabulary files)",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			switch opts.Kind {
			case "":
				if cmd.Flags().Changed("kind") {
					return usageErrorf("--kind \"\" is not a kind: use granularity, format or kv_cache")
				}
			case string(namekind.Granularity), string(namekind.Format), string(namekind.KVCache):
			default:
				return usageErrorf("--kind %q is not a kind: use granularity, format or kv_cache", opts.Kind)
			}
			if runF != nil {
				return runF(opts)
			}
			return vocabListRun(opts)
		},
	}
	cmd.Flags().StringVar(&opts.Kind, "kind", "", "only this kind: granularity, format or kv_cache")
	addJSONFlag(cmd, g, &opts.jsonOutput, []vocabListItem{}, true)
	g.completeFlag(cmd, "kind", cobra.FixedCompletions([]string{"granularity", "format", "kv_cache"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

type vocabListItem struct {
	Kind        namekind.Kind `json:"kind"`
	Name        string        `json:"name"`
	Description string        `json:"description"`
	Aliases     []string      `json:"aliases"`
	Builtin     bool          `json:"builtin"`
	Retired     bool          `json:"retired"`
	Source      string        `json:"source"`
	Fingerprint string        `json:"fingerprint"`
}

func vocabListRun(opts *vocabListOptions) error {
	v, err := opts.Global.loadVocab()
	if err != nil {
		return err
	}
	var items []vocabListItem
	// Fingerprints are in the JSON only; the table lists names and
	// descriptions without building a definition.
	for _, k := range []namekind.Kind{namekind.Granularity, namekind.Format, namekind.KVCache} {
		if opts.Kind != "" && opts.Kind != string(k) {
			continue
		}
		for _, e := range v.Entries(k) {
			it := vocabListItem{e.Kind, e.Name, e.Description, nonNil(e.Aliases), e.Builtin, e.Retired, e.Source, ""}
			if opts.JSON {
				fp, err := fingerprintOf(v, e)
				if err != nil {
					return err
				}
				it.Fingerprint = fp
			}
			items = append(items, it)
		}
	}
	if opts.JSON {
		return opts.Exporter.write(opts.IO, nonNil(items))
	}
	t := &table{header: []string{"KIND", "NAME", "ALIASES", "SOURCE", "DESCRIPTION"}}
	for _, it := range items {
		src := it.Source
		if it.Retired {
			src += " (retired)"
		}
		aliases := strings.Join(it.Aliases, ",")
		if opts.IO.IsTTY && aliases == "" {
			aliases = "-"
		}
		t.add(string(it.Kind), it.Name, aliases, src, it.Description)
	}
	return t.write(opts.IO.Out, opts.IO.IsTTY)
}

// fingerprintOf is an entry's fingerprint (its definition built first).
func fingerprintOf(v *vocab.Vocabulary, e vocab.Entry) (string, error) {
	if e.Kind == namekind.KVCache {
		c, err := v.KVCache(e.Name)
		if err != nil {
			return "", err
		}
		return c.Fingerprint(), nil
	}
	if e.Kind == namekind.Format {
		f, err := v.Format(e.Name)
		if err != nil {
			return "", err
		}
		return f.Fingerprint(), nil
	}
	g, err := v.Granularity(e.Name)
	if err != nil {
		return "", err
	}
	return g.Fingerprint(), nil
}
