// Package store is qrun's registry: the runs a project planned, the names
// (formats and granularities) they use with the meaning each name was first
// registered with, the output layouts, and an append-only event log.
//
// Store is the interface the commands use, with two implementations of the
// same SQL: SQLite, the embedded default (one file), and PostgreSQL, the
// team registry shared by a cluster; Open picks one from a location. Both
// have the same semantics and pass the same tests. Every method is safe to
// call from several processes at once: writes that check the registry are
// serialised (SQLite's write lock; a PostgreSQL advisory lock), checks and
// inserts happen in one transaction, and a busy database is waited for with
// bounded backoff rather than reported. Copy moves one registry's content
// into another.
package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/qrun-dev/qrun/namekind"
)

// Store is a qrun registry.
type Store interface {
	// Update runs fn in one write transaction that holds the registry's
	// write lock, and commits it when fn returns nil: the way a plan is
	// recorded, through tx (see PlanTx; Plan does it for a batch held
	// whole). An error of fn rolls everything back and comes back as it
	// is. When the database asks for it (SQLite busy, a PostgreSQL
	// serialisation failure or lost connection), the transaction is rolled
	// back and fn runs again from the start, so fn must be re-runnable and
	// keep nothing of an attempt that failed. A cancelled ctx fails fn's
	// next call on tx; once fn has returned nil, the commit goes ahead.
	Update(ctx context.Context, fn func(tx PlanTx) error) error

	// Mark sets a run's status and/or records metrics, appending one
	// 'status' event (when status is not empty) and one 'metric' event
	// (when metrics is not empty).
	Mark(ctx context.Context, id string, status Status, metrics map[string]float64, note string) error

	// ID names the registry, the same for every process that opens it
	// (SQLite: its file's real path; PostgreSQL: server, database and
	// search_path): the writer's name of the temporary files qrun writes
	// on its behalf (manifest.RegistryWriter).
	ID() string

	// MoveRun records that a run's directory is now dir (absolute; under
	// the output root it is recorded relative to it): for qrun doctor
	// --fix, when a run an older qrun recorded by absolute path is found
	// under the output root's new place. Its id and all else are kept.
	MoveRun(ctx context.Context, id, dir string) error

	// Retire marks a registered name retired: it stays reserved and keeps
	// its runs, and a plan using it is refused from then on.
	Retire(ctx context.Context, kind namekind.Kind, name string) error

	// Run returns the run with this id, or an error wrapping ErrNotFound.
	Run(ctx context.Context, id string) (Run, error)
	// RunIDsWithPrefix lists the ids starting with prefix (1 to 12
	// lower-case hex digits), sorted, at most limit (0: all); see
	// RunByPrefix.
	RunIDsWithPrefix(ctx context.Context, prefix string, limit int) ([]string, error)
	// RunByDir returns the run planned in dir (as recorded), or an error
	// wrapping ErrNotFound.
	RunByDir(ctx context.Context, dir string) (Run, error)
	// Runs lists the runs matching f, newest first (ties by id).
	Runs(ctx context.Context, f RunFilter) ([]Run, error)
	// RunsWithMetrics lists the runs matching f as Runs does, each with
	// its metric events in the order they were appended: what comparing
	// runs' metrics needs, in one query rather than one per run.
	RunsWithMetrics(ctx context.Context, f RunFilter) ([]RunMetrics, error)
	// CountRuns counts the runs matching f, ignoring f.Limit.
	CountRuns(ctx context.Context, f RunFilter) (int, error)
	// Models lists the distinct model ids of the registered runs, sorted.
	Models(ctx context.Context) ([]string, error)

	// Name returns a registered name, or an error wrapping ErrNotFound.
	Name(ctx context.Context, kind namekind.Kind, name string) (Name, error)
	// Names lists the registered names of a kind ("" for every kind),
	// ordered by kind and name.
	Names(ctx context.Context, kind namekind.Kind) ([]Name, error)
	// RunsUsingName counts the runs whose format (kind format) or
	// granularity (kind granularity) is name.
	RunsUsingName(ctx context.Context, kind namekind.Kind, name string) (int, error)

	// Layouts lists the output layouts runs were planned under, oldest
	// first.
	Layouts(ctx context.Context) ([]Layout, error)
	// Events returns a run's events in the order they were appended.
	Events(ctx context.Context, runID string) ([]Event, error)

	// RunFiles returns the files recorded for a run, or an error wrapping
	// ErrNotFound.
	RunFiles(ctx context.Context, id string) (RunFiles, error)

	// Check verifies the registry's own integrity and returns the problems
	// found (none when healthy).
	Check(ctx context.Context) ([]string, error)

	// Close releases the registry.
	Close() error
}

