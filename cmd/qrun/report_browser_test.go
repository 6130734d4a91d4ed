package main

import (
	"bufio"
	"bytes"
	"context"
	"image"
	"image/png"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/html"
)

// TestReportInChromium: qrun report on a sweep with metrics, a baseline,
// a failed, a running, planned and unplanned cells and three export
// verdicts opens in headless Chromium without a network request or a
// console message, shows every cell as it should, and its links point at
// the runs' manifests on disk. Chromium is Debian's chromium package: the
// test skips without it, except in CI (CI=true), where .ci/run installs it.
func TestReportInChromium(t *testing.T) {
	chrome := findChromium(t)
	dir := t.TempDir()
	must(t, os.Mkdir(filepath.Join(dir, "conf"), 0o755))
	must(t, os.Mkdir(filepath.Join(dir, "reports"), 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "qrun.yaml"), []byte("output: outputs\ndatabase: .qrun/qrun.db\n"), 0o644))
	global := []string{"--config", filepath.Join(dir, "qrun.yaml"), "--root", filepath.Join(dir, "outputs"), "--db", filepath.Join(dir, "qrun.db"), "--conf", filepath.Join(dir, "conf")}
	qrun := func(args ...string) string {
		t.Helper()
		var out, errOut bytes.Buffer
		env := func(k string) string {
			if k == "SOURCE_DATE_EPOCH" {
				return "1767225600"
			}
			return ""
		}
		if code := run(context.Background(), append(append([]string{}, global...), args...), &Factory{IO: &IOStreams{Out: &out, ErrOut: &errOut}, Getenv: env}); code != 0 {
			t.Fatalf("qrun %s exited %d:\n%s%s", strings.Join(args, " "), code, out.String(), errOut.String())
		}
		return out.String() + errOut.String()
	}
	// 2 models × 3 formats × 3 granularities; nvfp4 with w_group64 or
	// w_per_tensor is refused, so those cells show "no run".
	qrun("plan", "--skip-invalid", "--model", "Qwen/Qwen3-8B,Qwen/Qwen3-4B", "--format", "fp8,int8,nvfp4", "--granularity", "default,w_group64,w_per_tensor")
	runDir := func(model, format, gran string) string { return filepath.Join(dir, "outputs", model, format, gran) }
	for _, m := range []struct{ model, format, gran, status, ppl string }{
		{"Qwen3-8B", "fp8", "default", "succeeded", "10"},
		{"Qwen3-8B", "fp8", "w_per_tensor", "succeeded", "10.25"},
		{"Qwen3-8B", "int8", "default", "succeeded", "10.5"},
		{"Qwen3-8B", "int8", "w_per_tensor", "succeeded", "11.75"},
		{"Qwen3-8B", "fp8", "w_group64", "failed", ""},
		{"Qwen3-8B", "int8", "w_group64", "running", ""},
		{"Qwen3-4B", "fp8", "default", "succeeded", "12"},
		{"Qwen3-4B", "nvfp4", "default", "succeeded", "12.5"},
		{"Qwen3-4B", "int8", "default", "failed", ""},
	} {
		args := []string{"mark", runDir(m.model, m.format, m.gran), m.status}
		if m.ppl != "" {
			args = append(args, "--metric", "wikitext_ppl="+m.ppl)
		}
		qrun(args...)
	}
	page := filepath.Join(dir, "reports", "sweep.html")
	if out := qrun("report", "--metric", "wikitext_ppl", "--lower-is-better", "--baseline", "fp8/default", "-o", page); !strings.Contains(out, "(2 heatmaps, 6 cells with a value)") {
		t.Fatalf("qrun report: %s", out)
	}

	start := time.Now()
	got := openInChromium(t, chrome, page)
	t.Logf("Chromium loaded the report in %v; its own requests, refused by the proxy: %q", time.Since(start).Round(time.Millisecond), requestHosts(got.requests))

	if bad := pageRequests(got.requests); len(bad) > 0 {
		t.Errorf("the page made network requests:\n%s", strings.Join(bad, "\n"))
	}
	if msgs := consoleMessages(got.stderr); len(msgs) > 0 {
		t.Errorf("console messages (the page has no script; expected none):\n%s", strings.Join(msgs, "\n"))
	}

	doc, err := html.Parse(strings.NewReader(got.dom))
	if err != nil {
		t.Fatalf("parse the DOM: %v", err)
	}
	for _, tag := range []string{"script", "link", "img", "iframe", "object", "embed", "style"} {
		n := len(findAll(doc, func(n *html.Node) bool { return n.Data == tag }))
		if want := map[string]int{"style": 1}[tag]; n != want {
			t.Errorf("%d <%s> elements, want %d", n, tag, want)
		}
	}
	for _, n := range findAll(doc, func(n *html.Node) bool { return attr(n, "src") != "" }) {
		t.Errorf("<%s src=%q>: the page loads something", n.Data, attr(n, "src"))
	}

	type want struct{ class, text, delta, verdict string }
	const ok, warn, bad = "deployable", "mislabelled", "fails"
	wantCells := map[string]map[string]want{
		"Qwen/Qwen3-8B": {
			"fp8/default":        {"value", "10", "+0", ok},
			"fp8/w_group64":      {"failed", "failed", "", bad},
			"fp8/w_per_tensor":   {"value", "10.25", "+0.25", ok},
			"int8/default":       {"value", "10.5", "+0.5", ok},
			"int8/w_group64":     {"running", "running", "", bad},
			"int8/w_per_tensor":  {"value", "11.75", "+1.75", warn},
			"nvfp4/default":      {"planned", "planned", "", ok},
			"nvfp4/w_group64":    {"missing", "no run", "", ""},
			"nvfp4/w_per_tensor": {"missing", "no run", "", ""},
		},
		"Qwen/Qwen3-4B": {
			"fp8/default":        {"value", "12", "+0", ok},
			"fp8/w_group64":      {"planned", "planned", "", bad},
			"fp8/w_per_tensor":   {"planned", "planned", "", ok},
			"int8/default":       {"failed", "failed", "", ok},
			"int8/w_group64":     {"planned", "planned", "", bad},
			"int8/w_per_tensor":  {"planned", "planned", "", warn},
			"nvfp4/default":      {"value", "12.5", "+0.5", ok},
			"nvfp4/w_group64":    {"missing", "no run", "", ""},
			"nvfp4/w_per_tensor": {"missing", "no run", "", ""},
		},
	}
	symbol := map[string]string{ok: "✓", warn: "⚠", bad: "✗"}
	sections := findAll(doc, func(n *html.Node) bool { return n.Data == "section" })
	if len(sections) != len(wantCells) {
		t.Fatalf("%d sections, want one per model (%d)", len(sections), len(wantCells))
	}
	var valueColours []uint32
	for _, sec := range sections {
		h2 := first(sec, "h2")
		if h2 == nil {
			t.Fatal("a section without a model heading")
		}
		model := text(h2)
		cells, known := wantCells[model]
		if !known {
			t.Fatalf("section %q: not a model of the sweep", model)
		}
		tables := findAll(sec, func(n *html.Node) bool { return n.Data == "table" && hasClass(n, "heatmap") })
		if len(tables) != 1 {
			t.Fatalf("%s: %d heatmap tables, want 1", model, len(tables))
		}
		var cols []string
		for _, th := range findAll(first(tables[0], "thead"), func(n *html.Node) bool { return n.Data == "th" }) {
			cols = append(cols, text(th))
		}
		if len(cols) != 4 || !hasClass(findAll(first(tables[0], "thead"), func(n *html.Node) bool { return n.Data == "th" })[0], "corner") {
			t.Fatalf("%s: column headers %q, want the corner and 3 granularities", model, cols)
		}
		cols = cols[1:]
		seen := 0
		for _, tr := range findAll(first(tables[0], "tbody"), func(n *html.Node) bool { return n.Data == "tr" }) {
			format := text(first(tr, "th"))
			tds := findAll(tr, func(n *html.Node) bool { return n.Data == "td" })
			if len(tds) != len(cols) {
				t.Errorf("%s row %s: %d cells, want %d", model, format, len(tds), len(cols))
				continue
			}
			for i, td := range tds {
				key := format + "/" + cols[i]
				w, ok := cells[key]
				if !ok {
					t.Errorf("%s: unexpected cell %s", model, key)
					continue
				}
				seen++
				where := model + " " + key
				if !hasClass(td, w.class) {
					t.Errorf("%s: class %q, want %q", where, attr(td, "class"), w.class)
				}
				if attr(td, "title") == "" {
					t.Errorf("%s: no hover text", where)
				}
				textClass := "s"
				if w.class == "value" {
					textClass = "v"
					valueColours = append(valueColours, styleColour(t, attr(td, "style")))
				}
				if got := text(byClass(td, "span", textClass)); got != w.text {
					t.Errorf("%s: shows %q, want %q", where, got, w.text)
				}
				if got := text(byClass(td, "span", "d")); got != w.delta {
					t.Errorf("%s: delta %q, want %q", where, got, w.delta)
				}
				mark := byClass(td, "span", "mark")
				switch {
				case w.verdict == "" && mark != nil:
					t.Errorf("%s: a verdict mark on a cell without a run", where)
				case w.verdict != "" && mark == nil:
					t.Errorf("%s: no verdict mark, want %s", where, symbol[w.verdict])
				case w.verdict != "":
					if got := text(mark); got != symbol[w.verdict] || !hasClass(mark, "mark-"+w.verdict) {
						t.Errorf("%s: mark %q (%s), want %s (%s)", where, got, attr(mark, "class"), symbol[w.verdict], w.verdict)
					}
					if reason := strings.TrimPrefix(attr(mark, "title"), "export: "); !strings.HasPrefix(reason, w.verdict) || len(reason) <= len(w.verdict) {
						t.Errorf("%s: mark title %q, want the verdict and its reason", where, attr(mark, "title"))
					}
				}
				link := byClass(td, "a", "cell")
				if w.class == "missing" {
					if link != nil {
						t.Errorf("%s: a link on a cell without a run", where)
					}
					continue
				}
				modelDir := strings.TrimPrefix(model, "Qwen/")
				if link == nil {
					t.Errorf("%s: no link to the run's manifest", where)
				} else if got, want := resolveHref(page, attr(link, "href")), filepath.Join(runDir(modelDir, format, cols[i]), "manifest.yaml"); got != want {
					t.Errorf("%s: links to %s, want %s", where, got, want)
				}
			}
		}
		if seen != len(cells) {
			t.Errorf("%s: %d cells shown, want %d (formats × granularities)", model, seen, len(cells))
		}
	}
	links := findAll(doc, func(n *html.Node) bool { return n.Data == "a" })
	if len(links) == 0 {
		t.Error("no links")
	}
	for _, a := range links {
		href := attr(a, "href")
		if !strings.HasPrefix(href, "./") && !strings.HasPrefix(href, "../") {
			t.Errorf("link %q: not relative", href)
			continue
		}
		if p := resolveHref(page, href); filepath.Base(p) != "manifest.yaml" {
			t.Errorf("link %q: not a manifest", href)
		} else if _, err := os.Stat(p); err != nil {
			t.Errorf("link %q: %v", href, err)
		}
	}

	// The screenshot: a real picture, with the value cells' colours on it.
	img := decodePNG(t, got.shot)
	if b := img.Bounds(); b.Dx() != 1400 || b.Dy() != 1000 {
		t.Errorf("screenshot is %v, want 1400×1000", b.Size())
	}
	counts := colourCounts(img)
	if len(counts) < 50 {
		t.Errorf("screenshot has %d colours: blank?", len(counts))
	}
	for _, c := range valueColours {
		if counts[c] < 500 {
			t.Errorf("cell colour #%06x covers %d pixels of the screenshot, want a whole cell (500+)", c, counts[c])
		}
	}
}

