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

	"github.com/strata-build/strata/build"
	"github.com/strata-build/strata/layers"
)

// Backend is how the TUI reads what the build left on disk and how it
// cancels the build.
type Backend interface {
	// Cancel cancels the running build (q/ctrl-c while running).
	Cancel()
	// ReadFile returns up to max bytes of path in the snapshot; an absent
	// file is an error wrapping fs.ErrNotExist.
	ReadFile(snap *build.Snapshot, path string, max int64) ([]byte, error)
	// Tree lists the whole filesystem at the snapshot (Kind = Added for
	// every entry; the TUI marks the snapshot's own Changes).
	Tree(snap *build.Snapshot) ([]layers.Change, error)
	// LogLines returns lines [from,to) of a step's full log.
	LogLines(step, from, to int) ([]string, error)
	// LogLen is the number of lines of a step's log.
	LogLen(step int) int
	// Save writes the finished image (by id) to dest: a local store name,
	// oci:DIR[:tag] or docker-archive:FILE; it says what it wrote.
	Save(imageID, dest string) (string, error)
	// OpenShell prepares a debug shell in a new temporary container on
	// top of a snapshot; the TUI runs it with tea.Exec (suspended).
	OpenShell(snap *build.Snapshot, opt build.ShellOptions) (build.DebugShell, error)
	// Compare lists the changes that turn snapshot a into b.
	Compare(a, b *build.Snapshot) ([]layers.Change, error)
	// RunImage runs an image's primary command in a temporary container,
	// passing each output line to out; it returns the exit code.
	RunImage(ctx context.Context, cfg *v1.ConfigFile, out func(stream, line string)) (int, error)
}

// Options configure the TUI.
type Options struct {
	Events  <-chan build.Event
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
}

// Minimum terminal size; smaller terminals get a message instead.
const (
	MinWidth  = 60
	MinHeight = 16
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
	tabCount
)

var tabNames = [tabCount]string{"Log", "Step", "Files", "File", "Config", "Cache", "Summary", "Compare"}

