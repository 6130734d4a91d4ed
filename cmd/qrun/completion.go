package main

import (
	"context"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/qrun-dev/qrun/namekind"
	"github.com/qrun-dev/qrun/plan"
	"github.com/qrun-dev/qrun/store"
	"github.com/qrun-dev/qrun/vocab"
)

// Shell completion. cobra provides `qrun completion bash|zsh|fish|powershell`
// (the scripts call the hidden `qrun __complete …`); the functions here give
// it qrun's words: format and granularity names (for flags and for Hydra
// overrides such as quant_granularity=w_gr<TAB>), model ids and run ids
// from the registry. Completion never writes anything: the registry is
// opened read-only, and a missing or unreadable registry or vocabulary
// completes nothing rather than failing.

const completionHelp = `Shell completion (names, Hydra key=value overrides, run ids):
qrun completion bash|zsh|fish|powershell prints the script; e.g.
source <(qrun completion bash), and see qrun completion bash --help to install it.`

// completeOverrides completes qrun plan's Hydra overrides: the keys
// (quant_pair=, quant_granularity=, their field-notation synonyms,
// quant_kv_cache=, model= — under the names qrun.yaml gives them)
// and, after "=", the names of the vocabulary in effect (the last element
// of a comma list), or the models of the registry.
func completeOverrides(g *globalOptions) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		groups := plan.DefaultGroups
		if p, err := g.project(); err == nil {
			groups = planGroups(p.Settings)
		}
		fmtGroup, granGroup := groups.Format, groups.Granularity
		kinds := map[string]namekind.Kind{
			fmtGroup: namekind.Format, fmtGroup + ".format_name": namekind.Format,
			granGroup: namekind.Granularity, granGroup + ".name": namekind.Granularity,
			groups.KVCache: namekind.KVCache,
		}
		key, value, hasEq := strings.Cut(toComplete, "=")
		if !hasEq {
			// The keys not given yet; the value follows without a space.
			used := map[string]bool{}
			for _, a := range args {
				k, _, _ := strings.Cut(a, "=")
				used[k] = true
			}
			slots := [][]string{{fmtGroup, fmtGroup + ".format_name"}, {granGroup, granGroup + ".name"}, {groups.KVCache}, {groups.Model}}
			var out []string
			for _, slot := range slots {
				taken := false
				for _, k := range slot {
					taken = taken || used[k]
				}
				if taken {
					continue
				}
				for _, k := range slot {
					if strings.HasPrefix(k+"=", toComplete) {
						out = append(out, k+"=")
					}
				}
			}
			return out, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveNoSpace
		}
		var names []string
		if k, ok := kinds[key]; ok {
			v, err := g.loadVocab()
			if err != nil {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			names = activeNames(v, k)
		} else if key == groups.Model {
			names = registryModels(cmd.Context(), g)
		} else {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		// A comma list completes its last element.
		head := key + "="
		given := map[string]bool{}
		if i := strings.LastIndex(value, ","); i >= 0 {
			head += value[:i+1]
			for _, e := range strings.Split(value[:i], ",") {
				given[e] = true
			}
			value = value[i+1:]
		}
		var out []string
		for _, n := range names {
			if strings.HasPrefix(n, value) && !given[n] {
				out = append(out, head+n)
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

// activeNames are the names (and aliases) of a kind that can be planned:
// retired names are left out.
func activeNames(v *vocab.Vocabulary, k namekind.Kind) []string {
	var out []string
	for _, n := range v.Names(k) {
		retired := false
		if k == namekind.Format {
			if f, err := v.Format(n); err == nil {
				retired = f.Retired
			}
		} else if gr, err := v.Granularity(n); err == nil {
			retired = gr.Retired
		}
		if !retired {
			out = append(out, n)
		}
	}
	return out
}

// completionStore opens the registry read-only for completion, or returns
// nil when there is none (or it can't be read).
func completionStore(ctx context.Context, g *globalOptions) store.Store {
	st, err := g.openStore(ctx, true, true)
	if err != nil || st == nil {
		return nil
	}
	return st
}

func registryModels(ctx context.Context, g *globalOptions) []string {
	st := completionStore(ctx, g)
	if st == nil {
		return nil
	}
	defer st.Close()
	models, err := st.Models(ctx)
	if err != nil {
		return nil
	}
	return models
}

// maxCompletedRuns bounds how many run ids completion lists (the newest).
const maxCompletedRuns = 500

// runIDCompletions lists the registry's run ids starting with prefix, each
// with a description (status, format, granularity, params), newest first.
func runIDCompletions(ctx context.Context, g *globalOptions, prefix string) []string {
	st := completionStore(ctx, g)
	if st == nil {
		return nil
	}
	defer st.Close()
	runs, err := st.Runs(ctx, store.RunFilter{Limit: maxCompletedRuns})
	if err != nil {
		return nil
	}
	var out []string
	for _, r := range runs {
		if strings.HasPrefix(r.ID, prefix) {
			out = append(out, r.ID+"\t"+string(r.Status)+" "+r.Format+" "+r.Granularity+" "+paramsText(r.Params))
		}
	}
	return out
}

// looksLikePath says whether a word being completed is a directory rather
// than a run id.
func looksLikePath(s string) bool {
	return strings.ContainsAny(s, "/~") || strings.HasPrefix(s, ".")
}

// completeFirstArg completes the first positional argument with fn, and
// nothing after it.
func completeFirstArg(fn cobra.CompletionFunc) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return fn(cmd, args, toComplete)
	}
}

// completeRunArg completes a RUN|DIR argument: run ids, or directories
// once the word looks like a path.
func completeRunArg(ctx context.Context, g *globalOptions, toComplete string) ([]string, cobra.ShellCompDirective) {
	if looksLikePath(toComplete) {
		return nil, cobra.ShellCompDirectiveFilterDirs
	}
	return runIDCompletions(ctx, g, toComplete), cobra.ShellCompDirectiveNoFileComp
}

// filterPrefix keeps the words starting with prefix.
func filterPrefix(words []string, prefix string) []string {
	var out []string
	for _, w := range words {
		if strings.HasPrefix(w, prefix) {
			out = append(out, w)
		}
	}
	sort.Strings(out)
	return out
}

// setUpCompletionCmd adds cobra's completion command now (cobra otherwise
// adds it when executing) so that it behaves like qrun's other commands: a
// missing or unknown shell is a usage error (exit 2), not help with exit 0.
func setUpCompletionCmd(root *cobra.Command) {
	root.InitDefaultCompletionCmd()
	for _, c := range root.Commands() {
		if c.Name() != "completion" {
			continue
		}
		c.Long = completionHelp + "\n\nSee each shell's help (qrun completion bash --help) for how to load it for every session."
		c.Args = noArgs
		c.RunE = func(cmd *cobra.Command, args []string) error {
			return usageErrorf("qrun completion needs a shell: bash, zsh, fish or powershell")
		}
	}
}
