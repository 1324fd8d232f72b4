package tui

import (
	"fmt"
	"reflect"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/strata-build/strata/build/event"
)

// A multi-platform build (--platform linux/amd64,linux/arm64) is one run
// of the plan per platform, each with its own events, logs and images:
// Options.Platforms has one Options per run (Events, Backend, Title: the
// platform). platformsModel shows one run at a time, exactly as the TUI
// shows a one-platform build, and a switches to the next platform. The
// header names the platform shown and, when wide enough, every platform's
// time with the emulated ones' ratio to the native one; Summary explains
// the image index the runs make.

// platformMsg is one platform's events.
type platformMsg struct {
	i   int
	msg eventsMsg
}

type platformsModel struct {
	title  string
	ms     []*model
	opts   []Options
	active int
	done   []*event.BuildDone
	start  []time.Time
	plan   []*event.PlanReady
	run    []time.Duration // RUN time of the final stage (emulated on one platform, native on another)
	next   key.Binding
	w      int
}

func newPlatformsModel(opt Options) *platformsModel {
	p := &platformsModel{title: opt.Title, next: defaultKeyMap().Platform, w: 80}
	p.next.SetEnabled(len(opt.Platforms) > 1)
	for _, po := range opt.Platforms {
		child := po
		child.NoColor, child.HasOutput, child.DebugShell = opt.NoColor, opt.HasOutput, opt.DebugShell
		child.Events = nil // the events come through platformMsg, tagged
		m := newModel(child)
		m.keys.Platform = p.next // the help bar and the ? screen offer it
		p.ms = append(p.ms, m)
		p.opts = append(p.opts, po)
	}
	p.done = make([]*event.BuildDone, len(p.ms))
	p.start = make([]time.Time, len(p.ms))
	p.plan = make([]*event.PlanReady, len(p.ms))
	p.run = make([]time.Duration, len(p.ms))
	for i, m := range p.ms {
		m.b.platformNote = func(c *common, w int) []string { return p.indexNote(c, i, w) }
	}
	p.retitle()
	return p
}

func waitPlatform(i int, ch <-chan event.Event) tea.Cmd {
	if ch == nil {
		return nil
	}
	wait := waitEvents(ch)
	return func() tea.Msg { return platformMsg{i: i, msg: wait().(eventsMsg)} }
}

func (p *platformsModel) Init() tea.Cmd {
	var cmds []tea.Cmd
	for i, o := range p.opts {
		cmds = append(cmds, waitPlatform(i, o.Events))
	}
	return tea.Batch(cmds...)
}

func (p *platformsModel) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case platformMsg:
		for _, ev := range msg.msg.evs {
			switch ev := ev.(type) {
			case event.PlanReady:
				p.start[msg.i] = p.ms[msg.i].c.now()
				pr := ev
				p.plan[msg.i] = &pr
			case event.StepDone:
				if p.finalRun(msg.i, ev.Step) {
					p.run[msg.i] += ev.Duration
				}
			case event.BuildDone:
				d := ev
				p.done[msg.i] = &d
			}
		}
		p.retitle()
		cmd := p.forward(msg.i, msg.msg)
		if !msg.msg.closed {
			cmd = tea.Batch(cmd, waitPlatform(msg.i, p.opts[msg.i].Events))
		}
		return p, cmd
	case platformTagMsg:
		return p, p.forward(msg.i, msg.msg)
	case platformQuitMsg:
		if msg.i == p.active { // only the shown platform's q quits
			return p, tea.Quit
		}
		return p, nil
	case tea.WindowSizeMsg:
		p.w = msg.Width
		p.retitle()
		var cmds []tea.Cmd
		for i := range p.ms {
			cmds = append(cmds, p.forward(i, msg))
		}
		return p, tea.Batch(cmds...)
	case tea.KeyPressMsg:
		m := p.ms[p.active]
		if key.Matches(msg, p.next) && !m.capturing() && m.ask == nil {
			p.active = (p.active + 1) % len(p.ms)
			p.retitle()
			return p, nil
		}
	}
	// keys, the mouse, and what no platform asked for (a debug shell's
	// end comes back untagged, to the platform shown while it ran)
	return p, p.forward(p.active, msg)
}

// platformTagMsg is a message that platform i's model asked for (a log
// chunk, a file, a tree, a spinner tick): it goes back to platform i
// whichever is shown, never to another one (the runs have the same plan,
// so a log chunk for step 3 of arm64 would pass for amd64's).
type platformTagMsg struct {
	i   int
	msg tea.Msg
}

// platformQuitMsg is platform i's tea.Quit, which quits only if i is the
// platform shown when it arrives.
type platformQuitMsg struct{ i int }

// forward updates platform i's model with msg and tags the commands it
// returns with i.
func (p *platformsModel) forward(i int, msg tea.Msg) tea.Cmd {
	_, cmd := p.ms[i].Update(msg)
	return tagCmd(i, cmd)
}

var cmdType = reflect.TypeFor[tea.Cmd]()

