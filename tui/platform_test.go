package tui

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"charm.land/bubbles/v2/spinner"
	tea "charm.land/bubbletea/v2"

	"github.com/strata-build/strata/build/event"
)

// settleAny is settle for any tea.Model (the multi-platform root).
func settleAny(t testing.TB, m tea.Model, cmd tea.Cmd) {
	t.Helper()
	queue := []tea.Cmd{cmd}
	for n := 0; len(queue) > 0; n++ {
		if n > 10000 {
			t.Fatal("settle: too many messages")
		}
		c := queue[0]
		queue = queue[1:]
		if c == nil {
			continue
		}
		msg := c()
		if tag, ok := msg.(platformTagMsg); ok {
			if _, tick := tag.msg.(spinner.TickMsg); tick {
				continue // no animation in tests
			}
		}
		switch msg := msg.(type) {
		case nil, spinner.TickMsg, tea.QuitMsg, platformQuitMsg:
		case tea.BatchMsg:
			queue = append(queue, msg...)
		default:
			_, next := m.Update(msg)
			queue = append(queue, next)
		}
	}
}

// platformEvents are the fixture's build as one platform's run, d long,
// its RUN steps slow times slower (the emulated one).
func platformEvents(f *fixture, d time.Duration, slow int, id string) []event.Event {
	evs := f.events()
	for i, ev := range evs {
		switch ev := ev.(type) {
		case event.BuildDone:
			ev.Duration, ev.ImageID = d, digest(id)
			evs[i] = ev
		case event.StepDone:
			if f.plan.Steps[ev.Step].Kind == "RUN" {
				ev.Duration *= time.Duration(slow)
				evs[i] = ev
			}
		}
	}
	return evs
}

// newPlatformsTest is a two-platform TUI (linux/amd64 native, linux/arm64
// emulated) at w×h with both runs' events applied.
func newPlatformsTest(t *testing.T, w, h int) *platformsModel {
	t.Helper()
	f := newFixture()
	p := newPlatformsModel(Options{Title: "redis-image", Platforms: []Options{
		{Title: "linux/amd64", Backend: f.be},
		{Title: "linux/arm64/v8", Backend: f.be, Emulated: true},
	}})
	for _, m := range p.ms {
		m.c.now = func() time.Time { return t0.Add(1500 * time.Millisecond) }
	}
	settleAny(t, p, func() tea.Msg { return tea.WindowSizeMsg{Width: w, Height: h} })
	settleAny(t, p, func() tea.Msg {
		return platformMsg{i: 0, msg: eventsMsg{evs: platformEvents(f, 2100*time.Millisecond, 1, "amd64-image"), closed: true}}
	})
	settleAny(t, p, func() tea.Msg {
		return platformMsg{i: 1, msg: eventsMsg{evs: platformEvents(f, 9450*time.Millisecond, 4, "arm64-image"), closed: true}}
	})
	return p
}

func render(p *platformsModel) string { return p.View().Content }

// One step tree per platform: a switches, the header names the platform,
// Summary explains the index with each platform's image and the
// emulated one's ratio to the native one.
func TestPlatformsView(t *testing.T) {
	for _, sz := range [][2]int{{80, 24}, {200, 50}} {
		t.Run(fmt.Sprintf("%dx%d", sz[0], sz[1]), func(t *testing.T) {
			p := newPlatformsTest(t, sz[0], sz[1])
			first := render(p)
			if !strings.Contains(strings.SplitN(first, "\n", 2)[0], "amd64 1/2") {
				t.Errorf("the header does not name amd64 1/2:\n%s", first)
			}
			requireGolden(t, fmt.Sprintf("platforms-amd64-%dx%d", sz[0], sz[1]), first)
			settleAny(t, p, func() tea.Msg { return keyMsg("a") })
			if p.active != 1 {
				t.Fatalf("a: shows platform %d, want 1", p.active)
			}
			second := render(p)
			if !strings.Contains(strings.SplitN(second, "\n", 2)[0], "arm64/v8 (QEMU) 2/2") {
				t.Errorf("after a the header does not name arm64/v8 (QEMU) 2/2:\n%s", second)
			}
			requireGolden(t, fmt.Sprintf("platforms-arm64-%dx%d", sz[0], sz[1]), second)
			settleAny(t, p, func() tea.Msg { return keyMsg("a") })
			if p.active != 0 {
				t.Errorf("a twice: shows platform %d, want 0", p.active)
			}
		})
	}
	// The note itself, whatever the pane's height: every platform, its
	// image, how it ran, the ratio.
	p := newPlatformsTest(t, 200, 50)
	note := cleanScreen(strings.Join(p.indexNote(p.ms[1].c, 1, 120), "\n"))
	for _, want := range []string{"image index: 2 platforms", "manifest list", "linux/amd64", "native", "linux/arm64/v8", "emulated (QEMU)", "RUN 4.0× native", shortID(digest("arm64-image"), 12)} {
		if !strings.Contains(note, want) {
			t.Errorf("the index note does not say %q:\n%s", want, note)
		}
	}
	if got := p.times(); got != "amd64 2.1s · arm64/v8 9.4s (RUN 4.0× native)" {
		t.Errorf("times = %q", got)
	}
}

