package modelopt

import "strings"

// fnmatch reports whether name matches a quant_cfg wildcard the way
// ModelOpt matches quantizer names: Python's fnmatch.fnmatch on POSIX, where
// `*` matches any run of characters (dots included), `?` any one character,
// `[seq]` one character of seq and `[!seq]` one not in it; everything else,
// backslashes included, stands for itself.
func fnmatch(pattern, name string) bool {
	if !strings.ContainsAny(pattern, "?[") {
		return starMatch(pattern, name)
	}
	p, n := []rune(pattern), []rune(name)
	// Iterative matching with one backtrack point for the last `*`.
	pi, ni := 0, 0
	starP, starN := -1, 0
	for ni < len(n) {
		if pi < len(p) {
			switch p[pi] {
			case '*':
				starP, starN = pi, ni
				pi++
				continue
			case '?':
				pi++
				ni++
				continue
			case '[':
				if ok, width := matchClass(p[pi:], n[ni]); width > 0 {
					if ok {
						pi += width
						ni++
						continue
					}
				} else if n[ni] == '[' { // an unclosed [ is a literal
					pi++
					ni++
					continue
				}
			default:
				if p[pi] == n[ni] {
					pi++
					ni++
					continue
				}
			}
		}
		if starP < 0 {
			return false
		}
		starN++
		pi, ni = starP+1, starN
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}

// glob is a quant_cfg pattern ready to match many names.
type glob struct {
	pattern string
	pieces  []string // the literal pieces between stars; nil when ? or [ need fnmatch
}

func compileGlob(pattern string) glob {
	g := glob{pattern: pattern}
	if !strings.ContainsAny(pattern, "?[") {
		g.pieces = strings.Split(pattern, "*")
	}
	return g
}

func (g glob) match(name string) bool {
	if g.pieces == nil {
		return fnmatch(g.pattern, name)
	}
	return piecesMatch(g.pieces, g.pattern, name)
}

// starMatch is fnmatch for a pattern whose only wildcard is `*` (what
// quant_cfg patterns nearly always are): its literal pieces in order, the
// first at the start, the last at the end.
func starMatch(pattern, name string) bool {
	return piecesMatch(strings.Split(pattern, "*"), pattern, name)
}

func piecesMatch(pieces []string, pattern, name string) bool {
	if len(pieces) == 1 {
		return pattern == name
	}
	first, last := pieces[0], pieces[len(pieces)-1]
	if len(name) < len(first)+len(last) || !strings.HasPrefix(name, first) || !strings.HasSuffix(name, last) {
		return false
	}
	mid := name[len(first) : len(name)-len(last)]
	for _, piece := range pieces[1 : len(pieces)-1] {
		i := strings.Index(mid, piece)
		if i < 0 {
			return false
		}
		mid = mid[i+len(piece):]
	}
	return true
}

// matchClass matches c against the bracket expression at the start of p
// ("[abc]", "[!a-z]", "[]]"). width is the expression's length in runes, or
// 0 when the bracket is not closed (then it is an ordinary character).
func matchClass(p []rune, c rune) (ok bool, width int) {
	i := 1
	negate := false
	if i < len(p) && p[i] == '!' {
		negate = true
		i++
	}
	start := i
	matched := false
	for ; i < len(p); i++ {
		if p[i] == ']' && i > start {
			if negate {
				return !matched, i + 1
			}
			return matched, i + 1
		}
		if i+2 < len(p) && p[i+1] == '-' && p[i+2] != ']' {
			if p[i] <= c && c <= p[i+2] {
				matched = true
			}
			i += 2
			continue
		}
		if p[i] == c {
			matched = true
		}
	}
	return false, 0
}
