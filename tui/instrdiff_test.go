package tui

import (
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"
	"github.com/strata-build/strata/build/event"
)

// TestInstructionDiffMarksChangedWords: old and new instruction on their
// own lines, - and +, only the words that differ marked.
func TestInstructionDiffMarksChangedWords(t *testing.T) {
	for _, noColor := range []bool{false, true} {
		st := newStyles(noColor)
		got := instructionDiff(&st, "RUN echo build 1.0 && make", "RUN echo build 2.0 && make install", 80)
		plain := ansi.Strip(strings.Join(got, "\n"))
		if want := "- RUN echo build 1.0 && make\n+ RUN echo build 2.0 && make install"; plain != want {
			t.Fatalf("noColor=%v: got\n%s\nwant\n%s", noColor, plain, want)
		}
		del, add := st.deleted.Reverse(true), st.added.Reverse(true)
		for _, w := range []string{del.Render("1.0")} {
			if !strings.Contains(got[0], w) {
				t.Errorf("noColor=%v: the old side does not mark 1.0: %q", noColor, got[0])
			}
		}
		for _, w := range []string{add.Render("2.0"), add.Render("install")} {
			if !strings.Contains(got[1], w) {
				t.Errorf("noColor=%v: the new side does not mark %q: %q", noColor, ansi.Strip(w), got[1])
			}
		}
		for _, w := range []string{"echo", "build", "make", "RUN"} {
			if strings.Contains(got[0]+got[1], del.Render(w)) || strings.Contains(got[0]+got[1], add.Render(w)) {
				t.Errorf("noColor=%v: unchanged word %q is marked", noColor, w)
			}
		}
	}
	// wrapped at the width, continuations indented, nothing wider
	st := newStyles(true)
	long := "RUN apt-get update && apt-get install -y curl ca-certificates git make gcc && rm -rf /var/lib/apt/lists/*"
	got := instructionDiff(&st, long, strings.Replace(long, "gcc", "clang", 1), 30)
	for _, l := range got {
		if ansi.StringWidth(l) > 30 {
			t.Errorf("line wider than 30: %q", ansi.Strip(l))
		}
	}
	if !strings.HasPrefix(ansi.Strip(got[0]), "- RUN") || !strings.HasPrefix(ansi.Strip(got[1]), "  ") {
		t.Errorf("not wrapped as - … / indented continuation:\n%s", ansi.Strip(strings.Join(got, "\n")))
	}
}

// TestCacheTabShowsInstructionChange: a step rebuilt because its
// instruction changed shows in the Cache tab the old and the new
// instruction, - and +, not one "(was: …)" string.
func TestCacheTabShowsInstructionChange(t *testing.T) {
	f := newFixture()
	evs := f.events()
	for i, ev := range evs {
		if d, ok := ev.(event.StepDone); ok && d.Step == 1 {
			d.Reason = "instruction changed (was: RUN apk add --update redis=7.0 curl)"
			d.PrevInstruction = "RUN apk add --update redis=7.0 curl"
			evs[i] = d
		}
	}
	for _, sz := range []size{{72, 16}, {40, 10}} {
		m := newTestModel(t, f.be, 120, 40, evs...)
		press(t, m, "up", "up", "up", "up", "6")
		m.cache.SetSize(sz.w, sz.h)
		out := m.cache.View()
		text := ansi.Strip(out)
		if sz.w >= 72 && (!strings.Contains(text, "- RUN apk add --update redis=7.0 curl") || !strings.Contains(text, "+ RUN apk add --update redis")) {
			t.Errorf("%s: the Cache tab lacks the old and new instruction:\n%s", sz, text)
		}
		if strings.Contains(text, "(was:") {
			t.Errorf("%s: the Cache tab still shows the combined (was: …) string:\n%s", sz, text)
		}
		requireGolden(t, "pane-cache-changed-"+sz.String(), out)
	}
}