// TestReportInChromiumCanFail: the checks above do catch a page that loads
// from the network and one whose script throws.
func TestReportInChromiumCanFail(t *testing.T) {
	chrome := findChromium(t)
	page := filepath.Join(t.TempDir(), "bad.html")
	must(t, os.WriteFile(page, []byte(`<!DOCTYPE html><html><body><p>bad</p><img src="http://example.invalid/x.png">`+
		`<script>throw new Error("thrown on purpose")</script></body></html>`), 0o644))
	got := openInChromium(t, chrome, page)
	if bad := pageRequests(got.requests); len(bad) != 1 || !strings.Contains(bad[0], "example.invalid/x.png") {
		t.Errorf("requests the page made: %q, want the one for example.invalid/x.png (all requests: %q)", bad, got.requests)
	}
	if msgs := consoleMessages(got.stderr); len(msgs) != 1 || !strings.Contains(msgs[0], "Uncaught Error: thrown on purpose") {
		t.Errorf("console messages %q, want the uncaught error", msgs)
	}
}

// findChromium is Chromium's path; without one it skips, or in CI fails.
func findChromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("no chromium on PATH, and CI=true: .ci/run installs Debian's chromium package; the browser test must run in CI")
	}
	t.Skip("no chromium on PATH: install it (apt-get install chromium) to open the report in a real browser")
	return ""
}

