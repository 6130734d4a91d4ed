package vocab

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/qrun-dev/qrun/modelopt"
)

// Resolution is one format × granularity resolved into a complete config.
type Resolution struct {
	Format      *Format
	Granularity *Granularity
	// FormatTyped and GranularityTyped are the names as typed, when the user
	// typed an alias; empty otherwise.
	FormatTyped      string
	GranularityTyped string
	// KVCache is the KV-cache setting (the none setting when there is
	// none); KVCacheTyped the alias typed, if any.
	KVCache      *KVCache
	KVCacheTyped string
	Config       modelopt.Config

	fp      string            // the config's fingerprint, once computed
	runtime *modelopt.Runtime // the config on ModelOpt's quantizers, for its verdict
}

// Resolve applies a granularity to a format (SPEC §2): each touched role's
// entry is replaced in place by complete attributes; locked roles, disabled
// or missing roles, and results ModelOpt would reject are invalid selections.
func (v *Vocabulary) Resolve(formatName, granularityName string) (*Resolution, error) {
	return v.ResolveKV(formatName, granularityName, NoKVCache)
}

// ResolveKV is Resolve with a KV-cache setting (SPEC §12): its entries go
// after the format's, before the default-disabled tail; none adds nothing.
func (v *Vocabulary) ResolveKV(formatName, granularityName, kvName string) (*Resolution, error) {
	kv, err := v.KVCache(kvName)
	if err != nil {
		return nil, err
	}
	if kv.Retired {
		return nil, selectionErr("kv_cache %s is retired: it stays reserved for its past runs and cannot be planned again", kv.Name)
	}
	r, err := v.resolveChecked(formatName, granularityName)
	if err != nil {
		return nil, err
	}
	r.KVCache = kv
	if kvName != kv.Name {
		r.KVCacheTyped = kvName
	}
	if !kv.None() {
		r.Config.KV = slices.Clone(kv.Entries)
		if err := r.Config.Validate(modelopt.DefaultTarget); err != nil {
			return nil, selectionErr("kv_cache %s does not apply to format %s: %v", kv.Name, r.Format.Name, err)
		}
	}
	r.runtime = modelopt.NewRuntime(r.Config)
	if ce := r.runtime.Crash(); ce != nil {
		return nil, v.crashRefusal(r.Format, r.Granularity, ce)
	}
	return r, nil
}

// resolveChecked is Resolve up to ModelOpt's attribute rules, without the
// run-time crash check.
func (v *Vocabulary) resolveChecked(formatName, granularityName string) (*Resolution, error) {
	f, ferr := v.Format(formatName)
	g, gerr := v.Granularity(granularityName)
	if err := errors.Join(ferr, gerr); err != nil {
		if ferr != nil && gerr != nil {
			return nil, selectionErr("%v; %v", ferr, gerr)
		}
		return nil, err
	}
	if f.Retired {
		return nil, selectionErr("format %s is retired: it stays reserved for its past runs and cannot be planned again", f.Name)
	}
	if g.Retired {
		return nil, selectionErr("granularity %s is retired: it stays reserved for its past runs and cannot be planned again", g.Name)
	}
	r := &Resolution{Format: f, Granularity: g, Config: f.Config.Clone()}
	if formatName != f.Name {
		r.FormatTyped = formatName
	}
	if granularityName != g.Name {
		r.GranularityTyped = granularityName
	}
	for _, role := range g.Touches() {
		ov, _ := g.Overlay(role)
		if f.Locked(role) {
			return nil, selectionErr("granularity %s does not apply to format %s: %s fixes its %s granularity (%s); choose granularity default or another format", g.Name, f.Name, f.Name, role, describeRole(f.Config, role))
		}
		cfg, err := r.Config.ApplyOverlay(role, ov)
		if err != nil {
			return nil, notApplicable(f, g, err)
		}
		r.Config = cfg
	}
	if err := r.Config.Validate(modelopt.DefaultTarget); err != nil {
		return nil, notApplicable(f, g, fmt.Errorf("gives a config that breaks a ModelOpt rule: %w", err))
	}
	return r, nil
}

// CrashError is a format × granularity that ModelOpt cannot run: its
// calibration or first forward pass raises (SPEC §11.1). It is an invalid
// selection.
type CrashError struct {
	Format, Granularity string
	Crash               *modelopt.CrashError
	Works               []string // combinations that work instead ("int8 × a_per_token_dynamic")
	msg                 string
}

func (e *CrashError) Error() string        { return e.msg }
func (e *CrashError) Is(target error) bool { return target == ErrInvalidSelection }
func (e *CrashError) Unwrap() error        { return e.Crash }

