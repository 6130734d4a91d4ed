package main

import (
	"bytes"
	"reflect"
	"testing"
)

// TestJoinJSONFieldArgs: the word after --json is taken as fields only when
// it can't be the command's positional argument.
func TestJoinJSONFieldArgs(t *testing.T) {
	cases := []struct{ in, want []string }{
		{[]string{"runs", "--json", "id,dir"}, []string{"runs", "--json=id,dir"}},
		{[]string{"runs", "--json", "bogus"}, []string{"runs", "--json=bogus"}}, // runs takes no argument
		{[]string{"runs", "--json"}, []string{"runs", "--json"}},
		{[]string{"runs", "--json", "--limit", "3"}, []string{"runs", "--json", "--limit", "3"}},
		{[]string{"show", "--json", "abcdef012345"}, []string{"show", "--json", "abcdef012345"}},
		{[]string{"show", "--json", "status"}, []string{"show", "--json=status"}},
		{[]string{"show", "--json", "histroy", "abcdef012345"}, []string{"show", "--json=histroy", "abcdef012345"}},
		{[]string{"show", "abcdef012345", "--json", "histroy"}, []string{"show", "abcdef012345", "--json=histroy"}},
		{[]string{"plan", "--json", "quant_pair=int8"}, []string{"plan", "--json", "quant_pair=int8"}},
		{[]string{"plan", "--json", "id", "quant_pair=int8"}, []string{"plan", "--json=id", "quant_pair=int8"}},
		{[]string{"--db", "x.db", "runs", "--json", "id"}, []string{"--db", "x.db", "runs", "--json=id"}},
		{[]string{"runs", "--", "--json", "id"}, []string{"runs", "--", "--json", "id"}},
		{[]string{"vocab", "list", "--json", "name"}, []string{"vocab", "list", "--json=name"}},
		{[]string{"vocab", "show", "--json", "w_group64"}, []string{"vocab", "show", "--json", "w_group64"}},
		{[]string{"vocab", "show", "--json", "name,kind", "w_group64"}, []string{"vocab", "show", "--json=name,kind", "w_group64"}},
		{[]string{"init", "--json", "name"}, []string{"init", "--json", "name"}}, // no --json fields
	}
	for _, c := range cases {
		root := newRootCmd(&Factory{IO: &IOStreams{Out: &bytes.Buffer{}, ErrOut: &bytes.Buffer{}}, Getenv: noEnv})
		if got := joinJSONFieldArgs(root, c.in); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%q → %q, want %q", c.in, got, c.want)
		}
	}
}

func TestSelectFieldsKeepsOrderAndEmptyFields(t *testing.T) {
	type inner struct {
		A string `json:"a"`
	}
	type row struct {
		inner
		B string   `json:"b,omitempty"`
		C []string `json:"c"`
		d string
	}
	if got := jsonFieldNames(reflect.TypeOf([]row{})); !reflect.DeepEqual(got, []string{"a", "b", "c"}) {
		t.Fatalf("fields = %v", got)
	}
	var buf bytes.Buffer
	if err := writeJSONFields(&buf, []row{{inner: inner{A: "x"}, d: "unexported: never printed"}}, []string{"c", "b", "a"}); err != nil {
		t.Fatal(err)
	}
	want := "[\n  {\n    \"c\": null,\n    \"b\": \"\",\n    \"a\": \"x\"\n  }\n]\n"
	if buf.String() != want {
		t.Fatalf("got %q, want %q", buf.String(), want)
	}
}