// Status is where a run is in its life.
type Status string

const (
	StatusPlanned   Status = "planned"
	StatusRunning   Status = "running"
	StatusSucceeded Status = "succeeded"
	StatusFailed    Status = "failed"
)

// Statuses lists every status, in life order.
var Statuses = []Status{StatusPlanned, StatusRunning, StatusSucceeded, StatusFailed}

// Valid reports whether s is a known status.
func (s Status) Valid() bool {
	for _, v := range Statuses {
		if s == v {
			return true
		}
	}
	return false
}

// Run is one planned run: a model × format × granularity × parameters
// selection and the directory it owns.
type Run struct {
	ID          string // first 12 hex digits of the identity's sha256
	Model       string // the full model id (Qwen/Qwen3-8B)
	Format      string // the format's recorded name (see RecordedName)
	Granularity string // the granularity's recorded name (see RecordedName)
	Params      string // canonical JSON object of the typed identity parameters; "{}" for none
	// Dir is the run directory, absolute; under Options.OutputRoot the
	// registry records it relative to the root (see dirs.go).
	Dir           string
	FormatFP      string // fingerprint of the format's definition
	GranularityFP string // fingerprint of the granularity's definition
	// KVCache is the canonical KV-cache setting ("none", or "" for none:
	// the registry stores "none"); KVCacheFP its fingerprint, "" for none.
	KVCache   string
	KVCacheFP string
	ConfigFP  string        // fingerprint of the resolved ModelOpt config
	LayoutFP  string        // fingerprint of the layout template the directory came from
	ModelOpt  string        // ModelOpt target version ("0.46")
	Export    ExportVerdict // the export verdict for that target
	Status    Status
	CreatedAt time.Time
	UpdatedAt time.Time

	// Files are the bytes written into the run directory. AddRuns stores them
	// with a new run (they are not read back into Run; see RunFiles).
	Files *RunFiles
}

// ExportVerdict is a run's export verdict (SPEC §11.2) as the planner gave it:
// what ModelOpt's checkpoint export makes of the run's recipe. The registry
// stores it as given; ExportUnknown is a run planned before verdicts.
type ExportVerdict struct {
	Verdict   string // deployable, mislabelled, fails, unverified, unknown
	QuantAlgo string // the checkpoint's quant_algo label, "" for none
	Why       string // what the label misdescribes, or why the export fails
}

// NoKVCache is the KV-cache setting that quantizes nothing: every run
// planned before the KV-cache axis existed has it.
const NoKVCache = "none"

// ExportUnknown is the verdict of a run planned before qrun gave verdicts.
const ExportUnknown = "unknown"

// ExportVerdicts lists the verdicts a run may have.
var ExportVerdicts = []string{"deployable", "mislabelled", "fails", "unverified", ExportUnknown}

// RunFiles are the two files of a run directory as qrun wrote them, with
// their sha256 (hex): what `qrun doctor` rewrites a lost file from and
// compares a file on disk with.
type RunFiles struct {
	Manifest       []byte
	Recipe         []byte
	ManifestSHA256 string
	RecipeSHA256   string
}