// crashRefusal says why ModelOpt cannot run f × g and what works instead:
// the format with another granularity of the same roles, and the
// granularity with another format whose weights are the same (another
// calibration algorithm), each with its export verdict at ModelOpt's
// default target; deployable ones first.
func (v *Vocabulary) crashRefusal(f *Format, g *Granularity, ce *modelopt.CrashError) error {
	e := &CrashError{Format: f.Name, Granularity: g.Name, Crash: ce}
	type option struct {
		text       string
		deployable bool
	}
	var options []option
	try := func(fn, gn, how string) bool {
		r, err := v.resolveChecked(fn, gn)
		if err != nil || modelopt.Crash(r.Config) != nil {
			return false
		}
		verdict := modelopt.Export(r.Config, modelopt.DefaultTarget)
		text := fmt.Sprintf("%s × %s (%s%s)", fn, gn, how, verdict.Kind)
		if verdict.Kind == modelopt.Deployable {
			text = fmt.Sprintf("%s × %s (%sdeployable, %s)", fn, gn, how, verdict.QuantAlgo)
		}
		options = append(options, option{text, verdict.Kind == modelopt.Deployable})
		return true
	}
	touched := g.Touches()
	for _, og := range v.Granularities() {
		if og.Name != g.Name && !og.Retired && slices.Equal(og.Touches(), touched) && try(f.Name, og.Name, "") {
			break
		}
	}
	weights := roleValue(f.Config, modelopt.Weights)
	sameWeights := false
	for _, of := range v.Formats() {
		if of.Name == f.Name || of.Retired || weights == nil || !modelopt.Equal(roleValue(of.Config, modelopt.Weights), weights) {
			continue
		}
		if try(of.Name, g.Name, algorithmWords(of.Config.Algorithm)+" calibration; export ") {
			sameWeights = true
			break
		}
	}
	slices.SortStableFunc(options, func(a, b option) int {
		if a.deployable == b.deployable {
			return 0
		}
		if a.deployable {
			return -1
		}
		return 1
	})
	for _, o := range options {
		e.Works = append(e.Works, o.text)
	}
	stage := "ModelOpt's calibration, after the model loads"
	if ce.Stage == "forward" {
		stage = "ModelOpt's first quantized forward pass"
	}
	e.msg = fmt.Sprintf("format %s x granularity %s crashes %s (%s): %s", f.Name, g.Name, stage, ce.Raises, ce.Reason)
	if ce.Method != "" && !sameWeights {
		e.Works = append(e.Works, fmt.Sprintf("a format of your own with base: %s and algorithm: max", f.Name))
	}
	if len(e.Works) > 0 {
		e.msg += "; what works: " + strings.Join(e.Works, "; or ")
	}
	return e
}

// roleValue is the plain value of the entry that configures a role, or nil.
func roleValue(c modelopt.Config, r modelopt.Role) map[any]any {
	i := c.RoleIndex(r)
	if i < 0 {
		return nil
	}
	return c.Entries[i].Value()
}

func algorithmWords(alg any) string {
	switch x := alg.(type) {
	case nil:
		return "no"
	case string:
		return x
	case map[any]any:
		return modelopt.Format(x["method"])
	}
	return modelopt.Format(alg)
}

func notApplicable(f *Format, g *Granularity, err error) error {
	return selectionErr("granularity %s does not apply to format %s: %s %v", g.Name, f.Name, f.Name, err)
}

func describeRole(c modelopt.Config, r modelopt.Role) string {
	if a := c.RoleAttrs(r); a != nil {
		return a.String()
	}
	var parts []string
	for _, i := range c.RoleEntries(r) { // scoped entries: *mlp*weight_quantizer, …
		e := c.Entries[i]
		a := e.Cfg
		if e.Stages != nil {
			a = e.Stages[0]
		}
		parts = append(parts, e.QuantizerName+" "+a.String())
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, "; ")
}

// Recipe encodes the resolution as a ModelOpt PTQ recipe for the target.
func (r *Resolution) Recipe(target modelopt.Version) ([]byte, []modelopt.Note, error) {
	return modelopt.Recipe(r.Config, target, r.Description())
}

// Export is the resolution's export verdict for the target ModelOpt
// (SPEC §11.2): what export_hf_checkpoint makes of the recipe.
func (r *Resolution) Export(target modelopt.Version) modelopt.Verdict {
	if r.runtime == nil {
		r.runtime = modelopt.NewRuntime(r.Config)
	}
	return r.runtime.Export(target)
}

// Description is the recipe's metadata description.
func (r *Resolution) Description() string { return "qrun: " + r.Name() }

// Name names the combination in messages: "format F x granularity G",
// with " x kv_cache K" unless the KV cache is none.
func (r *Resolution) Name() string {
	if r.KVCache != nil && !r.KVCache.None() {
		return fmt.Sprintf("format %s x granularity %s x kv_cache %s", r.Format.Name, r.Granularity.Name, r.KVCache.Name)
	}
	return fmt.Sprintf("format %s x granularity %s", r.Format.Name, r.Granularity.Name)
}

