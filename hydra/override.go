// Package hydra reads and writes Hydra 1.3 command-line overrides:
// key=value with comma sweeps, quoted values and range(), and the quoting
// that makes an emitted line hand Hydra exactly the value meant, through a
// POSIX shell, xargs or Python's shlex.
package hydra

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Value is one typed value of an override: int, float64, bool, nil or
// string. Hydra types unquoted values (seed=1 is an int); a quoted value is
// always a string (seed='1').
type Value = any

// Override is one key=value argument; a comma list or range() is a sweep.
type Override struct {
	Key    string
	Values []Value
	Sweep  bool // more than one value was given (or a range)
	Raw    string
	count  uint64 // the values counted (see Count)
}

// MaxSweep bounds the values of one override, so a typo like
// range(0,1000000000) fails at once instead of exhausting memory.
const MaxSweep = 1_000_000

// MaxLength bounds one argument.
const MaxLength = 4096

var keyRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.\-/@]*$`)

// Error is a problem in one override, said in the user's terms.
type Error struct {
	Arg string
	Msg string
}

func (e *Error) Error() string { return fmt.Sprintf("override %s: %s", show(e.Arg), e.Msg) }

func show(s string) string {
	r := []rune(s)
	if len(r) > 60 {
		return strconv.Quote(string(r[:60])) + fmt.Sprintf("… (%d characters)", len(r))
	}
	return strconv.Quote(s)
}

func errf(arg, format string, args ...any) error {
	return &Error{Arg: arg, Msg: fmt.Sprintf(format, args...)}
}

// Parse reads one command-line argument as a Hydra override.
func Parse(arg string) (Override, error) { return parse(arg, false) }

// Count reads an override as Parse does, and checks it as Parse does,
// but only counts its values: a range is counted, not expanded, and has
// no MaxSweep limit. The returned Override has no Values. A selection's
// size is the product of such counts, known before anything is expanded.
func Count(arg string) (o Override, n uint64, err error) {
	o, err = parse(arg, true)
	return o, o.count, err
}

func parse(arg string, countOnly bool) (Override, error) {
	if len(arg) > MaxLength {
		return Override{}, errf(arg, "is %d bytes long; an override is at most %d", len(arg), MaxLength)
	}
	if !utf8.ValidString(arg) {
		return Override{}, errf(arg, "is not valid UTF-8")
	}
	if i := strings.IndexFunc(arg, func(r rune) bool { return r == 0 || r == '\n' || r == '\r' }); i >= 0 {
		return Override{}, errf(arg, "contains a control character (NUL or newline); remove it")
	}
	switch {
	case strings.HasPrefix(arg, "++"), strings.HasPrefix(arg, "+"), strings.HasPrefix(arg, "~"):
		return Override{}, errf(arg, "Hydra's +, ++ and ~ prefixes (add, force-add, delete a config key) are not part of a qrun selection: write key=value")
	case strings.HasPrefix(arg, "-"):
		return Override{}, errf(arg, "looks like a flag; flags go before the overrides, and Hydra's -m is never needed: qrun expands sweeps itself")
	}
	eq := strings.IndexByte(arg, '=')
	if eq < 0 {
		return Override{}, errf(arg, "is not key=value")
	}
	key, rest := strings.TrimSpace(arg[:eq]), arg[eq+1:]
	if key == "" {
		return Override{}, errf(arg, "has no key before =")
	}
	if !keyRE.MatchString(key) {
		return Override{}, errf(arg, "key %s is not a Hydra config key (letters, digits, _ . - / @, starting with a letter or _)", show(key))
	}
	if strings.Contains(key, "..") || strings.HasSuffix(key, ".") {
		return Override{}, errf(arg, "key %s has an empty path component", show(key))
	}
	vals, n, sweep, err := parseValue(rest, countOnly)
	if err != nil {
		return Override{}, errf(arg, "%s", err.Error())
	}
	return Override{Key: key, Values: vals, Sweep: sweep, Raw: arg, count: n}, nil
}

// parseValue reads a value: elements separated by top-level commas. With
// countOnly, it only counts them (n), expanding no range.
func parseValue(s string, countOnly bool) (out []Value, n uint64, sweep bool, err error) {
	if strings.TrimSpace(s) == "" {
		return nil, 0, false, fmt.Errorf("has an empty value; give a value after =")
	}
	p := &parser{s: s, countOnly: countOnly}
	for {
		p.skipSpace()
		if strings.HasPrefix(p.s[p.i:], "range(") {
			vals, count, err := p.parseRange()
			if err != nil {
				return nil, 0, false, err
			}
			out = append(out, vals...)
			if n += count; n < count {
				n = math.MaxUint64 // counted past 2^64
			}
			sweep = true
		} else {
			v, err := p.parseElement()
			if err != nil {
				return nil, 0, false, err
			}
			if !countOnly {
				out = append(out, v)
			}
			n++
		}
		if n > MaxSweep && !countOnly {
			return nil, 0, false, fmt.Errorf("sweeps more than %d values", MaxSweep)
		}
		p.skipSpace()
		if p.i >= len(p.s) {
			break
		}
		if p.s[p.i] != ',' {
			return nil, 0, false, fmt.Errorf("unexpected %q at position %d; quote values that contain special characters ('…')", p.s[p.i], p.i+1)
		}
		p.i++
		sweep = true
	}
	return out, n, sweep || n > 1, nil
}

type parser struct {
	s         string
	i         int
	countOnly bool // count ranges, do not expand them
}

func (p *parser) skipSpace() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

// special characters that end or break an unquoted Hydra value.
const unquotedStop = ",'\"[]{}()=~#!&;$\\"

func (p *parser) parseElement() (Value, error) {
	if p.i >= len(p.s) || p.s[p.i] == ',' {
		return nil, fmt.Errorf("has an empty element in a comma list")
	}
	switch c := p.s[p.i]; c {
	case '\'', '"':
		return p.parseQuoted(c)
	case '[', '{':
		return nil, fmt.Errorf("lists and dicts ([…], {…}) are not supported in a qrun selection; give scalar values")
	}
	start := p.i
	for p.i < len(p.s) {
		c := p.s[p.i]
		if c == ',' {
			break
		}
		if c == '(' {
			name := strings.TrimSpace(p.s[start:p.i])
			return nil, fmt.Errorf("%s(…) is Hydra sweeper syntax that qrun plan does not support; use comma lists or range(a,b[,step])", name)
		}
		if c == '$' && p.i+1 < len(p.s) && p.s[p.i+1] == '{' {
			return nil, fmt.Errorf("interpolations (${…}) are not supported in a qrun selection; give the value itself")
		}
		if strings.IndexByte(unquotedStop, c) >= 0 && c != ',' {
			return nil, fmt.Errorf("unquoted %q in a value; quote the value: key='…'", c)
		}
		p.i++
	}
	raw := strings.TrimRight(p.s[start:p.i], " \t")
	if raw == "" {
		return nil, fmt.Errorf("has an empty element in a comma list")
	}
	if infNaN.MatchString(raw) {
		return nil, fmt.Errorf("%s is not a usable value (Hydra reads it as a float that equals nothing); quote it if you mean the word: '%s'", raw, raw)
	}
	return typed(raw), nil
}

// parseQuoted reads a quoted string with Hydra's escaping: inside quotes a
// run of backslashes is literal unless it precedes the quote character; a
// run of 2n backslashes before the quote is n backslashes ending the
// string, 2n+1 is n backslashes and a literal quote.
func (p *parser) parseQuoted(q byte) (Value, error) {
	p.i++ // opening quote
	var b strings.Builder
	for p.i < len(p.s) {
		c := p.s[p.i]
		if c == '\\' {
			j := p.i
			for j < len(p.s) && p.s[j] == '\\' {
				j++
			}
			n := j - p.i
			if strings.HasPrefix(p.s[j:], "${") {
				// Before an interpolation the same rule: 2n+1 backslashes
				// are n and a literal ${, 2n are n and an interpolation.
				if n%2 == 0 {
					return nil, fmt.Errorf("interpolations (${…}) are not supported in a qrun selection; write \\${ for a literal ${")
				}
				b.WriteString(strings.Repeat(`\`, n/2))
				b.WriteString("${")
				p.i = j + 2
				continue
			}
			if j < len(p.s) && p.s[j] == q {
				b.WriteString(strings.Repeat(`\`, n/2))
				p.i = j
				if n%2 == 1 {
					b.WriteByte(q)
					p.i++
					continue
				}
				p.i++ // closing quote
				return b.String(), nil
			}
			b.WriteString(p.s[p.i:j])
			p.i = j
			continue
		}
		if c == q {
			p.i++
			return b.String(), nil
		}
		if c == '$' && strings.HasPrefix(p.s[p.i:], "${") {
			return nil, fmt.Errorf("interpolations (${…}) are not supported in a qrun selection; write \\${ for a literal ${")
		}
		b.WriteByte(c)
		p.i++
	}
	return nil, fmt.Errorf("has an unterminated %c-quoted string", q)
}

// Hydra 1.3's lexer: INT is [+-]?(0|[1-9](_?[0-9])*); FLOAT has a point
// or an exponent (digit groups may use single underscores).
const digits = `[0-9](_?[0-9])*`

var (
	intRE   = regexp.MustCompile(`^[+-]?(0|[1-9](_?[0-9])*)$`)
	floatRE = regexp.MustCompile(`^[+-]?(((` + digits + `)?\.` + digits + `|` + digits + `\.)([eE][+-]?` + digits + `)?|` + digits + `[eE][+-]?` + digits + `)$`)
	infNaN  = regexp.MustCompile(`^[+-]?([Ii][Nn][Ff]|[Nn][Aa][Nn])$`)
)

// typed gives an unquoted primitive Hydra's type.
func typed(raw string) Value {
	switch strings.ToLower(raw) {
	case "true":
		return true
	case "false":
		return false
	case "null":
		return nil
	}
	if intRE.MatchString(raw) {
		if n, err := strconv.ParseInt(strings.ReplaceAll(raw, "_", ""), 10, 64); err == nil {
			return int(n)
		}
		return raw
	}
	if floatRE.MatchString(raw) {
		if f, err := strconv.ParseFloat(strings.ReplaceAll(raw, "_", ""), 64); err == nil && !math.IsInf(f, 0) {
			return f
		}
	}
	return raw
}

// parseRange reads range(…): its values and their count (only the count
// when counting).
func (p *parser) parseRange() ([]Value, uint64, error) {
	p.i += len("range(")
	end := strings.IndexByte(p.s[p.i:], ')')
	if end < 0 {
		return nil, 0, fmt.Errorf("range( is not closed")
	}
	inner := p.s[p.i : p.i+end]
	p.i += end + 1
	parts := strings.Split(inner, ",")
	if len(parts) < 1 || len(parts) > 3 {
		return nil, 0, fmt.Errorf("range takes (stop), (start, stop) or (start, stop, step)")
	}
	nums := make([]int, len(parts))
	for i, s := range parts {
		s = strings.TrimSpace(s)
		if s == "" || !intRE.MatchString(s) {
			return nil, 0, fmt.Errorf("range(%s): arguments must be integers", inner)
		}
		n, err := strconv.Atoi(strings.ReplaceAll(s, "_", ""))
		if err != nil {
			return nil, 0, fmt.Errorf("range(%s): %s is out of range", inner, s)
		}
		nums[i] = n
	}
	start, stop, step := 0, nums[0], 1
	if len(nums) >= 2 {
		start, stop = nums[0], nums[1]
	}
	if len(nums) == 3 {
		step = nums[2]
	}
	if step == 0 {
		return nil, 0, fmt.Errorf("range(%s): step must not be zero", inner)
	}
	count := rangeCount(start, stop, step)
	if count == 0 {
		return nil, 0, fmt.Errorf("range(%s) is empty", inner)
	}
	if p.countOnly {
		return nil, count, nil
	}
	if count > MaxSweep {
		return nil, 0, fmt.Errorf("range(%s) sweeps %d values, more than %d", inner, count, MaxSweep)
	}
	out := make([]Value, 0, count)
	for i, v := 0, start; i < int(count); i, v = i+1, v+step {
		out = append(out, v)
	}
	return out, count, nil
}

// rangeCount is the number of values of range(start, stop, step), in
// unsigned arithmetic so that no span of ints overflows.
func rangeCount(start, stop, step int) uint64 {
	var span, by uint64
	switch {
	case step > 0 && stop > start:
		span, by = uint64(stop)-uint64(start), uint64(step)
	case step < 0 && stop < start:
		span, by = uint64(start)-uint64(stop), -uint64(step)
	default:
		return 0
	}
	n := span / by
	if span%by != 0 {
		n++
	}
	return n
}

// plainRE are strings Hydra reads back as themselves without quotes.
var plainRE = regexp.MustCompile(`^[A-Za-z0-9_./@:%+\-]+$`)

// Quote writes a value in Hydra override syntax so that Hydra parses it back
// to the same typed value: strings are single-quoted whenever they contain a
// character Hydra treats specially or would read back as another type.
func Quote(v Value) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case bool:
		return strconv.FormatBool(x)
	case int:
		return strconv.Itoa(x)
	case float64:
		s := strconv.FormatFloat(x, 'g', -1, 64)
		if !strings.ContainsAny(s, ".eEn") {
			s += ".0"
		}
		return s
	case string:
		if plainRE.MatchString(x) && !infNaN.MatchString(x) {
			if t, isStr := typed(x).(string); isStr && t == x && !strings.HasPrefix(x, "-") && !strings.HasPrefix(x, "+") {
				return x
			}
		}
		return "'" + escapeQuoted(x, '\'') + "'"
	}
	return fmt.Sprint(v)
}

// escapeQuoted escapes for a q-quoted Hydra string: the quote becomes \q
// and a run of backslashes right before a quote (or the end) is doubled.
func escapeQuoted(s string, q byte) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		if s[i] == '\\' {
			j := i
			for j < len(s) && s[j] == '\\' {
				j++
			}
			run := s[i:j]
			if j == len(s) || s[j] == q || strings.HasPrefix(s[j:], "${") {
				run += run
			}
			b.WriteString(run)
			i = j
			continue
		}
		if s[i] == q || strings.HasPrefix(s[i:], "${") {
			b.WriteByte('\\') // Hydra interpolates ${…} even inside quotes
		}
		b.WriteByte(s[i])
		i++
	}
	return b.String()
}

// Arg is one override as Hydra reads it: key=quoted-value.
func Arg(key string, v Value) string { return key + "=" + Quote(v) }

// QuotedArg is Arg with a string value always single-quoted, as qrun writes
// hydra.run.dir='<dir>' whatever the directory.
func QuotedArg(key, v string) string { return key + "='" + escapeQuoted(v, '\'') + "'" }

// shellSafe are arguments a POSIX shell passes through unchanged.
var shellSafe = regexp.MustCompile(`^[A-Za-z0-9_./@:%+=,\-]+$`)

// Shell quotes one argument for a POSIX shell (and xargs, and Python's
// shlex): bare when safe, in double quotes when that needs no escapes
// ("hydra.run.dir='/o/x'"), otherwise in single quotes with '\” for '.
func Shell(arg string) string {
	if shellSafe.MatchString(arg) {
		return arg
	}
	if !strings.ContainsAny(arg, "$`\"\\!\n") {
		return `"` + arg + `"`
	}
	return "'" + strings.ReplaceAll(arg, "'", `'\''`) + "'"
}

// Line joins arguments into one shell-ready line.
func Line(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = Shell(a)
	}
	return strings.Join(q, " ")
}
