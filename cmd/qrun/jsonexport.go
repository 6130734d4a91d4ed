package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"text/template"

	"github.com/itchyny/gojq"
	"github.com/spf13/cobra"
)

// jsonExporter is the GitHub CLI's JSON contract on a command that prints
// rows: --json [FIELDS] (see jsonFlag), then --jq EXPR (a jq filter, run by
// gojq) or --template TMPL (a Go text/template), each over that JSON.
type jsonExporter struct {
	on     *bool
	fields *[]string
	jq     jqFlag
	tmpl   templateFlag
}

// jsonOutput is the --json output of a command that prints rows, embedded
// in its options; addJSONFlag defines its flags.
type jsonOutput struct {
	JSON bool
	// JSONFields are the fields --json FIELDS selects (nil: all).
	JSONFields []string
	// Exporter writes the --json output (with --jq or --template).
	Exporter *jsonExporter
}

// addJSONFlag defines --json and --jq on cmd, and --template with
// withTemplate, for output shaped like row (a slice of structs for a
// command that prints rows, a struct for one that prints an object: its
// json tags are the fields; the help's examples follow the shape), into
// out: out.JSON reports whether JSON was asked for, out.JSONFields which
// fields (nil: all), and out.Exporter writes it. (plan has no --template of this kind: SPEC §13 gives plan
// --template a meaning of its own, a template per run.)
func addJSONFlag(cmd *cobra.Command, g *globalOptions, out *jsonOutput, row any, withTemplate bool) {
	valid := addJSONFieldsFlag(cmd, g, &out.JSON, &out.JSONFields, row)
	e := &jsonExporter{on: &out.JSON, fields: &out.JSONFields}
	out.Exporter = e
	field := valid[0] // the examples' field: id, else name, else the first
	for _, f := range []string{"name", "id"} {
		if contains(valid, f) {
			field = f // a later one wins
		}
	}
	jq, tmpl := "."+field, "{{."+field+"}}{{\"\\n\"}}"
	if reflect.TypeOf(row).Kind() == reflect.Slice {
		jq, tmpl = ".[]"+jq, "{{range .}}"+tmpl+"{{end}}"
	}
	cmd.Flags().Var(&e.jq, "jq", "filter the --json output with a jq `expression` (e.g. '"+jq+"')")
	g.completeFlag(cmd, "jq", cobra.NoFileCompletions)
	if withTemplate {
		cmd.Flags().Var(&e.tmpl, "template", "format the --json output with a Go `template` (e.g. '"+tmpl+"'; functions: join, pluck, json)")
		g.completeFlag(cmd, "template", cobra.NoFileCompletions)
	}
	run := cmd.RunE
	cmd.RunE = func(c *cobra.Command, args []string) error {
		if err := e.check(); err != nil {
			return err
		}
		return run(c, args)
	}
}

// check refuses --jq or --template without --json, and the two together,
// before the command does anything.
func (e *jsonExporter) check() error {
	for _, f := range []struct {
		name string
		set  bool
	}{{"jq", e.jq.code != nil}, {"template", e.tmpl.t != nil}} {
		if f.set && !*e.on {
			return usageErrorf("--%s filters the JSON output: add --json (every field) or --json FIELDS", f.name)
		}
	}
	if e.jq.code != nil && e.tmpl.t != nil {
		return usageErrorf("--jq and --template both format the output: choose one")
	}
	return nil
}

// write prints v (a row struct or a slice of them) as --json, --jq and
// --template say.
func (e *jsonExporter) write(io *IOStreams, v any) error {
	if e.jq.code == nil && e.tmpl.t == nil {
		return writeJSONFields(io.Out, v, *e.fields)
	}
	var buf bytes.Buffer
	if err := writeJSONFields(&buf, v, *e.fields); err != nil {
		return err
	}
	var data any
	dec := json.NewDecoder(&buf)
	dec.UseNumber() // numbers stay as printed: 1000 an integer, 0.1 not 0.1000000000000000055…
	if err := dec.Decode(&data); err != nil {
		return fmt.Errorf("read back the JSON output: %w", err)
	}
	if e.tmpl.t != nil {
		if err := e.tmpl.t.Execute(io.Out, data); err != nil {
			return fmt.Errorf("--template: %w", tidyTemplateError(err))
		}
		return nil
	}
	return writeJQ(io, e.jq.code, data)
}