type browsed struct {
	dom, stderr string
	shot        string   // the screenshot's path
	requests    []string // the first line of each connection to the proxy
}

// openInChromium loads file page in headless Chromium, with a proxy of the
// test's own for every connection (loopback included) and host names
// resolving to nothing, and returns the DOM after load, Chromium's log
// (console messages included), a screenshot and what reached the proxy.
func openInChromium(t *testing.T, chrome, page string) browsed {
	t.Helper()
	tmp := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu       sync.Mutex
		requests []string
		wg       sync.WaitGroup
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(5 * time.Second))
				line, _ := bufio.NewReader(c).ReadString('\n')
				line = strings.TrimSpace(line)
				if line == "" {
					line = "(a connection that sent nothing)"
				}
				mu.Lock()
				requests = append(requests, line)
				mu.Unlock()
				_, _ = io.WriteString(c, "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
			}()
		}
	}()
	shot := filepath.Join(tmp, "shot.png")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, chrome,
		"--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
		"--user-data-dir="+filepath.Join(tmp, "profile"),
		"--proxy-server=http://"+ln.Addr().String(), "--proxy-bypass-list=<-loopback>",
		// Every host name resolves to nothing (the proxy's address is an
		// IP, kept reachable): nothing leaves the machine even if a
		// request got past the proxy.
		"--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE "+ln.Addr().(*net.TCPAddr).IP.String(),
		"--disable-background-networking", "--disable-component-update", "--no-first-run", "--disable-sync",
		"--disable-default-apps", "--disable-extensions", "--metrics-recording-only",
		"--disable-features=Translate,OptimizationHints,MediaRouter,NetworkTimeServiceQuerying",
		"--enable-logging=stderr", "--v=0", "--hide-scrollbars",
		"--window-size=1400,1000", "--screenshot="+shot, "--dump-dom",
		(&url.URL{Scheme: "file", Path: filepath.ToSlash(page)}).String())
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	cmd.WaitDelay = 5 * time.Second
	err = cmd.Run()
	ln.Close()
	wg.Wait()
	if ctx.Err() != nil {
		t.Fatalf("Chromium did not finish in 60 s:\n%s", errOut.String())
	}
	if err != nil {
		t.Fatalf("Chromium: %v\n%s", err, errOut.String())
	}
	if !strings.Contains(out.String(), "</html>") {
		t.Fatalf("Chromium printed no DOM:\n%s\n%s", out.String(), errOut.String())
	}
	return browsed{dom: out.String(), stderr: errOut.String(), shot: shot, requests: requests}
}

