package tui

import "charm.land/bubbles/v2/key"

// keyMap holds the keys that work everywhere.
type keyMap struct {
	NextPane key.Binding
	PrevPane key.Binding
	NextTab  key.Binding
	PrevTab  key.Binding
	Tabs     key.Binding // 1…9 pick a tab of the lower pane
	Help     key.Binding
	Save     key.Binding // S: save the finished image somewhere
	Quit     key.Binding
	Platform key.Binding // a: the next platform (enabled when the build has several: platform.go)

	// The debugger: breakpoints, stepping, shells.
	Break    key.Binding // b: toggle a breakpoint on the line / step
	Next     key.Binding // n (while paused): run one step
	Continue key.Binding // c (while paused): run to the next breakpoint
	Pause    key.Binding // P: pause before the next step
	Shell    key.Binding // s: a shell in the selected snapshot
	Partial  key.Binding // p: a shell in a failed step's partial result

	// Rebuilds, comparisons, running the result.
	Rebuild        key.Binding // r
	RebuildNoCache key.Binding // R: without cache from the selected step
	Mark           key.Binding // m: mark a snapshot to compare
	Compare        key.Binding // =: compare the marked and the selected snapshot
	ComparePrev    key.Binding // M: the selected step against the previous build's
	Run            key.Binding // x: run the final image's primary command
	Timeline       key.Binding // T: the build's timeline (timeline.go)
}

// defaultKeyMap returns the global keys.
func defaultKeyMap() keyMap {
	return keyMap{
		NextPane: key.NewBinding(key.WithKeys("tab"), key.WithHelp("tab", "next pane")),
		PrevPane: key.NewBinding(key.WithKeys("shift+tab"), key.WithHelp("shift+tab", "prev pane")),
		NextTab:  key.NewBinding(key.WithKeys("]"), key.WithHelp("]", "next tab")),
		PrevTab:  key.NewBinding(key.WithKeys("["), key.WithHelp("[", "prev tab")),
		Tabs:     key.NewBinding(key.WithKeys("1", "2", "3", "4", "5", "6", "7", "8", "9"), key.WithHelp("1-9", "tab (focus ↓)")),
		Help:     key.NewBinding(key.WithKeys("?"), key.WithHelp("?", "help")),
		Save:     key.NewBinding(key.WithKeys("S"), key.WithHelp("S", "save image")),
		Quit:     key.NewBinding(key.WithKeys("q", "ctrl+c"), key.WithHelp("q", "quit")),
		Platform: key.NewBinding(key.WithKeys("a"), key.WithHelp("a", "next platform"), key.WithDisabled()),

		Break:    key.NewBinding(key.WithKeys("b"), key.WithHelp("b", "breakpoint")),
		Next:     key.NewBinding(key.WithKeys("n"), key.WithHelp("n", "next step")),
		Continue: key.NewBinding(key.WithKeys("c"), key.WithHelp("c", "continue")),
		Pause:    key.NewBinding(key.WithKeys("P"), key.WithHelp("P", "pause")),
		Shell:    key.NewBinding(key.WithKeys("s"), key.WithHelp("s", "shell")),
		Partial:  key.NewBinding(key.WithKeys("p"), key.WithHelp("p", "shell on partial")),

		Rebuild:        key.NewBinding(key.WithKeys("r"), key.WithHelp("r", "rebuild")),
		RebuildNoCache: key.NewBinding(key.WithKeys("R"), key.WithHelp("R", "rebuild no cache")),
		Mark:           key.NewBinding(key.WithKeys("m"), key.WithHelp("m", "mark")),
		Compare:        key.NewBinding(key.WithKeys("="), key.WithHelp("=", "compare w/ mark")),
		ComparePrev:    key.NewBinding(key.WithKeys("M"), key.WithHelp("M", "vs last build")),
		Run:            key.NewBinding(key.WithKeys("x"), key.WithHelp("x", "run image")),
		Timeline:       key.NewBinding(key.WithKeys("T"), key.WithHelp("T", "timeline: where the time went")),
	}
}

// navKeyMap moves a cursor or a view in a list; every pane embeds it.
type navKeyMap struct {
	Up       key.Binding
	Down     key.Binding
	PageUp   key.Binding
	PageDown key.Binding
	Top      key.Binding
	Bottom   key.Binding
}

// defaultNavKeyMap returns the list movement keys.
func defaultNavKeyMap() navKeyMap {
	return navKeyMap{
		Up:       key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/k", "up")),
		Down:     key.NewBinding(key.WithKeys("down", "j"), key.WithHelp("↓/j", "down")),
		PageUp:   key.NewBinding(key.WithKeys("pgup", "ctrl+u"), key.WithHelp("pgup", "page up")),
		PageDown: key.NewBinding(key.WithKeys("pgdown", "ctrl+d", "space"), key.WithHelp("pgdn", "page down")),
		Top:      key.NewBinding(key.WithKeys("home", "g"), key.WithHelp("g", "top")),
		Bottom:   key.NewBinding(key.WithKeys("end", "G"), key.WithHelp("G", "bottom")),
	}
}

