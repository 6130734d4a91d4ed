package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// jsonFlag is --json as the GitHub CLI has it, except that the flag alone
// still means "every field": --json prints the full rows, --json id,dir (or
// --json=id,dir) prints only those fields of each row, in the order given.
// An unknown field is a usage error listing the valid ones.
//
// The flag keeps a bool flag's interface (--json, --json=true,
// --json=false), so scripts written for the bool flag keep working.
type jsonFlag struct {
	on     *bool
	fields *[]string
	valid  []string // the fields a row has, in output order
}

// addJSONFieldsFlag defines --json on cmd for output shaped like row (see
// addJSONFlag). on reports whether JSON was asked for, fields which fields
// (nil: all). It returns the fields.
func addJSONFieldsFlag(cmd *cobra.Command, g *globalOptions, on *bool, fields *[]string, row any) []string {
	jf := &jsonFlag{on: on, fields: fields, valid: jsonFieldNames(reflect.TypeOf(row))}
	shows := "what each row shows"
	if reflect.TypeOf(row).Kind() != reflect.Slice {
		shows = "what it shows"
	}
	f := cmd.Flags().VarPF(jf, "json", "", "print JSON; `fields` (comma-separated, e.g. "+exampleFields(jf.valid)+") selects "+shows)
	f.NoOptDefVal = "true"
	g.completeFlag(cmd, "json", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return jf.valid, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveNoSpace
	})
	if cmd.Annotations == nil {
		cmd.Annotations = map[string]string{}
	}
	cmd.Annotations["json_fields"] = strings.Join(jf.valid, ",")
	return jf.valid
}

func exampleFields(valid []string) string {
	if len(valid) > 3 {
		valid = valid[:3]
	}
	return strings.Join(valid, ",")
}

func (j *jsonFlag) Type() string { return "bool" } // takes no value when alone

func (j *jsonFlag) String() string {
	if j.on == nil || !*j.on {
		return "false"
	}
	if j.fields != nil && len(*j.fields) > 0 {
		return strings.Join(*j.fields, ",")
	}
	return "true"
}

func (j *jsonFlag) Set(s string) error {
	switch s {
	case "true":
		*j.on, *j.fields = true, nil
		return nil
	case "false":
		*j.on, *j.fields = false, nil
		return nil
	case "":
		return fmt.Errorf("no fields given: use --json alone for every field, or name some: %s", strings.Join(j.valid, ","))
	}
	var fields, unknown []string
	seen := map[string]bool{}
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if !contains(j.valid, f) {
			unknown = append(unknown, quoteValue(f))
			continue
		}
		if !seen[f] {
			seen[f] = true
			fields = append(fields, f)
		}
	}
	if len(unknown) > 0 {
		what := "unknown JSON field"
		if len(unknown) > 1 {
			what += "s"
		}
		return fmt.Errorf("%s %s; available fields: %s", what, strings.Join(unknown, ", "), strings.Join(j.valid, ", "))
	}
	*j.on, *j.fields = true, fields
	return nil
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

// jsonFieldNames lists the json names of a struct's fields (embedded
// structs' fields in place), in declaration order.
func jsonFieldNames(t reflect.Type) []string {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
		t = t.Elem()
	}
	var out []string
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		name, ok := jsonName(sf)
		switch {
		case sf.Anonymous && name == "" && sf.Type.Kind() == reflect.Struct:
			out = append(out, jsonFieldNames(sf.Type)...)
		case ok:
			out = append(out, name)
		}
	}
	return out
}

// jsonName is a field's JSON key, or ok=false for a field encoding/json
// leaves out.
func jsonName(sf reflect.StructField) (string, bool) {
	if !sf.IsExported() {
		return "", false
	}
	tag := sf.Tag.Get("json")
	if tag == "-" {
		return "", false
	}
	name, _, _ := strings.Cut(tag, ",")
	if sf.Anonymous && name == "" {
		return "", false
	}
	if name == "" {
		name = sf.Name
	}
	return name, true
}

// writeJSONFields prints v (a row struct or a slice of them) as indented
// JSON: whole when fields is empty, else each row with only fields, in the
// order given (a field left out of the full output because it is empty is
// shown with its empty value).
func writeJSONFields(w io.Writer, v any, fields []string) error {
	if len(fields) == 0 {
		return writeJSON(w, v)
	}
	return writeJSON(w, selectFields(reflect.ValueOf(v), fields))
}

// orderedObject is a JSON object whose keys keep their order.
type orderedObject struct {
	keys []string
	vals []any
}