// chromiumOwn are the hosts Chromium calls by itself at start-up even with
// background networking, component updates and extensions off (Debian's
// chromium 156: the update service and the sign-in host; the network time
// service without NetworkTimeServiceQuerying off). No page of qrun asks for
// them; every other request is the page's.
var chromiumOwn = map[string]bool{"update.googleapis.com": true, "accounts.google.com": true, "clients2.google.com": true}

// pageRequests are the requests that reached the proxy other than
// Chromium's own.
func pageRequests(requests []string) []string {
	var out []string
	for _, r := range requests {
		if !chromiumOwn[requestHost(r)] {
			out = append(out, r)
		}
	}
	return out
}

// requestHosts are the hosts requests were for, for the log.
func requestHosts(requests []string) []string {
	out := make([]string, len(requests))
	for i, r := range requests {
		out[i] = requestHost(r)
	}
	return out
}

// requestHost is the host a proxy request's first line asks for.
func requestHost(line string) string {
	f := strings.Fields(line)
	if len(f) < 2 {
		return ""
	}
	if f[0] == "CONNECT" {
		host, _, _ := net.SplitHostPort(f[1])
		return host
	}
	if u, err := url.Parse(f[1]); err == nil {
		return u.Hostname()
	}
	return ""
}

// consoleLine is how Chromium logs a page's console message to stderr
// (INFO:CONSOLE:1] or, in older versions, INFO:CONSOLE(1)]), and a
// resource that failed to load.
var consoleLine = regexp.MustCompile(`:CONSOLE[:(]|Failed to load resource`)

