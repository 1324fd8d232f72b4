// Package tui is strata's terminal UI: the Dockerfile on one side, the live
// tree of steps on the other, and below them the selected step's log and
// snapshot (files, file diff, image config, cache decision, the story of
// the step). It consumes build.Events and asks a Backend for everything on
// disk; it never touches the filesystem or the sandbox itself.
package tui

import (
	"context"
	"errors"
	"os"
	"strings"
	"time"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/spinner"
	tea "charm.land/bubbletea/v2"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/strata-build/strata/build/event"
	"github.com/strata-build/strata/build/snapshot"
	"github.com/strata-build/strata/layers"
)

// Backend is how the TUI reads what the build left on disk and how it
// cancels the build.
type Backend interface {
	// Cancel cancels the running build (q/ctrl-c while running).
	Cancel()
	// ReadFile returns up to max bytes of path in the snapshot; an absent
	// file is an error wrapping fs.ErrNotExist.
	ReadFile(snap *event.Snapshot, path string, max int64) ([]byte, error)
	// Tree lists the whole filesystem at the snapshot (Kind = Added for
	// every entry; the TUI marks the snapshot's own Changes).
	Tree(snap *event.Snapshot) ([]layers.Change, error)
	// LogLines returns lines [from,to) of a step's full log.
	LogLines(step, from, to int) ([]string, error)
	// LogLen is the number of lines of a step's log.
	LogLen(step int) int
	// Save writes the finished image (by id) to dest: a local store name,
	// oci:DIR[:tag] or docker-archive:FILE; it says what it wrote.
	Save(imageID, dest string) (string, error)
	// OpenShell prepares a debug shell in a new temporary container on
	// top of a snapshot; the TUI runs it with tea.Exec (suspended).
	OpenShell(snap *event.Snapshot, opt snapshot.ShellOptions) (snapshot.DebugShell, error)
	// Compare lists the changes that turn snapshot a into b.
	Compare(a, b *event.Snapshot) ([]layers.Change, error)
	// RunImage runs an image's primary command in a temporary container,
	// passing each output line to out; it returns the exit code.
	RunImage(ctx context.Context, cfg *v1.ConfigFile, out func(stream, line string)) (int, error)
}

// Options configure the TUI.
type Options struct {
	Events  <-chan event.Event
	Backend Backend
	Title   string
	NoColor bool
	// HasOutput says the command line already named where the image goes
	// (-t or -o), or that the image exists already (inspect): the summary
	// then does not offer to save it. S saves it anyway.
	HasOutput bool
	// Control pauses and steps the build (b, n, c, P); nil when there is
	// nothing to control (inspect).
	Control Control
	// Rebuild asks for a new build on the same event stream (r; R with
	// the plan index from which the cache is skipped); nil when the
	// events tell one build only.
	Rebuild func(noCacheFrom int)
	// DebugShell is the shell program for s and p (--debug-shell); ""
	// takes the image's SHELL, else /bin/sh.
	DebugShell string
	// Platforms, for a multi-platform build, are its runs, one per
	// platform (each with its Events, Backend and the platform as Title;
	// Emulated when its RUNs run under QEMU): the TUI shows one at a time
	// (platform.go). Events, Backend, Control and Rebuild are then unused.
	Platforms []Options
	Emulated  bool
}

// Minimum terminal size; smaller terminals get a message instead.
const (
	minWidth  = 60
	minHeight = 16
)

type pane int

const (
	paneDockerfile pane = iota
	paneSteps
	paneBottom
	paneCount
)

type tab int

const (
	tabLog tab = iota
	tabStep
	tabFiles
	tabFile
	tabConfig
	tabCache
	tabSummary
	tabCompare
	tabSpace
	tabCount
)

var tabNames = [tabCount]string{"Log", "Step", "Files", "File", "Config", "Cache", "Summary", "Compare", "Space"}

