package namekind

import "testing"

// The values are what the registry stores and what --json prints: they
// never change.
func TestKindValues(t *testing.T) {
	for k, want := range map[Kind]string{Granularity: "granularity", Format: "format", KVCache: "kv_cache"} {
		if string(k) != want || !k.Valid() {
			t.Errorf("%q: want %q, valid", k, want)
		}
	}
	if len(All) != 3 || All[0] != Granularity || All[1] != Format || All[2] != KVCache {
		t.Errorf("All = %q", All)
	}
	if Kind("formats").Valid() || Kind("").Valid() {
		t.Error("an unknown kind is valid")
	}
}