func consoleMessages(log string) []string {
	var out []string
	for _, l := range strings.Split(log, "\n") {
		if consoleLine.MatchString(l) {
			out = append(out, strings.TrimSpace(l))
		}
	}
	return out
}

// resolveHref is the file a relative href of page points at.
func resolveHref(page, href string) string {
	p, err := url.PathUnescape(href)
	if err != nil {
		return "(bad href " + href + ")"
	}
	return filepath.Join(filepath.Dir(page), filepath.FromSlash(p))
}

func decodePNG(t *testing.T, path string) image.Image {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot %s: %v", path, err)
	}
	return img
}

// colourCounts counts the pixels of each colour, keyed 0xrrggbb.
func colourCounts(img image.Image) map[uint32]int {
	counts := map[uint32]int{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			counts[r>>8<<16|g>>8<<8|bl>>8]++
		}
	}
	return counts
}

var backgroundColour = regexp.MustCompile(`background: #([0-9a-f]{6})`)

// styleColour is the background colour a cell's style sets, 0xrrggbb.
func styleColour(t *testing.T, style string) uint32 {
	t.Helper()
	m := backgroundColour.FindStringSubmatch(style)
	if m == nil {
		t.Errorf("no background colour in %q", style)
		return 0
	}
	v, _ := strconv.ParseUint(m[1], 16, 32)
	return uint32(v)
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func findAll(n *html.Node, match func(*html.Node) bool) []*html.Node {
	var out []*html.Node
	if n == nil {
		return nil
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if c.Type == html.ElementNode && match(c) {
			out = append(out, c)
		}
		out = append(out, findAll(c, match)...)
	}
	return out
}

func first(n *html.Node, tag string) *html.Node {
	if all := findAll(n, func(c *html.Node) bool { return c.Data == tag }); len(all) > 0 {
		return all[0]
	}
	return nil
}

func byClass(n *html.Node, tag, class string) *html.Node {
	if all := findAll(n, func(c *html.Node) bool { return c.Data == tag && hasClass(c, class) }); len(all) > 0 {
		return all[0]
	}
	return nil
}

func attr(n *html.Node, key string) string {
	if n == nil {
		return ""
	}
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func hasClass(n *html.Node, class string) bool {
	for _, c := range strings.Fields(attr(n, "class")) {
		if c == class {
			return true
		}
	}
	return false
}

// text is n's text content, trimmed ("" for no node).
func text(n *html.Node) string {
	if n == nil {
		return ""
	}
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return strings.TrimSpace(b.String())
}