func (o orderedObject) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range o.keys {
		if i > 0 {
			b.WriteByte(',')
		}
		kb, _ := json.Marshal(k)
		b.Write(kb)
		b.WriteByte(':')
		var vb bytes.Buffer
		enc := json.NewEncoder(&vb)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(o.vals[i]); err != nil {
			return nil, err
		}
		b.Write(bytes.TrimRight(vb.Bytes(), "\n"))
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

func selectFields(v reflect.Value, fields []string) any {
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return nil
		}
		v = v.Elem()
	}
	switch v.Kind() {
	case reflect.Slice, reflect.Array:
		out := make([]any, v.Len())
		for i := range out {
			out[i] = selectFields(v.Index(i), fields)
		}
		return out
	case reflect.Struct:
		byName := map[string]reflect.Value{}
		collectFields(v, byName)
		o := orderedObject{}
		for _, f := range fields {
			fv, ok := byName[f]
			if !ok {
				continue
			}
			o.keys = append(o.keys, f)
			o.vals = append(o.vals, fv.Interface())
		}
		return o
	}
	return v.Interface()
}

func collectFields(v reflect.Value, out map[string]reflect.Value) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		if sf.Anonymous && sf.Type.Kind() == reflect.Struct {
			if name, _, _ := strings.Cut(sf.Tag.Get("json"), ","); name == "" {
				collectFields(v.Field(i), out)
				continue
			}
		}
		if name, ok := jsonName(sf); ok {
			if _, seen := out[name]; !seen {
				out[name] = v.Field(i)
			}
		}
	}
}

// fieldListRE is what a --json field list looks like.
var fieldListRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*(,[A-Za-z_][A-Za-z0-9_-]*)*$`)

// joinJSONFieldArgs rewrites "--json id,dir" into "--json=id,dir" for the
// command args run, so that the GitHub CLI's spelling works although --json
// alone is also valid (pflag gives a flag with an optional value its value
// only after "="). The word after --json is taken as fields when every name
// in it is a field of the command, or when it looks like a field list and
// the command could not take it as a positional argument anyway (a list
// with a comma, or a command without arguments) — so a run id or directory
// after --json stays the argument it is.
func joinJSONFieldArgs(root *cobra.Command, args []string) []string {
	cmd, rest, err := root.Find(args)
	if err != nil || cmd == nil || cmd.Annotations["json_fields"] == "" {
		return args
	}
	valid := strings.Split(cmd.Annotations["json_fields"], ",")
	positional := positionalArgs(cmd, rest)
	var out []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return append(out, args[i:]...)
		}
		if a != "--json" || i+1 >= len(args) {
			out = append(out, a)
			continue
		}
		next := args[i+1]
		if isFieldList(cmd, next, valid, positional) {
			out = append(out, "--json="+next)
			i++
			continue
		}
		out = append(out, a)
	}
	return out
}

// isFieldList decides whether s, the word after --json, is a field list:
// every name in it is a field, or it looks like a field list and is not
// one of the command's positional arguments (it holds a comma, or the
// command's arguments are valid only without it).
func isFieldList(cmd *cobra.Command, s string, valid, positional []string) bool {
	if !fieldListRE.MatchString(s) {
		return false
	}
	all := true
	for _, f := range strings.Split(s, ",") {
		all = all && contains(valid, f)
	}
	if all || strings.Contains(s, ",") {
		return true
	}
	if cmd.Args == nil {
		return false
	}
	without := make([]string, 0, len(positional))
	dropped := false
	for _, p := range positional {
		if p == s && !dropped {
			dropped = true
			continue
		}
		without = append(without, p)
	}
	return cmd.Args(cmd, positional) != nil && cmd.Args(cmd, without) == nil
}

// positionalArgs are the positional arguments of a command line (args
// without the command's name), found by parsing a copy of the command's
// flags so that the real ones are not touched; --json is taken alone.
func positionalArgs(cmd *cobra.Command, args []string) []string {
	fs := pflag.NewFlagSet("copy", pflag.ContinueOnError)
	fs.ParseErrorsAllowlist.UnknownFlags = true
	fs.SetOutput(io.Discard)
	add := func(f *pflag.Flag) {
		if fs.Lookup(f.Name) != nil {
			return
		}
		fs.StringP(f.Name, f.Shorthand, "", "")
		fs.Lookup(f.Name).NoOptDefVal = f.NoOptDefVal
	}
	cmd.Flags().VisitAll(add)
	for c := cmd; c != nil; c = c.Parent() {
		c.PersistentFlags().VisitAll(add)
	}
	if err := fs.Parse(args); err != nil {
		return nil
	}
	return fs.Args()
}

var _ pflag.Value = (*jsonFlag)(nil)