// tagCmd wraps cmd's message as platform i's: batches and sequences are
// unpacked and their commands tagged in turn; tea.Quit becomes
// platformQuitMsg; bubbletea's own messages (tea.Exec, window title…) go
// to the program as they are.
func tagCmd(i int, cmd tea.Cmd) tea.Cmd {
	if cmd == nil {
		return nil
	}
	return func() tea.Msg {
		msg := cmd()
		switch msg.(type) {
		case nil:
			return nil
		case tea.QuitMsg:
			return platformQuitMsg{i: i}
		}
		v := reflect.ValueOf(msg)
		if v.Kind() == reflect.Slice && v.Type().Elem() == cmdType { // tea.BatchMsg, tea's sequence
			out := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
			for j := range v.Len() {
				c, _ := v.Index(j).Interface().(tea.Cmd)
				out.Index(j).Set(reflect.ValueOf(tagCmd(i, c)))
			}
			return out.Interface()
		}
		if reflect.TypeOf(msg).PkgPath() == cmdType.PkgPath() {
			return msg
		}
		return platformTagMsg{i: i, msg: msg}
	}
}

func (p *platformsModel) View() tea.View { return p.ms[p.active].View() }

// retitle puts the platform shown in every run's header: its name, n/N,
// the key, and (wide) each platform's time.
func (p *platformsModel) retitle() {
	for i, m := range p.ms {
		t := p.opts[i].Title
		if p.w < 100 {
			t = shortPlatform(t)
		}
		if p.opts[i].Emulated {
			t += " (QEMU)"
		}
		t += fmt.Sprintf(" %d/%d", i+1, len(p.ms))
		if len(p.ms) > 1 && p.w >= 100 {
			t += " · a: next"
		}
		if p.w >= 140 {
			t += " · " + p.times()
		}
		if p.title != "" && p.w >= 100 {
			t = p.title + " · " + t
		}
		m.opt.Title = t
	}
}

// elapsed is platform i's build time: its result's, or so far.
func (p *platformsModel) elapsed(i int) (time.Duration, bool) {
	if d := p.done[i]; d != nil {
		return d.Duration, true
	}
	if p.start[i].IsZero() {
		return 0, false
	}
	return p.ms[i].c.now().Sub(p.start[i]), false
}

// native is the first platform that is not emulated, or -1.
func (p *platformsModel) native() int {
	for i, o := range p.opts {
		if !o.Emulated {
			return i
		}
	}
	return -1
}

// finalRun reports whether step is a RUN of the final stage of platform
// i's plan: the steps a cross-compiling Dockerfile leaves to emulation
// (a FROM --platform=$BUILDPLATFORM stage runs natively everywhere).
func (p *platformsModel) finalRun(i, step int) bool {
	pl := p.plan[i]
	if pl == nil || step < 0 || step >= len(pl.Steps) || len(pl.Steps) == 0 {
		return false
	}
	return pl.Steps[step].Kind == "RUN" && pl.Steps[step].Stage == pl.Steps[len(pl.Steps)-1].Stage
}

// ratio is the RUN time of platform i's final stage against the native
// platform's ("RUN 3.6× native"), once both are done; without RUN times
// (all cached), the build times'.
func (p *platformsModel) ratio(i int) string {
	n := p.native()
	if n < 0 || n == i || !p.opts[i].Emulated || p.done[i] == nil || p.done[n] == nil {
		return ""
	}
	if p.run[i] > 0 && p.run[n] > 0 {
		return fmt.Sprintf("RUN %.1f× native", float64(p.run[i])/float64(p.run[n]))
	}
	if p.done[n].Duration <= 0 {
		return ""
	}
	return fmt.Sprintf("%.1f× native", float64(p.done[i].Duration)/float64(p.done[n].Duration))
}

func (p *platformsModel) times() string {
	var parts []string
	for i, o := range p.opts {
		d, fin := p.elapsed(i)
		s := shortPlatform(o.Title) + " " + humanDuration(d)
		if !fin {
			s += "…"
		}
		if r := p.ratio(i); r != "" {
			s += " (" + r + ")"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, " · ")
}

// shortPlatform is linux/arm64/v8 as arm64/v8: the architecture says it.
func shortPlatform(s string) string {
	if rest, ok := strings.CutPrefix(s, "linux/"); ok {
		return rest
	}
	return s
}

// indexNote is the Summary's account of the index, seen from platform i.
func (p *platformsModel) indexNote(c *common, i, w int) []string {
	st := &c.st
	out := []string{"", st.header.Render(fmt.Sprintf("image index: %d platforms (%s shown, a: next)", len(p.ms), p.opts[i].Title))}
	for j, o := range p.opts {
		how := "native"
		if o.Emulated {
			how = "emulated (QEMU)"
		}
		img := "building…"
		if d := p.done[j]; d != nil {
			img = "image " + shortID(d.ImageID, 12)
			if d.Error != "" {
				img = "failed"
			}
		}
		dur, _ := p.elapsed(j)
		line := fmt.Sprintf("%-16s %-15s %-26s %s", o.Title, how, img, humanDuration(dur))
		if r := p.ratio(j); r != "" {
			line += "  " + r
		}
		if j == i {
			line = st.headerOK.Render("▸ ") + line
		} else {
			line = "  " + line
		}
		out = append(out, fit(line, w))
	}
	out = append(out, wrap(st.dim.Render("An image index (a manifest list) is one name for several images, one per platform. "+
		"A client that pulls the name (docker, podman, containerd) reads the index and fetches only the manifest for its own "+
		"platform: that image's config and layers. Each platform's image is built by its own run of the Dockerfile; "+
		"a stage FROM --platform=$BUILDPLATFORM runs natively once and its files serve every platform."), w, "")...)
	out = append(out, wrap(st.dim.Render("Every platform done, the index is stored under the -t names and written to the -o outputs (type=oci: an OCI index; type=registry: a pushed manifest list)."), w, "")...)
	return out
}