// Messages.
type (
	eventsMsg struct {
		evs    []event.Event
		closed bool
	}
	// openStepMsg asks to inspect a step (enter in the upper panes).
	openStepMsg struct{ step int }
	// savedMsg is the end of a save (S).
	savedMsg struct {
		dest, what string
		err        error
	}
)

// maxBatch is how many queued events one message carries, so a flood of
// log lines costs one render, not thousands.
const maxBatch = 512

// waitEvents is the Cmd that waits for the next events; Update re-arms it.
func waitEvents(ch <-chan event.Event) tea.Cmd {
	return func() tea.Msg {
		ev, ok := <-ch
		if !ok {
			return eventsMsg{closed: true}
		}
		evs := []event.Event{ev}
		for len(evs) < maxBatch {
			select {
			case ev, ok := <-ch:
				if !ok {
					return eventsMsg{evs: evs, closed: true}
				}
				evs = append(evs, ev)
			default:
				return eventsMsg{evs: evs}
			}
		}
		return eventsMsg{evs: evs}
	}
}

type rect struct{ x, y, w, h int }

func (r rect) contains(x, y int) bool { return x >= r.x && x < r.x+r.w && y >= r.y && y < r.y+r.h }

// model is the whole TUI; it is a tea.model.
type model struct {
	c    *common
	opt  Options
	keys keyMap
	help help.Model
	spin spinner.Model
	b    *buildState

	df      dockerfileModel
	steps   stepsModel
	logs    logsModel
	files   filesModel
	file    fileModel
	story   infoModel
	config  infoModel
	cache   infoModel
	summary infoModel
	compare compareModel
	space   spaceModel // the Space tab (space.go)
	form    saveForm

	// timeline is the full-screen timeline (T), shown while timelineOn.
	timeline   timelineModel
	timelineOn bool

	// ask is the "keep the shell's changes?" prompt after a shell.
	ask *keepPrompt
	// mark is the snapshot marked for a comparison (m).
	mark *snapRef
	// run is the final image running (x).
	run *imageRun
	// fileFrom is the tab the File tab goes back to.
	fileFrom tab

	// status is a one-line message shown in place of the help bar until
	// the next key (the result of a save).
	status        string
	statusKind    statusKind
	statusLife    statusLife // until when the status is true (status.go)
	saving        bool
	quitAfterSave bool
	// inspectShown is set once the panes were told they show an image
	inspectShown bool

	focus pane
	tab   tab
	sel   int
	w, h  int
	rects [paneCount]rect
	// laidRows is how many rows under the panes the layout left
	laidRows int
	// laidNeeds is what the upper panes' content asked for at the last
	// layout; when it changes (the plan arrives, a note appears) the panes
	// are laid out again.
	laidNeeds paneNeeds
	// helpOff is the first row shown of the ? screen.
	helpOff  int
	quitting bool
	spinning bool
}

// newModel returns the TUI model for opt.
func newModel(opt Options) *model {
	c := newCommon(opt.NoColor)
	b := newBuildState()
	b.hasOutput = opt.HasOutput
	h := help.New()
	h.Styles.ShortKey, h.Styles.FullKey = c.st.helpKey, c.st.helpKey
	h.Styles.ShortDesc, h.Styles.FullDesc = c.st.helpDesc, c.st.helpDesc
	h.Styles.ShortSeparator, h.Styles.FullSeparator, h.Styles.Ellipsis = c.st.helpSep, c.st.helpSep, c.st.helpSep
	m := &model{
		c: c, opt: opt, keys: defaultKeyMap(), help: h, b: b,
		spin:    spinner.New(spinner.WithSpinner(spinner.Spinner{Frames: spinFrames, FPS: time.Second / 10})),
		df:      newDockerfile(c, b),
		steps:   newSteps(c, b),
		logs:    newLogs(c, b, opt.Backend),
		files:   newFiles(c, opt.Backend),
		file:    newFile(c, opt.Backend),
		story:   newInfo(c, b, infoStep),
		config:  newInfo(c, b, infoConfig),
		cache:   newInfo(c, b, infoCache),
		summary: newInfo(c, b, infoSummary),
		compare: newCompare(c, opt.Backend),
		space:   newSpace(c, opt.Backend),
		form:    newSaveForm(c),
		focus:   paneSteps,
		sel:     -1,
		w:       80, h: 24,
	}
	m.fileFrom = tabFiles
	m.timeline = newTimeline(c)
	m.syncBreaks()
	m.setFocus(paneSteps)
	m.layout()
	return m
}