// KVCacheFingerprint is the fingerprint of the KV-cache setting, "" for
// none.
func (r *Resolution) KVCacheFingerprint() string {
	if r.KVCache == nil || r.KVCache.None() {
		return ""
	}
	return r.KVCache.Fingerprint()
}

// KVCacheName is the resolution's KV-cache setting's name.
func (r *Resolution) KVCacheName() string {
	if r.KVCache == nil {
		return NoKVCache
	}
	return r.KVCache.Name
}

// Fingerprint identifies the resolved config (target-neutral).
func (r *Resolution) Fingerprint() string {
	if r.fp == "" {
		r.fp = ConfigFingerprint(r.Config)
	}
	return r.fp
}

// Fingerprint prefixes, so that a granularity and a format can never share
// a fingerprint.
const (
	fpGranularity = "qrun/granularity/1\x00"
	fpFormat      = "qrun/format/1\x00"
	fpKVCache     = "qrun/kv_cache/1\x00"
	fpConfig      = "qrun/config/1\x00"
)

func digest(prefix string, v any) string {
	h := sha256.New()
	h.Write([]byte(prefix))
	h.Write(modelopt.Canonical(v))
	return hex.EncodeToString(h.Sum(nil))
}

// Meaning is what a granularity means: its effective overlays. Description,
// aliases and retirement are not meaning.
func (g *Granularity) Meaning() map[any]any {
	m := map[any]any{}
	for _, r := range g.Touches() {
		ov, _ := g.Overlay(r)
		m[string(r)] = ov.Value()
	}
	return m
}

// Fingerprint is the sha256 of the granularity's canonical meaning.
func (g *Granularity) Fingerprint() string {
	g.fpOnce.Do(func() { g.fp = digest(fpGranularity, g.Meaning()) })
	return g.fp
}

// Meaning is what a format means: its complete config and its locks.
func (f *Format) Meaning() map[any]any {
	locks := []any{}
	for _, l := range f.Lock {
		locks = append(locks, string(l))
	}
	return map[any]any{"config": configMeaning(f.Config), "lock": locks}
}

// Fingerprint is the sha256 of the format's canonical meaning.
func (f *Format) Fingerprint() string {
	f.fpOnce.Do(func() { f.fp = digest(fpFormat, f.Meaning()) })
	return f.fp
}

func configMeaning(c modelopt.Config) map[any]any {
	m := map[any]any{
		"deny_all":     c.DenyAll,
		"entries":      entryValues(c.Entries),
		"default_tail": c.DefaultTail,
		"algorithm":    c.Algorithm,
	}
	if len(c.KV) > 0 { // none keeps every config fingerprint from before the axis
		m["kv_cache"] = entryValues(c.KV)
	}
	return m
}

func entryValues(entries []modelopt.Entry) []any {
	out := []any{}
	for _, e := range entries {
		out = append(out, e.Value())
	}
	return out
}

// Meaning is what a KV-cache setting means: its entries. Its algorithm is
// not meaning: it is never merged into a format's.
func (c *KVCache) Meaning() map[any]any { return map[any]any{"entries": entryValues(c.Entries)} }

// Fingerprint is the sha256 of the KV-cache setting's canonical meaning.
func (c *KVCache) Fingerprint() string {
	c.fpOnce.Do(func() { c.fp = digest(fpKVCache, c.Meaning()) })
	return c.fp
}

// ConfigFingerprint identifies a resolved config.
func ConfigFingerprint(c modelopt.Config) string { return digest(fpConfig, configMeaning(c)) }

// Definition returns the canonical definition text of a name's meaning, as
// the registry stores it and `vocab show` prints it.
func Definition(meaning map[any]any) string {
	b, err := modelopt.Marshal(modelopt.ToNode(meaning))
	if err != nil {
		return modelopt.Format(meaning)
	}
	return strings.TrimRight(string(b), "\n")
}

// DefinitionYAML returns a node for a meaning (for JSON/YAML outputs).
func DefinitionYAML(meaning map[any]any) *yaml.Node { return modelopt.ToNode(meaning) }

// QFormat is the hf_ptq --qformat name that goes with the resolution's
// recipe at the target (SPEC §13): the format's own ModelOpt preset name
// for a built-in, its base's for a user format; "" for a format with
// neither (qrun's own w4a8_int, a user format written from scratch).
func (r *Resolution) QFormat(target modelopt.Version) string {
	name := r.Format.Base
	if r.Format.Builtin {
		name = r.Format.Name
	}
	if name == "" {
		return ""
	}
	return modelopt.QFormat(name, target)
}
