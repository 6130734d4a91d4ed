package main

import (
	"strings"

	"github.com/spf13/pflag"
)

// listValue is a repeatable flag taking comma-separated lists of names:
// --format int8,fp8 --format nvfp4. Unlike pflag's StringSlice it splits on
// commas only: pflag reads the value as a CSV record, which silently drops
// everything after a newline (--format "int8\nx" would plan int8), takes
// quotes as CSV quoting, and turns an empty value into no value at all (so
// --granularity "" would plan "default"). Here every piece is kept as typed
// and checked like any other name.
type listValue struct {
	p       *[]string
	changed bool
}

// listVar defines a list flag (shown as "strings" in help, like
// StringSlice).
func listVar(f *pflag.FlagSet, p *[]string, name, usage string) {
	f.Var(&listValue{p: p}, name, usage)
}

func (l *listValue) Set(s string) error {
	if !l.changed {
		*l.p = nil
		l.changed = true
	}
	*l.p = append(*l.p, strings.Split(s, ",")...)
	return nil
}

func (l *listValue) Type() string { return "strings" }

func (l *listValue) String() string {
	if l.p == nil {
		return ""
	}
	return strings.Join(*l.p, ",")
}