// Init starts waiting for events.
func (m *model) Init() tea.Cmd {
	if m.opt.Events == nil {
		return nil
	}
	return waitEvents(m.opt.Events)
}

// Update routes a message: events to the build state, keys to the focused
// pane, loaded data to the pane that asked for it.
func (m *model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	var cmds []tea.Cmd
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.w, m.h = msg.Width, msg.Height
		m.layout()
	case eventsMsg:
		cmds = append(cmds, m.onEvents(msg))
	case spinner.TickMsg:
		if !m.spinning {
			return m, nil
		}
		var cmd tea.Cmd
		m.spin, cmd = m.spin.Update(msg)
		m.c.spin = spinFrames[frameOf(m.spin)]
		if m.b.finished() && (m.run == nil || m.run.done) {
			m.spinning = false
			return m, nil
		}
		return m, cmd
	case tea.KeyPressMsg:
		cmds = append(cmds, m.onKey(msg))
	case tea.MouseClickMsg:
		if !m.form.active && m.ask == nil && !m.timelineOn { // the save form, the prompt and the timeline are modal
			cmds = append(cmds, m.onClick(msg.Mouse()))
		}
	case tea.MouseWheelMsg:
		if !m.form.active && m.ask == nil && !m.timelineOn {
			cmds = append(cmds, m.onWheel(msg.Mouse()))
		}
	case openStepMsg:
		m.steps.Select(msg.step)
		cmds = append(cmds, m.sync(), m.setTab(tabStep))
		m.setFocus(paneBottom)
	case openFileMsg:
		m.fileFrom = tabFiles
		if m.tab == tabCompare {
			m.fileFrom = tabCompare
		}
		cmds = append(cmds, m.setTab(tabFile), m.file.Open(msg))
	case backToFilesMsg:
		cmds = append(cmds, m.setTab(m.fileFrom))
	case compareLoadedMsg:
		m.compare.loaded(msg)
	case spaceDoneMsg:
		m.space.done(msg)
		cmds = append(cmds, m.refreshSelected())
	case openWasteMsg:
		m.steps.Select(msg.step)
		cmds = append(cmds, m.sync())
		m.files.reveal1 = msg.path
		m.files.whole = false
		cmds = append(cmds, m.setTab(tabFiles))
		m.files.revealPending()
	case shellDoneMsg:
		cmds = append(cmds, m.shellDone(msg))
	case shellChangesMsg:
		cmds = append(cmds, m.shellChanges(msg))
	case shellKeptMsg:
		cmds = append(cmds, m.shellKept(msg))
	case shellDiscardedMsg:
		if msg.quit {
			cmds = append(cmds, m.quit())
		}
	case runMsg:
		cmds = append(cmds, m.onRun(msg))
	case logChunkMsg, logSearchMsg:
		var cmd tea.Cmd
		m.logs, cmd = m.logs.Update(msg)
		cmds = append(cmds, cmd)
	case filesLoadedMsg, layerFetchMsg:
		var cmd tea.Cmd
		m.files, cmd = m.files.Update(msg)
		cmds = append(cmds, cmd)
	case fileLoadedMsg:
		var cmd tea.Cmd
		m.file, cmd = m.file.Update(msg)
		cmds = append(cmds, cmd)
	case savedMsg:
		cmds = append(cmds, m.onSaved(msg))
	}
	// the rows under the panes follow the focused pane's help, the
	// status and the prompt: the panes give way to them
	if m.helpRows() != m.laidRows || m.needs() != m.laidNeeds {
		m.layout()
	}
	return m, tea.Batch(cmds...)
}

