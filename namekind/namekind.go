// Package namekind says what a vocabulary name names: a format, a
// granularity or a KV-cache setting. It is the one spelling of that kind
// shared by the vocabulary, the registry and the commands, and knows
// nothing else (it imports nothing of qrun).
package namekind

// Kind is what a name names; its value is what the registry stores.
type Kind string

const (
	Granularity Kind = "granularity"
	Format      Kind = "format"
	// KVCache names a KV-cache setting (SPEC §12): the quant_cfg entries
	// of ModelOpt's KV-cache presets, or none.
	KVCache Kind = "kv_cache"
)

// All lists every kind, in the order qrun reads and lists them.
var All = []Kind{Granularity, Format, KVCache}

// Valid reports whether k is one of the kinds.
func (k Kind) Valid() bool { return k == Format || k == Granularity || k == KVCache }
