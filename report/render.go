package report

import (
	"bytes"
	_ "embed"
	"fmt"
	"html/template"
	"regexp"
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