// frameOf finds the spinner's frame by its view (the bubble keeps it private).
func frameOf(s spinner.Model) int {
	v := s.View()
	for i, f := range spinFrames {
		if strings.Contains(v, f) {
			return i
		}
	}
	return 0
}

// onEvents folds a batch of events in and re-arms the wait.
func (m *model) onEvents(msg eventsMsg) tea.Cmd {
	var cmds []tea.Cmd
	touched := map[int]bool{}
	var done bool
	now := m.c.now()
	for _, ev := range msg.evs {
		switch ev.(type) {
		case event.PlanReady, *event.PlanReady:
			if m.b.plan != nil {
				m.beforeRebuild()
			}
		}
		if s := m.b.apply(ev, now); s >= 0 {
			touched[s] = true
		}
		m.timeline.observe(ev)
		m.statusOnEvent(ev)
		cmds = append(cmds, m.compareOnEvent(ev), m.space.Observe(ev))
		switch e := ev.(type) {
		case event.PlanReady, *event.PlanReady:
			if m.b.builds > 1 {
				m.afterRebuild()
			}
			if m.quitting && m.opt.Backend != nil {
				m.opt.Backend.Cancel() // a rebuild started as we were leaving
			}
		case event.Paused, *event.Paused:
			if !m.saving {
				m.status = "" // the pause banner says what to do now
			}
		case event.BuildDone, *event.BuildDone:
			done = true
		case event.StepFailed:
			m.steps.Select(e.Step)
		case *event.StepFailed:
			m.steps.Select(e.Step)
		}
	}
	if msg.closed {
		m.b.closed = true
	}
	if m.b.inspecting() && !m.inspectShown {
		// an image is read from its first layer, not followed like a build
		m.inspectShown = true
		m.files.unit = "layer"
		m.steps.Select(0)
	}
	if len(m.b.steps) > 0 && !m.spinning && !m.b.finished() {
		m.spinning = true
		cmds = append(cmds, m.spin.Tick)
	}
	m.steps.Track()
	if m.focus != paneDockerfile || m.sel != m.steps.Selected() {
		m.df.ShowStep(m.steps.Selected())
	}
	cmds = append(cmds, m.sync())
	if touched[m.sel] {
		cmds = append(cmds, m.refreshSelected())
	}
	if done && m.b.done != nil { // (not when a new build began after it in this batch)
		cmds = append(cmds, m.onBuildDone())
	}
	switch {
	case m.quitting && m.b.finished() && (m.run == nil || m.run.done):
		return tea.Quit
	case !msg.closed && m.opt.Events != nil:
		cmds = append(cmds, waitEvents(m.opt.Events))
	}
	return tea.Batch(cmds...)
}

// beforeRebuild runs before a new build's plan replaces the old one: a
// row that is not a plan step is selected through its step.
func (m *model) beforeRebuild() {
	if r := m.b.step(m.sel); r != nil && r.kind != recStep {
		if r.kind == recShell {
			m.steps.sel = r.owner
		} else {
			m.steps.sel = len(m.b.steps) - 1
		}
	}
	m.stopRun()
	m.run = nil
	if m.mark != nil && !strings.HasPrefix(m.mark.label, "previous build ") {
		m.mark.label = "previous build " + m.mark.label
	}
}

// afterRebuild resets the panes for a new build on the same stream: the
// selection stays on the same step index when there is one.
func (m *model) afterRebuild() {
	m.sel = -1 // every pane takes the new step's state
	m.logs.step = -1
	m.files.SetStep(-1, nil)
	if m.steps.sel >= m.b.rows() {
		m.steps.sel = m.b.rows() - 1
	}
}

