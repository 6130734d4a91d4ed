package main

import (
	"fmt"
	"io"
	"time"
)

// progressInterval is the least time between two progress updates.
const progressInterval = 100 * time.Millisecond

// progress shows a long loop's count, total and rate on one terminal line
// (stderr), rewritten in place at most every interval; done clears it. It
// is meant for a TTY only: callers decide (see newProgress).
type progress struct {
	w        io.Writer
	label    string
	interval time.Duration
	now      func() time.Time

	start, last time.Time
	shown       bool
	lastDone    int
}

// newProgress returns a progress line on io's stderr for a loop described
// by label ("writing runs"), or nil when progress must not be shown: stderr
// is not a terminal, or the output is machine-readable (JSON).
func newProgress(io *IOStreams, label string, machine bool) *progress {
	if !io.ErrIsTTY || machine {
		return nil
	}
	return &progress{w: io.ErrOut, label: label, interval: progressInterval, now: time.Now}
}

// update reports done of total. It is cheap when called often: it writes
// only when interval has passed since the last write, and always for the
// last item, so the final count is seen.
func (p *progress) update(done, total int) {
	if p == nil {
		return
	}
	t := p.now()
	if p.start.IsZero() || done < p.lastDone {
		// First call, or the loop started over (a retried transaction).
		p.start, p.last = t, t
	}
	p.lastDone = done
	if done < total && t.Sub(p.last) < p.interval {
		return
	}
	p.last = t
	rate := ""
	if el := t.Sub(p.start); el > 0 && done > 0 {
		rate = fmt.Sprintf(", %.0f/s", float64(done)/el.Seconds())
	}
	pct := 100
	if total > 0 {
		pct = done * 100 / total
	}
	fmt.Fprintf(p.w, "\r\x1b[K%s: %d/%d (%d%%%s)", p.label, done, total, pct, rate)
	p.shown = true
}

// done erases the progress line, if one was shown, so that the summary
// that follows starts on a clean line.
func (p *progress) done() {
	if p == nil || !p.shown {
		return
	}
	fmt.Fprint(p.w, "\r\x1b[K")
	p.shown = false
}

// fn is update as a plan.Options.Progress hook (nil when p is nil, so the
// plan skips the call entirely).
func (p *progress) fn() func(done, total int) {
	if p == nil {
		return nil
	}
	return p.update
}
