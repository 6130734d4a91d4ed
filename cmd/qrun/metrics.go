package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/qrun-dev/qrun/compare"
	"github.com/qrun-dev/qrun/store"
)

// eventMetrics are a metric event's values (nil for other events, or a
// payload that can't be read).
func eventMetrics(e store.Event) map[string]float64 {
	if e.Kind != store.EventMetric {
		return nil
	}
	m, err := compare.ParsePayload(e.Payload)
	if err != nil {
		return nil
	}
	return m
}

func formatMetric(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

// writeMetricLines prints the latest value of each metric, sorted by name,
// aligned, with when it was recorded.
func writeMetricLines(w io.Writer, latest map[string]compare.Metric) {
	keys := slices.Sorted(maps.Keys(latest))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, k := range keys {
		m := latest[k]
		fmt.Fprintf(tw, "  %s\t%s\t(%s)\n", printable(k), formatMetric(m.Value), m.At.UTC().Format(time.RFC3339))
	}
	tw.Flush()
}

// historyLine shows one event readably: a status change with the status
// it replaced, a metric event's key=value pairs.
func historyLine(e store.Event) string {
	line := fmt.Sprintf("  %s  %-7s %s", e.At.UTC().Format(time.RFC3339), e.Kind, e.Status)
	switch e.Kind {
	case store.EventPlan:
		return line
	case store.EventStatus:
		var p struct{ From, To, Note string }
		if json.Unmarshal([]byte(e.Payload), &p) == nil && p.From != "" {
			line += fmt.Sprintf("  (was %s)", printable(p.From))
			if p.Note != "" {
				line += "  note: " + printable(p.Note)
			}
			return line
		}
	case store.EventMetric:
		if m := eventMetrics(e); m != nil {
			keys := slices.Sorted(maps.Keys(m))
			parts := make([]string, len(keys))
			for i, k := range keys {
				parts[i] = printable(k) + "=" + formatMetric(m[k])
			}
			return line + "  " + strings.Join(parts, " ")
		}
	}
	if e.Payload != "" && e.Payload != "{}" {
		line += "  " + printable(e.Payload)
	}
	return line
}