// Messages.
type (
	eventsMsg struct {
		evs    []build.Event
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
func waitEvents(ch <-chan build.Event) tea.Cmd {
	return func() tea.Msg {
		ev, ok := <-ch
		if !ok {
			return eventsMsg{closed: true}
		}
		evs := []build.Event{ev}
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

// Model is the whole TUI; it is a tea.Model.
type Model struct {
	c    *common
	opt  Options
	keys KeyMap
	help help.Model
	spin spinner.Model
	b    *buildState

	df      DockerfileModel
	steps   StepsModel
	logs    LogsModel
	files   FilesModel
	file    FileModel
	story   InfoModel
	config  InfoModel
	cache   InfoModel
	summary InfoModel
	compare CompareModel
	form    saveForm

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
	quitting bool
	spinning bool
}

// New returns the TUI model for opt.
func New(opt Options) *Model {
	c := newCommon(opt.NoColor)
	b := newBuildState()
	b.hasOutput = opt.HasOutput
	h := help.New()
	h.Styles.ShortKey, h.Styles.FullKey = c.st.helpKey, c.st.helpKey
	h.Styles.ShortDesc, h.Styles.FullDesc = c.st.helpDesc, c.st.helpDesc
	h.Styles.ShortSeparator, h.Styles.FullSeparator, h.Styles.Ellipsis = c.st.helpSep, c.st.helpSep, c.st.helpSep
	m := &Model{
		c: c, opt: opt, keys: DefaultKeyMap(), help: h, b: b,
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
		form:    newSaveForm(c),
		focus:   paneSteps,
		sel:     -1,
		w:       80, h: 24,
	}
	m.fileFrom = tabFiles
	m.syncBreaks()
	m.setFocus(paneSteps)
	m.layout()
	return m
}

// Init starts waiting for events.
func (m *Model) Init() tea.Cmd {
	if m.opt.Events == nil {
		return nil
	}
	return waitEvents(m.opt.Events)
}

// Update routes a message: events to the build state, keys to the focused
// pane, loaded data to the pane that asked for it.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
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
		if !m.form.active && m.ask == nil { // the save form and the prompt are modal
			cmds = append(cmds, m.onClick(msg.Mouse()))
		}
	case tea.MouseWheelMsg:
		if !m.form.active && m.ask == nil {
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
	case filesLoadedMsg:
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
	if m.helpRows() != m.laidRows {
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
func (m *Model) onEvents(msg eventsMsg) tea.Cmd {
	var cmds []tea.Cmd
	touched := map[int]bool{}
	var done bool
	now := m.c.now()
	for _, ev := range msg.evs {
		switch ev.(type) {
		case build.PlanReady, *build.PlanReady:
			if m.b.plan != nil {
				m.beforeRebuild()
			}
		}
		if s := m.b.apply(ev, now); s >= 0 {
			touched[s] = true
		}
		switch e := ev.(type) {
		case build.PlanReady, *build.PlanReady:
			if m.b.builds > 1 {
				m.afterRebuild()
			}
			if m.quitting && m.opt.Backend != nil {
				m.opt.Backend.Cancel() // a rebuild started as we were leaving
			}
		case build.Paused, *build.Paused:
			if !m.saving {
				m.status = "" // the pause banner says what to do now
			}
		case build.BuildDone, *build.BuildDone:
			done = true
		case build.StepFailed:
			m.steps.Select(e.Step)
		case *build.StepFailed:
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
func (m *Model) beforeRebuild() {
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
func (m *Model) afterRebuild() {
	m.sel = -1 // every pane takes the new step's state
	m.logs.step = -1
	m.files.SetStep(-1, nil)
	if m.steps.sel >= m.b.rows() {
		m.steps.sel = m.b.rows() - 1
	}
}

func (m *Model) onBuildDone() tea.Cmd {
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
func (m *Model) sync() tea.Cmd {
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
func (m *Model) refreshSelected() tea.Cmd {
	var snap *build.Snapshot
	if r := m.b.step(m.sel); r != nil {
		snap = r.snap
	}
	m.files.SetStep(m.sel, snap)
	cmds := []tea.Cmd{m.logs.Refresh()}
	if m.tab == tabFiles {
		cmds = append(cmds, m.files.Load())
	}
	return tea.Batch(cmds...)
}

func (m *Model) setTab(t tab) tea.Cmd {
	m.tab = t
	m.setFocus(m.focus)
	if t == tabFiles {
		return m.files.Load()
	}
	return nil
}

func (m *Model) setFocus(p pane) {
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
}

// capturing is true while a search input or the save form takes every key.
func (m *Model) capturing() bool {
	return m.form.active || m.focus == paneBottom && ((m.tab == tabLog && m.logs.Capturing()) ||
		(m.tab == tabFiles && m.files.Capturing()) || (m.tab == tabCompare && m.compare.Capturing()))
}

func (m *Model) onKey(msg tea.KeyPressMsg) tea.Cmd {
	if !m.saving {
		m.status = ""
	}
	if m.ask != nil {
		return m.askKey(msg)
	}
	if m.form.active && msg.String() != "ctrl+c" {
		return m.formKey(msg)
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
func (m *Model) routeKey(msg tea.Msg) tea.Cmd {
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
		}
	}
	return cmd
}

// syncFromPanes selects the step under the Dockerfile cursor when that pane
// moved, then propagates the selection.
func (m *Model) syncFromPanes() tea.Cmd {
	if m.focus == paneDockerfile {
		if s := m.df.Step(); s >= 0 && s != m.steps.Selected() {
			m.steps.Select(s)
		}
	}
	return m.sync()
}

func (m *Model) quit() tea.Cmd {
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
func (m *Model) rebuild(noCache bool) tea.Cmd {
	if m.opt.Rebuild == nil || m.b.inspecting() {
		m.setStatus(statusErr, "rebuilding is not available here")
		return nil
	}
	if !noCache {
		m.opt.Rebuild(0)
		m.setStatus(statusInfo, "rebuilding: unchanged steps come from the cache…")
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
	m.setStatus(statusInfo, "rebuilding without cache from "+r.label()+"…")
	return nil
}

// selectedRef is the selected row's snapshot for a comparison.
func (m *Model) selectedRef() (*snapRef, string) {
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
func (m *Model) markSnapshot() tea.Cmd {
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
func (m *Model) compareWithMark() tea.Cmd {
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
func (m *Model) compareWithPrev() tea.Cmd {
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
func (m *Model) startCompare(a, b snapRef, sameStep bool) tea.Cmd {
	m.mark = nil
	m.steps.marked = nil
	cmd := m.compare.Start(a, b, sameStep)
	m.setFocus(paneBottom)
	return tea.Batch(cmd, m.setTab(tabCompare))
}

func (m *Model) paneAt(x, y int) (pane, bool) {
	for p := paneDockerfile; p < paneCount; p++ {
		if m.rects[p].contains(x, y) {
			return p, true
		}
	}
	return 0, false
}

func (m *Model) onClick(ms tea.Mouse) tea.Cmd {
	if ms.Button != tea.MouseLeft {
		return nil
	}
	p, ok := m.paneAt(ms.X, ms.Y)
	if !ok {
		return nil
	}
	r := m.rects[p]
	m.setFocus(p)
	row := ms.Y - r.y - 1
	if p == paneBottom && row < 0 { // the tab bar on the border
		if t, ok := m.tabAt(ms.X); ok {
			return m.setTab(t)
		}
		return nil
	}
	if row < 0 || row >= r.h-2 {
		return nil
	}
	var cmd tea.Cmd
	switch p {
	case paneDockerfile:
		m.df.Click(row)
	case paneSteps:
		m.steps.Click(row)
	default:
		switch m.tab {
		case tabFiles:
			cmd = m.files.Click(row)
		case tabCompare:
			cmd = m.compare.Click(row)
		}
	}
	return tea.Batch(cmd, m.syncFromPanes())
}

func (m *Model) onWheel(ms tea.Mouse) tea.Cmd {
	n := 0
	switch ms.Button {
	case tea.MouseWheelUp:
		n = -3
	case tea.MouseWheelDown:
		n = 3
	default:
		return nil
	}
	p, ok := m.paneAt(ms.X, ms.Y)
	if !ok {
		return nil
	}
	var cmd tea.Cmd
	switch p {
	case paneDockerfile:
		m.df.Scroll(n)
		if m.focus == paneDockerfile {
			return m.syncFromPanes()
		}
	case paneSteps:
		m.steps.Scroll(n / 3)
		return m.sync()
	default:
		switch m.tab {
		case tabLog:
			cmd = m.logs.Scroll(n)
		case tabFiles:
			m.files.Scroll(n)
		case tabFile:
			m.file.Scroll(n)
		case tabStep:
			m.story.Scroll(n)
		case tabConfig:
			m.config.Scroll(n)
		case tabCache:
			m.cache.Scroll(n)
		case tabSummary:
			m.summary.Scroll(n)
		case tabCompare:
			m.compare.Scroll(n)
		}
	}
	return cmd
}

func (m *Model) helpKeys() help.KeyMap {
	global := m.keys
	// S works whenever there is an image; the help offers it only when
	// the image has not been put anywhere yet.
	global.Save.SetEnabled(m.b.saveOffered())
	// The debugger's keys show when they apply.
	ctl := m.opt.Control != nil && !m.b.inspecting() && m.b.plan != nil
	global.Break.SetEnabled(ctl)
	global.Next.SetEnabled(ctl && m.b.paused != nil)
	global.Continue.SetEnabled(ctl && m.b.paused != nil)
	global.Pause.SetEnabled(ctl && m.b.paused == nil && !m.b.finished())
	snap, _, _, _ := m.shellTarget(false)
	global.Shell.SetEnabled(m.opt.Backend != nil && snap != nil)
	part, _, _, _ := m.shellTarget(true)
	global.Partial.SetEnabled(m.opt.Backend != nil && part != nil)
	global.Rebuild.SetEnabled(m.opt.Rebuild != nil && !m.b.inspecting())
	global.RebuildNoCache.SetEnabled(m.opt.Rebuild != nil && !m.b.inspecting() && m.b.step(m.sel) != nil)
	r := m.b.step(m.sel)
	hasSnap := r != nil && r.snap != nil
	global.Mark.SetEnabled(hasSnap)
	global.Compare.SetEnabled(hasSnap && m.mark != nil && m.mark.snap != r.snap)
	p := m.b.prevStep(m.sel)
	global.ComparePrev.SetEnabled(hasSnap && p != nil && p.snap != nil)
	global.Run.SetEnabled(m.opt.Backend != nil && !m.b.inspecting() && m.b.finalConfig() != nil)
	if m.run != nil && !m.run.done {
		global.Run.SetHelp("x", "stop run")
	}
	if m.ask != nil {
		return helpKeys{pane: askKeys, global: KeyMap{Quit: key.NewBinding(key.WithKeys("ctrl+c"), key.WithHelp("ctrl+c", "quit"))}}
	}
	if m.form.active {
		return helpKeys{pane: m.form.keys, global: KeyMap{Quit: key.NewBinding(key.WithKeys("ctrl+c"), key.WithHelp("ctrl+c", "quit"))}}
	}
	var pk help.KeyMap
	switch m.focus {
	case paneDockerfile:
		pk = m.df.keys
	case paneSteps:
		k := m.steps.keys
		if m.b.inspecting() {
			k.Follow.SetEnabled(false) // nothing to follow
		}
		pk = k
	default:
		switch m.tab {
		case tabLog:
			pk = m.logs.keys
		case tabFiles:
			pk = m.files.keys
		case tabFile:
			pk = m.file.keys
		case tabCompare:
			pk = m.compare.keys
		default:
			pk = m.story.keys
		}
	}
	return helpKeys{pane: pk, global: global}
}

// askKeys are the keep prompt's keys.
var askKeys = SaveKeyMap{
	Save:   key.NewBinding(key.WithKeys("y"), key.WithHelp("y", "keep as a step")),
	Cancel: key.NewBinding(key.WithKeys("n"), key.WithHelp("n/esc", "throw away")),
}

// helpKeys joins the focused pane's keys and the global ones.
type helpKeys struct {
	pane   help.KeyMap
	global KeyMap
}

func (h helpKeys) ShortHelp() []key.Binding {
	var out []key.Binding
	for _, b := range h.global.actions() {
		if b.Enabled() {
			out = append(out, b)
		}
	}
	out = append(out, h.pane.ShortHelp()...)
	return append(out, h.global.ShortHelp()...)
}

func (h helpKeys) FullHelp() [][]key.Binding {
	g := h.global.FullHelp()
	out := append([][]key.Binding{g[0]}, g[1:]...)
	return append(out, h.pane.FullHelp()...)
}

func (m *Model) helpRows() int {
	if !m.help.ShowAll { // (without drawing the help)
		return min(max(1, len(m.bannerLines())), max(1, m.h-MinHeight+1))
	}
	return len(m.bottomLines())
}

// helpLines is the help bar (one line, or the full help with ?).
func (m *Model) helpLines() []string {
	return strings.Split(m.help.View(m.helpKeys()), "\n")
}

// maxStatusRows is how many rows a long status may wrap onto.
const maxStatusRows = 3

// bannerLines is what stands above the help: the keep prompt, a status
// (wrapped, so advice at its end is not cut off) or the pause banner.
func (m *Model) bannerLines() []string {
	switch {
	case m.ask != nil:
		return []string{m.askLine()}
	case m.status != "":
		lines := wrap(m.status, m.w, "  ")
		if len(lines) > maxStatusRows {
			lines = lines[:maxStatusRows]
			lines[maxStatusRows-1] += "…"
		}
		for i := range lines {
			lines[i] = statusLine(&m.c.st, m.statusKind, lines[i], m.w)
		}
		return lines
	case m.b.paused != nil:
		return []string{m.pauseBanner()}
	}
	return nil
}

// bottomLines are the rows under the panes: the banner, then the help
// (one line, or all of it with ?) when there is room; at least one row.
func (m *Model) bottomLines() []string {
	room := max(1, m.h-MinHeight+1)
	out := m.bannerLines()
	if len(out) == 0 || m.help.ShowAll {
		for _, l := range m.helpLines() {
			out = append(out, fit(l, m.w))
			if !m.help.ShowAll {
				break
			}
		}
	}
	return out[:min(len(out), room)]
}

// layout computes the pane rectangles for the terminal size.
func (m *Model) layout() {
	m.help.SetWidth(m.w)
	m.laidRows = m.helpRows()
	avail := m.h - 1 - m.laidRows
	topH := max(5, avail*9/20)
	botH := avail - topH
	dfW := m.w * 45 / 100
	if m.w >= 160 {
		dfW = m.w * 2 / 5
	}
	m.rects[paneDockerfile] = rect{0, 1, dfW, topH}
	m.rects[paneSteps] = rect{dfW, 1, m.w - dfW, topH}
	m.rects[paneBottom] = rect{0, 1 + topH, m.w, botH}
	in := func(r rect) (int, int) { return max(1, r.w-2), max(1, r.h-2) }
	m.df.SetSize(in(m.rects[paneDockerfile]))
	m.steps.SetSize(in(m.rects[paneSteps]))
	bw, bh := in(m.rects[paneBottom])
	m.logs.SetSize(bw, bh)
	m.files.SetSize(bw, bh)
	m.file.SetSize(bw, bh)
	m.story.SetSize(bw, bh)
	m.config.SetSize(bw, bh)
	m.cache.SetSize(bw, bh)
	m.summary.SetSize(bw, bh)
	m.compare.SetSize(bw, bh)
}

// View draws the screen.
func (m *Model) View() tea.View {
	v := tea.NewView(m.render())
	v.AltScreen = true
	v.MouseMode = tea.MouseModeCellMotion
	v.WindowTitle = "strata"
	if m.opt.Title != "" {
		v.WindowTitle += " · " + m.opt.Title
	}
	return v
}

func (m *Model) render() string {
	if m.w < MinWidth || m.h < MinHeight {
		msg := "terminal too small: strata needs " + itoa(MinWidth) + "×" + itoa(MinHeight) + ", this is " + itoa(m.w) + "×" + itoa(m.h)
		lines := wrap(msg, max(10, m.w), "")
		return strings.Join(lines, "\n")
	}
	var b strings.Builder
	b.WriteString(m.header())
	b.WriteByte('\n')
	dr, sr, br := m.rects[paneDockerfile], m.rects[paneSteps], m.rects[paneBottom]
	left := strings.Split(box(&m.c.st, m.sourceTitle(), m.focus == paneDockerfile, strings.Split(m.df.View(), "\n"), dr.w, dr.h), "\n")
	right := strings.Split(box(&m.c.st, m.stepsTitle(), m.focus == paneSteps, strings.Split(m.steps.View(), "\n"), sr.w, sr.h), "\n")
	for i := range left {
		b.WriteString(left[i])
		if i < len(right) {
			b.WriteString(right[i])
		}
		b.WriteByte('\n')
	}
	b.WriteString(m.bottomBox(br))
	bl := m.bottomLines()
	for i := 0; i < m.laidRows; i++ {
		b.WriteByte('\n')
		if i < len(bl) {
			b.WriteString(bl[i])
		} else {
			b.WriteString(strings.Repeat(" ", m.w))
		}
	}
	if !m.form.active {
		return b.String()
	}
	bw, bh := m.form.size(m.w, m.h)
	return overlay(b.String(), m.form.view(bw, bh), (m.w-bw)/2, max(1, (m.h-bh)/2))
}

// sourceTitle names the upper left pane: the Dockerfile, or the history
// of an inspected image.
func (m *Model) sourceTitle() string {
	if m.b.inspecting() {
		return "History"
	}
	return "Dockerfile"
}

func (m *Model) stepsTitle() string {
	fin, _, _, _ := m.b.counts()
	if m.b.inspecting() {
		n := 0
		for i := range m.b.steps {
			if m.b.steps[i].diffID != "" {
				n++
			}
		}
		return "Layers " + itoa(n) + " · " + itoa(fin) + "/" + itoa(len(m.b.steps)) + " entries"
	}
	if len(m.b.steps) == 0 {
		return "Steps"
	}
	t := "Steps " + itoa(fin) + "/" + itoa(len(m.b.steps))
	if m.b.builds > 1 {
		t += " · build " + itoa(m.b.builds)
	}
	return t
}

// bottomBox draws the lower pane with its tab bar in the top border.
func (m *Model) bottomBox(r rect) string {
	st := &m.c.st
	var content string
	switch m.tab {
	case tabLog:
		content = m.logs.View()
	case tabStep:
		content = m.story.View()
	case tabFiles:
		content = m.files.View()
	case tabFile:
		content = m.file.View()
	case tabConfig:
		content = m.config.View()
	case tabCache:
		content = m.cache.View()
	case tabSummary:
		content = m.summary.View()
	case tabCompare:
		content = m.compare.View()
	}
	// the tab bar
	var tb strings.Builder
	for t := tab(0); t < tabCount; t++ {
		if t == m.tab {
			tb.WriteString(st.tabActive.Render(m.tabTitle(t)))
		} else {
			tb.WriteString(st.tabInactive.Render(m.tabTitle(t)))
		}
	}
	return box(st, tb.String(), m.focus == paneBottom, strings.Split(content, "\n"), r.w, r.h)
}

func (m *Model) tabTitle(t tab) string {
	if m.w < 100 {
		return " " + tabNames[t] + " "
	}
	return " " + itoa(int(t)+1) + " " + tabNames[t] + " "
}

// tabAt is the tab whose title is at column x of the bottom border.
func (m *Model) tabAt(x int) (tab, bool) {
	pos := 3 // "╭─ " comes before the first title
	for t := tab(0); t < tabCount; t++ {
		n := len([]rune(m.tabTitle(t)))
		if x >= pos && x < pos+n {
			return t, true
		}
		pos += n
	}
	return 0, false
}

func (m *Model) header() string {
	st := &m.c.st
	left := st.header.Render(" strata")
	if m.opt.Title != "" {
		left += st.dim.Render(" · ") + m.opt.Title
	}
	var right string
	fin, cached, _, _ := m.b.counts()
	d := m.b.done
	switch {
	case m.b.inspecting():
		right = m.inspectHeader()
	case m.quitting && !m.b.finished():
		right = st.warning.Render("cancelling… waiting for the build to stop")
	case d != nil && d.Error != "":
		right = st.headerErr.Render("✗ build failed") + st.dim.Render(" · "+humanDuration(d.Duration))
	case d != nil:
		right = st.headerOK.Render("✓ "+shortID(d.ImageID, 12)) + st.dim.Render(" · "+humanBytes(d.Size))
		if m.w >= 100 {
			right += st.dim.Render(" · " + itoa(d.Layers) + " layers")
		}
		right += st.dim.Render(" · " + humanDuration(d.Duration) + " · cache " + itoa(max(cached, d.Cached)) + "/" + itoa(len(m.b.steps)))
	case m.b.closed:
		right = st.headerErr.Render("build ended")
	case m.b.plan == nil:
		right = st.dim.Render("parsing…")
	case m.b.paused != nil:
		right = st.warning.Render("▶ paused") + st.dim.Render(" before step "+itoa(m.b.paused.Step+1)+"/"+itoa(len(m.b.steps)))
	default:
		el := time.Duration(0)
		if !m.b.started.IsZero() {
			el = m.c.now().Sub(m.b.started)
		}
		right = st.running.Render(m.c.spin+" building") + st.dim.Render(" "+itoa(fin)+"/"+itoa(len(m.b.steps))+" · "+humanDuration(el))
	}
	return leftRight(left, right+" ", m.w)
}

// Run runs the TUI (alternate screen, mouse) until the user quits; a quit
// during a build cancels it and waits for it to stop.
func Run(ctx context.Context, opt Options) error {
	if os.Getenv("NO_COLOR") != "" {
		opt.NoColor = true
	}
	p := tea.NewProgram(New(opt), tea.WithContext(ctx))
	_, err := p.Run()
	if err != nil && ctx.Err() != nil && errors.Is(err, tea.ErrProgramKilled) {
		return ctx.Err()
	}
	return err
}