// The help bar and the ? screen offer a (next platform) when the build has
// several platforms, and only then.
func TestPlatformsHelpKey(t *testing.T) {
	p := newPlatformsTest(t, 200, 50)
	if bar := cleanScreen(render(p)); !strings.Contains(bar, "a next platform") {
		t.Errorf("the help bar does not offer a:\n%s", bar)
	}
	settleAny(t, p, func() tea.Msg { return keyMsg("?") })
	if scr := cleanScreen(render(p)); !strings.Contains(scr, "show the next platform's build") {
		t.Errorf("the ? screen does not list a:\n%s", scr)
	}
	one := newPlatformsModel(Options{Platforms: []Options{{Title: "linux/amd64", Backend: newFixture().be}}})
	settleAny(t, one, func() tea.Msg { return tea.WindowSizeMsg{Width: 200, Height: 50} })
	settleAny(t, one, func() tea.Msg { return keyMsg("?") })
	if scr := cleanScreen(render(one)); strings.Contains(scr, "next platform") {
		t.Errorf("one platform: the ? screen offers a:\n%s", scr)
	}
	m := newTestModel(t, newFixture().be, 200, 50, newFixture().events()...)
	press(t, m, "?")
	if scr := cleanScreen(m.View().Content); strings.Contains(scr, "platform") {
		t.Errorf("a one-platform build's ? screen speaks of platforms:\n%s", scr)
	}
}

// armLogs is platform 2's backend: the same steps, its own log lines.
type armLogs struct{ *fakeBackend }

func (a armLogs) LogLines(step, from, to int) ([]string, error) {
	lines, err := a.fakeBackend.LogLines(step, from, to)
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = "ARM64-LOG " + l
	}
	return out, err
}

// A log asked for by one platform and loaded after a switched to another
// goes to the platform that asked for it: never shown on the other one,
// and not lost.
func TestPlatformsMessagesStayWithTheirPlatform(t *testing.T) {
	f := newFixture()
	f.be.synth[1] = 5000 // more than the events keep: the view asks the backend
	p := newPlatformsModel(Options{Title: "redis-image", Platforms: []Options{
		{Title: "linux/amd64", Backend: f.be},
		{Title: "linux/arm64", Backend: armLogs{f.be}, Emulated: true},
	}})
	for _, m := range p.ms {
		m.c.now = func() time.Time { return t0.Add(1500 * time.Millisecond) }
	}
	settleAny(t, p, func() tea.Msg { return tea.WindowSizeMsg{Width: 120, Height: 40} })
	for i := range p.ms {
		settleAny(t, p, func() tea.Msg { return platformMsg{i: i, msg: eventsMsg{evs: f.events(), closed: true}} })
	}
	// Both come to step 2 (the RUN, the step with a log); a switches to
	// amd64 before arm64's log arrives.
	keys := func(ks ...string) {
		for _, k := range ks {
			settleAny(t, p, func() tea.Msg { return keyMsg(k) })
		}
	}
	keys("a", "1", "shift+tab", "g") // arm64: the Log tab, the steps pane, step 1
	_, pending := p.Update(keyMsg("j"))
	keys("a", "1", "shift+tab", "g", "j")
	if p.active != 0 || p.ms[0].sel != p.ms[1].sel {
		t.Fatalf("setup: shown %d, selected %d and %d", p.active, p.ms[0].sel, p.ms[1].sel)
	}
	if f.be.LogLen(p.ms[1].sel) == 0 {
		t.Fatalf("setup: step %d has no log", p.ms[1].sel)
	}
	settleAny(t, p, pending)
	if amd := cleanScreen(render(p)); strings.Contains(amd, "ARM64-LOG") {
		t.Errorf("amd64 shows arm64's log:\n%s", amd)
	}
	settleAny(t, p, func() tea.Msg { return keyMsg("a") })
	if arm := cleanScreen(render(p)); !strings.Contains(arm, "ARM64-LOG") {
		t.Errorf("arm64's log never arrived:\n%s", arm)
	}
}

// tagCmd tags what a platform's commands return, through batches and
// sequences; only the shown platform's quit quits.
func TestPlatformsTagCmd(t *testing.T) {
	tick := func() tea.Msg { return spinner.TickMsg{ID: 7} }
	var got []tea.Msg
	var run func(tea.Cmd)
	run = func(c tea.Cmd) {
		msg := c()
		v := reflect.ValueOf(msg)
		if v.Kind() == reflect.Slice && v.Type().Elem() == cmdType {
			for j := range v.Len() {
				run(v.Index(j).Interface().(tea.Cmd))
			}
			return
		}
		got = append(got, msg)
	}
	run(tagCmd(1, tea.Batch(tick, tea.Sequence(tick, tea.Quit))))
	want := []tea.Msg{platformTagMsg{i: 1, msg: spinner.TickMsg{ID: 7}}, platformTagMsg{i: 1, msg: spinner.TickMsg{ID: 7}}, platformQuitMsg{i: 1}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("tagged = %#v, want %#v", got, want)
	}
	p := newPlatformsTest(t, 80, 24)
	if _, cmd := p.Update(platformQuitMsg{i: 1}); cmd != nil {
		t.Errorf("arm64 (not shown) quits the TUI")
	}
	if _, cmd := p.Update(platformQuitMsg{i: 0}); cmd == nil {
		t.Errorf("amd64 (shown) does not quit the TUI")
	} else if _, ok := cmd().(tea.QuitMsg); !ok {
		t.Errorf("amd64 (shown): its quit is not tea.Quit")
	}
}