func (m *model) onBuildDone() tea.Cmd {
	d := m.b.done
	if d.Error != "" && d.Line > 0 && m.b.stepAtLine(d.Line) < 0 {
		m.df.ShowLine(d.Line)
	}
	if m.focus == paneBottom && m.tab != tabLog {
		return nil // the user is looking at something: leave it
	}
	if r := m.b.step(m.sel); r != nil && r.status == statusFailed {
		return m.setTab(tabStep)
	}
	return m.setTab(tabSummary)
}

// sync propagates a changed selection to the panes that show the selected
// step.
func (m *model) sync() tea.Cmd {
	sel := m.steps.Selected()
	if sel == m.sel {
		return nil
	}
	m.sel = sel
	if m.focus != paneDockerfile {
		m.df.ShowStep(sel)
	}
	m.story.SetStep(sel)
	m.config.SetStep(sel)
	m.cache.SetStep(sel)
	return tea.Batch(m.logs.SetStep(sel), m.refreshSelected())
}

// refreshSelected updates what depends on the selected step's state.
func (m *model) refreshSelected() tea.Cmd {
	var snap *event.Snapshot
	if r := m.b.step(m.sel); r != nil {
		snap = r.snap
	}
	m.files.SetStep(m.sel, snap)
	m.files.waste = m.wasteFor(snap)
	cmds := []tea.Cmd{m.logs.Refresh()}
	if m.tab == tabFiles {
		cmds = append(cmds, m.files.Load())
	}
	return tea.Batch(cmds...)
}

func (m *model) setTab(t tab) tea.Cmd {
	m.tab = t
	m.setFocus(m.focus)
	if t == tabFiles {
		return m.files.Load()
	}
	return nil
}

func (m *model) setFocus(p pane) {
	m.focus = p
	m.df.SetFocus(p == paneDockerfile)
	m.steps.SetFocus(p == paneSteps)
	b := p == paneBottom
	m.logs.SetFocus(b && m.tab == tabLog)
	m.files.SetFocus(b && m.tab == tabFiles)
	m.file.SetFocus(b && m.tab == tabFile)
	m.story.SetFocus(b && m.tab == tabStep)
	m.config.SetFocus(b && m.tab == tabConfig)
	m.cache.SetFocus(b && m.tab == tabCache)
	m.summary.SetFocus(b && m.tab == tabSummary)
	m.compare.SetFocus(b && m.tab == tabCompare)
	m.space.SetFocus(b && m.tab == tabSpace)
}

// capturing is true while a search input or the save form takes every key.
func (m *model) capturing() bool {
	return m.form.active || m.focus == paneBottom && ((m.tab == tabLog && m.logs.Capturing()) ||
		(m.tab == tabFiles && m.files.Capturing()) || (m.tab == tabCompare && m.compare.Capturing()))
}

