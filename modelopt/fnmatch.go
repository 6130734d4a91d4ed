package modelopt

// fnmatch reports whether name matches a quant_cfg wildcard the way
// ModelOpt matches quantizer names: Python's fnmatch.fnmatch on POSIX, where
// `*` matches any run of characters (dots included), `?` any one character,
// `[seq]` one character of seq and `[!seq]` one not in it; everything else,
// backslashes included, stands for itself.
func fnmatch(pattern, name string) bool {
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
