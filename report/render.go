package report

import (
	"bytes"
	_ "embed"
	"fmt"
	"html/template"
	"regexp"
	"strings"
)

//go:embed report.html.tmpl
var pageText string

// cssColour is what css accepts: the colours and gradient qrun makes.
var cssColour = regexp.MustCompile(`^[a-z: ;,#0-9()-]*$`)

var page = template.Must(template.New("report").Funcs(template.FuncMap{
	// css passes a style qrun built from its own colours (never from
	// data) as CSS; anything else is dropped.
	"css": func(s string) template.CSS {
		if !cssColour.MatchString(s) {
			return ""
		}
		return template.CSS(s)
	},
	// wbr lets a long column label (recipe_match_channel_token) wrap
	// after its underscores.
	"wbr": func(s string) template.HTML {
		parts := strings.Split(s, "_")
		for i, p := range parts {
			parts[i] = template.HTMLEscapeString(p)
		}
		return template.HTML(strings.Join(parts, "_<wbr>"))
	},
}).Parse(pageText))

// HTML renders the report as one self-contained page: inline CSS, no
// script, no external resource.
func (r *Report) HTML() ([]byte, error) {
	var b bytes.Buffer
	if err := page.Execute(&b, r); err != nil {
		return nil, fmt.Errorf("render the report: %w", err)
	}
	return b.Bytes(), nil
}