// Name is a registered name: what it meant when a run first used it.
type Name struct {
	Kind        namekind.Kind
	Name        string
	Fingerprint string
	Definition  string // canonical definition text
	FirstRun    string // "" when registered without a run
	CreatedAt   time.Time
	Retired     bool
}

// Layout is an output layout template runs were planned under.
type Layout struct {
	Fingerprint string
	Template    string
	CreatedAt   time.Time
}

// EventKind is what an event records.
type EventKind string

const (
	EventPlan   EventKind = "plan"
	EventStatus EventKind = "status"
	EventMetric EventKind = "metric"
)

// Event is one entry of the append-only event log.
type Event struct {
	ID      int64
	RunID   string
	Kind    EventKind
	Status  Status // the run's status after the event
	Payload string // JSON object
	At      time.Time
}

// RunMetrics is a run with its metric events (kind EventMetric), in the
// order they were appended; none for a run without metrics.
type RunMetrics struct {
	Run
	Metrics []Event
}

// RunFilter selects runs. Empty fields match everything; values within a
// field are alternatives, fields combine.
type RunFilter struct {
	Granularity []string // canonical names
	Format      []string // canonical names
	Model       []string // full model ids
	KVCache     []string // canonical KV-cache settings ("none" too)
	Status      []string
	Export      []string // export verdicts
	// Params are "key":value pairs of the params JSON (as plan.ParamJSON
	// writes them, the value's type kept); a run matches when its params
	// hold every one.
	Params []string
	Since  time.Time // created at or after; zero for any time
	Limit  int       // at most this many (newest first); 0 for all
}

// NameUse is a name a plan uses, with its definition as the vocabulary in
// effect defines it.
type NameUse struct {
	Kind        namekind.Kind
	Name        string // canonical name
	Fingerprint string
	Definition  string // canonical definition text, shown when blocked
	// Aliases are the other names the entry declares for itself. A
	// registered name among them with the same fingerprint makes this a
	// declared rename rather than a rename in disguise.
	Aliases []string
	// Recorded is the name the plan's runs of this entry are recorded
	// under (see RecordedName, FillRecorded): their run ids, directories
	// and rows carry it. "" is Name.
	Recorded string
}

// PlanTx is a plan's write transaction, given to the function Update runs.
// A plan calls Check once, then AddRuns a chunk at a time; a name is
// registered the first time a run uses it.
type PlanTx interface {
	// Check checks the plan's layout and names against the registry
	// before anything is written (name stability, see CheckNames) and
	// returns every violation: a *BlockedError, several joined (see
	// Blocked). It comes first: AddRuns takes only runs under this layout
	// using these names, with their fingerprints.
	Check(h PlanHead) error
	// AddRuns records a chunk of the plan's runs, in sweep order: each new
	// run with its 'plan' event and its files, and each new name of the
	// plan with the first run using it. A run already registered in the
	// same directory is resumed; a run id registered with another
	// directory, or a directory registered for another run, is an error
	// wrapping ErrConflict. It returns the runs as planned, valid until
	// the next call. Status, CreatedAt and UpdatedAt are set by the
	// store; LayoutFP is the plan's when empty.
	AddRuns(runs []Run) ([]PlannedRun, error)
	// Registered lists the names the transaction has registered so far.
	Registered() []Name
}

// PlanHead is what every run of a plan shares.
type PlanHead struct {
	// Layout is the layout template the directories come from.
	Layout Layout
	// Names are the names the runs use, each (kind, name) once; every
	// run's format and granularity must be among them, with the
	// fingerprint the run carries.
	Names []NameUse
	// At is the plan's time (created_at of new runs and names); zero for
	// now.
	At time.Time
}

// PlanBatch is a plan held whole in memory (see Plan).
type PlanBatch struct {
	PlanHead
	Runs []Run // in sweep order
}