func (m *model) onKey(msg tea.KeyPressMsg) tea.Cmd {
	if !m.saving {
		m.status = ""
	}
	if m.ask != nil {
		return m.askKey(msg)
	}
	if m.form.active && msg.String() != "ctrl+c" {
		return m.formKey(msg)
	}
	if m.help.ShowAll && m.helpKey(msg.String()) {
		return nil
	}
	if cmd, ok := m.timelineKey(msg); ok {
		return cmd
	}
	if msg.String() == "ctrl+c" || !m.capturing() {
		if cmd, ok := m.stepping(msg); ok {
			return cmd
		}
		switch {
		case key.Matches(msg, m.keys.Quit):
			return m.quit()
		case key.Matches(msg, m.keys.Break):
			m.toggleBreak()
			return nil
		case key.Matches(msg, m.keys.Shell):
			return m.openShell(false)
		case key.Matches(msg, m.keys.Partial):
			return m.openShell(true)
		case key.Matches(msg, m.keys.Rebuild):
			return m.rebuild(false)
		case key.Matches(msg, m.keys.RebuildNoCache):
			return m.rebuild(true)
		case key.Matches(msg, m.keys.Mark):
			return m.markSnapshot()
		case key.Matches(msg, m.keys.Compare):
			return m.compareWithMark()
		case key.Matches(msg, m.keys.ComparePrev):
			return m.compareWithPrev()
		case key.Matches(msg, m.keys.Run):
			return m.runImage()
		case key.Matches(msg, m.keys.Save):
			m.openSave()
			return nil
		case key.Matches(msg, m.keys.Help):
			m.help.ShowAll = !m.help.ShowAll
			m.helpOff = 0
			m.layout()
			return nil
		case key.Matches(msg, m.keys.NextPane):
			m.setFocus((m.focus + 1) % paneCount)
			return nil
		case key.Matches(msg, m.keys.PrevPane):
			m.setFocus((m.focus + paneCount - 1) % paneCount)
			return nil
		case key.Matches(msg, m.keys.NextTab):
			return m.setTab((m.tab + 1) % tabCount)
		case key.Matches(msg, m.keys.PrevTab):
			return m.setTab((m.tab + tabCount - 1) % tabCount)
		case key.Matches(msg, m.keys.Tabs):
			m.setFocus(paneBottom)
			return m.setTab(tab(msg.String()[0] - '1'))
		}
	}
	cmd := m.routeKey(msg)
	return tea.Batch(cmd, m.syncFromPanes())
}

// routeKey sends a key to the focused pane.
func (m *model) routeKey(msg tea.Msg) tea.Cmd {
	var cmd tea.Cmd
	switch m.focus {
	case paneDockerfile:
		m.df, cmd = m.df.Update(msg)
	case paneSteps:
		m.steps, cmd = m.steps.Update(msg)
	default:
		switch m.tab {
		case tabLog:
			m.logs, cmd = m.logs.Update(msg)
		case tabFiles:
			m.files, cmd = m.files.Update(msg)
		case tabFile:
			m.file, cmd = m.file.Update(msg)
		case tabStep:
			m.story, cmd = m.story.Update(msg)
		case tabConfig:
			m.config, cmd = m.config.Update(msg)
		case tabCache:
			m.cache, cmd = m.cache.Update(msg)
		case tabSummary:
			m.summary, cmd = m.summary.Update(msg)
		case tabCompare:
			m.compare, cmd = m.compare.Update(msg)
		case tabSpace:
			m.space, cmd = m.space.Update(msg)
		}
	}
	return cmd
}

// syncFromPanes selects the step under the Dockerfile cursor when that pane
// moved, then propagates the selection.
func (m *model) syncFromPanes() tea.Cmd {
	if m.focus == paneDockerfile {
		if s := m.df.Step(); s >= 0 && s != m.steps.Selected() {
			m.steps.Select(s)
		}
	}
	return m.sync()
}

func (m *model) quit() tea.Cmd {
	if m.saving && !m.quitAfterSave {
		// leaving now would cut the image being written in half
		m.quitAfterSave = true
		m.setStatus(statusInfo, "waiting for the save to finish… (q again leaves now)")
		return nil
	}
	if m.quitting {
		// a second q while cancelling leaves without waiting
		return tea.Quit
	}
	running := m.stopRun() // the image's command stops with us
	if !running && (m.b.finished() || m.opt.Events == nil) {
		return tea.Quit
	}
	m.quitting = true
	if !m.b.finished() && m.opt.Backend != nil {
		m.opt.Backend.Cancel() // a paused build is cancelled too
	}
	return nil
}

// rebuild asks for a new build (r), or one without cache from the
// selected step on (R).
func (m *model) rebuild(noCache bool) tea.Cmd {
	if m.opt.Rebuild == nil || m.b.inspecting() {
		m.setStatus(statusErr, "rebuilding is not available here")
		return nil
	}
	if !noCache {
		m.opt.Rebuild(0)
		m.setStatusWhile(statusInfo, "rebuilding: unchanged steps come from the cache…")
		return nil
	}
	sel := m.sel
	if r := m.b.step(sel); r != nil && r.kind == recShell {
		sel = r.owner
	}
	r := m.b.planStep(sel)
	if r == nil {
		m.setStatus(statusErr, "select the step to rebuild from without cache")
		return nil
	}
	// plan index 0 cannot be asked for: without cache from the step after
	// FROM is the same build (FROM itself only resolves the base).
	m.opt.Rebuild(max(1, sel))
	m.setStatusWhile(statusInfo, "rebuilding without cache from "+r.label()+"…")
	return nil
}

