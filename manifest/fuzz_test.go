package manifest

import (
	"bytes"
	"testing"
)

// FuzzFastEncoderMatchesYAML: a manifest's bytes are yaml.v3's whether the
// fast encoder writes it or declines it. Fuzzed strings go into every
// string field (values, list items) and a parameter key; the parameters
// carry every Hydra type (int, float, bool, string, null) and a list.
//
//	go test -run '^$' -fuzz '^FuzzFastEncoderMatchesYAML$' -fuzztime 150000x ./manifest/
func FuzzFastEncoderMatchesYAML(f *testing.F) {
	for _, s := range scalarCases {
		f.Add(s, "seed", int64(1), 0.5, uint8(0xff))
	}
	f.Add("0123456789ab", "calib_size", int64(512), 1e-05, uint8(0))
	f.Add("Qwen/Qwen3-8B", "a: b", int64(-1), 1e21, uint8(0x0f))
	f.Add("2026-11-25T19:00:00Z", "true", int64(0), 4.0, uint8(0xf0))
	f.Fuzz(func(t *testing.T, s, key string, i int64, x float64, which uint8) {
		m := sample()
		// Every field the fast encoder writes by blockScalar, bit by bit of
		// which (all of them with 0xff); the config fingerprint stays, as it
		// keys a cache of the resolved section.
		fields := []*string{&m.RunID, &m.Model, &m.Format.Name, &m.Format.Typed, &m.Granularity.Fingerprint,
			&m.ModelOpt, &m.LayoutTemplate, &m.QrunVersion, &m.Created, &m.Host, &m.GitCommit}
		for b, p := range fields {
			if which&(1<<(b%8)) != 0 {
				*p = s
			}
		}
		m.Notes = []string{s}
		m.HydraOverrides = append(m.HydraOverrides, s)
		m.Params = []Param{{"a_int", int(i)}, {"b_float", x}, {"c_bool", which&1 != 0}, {"d_str", s}, {"e_null", nil}, {key, s}}
		if which&0x80 != 0 {
			m.Recorded = []Param{{"list", []any{s, int(i), x}}}
		}
		switch which % 3 {
		case 0:
			m.Export = nil
		case 1:
			m.Export = &Export{Verdict: "mislabelled", QuantAlgo: s, KVCacheQuantAlgo: s, Why: s, ModelOpt: m.ModelOpt}
		}
		if which&0x40 != 0 {
			m.KVCache = &Name{Name: s, Typed: s, Fingerprint: s}
		}

		got, gerr := m.Encode()
		want, werr := m.encodeYAML()
		if (gerr != nil) != (werr != nil) {
			t.Fatalf("Encode error %v, yaml.v3 error %v", gerr, werr)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("the fast encoder differs from yaml.v3\nfast:\n%s\nyaml.v3:\n%s", got, want)
		}
	})
}