// Plan records a batch in one Update: Check, then AddRuns. All or
// nothing: when it returns an error, nothing was written. A violation of
// name stability is a *BlockedError (several are joined; see Blocked);
// errors.Is(err, ErrBlocked) reports both. A sweep too large to hold
// streams through Update itself.
func Plan(ctx context.Context, s Store, b PlanBatch) (PlanResult, error) {
	runs := slices.Clone(b.Runs) // validate fills defaults in
	if err := b.PlanHead.validate(); err != nil {
		return PlanResult{}, err
	}
	fps := b.nameFingerprints()
	for i := range runs {
		if err := b.checkRun(&runs[i], fps); err != nil {
			return PlanResult{}, err
		}
	}
	var res PlanResult
	err := s.Update(ctx, func(tx PlanTx) error {
		res = PlanResult{}
		if err := tx.Check(b.PlanHead); err != nil {
			return err
		}
		if len(runs) > 0 {
			planned, err := tx.AddRuns(runs)
			if err != nil {
				return err
			}
			res.Runs = slices.Clone(planned)
		}
		for _, p := range res.Runs {
			if p.Resumed {
				res.Resumed++
			} else {
				res.Created++
			}
		}
		res.Registered = slices.Clone(tx.Registered())
		return nil
	})
	if err != nil {
		return PlanResult{}, err
	}
	return res, nil
}

// PlanResult is what Plan recorded.
type PlanResult struct {
	Runs       []PlannedRun // one per batch run, in batch order
	Created    int          // runs inserted
	Resumed    int          // runs that were already registered
	Registered []Name       // names registered by this plan
}

// PlannedRun is one run of a plan as the registry holds it.
type PlannedRun struct {
	Run
	// Resumed is true when the run was already registered (a re-plan); Run
	// is then the registered row, which the caller may compare with what
	// it planned.
	Resumed bool
}

var (
	// ErrNotFound is wrapped by lookups of a run or name that is not
	// registered.
	ErrNotFound = errors.New("not found")
	// ErrBlocked is matched (errors.Is) by every *BlockedError.
	ErrBlocked = errors.New("blocked by name stability")
	// ErrConflict is wrapped when a run id or directory already belongs to
	// another run.
	ErrConflict = errors.New("conflict")
	// ErrBusy is wrapped when the registry stayed locked by another
	// process past the lock timeout.
	ErrBusy = errors.New("registry busy")
	// ErrReadOnly is wrapped when a write is attempted on a registry
	// opened read-only.
	ErrReadOnly = errors.New("registry read-only")
	// ErrSchemaTooNew is wrapped when the registry was written by a newer
	// qrun.
	ErrSchemaTooNew = errors.New("registry schema too new")
	// ErrNotRegistry is wrapped when the file is not a qrun registry (not
	// a SQLite database, damaged, or another program's database).
	ErrNotRegistry = errors.New("not a qrun registry")
	// ErrNetworkFS is wrapped when a SQLite registry would live on a
	// network file system.
	ErrNetworkFS = errors.New("registry on a network file system")
)

// BlockReason is why a plan was blocked.
type BlockReason string

const (
	// MeaningChanged: a registered name now has another definition.
	MeaningChanged BlockReason = "meaning changed"
	// RenameInDisguise: a new name has the definition of a registered one.
	RenameInDisguise BlockReason = "rename in disguise"
	// RetiredName: the name is retired and can't be planned.
	RetiredName BlockReason = "retired"
	// LayoutChanged: the layout template changed while runs exist under
	// the old one.
	LayoutChanged BlockReason = "layout changed"
	// Missing: a registered name is missing from the vocabulary (deleted
	// or renamed; see ScopeVocabulary).
	Missing BlockReason = "missing"
	// DefinitionConflict: a copy (Import) would bring in a name that the
	// target registry holds with another definition. Old is the target's
	// definition, New the source's.
	DefinitionConflict BlockReason = "conflicting definition"
)

