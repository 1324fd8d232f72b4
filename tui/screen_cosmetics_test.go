package tui

import (
	"regexp"
	"strings"
	"testing"
)

var fullDigest = regexp.MustCompile(`sha256:[0-9a-f]{64}`)

// TestDigestNeverSplit: at 80 columns the Summary's image digest is too
// wide to sit beside its key: it goes whole on the line below, never cut
// in two; at 120 it stays beside the key.
func TestDigestNeverSplit(t *testing.T) {
	f := newFixture()
	for _, sz := range []size{{80, 24}, {120, 36}} {
		m := newTestModel(t, f.be, sz.w, sz.h, f.events()...)
		out := cleanScreen(m.render())
		if !fullDigest.MatchString(out) {
			t.Errorf("%s: the Summary's image digest is not whole on one line:\n%s", sz, out)
		}
		if regexp.MustCompile(`sha256:[0-9a-f]{10,63}│\n│\s+[0-9a-f]`).MatchString(out) {
			t.Errorf("%s: a digest is split across lines:\n%s", sz, out)
		}
	}
}

// TestPathWrapsAtColons: the Config tab wraps a long PATH after a colon,
// never inside a directory name.
func TestPathWrapsAtColons(t *testing.T) {
	f := newFixture()
	for _, w := range []int{40, 72} {
		m := newTestModel(t, f.be, 120, 40, f.events()...)
		press(t, m, "5")
		m.config.SetSize(w, 16)
		lines := strings.Split(cleanScreen(m.config.View()), "\n")
		for i, l := range lines {
			if !strings.Contains(l, "PATH=") {
				continue
			}
			for j := i; j < len(lines) && !strings.HasSuffix(lines[j], "/bin"); j++ {
				if !strings.HasSuffix(lines[j], ":") {
					t.Errorf("width %d: PATH line %q is cut inside a directory name:\n%s", w, lines[j], strings.Join(lines, "\n"))
				}
			}
		}
	}
}

// TestOwnerColumnWhole: the Files tab's owner column widens for
// 65534:65534 (nobody) rather than cutting it.
func TestOwnerColumnWhole(t *testing.T) {
	f := newFixture()
	for i := range f.snaps[1].Changes {
		if f.snaps[1].Changes[i].Path == "/etc/redis.conf.default" {
			f.snaps[1].Changes[i].UID, f.snaps[1].Changes[i].GID = 65534, 65534
		}
	}
	for _, w := range []int{72, 110} {
		m := newTestModel(t, f.be, 120, 40, f.events()...)
		press(t, m, "up", "up", "up", "up", "3")
		m.files.SetSize(w, 16)
		out := cleanScreen(m.files.View())
		if !regexp.MustCompile(`-rw-r----- 65534:65534 +106\.5 kB +redis\.conf\.default`).MatchString(out) {
			t.Errorf("width %d: the owner 65534:65534 is not whole:\n%s", w, out)
		}
		// the other rows' columns line up with it
		var at []int
		for _, l := range strings.Split(out, "\n") {
			if i := strings.Index(l, " kB "); i > 0 && strings.HasPrefix(l, "+") {
				at = append(at, i)
			}
		}
		for _, i := range at {
			if i != at[0] {
				t.Errorf("width %d: the size column moves from row to row:\n%s", w, out)
				break
			}
		}
	}
}

// TestStepsTimeColumnAligns: the time (or CACHED) column ends at the same
// column on every step row, meta rows and rows with a files count alike,
// and with a previous build's changes beside the figures.
func TestStepsTimeColumnAligns(t *testing.T) {
	f := newFixture()
	cases := map[string][]string{"done": nil, "rebuilt": {"rebuilt"}}
	for name := range cases {
		for _, w := range []int{72, 110} {
			evs := f.events()
			if name == "rebuilt" {
				evs = append(evs, f.rebuild()...)
			}
			m := newTestModel(t, f.be, 120, 40, evs...)
			m.steps.SetSize(w, 16)
			out := cleanScreen(m.steps.View())
			time := regexp.MustCompile(`(\d+\.\ds|CACHED)( [+-]\d+\.\ds)?  `)
			end := -1
			for _, l := range strings.Split(out, "\n") {
				if !strings.Contains(l, "] ") {
					continue
				}
				loc := time.FindStringSubmatchIndex(l)
				if loc == nil {
					t.Fatalf("%s/%d: no time in %q", name, w, l)
				}
				e := len([]rune(l[:loc[1]]))
				if end < 0 {
					end = e
				} else if e != end {
					t.Errorf("%s/%d: the time column ends at %d on one row and %d on another:\n%s", name, w, end, e, out)
					break
				}
			}
		}
	}
}

// TestDeltasShowMagnitudeAndColour: a step slower and bigger than in the
// previous build says by how much even in a narrow Steps pane (80×24),
// in red; a faster one in green.
func TestDeltasShowMagnitudeAndColour(t *testing.T) {
	f := newFixture()
	evs := append(f.events(), f.rebuild()...)
	m := newTestModel(t, f.be, 80, 24, evs...)
	out := cleanScreen(m.render())
	for _, want := range []string{"+1.2s", "+340.0 kB"} {
		if !strings.Contains(out, want) {
			t.Errorf("the 80x24 screen lacks %q:\n%s", want, out)
		}
	}
	for _, w := range []int{37, 110} {
		m.steps.SetSize(w, 16)
		raw := m.steps.View()
		for _, d := range []string{"+1.2s", "+340.0 kB"} {
			if !strings.Contains(raw, m.c.st.deleted.Render(d)) {
				t.Errorf("width %d: %q is not red (a regression): %q", w, d, raw)
			}
		}
	}
	// turned around: the previous build was the slower one
	r := &m.b.steps[1]
	p := m.b.prevStep(1)
	r.duration, p.duration = p.duration, r.duration
	raw := m.steps.View()
	if !strings.Contains(raw, m.c.st.added.Render("-1.2s")) {
		t.Errorf("a faster step's -1.2s is not green: %q", raw)
	}
}

// TestSummaryDeltasColoured: the Summary's comparison with the previous
// build shows a slower, bigger step in red with its magnitudes.
func TestSummaryDeltasColoured(t *testing.T) {
	f := newFixture()
	evs := append(f.events(), f.rebuild()...)
	m := newTestModel(t, f.be, 80, 24, evs...)
	raw := strings.Join(summaryView(m.c, m.b, 78), "\n")
	for _, d := range []string{"slower +1.2s", "bigger +340.0 kB"} {
		if !strings.Contains(raw, m.c.st.deleted.Render(d)) {
			t.Errorf("the Summary's %q is not red: %q", d, raw)
		}
	}
}