// selectedRef is the selected row's snapshot for a comparison.
func (m *model) selectedRef() (*snapRef, string) {
	r := m.b.step(m.sel)
	switch {
	case r == nil:
		return nil, "no step selected"
	case r.snap == nil:
		return nil, r.label() + " has no snapshot (yet)"
	}
	ref := refOf(r, "")
	return &ref, ""
}

// markSnapshot marks the selected snapshot (m); with one marked already,
// m on another compares the two.
func (m *model) markSnapshot() tea.Cmd {
	ref, why := m.selectedRef()
	if ref == nil {
		m.setStatus(statusErr, why)
		return nil
	}
	if m.mark != nil {
		if m.mark.snap == ref.snap {
			m.mark = nil
			m.steps.marked = nil
			m.setStatus(statusInfo, "mark removed")
			return nil
		}
		return m.startCompare(*m.mark, *ref, false)
	}
	m.mark = ref
	m.steps.marked = ref.snap
	m.setStatus(statusInfo, "marked "+ref.label+": select another snapshot and press = (or m) to compare")
	return nil
}

// compareWithMark compares the marked snapshot with the selected one (=).
func (m *model) compareWithMark() tea.Cmd {
	if m.mark == nil {
		m.setStatus(statusErr, "mark a snapshot with m first, then select another and press =")
		return nil
	}
	ref, why := m.selectedRef()
	switch {
	case ref == nil:
		m.setStatus(statusErr, why)
		return nil
	case ref.snap == m.mark.snap:
		m.setStatus(statusErr, "that is the marked snapshot: select another one to compare it with")
		return nil
	}
	return m.startCompare(*m.mark, *ref, false)
}

// compareWithPrev compares the selected step with the same step of the
// previous build (M).
func (m *model) compareWithPrev() tea.Cmd {
	r, p := m.b.planStep(m.sel), m.b.prevStep(m.sel)
	switch {
	case r == nil:
		m.setStatus(statusErr, "select a step of the build")
	case p == nil:
		m.setStatus(statusErr, "no previous build of "+r.label()+" to compare with: M works after a rebuild (r, or save a file)")
	case p.snap == nil:
		m.setStatus(statusErr, "the previous build's "+p.label()+" left no snapshot")
	case r.snap == nil:
		m.setStatus(statusErr, r.label()+" has no snapshot yet")
	default:
		return m.startCompare(refOf(p, "previous build"), refOf(r, "this build"), true)
	}
	return nil
}

// startCompare opens the Compare tab on a → b.
func (m *model) startCompare(a, b snapRef, sameStep bool) tea.Cmd {
	m.mark = nil
	m.steps.marked = nil
	cmd := m.compare.Start(a, b, sameStep)
	m.setFocus(paneBottom)
	return tea.Batch(cmd, m.setTab(tabCompare))
}

// Run runs the TUI (alternate screen, mouse) until the user quits; a quit
// during a build cancels it and waits for it to stop.
func Run(ctx context.Context, opt Options) error {
	if os.Getenv("NO_COLOR") != "" {
		opt.NoColor = true
	}
	var root tea.Model = newModel(opt)
	if len(opt.Platforms) > 0 {
		root = newPlatformsModel(opt)
	}
	p := tea.NewProgram(root, tea.WithContext(ctx))
	_, err := p.Run()
	if err != nil && ctx.Err() != nil && errors.Is(err, tea.ErrProgramKilled) {
		return ctx.Err()
	}
	return err
}