// BlockedError is a plan refused by name stability (SPEC §6): it carries
// the old and new definitions and how many runs use the registered one.
type BlockedError struct {
	Reason BlockReason
	Kind   namekind.Kind // "" for LayoutChanged
	Name   string        // the name being planned; the new template for LayoutChanged
	// Registered is the registered name in conflict: Name itself, or for a
	// rename in disguise the name whose definition Name repeats; the old
	// template for LayoutChanged.
	Registered     string
	OldFingerprint string
	OldDefinition  string
	NewFingerprint string
	NewDefinition  string
	Runs           int    // runs using Registered (or the old layout)
	FirstRun       string // Registered's first run, if any
}

func (e *BlockedError) Error() string {
	switch e.Reason {
	case MeaningChanged:
		if e.Registered != "" && e.Registered != e.Name {
			return fmt.Sprintf("%s %s, now an alias of %s, is registered with another definition (%s, used by %s); %s's definition is %s: a used name never changes meaning; restore its definition, or give the new one a new name",
				e.Kind, e.Registered, e.Name, e.OldFingerprint, plural(e.Runs, "run"), e.Name, e.NewFingerprint)
		}
		return fmt.Sprintf("%s %s is registered with another definition (%s, used by %s); its definition now is %s: a used name never changes meaning; restore its definition, or give the new one a new name",
			e.Kind, e.Name, e.OldFingerprint, plural(e.Runs, "run"), e.NewFingerprint)
	case RenameInDisguise:
		where := fmt.Sprintf("registered %s %s (used by %s)", e.Kind, e.Registered, plural(e.Runs, "run"))
		if e.Runs == 0 && e.FirstRun == "" {
			where = fmt.Sprintf("%s %s, also new in this plan", e.Kind, e.Registered)
		}
		return fmt.Sprintf("%s %s has the same definition (%s) as %s: a rename in disguise; plan %s, or declare %s among %s's aliases",
			e.Kind, e.Name, e.NewFingerprint, where, e.Registered, e.Registered, e.Name)
	case RetiredName:
		return fmt.Sprintf("%s %s is retired (used by %s) and can't be planned", e.Kind, e.Name, plural(e.Runs, "run"))
	case Missing:
		return fmt.Sprintf("%s %s is registered (used by %s) but missing from the vocabulary: restore it, or keep it with retired: true", e.Kind, e.Name, plural(e.Runs, "run"))
	case DefinitionConflict:
		return fmt.Sprintf("%s %s is registered in the target with another definition (%s, used by %s there) than in the source (%s): the registries disagree on what it means, and a used name never changes meaning: nothing is copied",
			e.Kind, e.Name, e.OldFingerprint, plural(e.Runs, "run"), e.NewFingerprint)
	case LayoutChanged:
		return fmt.Sprintf("layout %q differs from %q, the layout of %s already planned: changing it would move their directories; keep the old layout, or use a new registry",
			e.Name, e.Registered, plural(e.Runs, "run"))
	}
	return fmt.Sprintf("%s %s: %s", e.Kind, e.Name, e.Reason)
}

// Is makes errors.Is(err, ErrBlocked) true.
func (e *BlockedError) Is(target error) bool { return target == ErrBlocked }

// Blocked returns every *BlockedError in err (Plan joins several when more
// than one name is blocked), or nil.
func Blocked(err error) []*BlockedError {
	var out []*BlockedError
	var walk func(error)
	walk = func(err error) {
		if err == nil {
			return
		}
		if b, ok := err.(*BlockedError); ok {
			out = append(out, b)
			return
		}
		switch u := err.(type) {
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				walk(e)
			}
		case interface{ Unwrap() error }:
			walk(u.Unwrap())
		}
	}
	walk(err)
	return out
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// validate checks a plan's head for the caller's mistakes before any
// database work: a layout, every name defined once.
func (h *PlanHead) validate() error {
	if h.Layout.Fingerprint == "" || h.Layout.Template == "" {
		return errors.New("plan: the layout template and its fingerprint are required")
	}
	seen := map[nameKey]bool{}
	for _, n := range h.Names {
		if !n.Kind.Valid() {
			return fmt.Errorf("plan: unknown name kind %q", n.Kind)
		}
		if n.Name == "" || n.Fingerprint == "" {
			return fmt.Errorf("plan: %s %q: name and fingerprint are required", n.Kind, n.Name)
		}
		if seen[nameKey{n.Kind, n.Name}] {
			return fmt.Errorf("plan: %s %s is given twice", n.Kind, n.Name)
		}
		seen[nameKey{n.Kind, n.Name}] = true
	}
	return nil
}