func (k navKeyMap) bindings() []key.Binding {
	return []key.Binding{k.Up, k.Down, k.PageUp, k.PageDown, k.Top, k.Bottom}
}

// navDelta interprets a navigation key as a cursor change; ok is false when
// the key is not a navigation key. page is the visible height.
func navDelta(k navKeyMap, msg fmtStringer, cur, n, page int) (int, bool) {
	switch {
	case key.Matches(msg, k.Up):
		cur--
	case key.Matches(msg, k.Down):
		cur++
	case key.Matches(msg, k.PageUp):
		cur -= max(1, page-1)
	case key.Matches(msg, k.PageDown):
		cur += max(1, page-1)
	case key.Matches(msg, k.Top):
		cur = 0
	case key.Matches(msg, k.Bottom):
		cur = n - 1
	default:
		return cur, false
	}
	return clamp(cur, 0, max(0, n-1)), true
}

type fmtStringer interface{ String() string }

// actions are the keys that do something to the build, most urgent
// first; the help shows the ones that apply now.
func (k keyMap) actions() []key.Binding {
	return []key.Binding{k.Next, k.Continue, k.Shell, k.Partial, k.Run, k.Save, k.Break, k.Pause,
		k.Rebuild, k.RebuildNoCache, k.Mark, k.Compare, k.ComparePrev}
}

// ShortHelp implements help.KeyMap.
func (k keyMap) ShortHelp() []key.Binding {
	return []key.Binding{k.NextPane, k.Tabs, k.Platform, k.Help, k.Quit}
}

// FullHelp implements help.KeyMap: the ways around and out, then the
// debugger, then rebuilds and comparisons (disabled keys are not shown).
func (k keyMap) FullHelp() [][]key.Binding {
	return [][]key.Binding{
		{k.NextPane, k.PrevPane, k.Tabs, k.NextTab, k.PrevTab, k.Platform, k.Help, k.Quit},
		{k.Next, k.Continue, k.Pause, k.Break, k.Shell, k.Partial},
		{k.Run, k.Save, k.Rebuild, k.RebuildNoCache, k.Mark, k.Compare, k.ComparePrev, k.Timeline},
	}
}

// ShortHelp implements help.KeyMap.
func (k navKeyMap) ShortHelp() []key.Binding { return []key.Binding{k.Up, k.Down} }

// FullHelp implements help.KeyMap.
func (k navKeyMap) FullHelp() [][]key.Binding { return [][]key.Binding{k.bindings()} }

// ShortHelp implements help.KeyMap.
func (k dockerfileKeyMap) ShortHelp() []key.Binding { return []key.Binding{k.Up, k.Down, k.Open} }

// FullHelp implements help.KeyMap.
func (k dockerfileKeyMap) FullHelp() [][]key.Binding {
	return [][]key.Binding{k.bindings(), {k.Open}}
}

// ShortHelp implements help.KeyMap.
func (k stepsKeyMap) ShortHelp() []key.Binding { return []key.Binding{k.Up, k.Down, k.Open, k.Follow} }

// FullHelp implements help.KeyMap.
func (k stepsKeyMap) FullHelp() [][]key.Binding {
	return [][]key.Binding{k.bindings(), {k.Open, k.Follow}}
}

// ShortHelp implements help.KeyMap.
func (k logsKeyMap) ShortHelp() []key.Binding {
	return []key.Binding{k.Up, k.Down, k.Search, k.Next, k.Follow}
}

// FullHelp implements help.KeyMap.
func (k logsKeyMap) FullHelp() [][]key.Binding {
	return [][]key.Binding{k.bindings(), {k.Search, k.Next, k.Follow}}
}

// ShortHelp implements help.KeyMap.
func (k filesKeyMap) ShortHelp() []key.Binding {
	return []key.Binding{k.Open, k.Expand, k.Collapse, k.Filter, k.Sort, k.Whole, k.Search}
}

// ShortHelp implements help.KeyMap.
func (k compareKeyMap) ShortHelp() []key.Binding {
	return []key.Binding{k.Open, k.Expand, k.Collapse, k.Filter, k.Sort, k.Config, k.Search}
}

// FullHelp implements help.KeyMap.
func (k compareKeyMap) FullHelp() [][]key.Binding {
	return [][]key.Binding{k.bindings(), {k.Open, k.Expand, k.Collapse}, {k.Filter, k.Sort, k.Search, k.Clear, k.Config}}
}

// FullHelp implements help.KeyMap.
func (k filesKeyMap) FullHelp() [][]key.Binding {
	return [][]key.Binding{k.bindings(), {k.Open, k.Expand, k.Collapse}, {k.Filter, k.Sort, k.Whole, k.Search, k.Clear}}
}

// ShortHelp implements help.KeyMap.
func (k fileKeyMap) ShortHelp() []key.Binding { return []key.Binding{k.Up, k.Down, k.Back} }

// FullHelp implements help.KeyMap.
func (k fileKeyMap) FullHelp() [][]key.Binding { return [][]key.Binding{k.bindings(), {k.Back}} }
