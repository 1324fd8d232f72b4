package tui

import (
	"strings"
	"testing"
)

// upperPanes splits the rows of the two upper panes out of a screen: the
// Dockerfile pane's and the Steps pane's content rows (borders dropped).
func upperPanes(t *testing.T, screen string) (df, steps []string) {
	t.Helper()
	lines := strings.Split(cleanScreen(screen), "\n")
	for _, l := range lines[2:] {
		if strings.HasPrefix(l, "╰") {
			break
		}
		r := []rune(l)
		mid := strings.Index(l, "││")
		if mid < 0 {
			t.Fatalf("no border between the upper panes in %q", l)
		}
		left := []rune(l[:mid])
		df = append(df, string(left[1:]))
		steps = append(steps, strings.TrimSuffix(string(r[len(left)+2:]), "│"))
	}
	return df, steps
}

// TestLayoutFollowsContent: each upper pane gets the room its content
// needs. At 200×50 every Dockerfile line and every step's instruction is
// whole and the upper panes take no more rows than they fill (the lower
// pane gets the rest); at 80×24 the Dockerfile's lines stay whole as far as
// the Steps pane keeps its figures, so the two panes do not both cut the
// same instruction.
func TestLayoutFollowsContent(t *testing.T) {
	f := newFixture()
	t.Run("200x50", func(t *testing.T) {
		m := newTestModel(t, f.be, 200, 50, f.events()...)
		df, steps := upperPanes(t, m.render())
		dfText, stText := strings.Join(df, "\n"), strings.Join(steps, "\n")
		for _, l := range m.b.source {
			if !strings.Contains(dfText, l) {
				t.Errorf("the Dockerfile line %q is not whole in the 200-column pane:\n%s", l, dfText)
			}
		}
		for i := range m.b.steps {
			if l := m.b.steps[i].label(); !strings.Contains(stText, l) {
				t.Errorf("the step %q is not whole in the 200-column Steps pane:\n%s", l, stText)
			}
		}
		empty := 0
		for i := range df {
			if strings.TrimSpace(df[i]) == "" && strings.TrimSpace(steps[i]) == "" {
				empty++
			}
		}
		if empty > 1 {
			t.Errorf("the upper panes have %d empty rows at 200×50 that the lower pane could use", empty)
		}
	})
	t.Run("80x24", func(t *testing.T) {
		m := newTestModel(t, f.be, 80, 24, f.events()...)
		df, _ := upperPanes(t, m.render())
		dfText := strings.Join(df, "\n")
		for _, l := range []string{"COPY redis.conf /etc/redis.conf", "RUN apk add --update redis"} {
			if !strings.Contains(dfText, l) {
				t.Errorf("the Dockerfile line %q is cut at 80 columns:\n%s", l, dfText)
			}
		}
		n := m.needs()
		if w := m.rects[paneSteps].w; w > n.stMin && strings.Contains(dfText, "…") {
			t.Errorf("the Dockerfile pane cuts a line while the Steps pane has %d columns, %d more than it needs:\n%s", w, w-n.stMin, dfText)
		}
	})
}