// writeJQ prints each value the filter yields on a line of its own, as the
// GitHub CLI does: a string as it is, anything else as JSON (indented on a
// terminal).
func writeJQ(io *IOStreams, code *gojq.Code, data any) error {
	iter := code.Run(data)
	for {
		v, ok := iter.Next()
		if !ok {
			return nil
		}
		if err, isErr := v.(error); isErr {
			if h, halt := err.(*gojq.HaltError); halt && h.Value() == nil {
				return nil // halt: stop without an error
			}
			return fmt.Errorf("--jq: %w", err)
		}
		if s, isString := v.(string); isString {
			fmt.Fprintln(io.Out, s)
			continue
		}
		var b []byte
		var err error
		if io.IsTTY {
			b, err = json.MarshalIndent(v, "", "  ")
		} else {
			b, err = gojq.Marshal(v)
		}
		if err != nil {
			return fmt.Errorf("--jq: %w", err)
		}
		fmt.Fprintf(io.Out, "%s\n", b)
	}
}

// jqFlag is --jq: the expression is compiled when the flag is read, so a
// mistake in it is a usage error before the command runs.
type jqFlag struct {
	expr string
	code *gojq.Code
}

func (f *jqFlag) Type() string   { return "expression" }
func (f *jqFlag) String() string { return f.expr }

func (f *jqFlag) Set(s string) error {
	if strings.TrimSpace(s) == "" {
		return fmt.Errorf("the expression is empty: give a jq filter such as '.[].id'")
	}
	q, err := gojq.Parse(s)
	if err != nil {
		return fmt.Errorf("not a jq expression: %v", err)
	}
	code, err := gojq.Compile(q)
	if err != nil {
		return fmt.Errorf("not a jq expression: %v", err)
	}
	f.expr, f.code = s, code
	return nil
}

// templateFlag is --template: parsed when the flag is read.
type templateFlag struct {
	text string
	t    *template.Template
}

func (f *templateFlag) Type() string   { return "template" }
func (f *templateFlag) String() string { return f.text }

func (f *templateFlag) Set(s string) error {
	if s == "" {
		return fmt.Errorf("the template is empty: give a Go template such as '{{range .}}{{.id}}{{\"\\n\"}}{{end}}'")
	}
	t, err := template.New("--template").Option("missingkey=error").Funcs(templateFuncs).Parse(s)
	if err != nil {
		return fmt.Errorf("not a Go template: %v", tidyTemplateError(err))
	}
	f.text, f.t = s, t
	return nil
}

// templateFuncs are --template's functions besides Go's own (as the
// GitHub CLI has them): join SEP LIST, pluck FIELD LIST, json VALUE.
var templateFuncs = template.FuncMap{
	"join": func(sep string, list []any) string {
		parts := make([]string, len(list))
		for i, e := range list {
			parts[i] = fmt.Sprint(e)
		}
		return strings.Join(parts, sep)
	},
	"pluck": func(field string, list []any) []any {
		var out []any
		for _, e := range list {
			if m, ok := e.(map[string]any); ok {
				out = append(out, m[field])
			}
		}
		return out
	},
	"json": func(v any) (string, error) {
		b, err := json.Marshal(v)
		return string(b), err
	},
}

// tidyTemplateError drops text/template's "template: --template:" prefix:
// the flag is named already.
func tidyTemplateError(err error) error {
	msg := strings.TrimPrefix(err.Error(), "template: ")
	msg = strings.TrimPrefix(msg, "--template:")
	msg = strings.Replace(msg, `executing "--template" at `, "at ", 1)
	return fmt.Errorf("%s", strings.TrimSpace(msg))
}