// nameFingerprints maps each name of the plan to its fingerprint.
func (h *PlanHead) nameFingerprints() map[nameKey]string {
	fps := make(map[nameKey]string, len(h.Names))
	for _, n := range h.Names {
		fps[nameKey{n.Kind, n.Name}] = n.Fingerprint
		fps[nameKey{n.Kind, n.RecordedAs()}] = n.Fingerprint
	}
	return fps
}

// checkRun fills in a run's defaults and checks it is complete and
// consistent with the plan's layout and names.
func (h *PlanHead) checkRun(r *Run, fps map[nameKey]string) error {
	if r.LayoutFP == "" {
		r.LayoutFP = h.Layout.Fingerprint
	}
	if err := r.validate(); err != nil {
		return err
	}
	if r.LayoutFP != h.Layout.Fingerprint {
		return fmt.Errorf("plan: run %s has layout %s, not the plan's %s", r.ID, r.LayoutFP, h.Layout.Fingerprint)
	}
	for _, u := range []struct {
		k     namekind.Kind
		n, fp string
	}{{namekind.Format, r.Format, r.FormatFP}, {namekind.Granularity, r.Granularity, r.GranularityFP}, {namekind.KVCache, r.KVCache, r.KVCacheFP}} {
		if u.k == namekind.KVCache && u.n == NoKVCache {
			continue // none is no registered name
		}
		fp, ok := fps[nameKey{u.k, u.n}]
		if !ok {
			return fmt.Errorf("plan: run %s uses %s %s, which the plan does not define", r.ID, u.k, u.n)
		}
		if fp != u.fp {
			return fmt.Errorf("plan: run %s has %s %s fingerprint %s, but the plan defines it as %s", r.ID, u.k, u.n, u.fp, fp)
		}
	}
	return nil
}

func (r *Run) validate() error {
	if !validRunID(r.ID) {
		return fmt.Errorf("plan: invalid run id %q: want 12 lower-case hex digits", r.ID)
	}
	for _, f := range []struct{ what, v string }{
		{"model", r.Model}, {"format", r.Format}, {"granularity", r.Granularity}, {"dir", r.Dir},
		{"format fingerprint", r.FormatFP}, {"granularity fingerprint", r.GranularityFP},
		{"config fingerprint", r.ConfigFP}, {"ModelOpt target", r.ModelOpt},
	} {
		if f.v == "" {
			return fmt.Errorf("plan: run %s: %s is required", r.ID, f.what)
		}
	}
	if r.Params == "" {
		r.Params = "{}"
	}
	if r.KVCache == "" {
		r.KVCache = NoKVCache
	}
	if (r.KVCache == NoKVCache) != (r.KVCacheFP == "") {
		return fmt.Errorf("plan: run %s: KV-cache setting %s with fingerprint %q: none has no fingerprint, every other setting one", r.ID, r.KVCache, r.KVCacheFP)
	}
	if r.Export.Verdict == "" {
		r.Export.Verdict = ExportUnknown
	}
	if !slices.Contains(ExportVerdicts, r.Export.Verdict) {
		return fmt.Errorf("plan: run %s: unknown export verdict %q", r.ID, r.Export.Verdict)
	}
	if !jsonObject(r.Params) {
		return fmt.Errorf("plan: run %s: params must be a JSON object, got %q", r.ID, r.Params)
	}
	return nil
}

func validRunID(id string) bool {
	if len(id) != 12 {
		return false
	}
	return strings.Trim(id, "0123456789abcdef") == ""
}
