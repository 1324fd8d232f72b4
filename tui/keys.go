package tui

import "charm.land/bubbles/v2/key"

// KeyMap holds the keys that work everywhere.
type KeyMap struct {
	NextPane key.Binding
	PrevPane key.Binding
	NextTab  key.Binding
	PrevTab  key.Binding
	Tabs     key.Binding // 1…7 pick a tab of the lower pane
	Help     key.Binding
	Save     key.Binding // S: save the finished image somewhere
	Quit     key.Binding
}

// DefaultKeyMap returns the global keys.
func DefaultKeyMap() KeyMap {
	return KeyMap{
		NextPane: key.NewBinding(key.WithKeys("tab"), key.WithHelp("tab", "next pane")),
		PrevPane: key.NewBinding(key.WithKeys("shift+tab"), key.WithHelp("shift+tab", "prev pane")),
		NextTab:  key.NewBinding(key.WithKeys("]"), key.WithHelp("]", "next tab")),
		PrevTab:  key.NewBinding(key.WithKeys("["), key.WithHelp("[", "prev tab")),
		Tabs:     key.NewBinding(key.WithKeys("1", "2", "3", "4", "5", "6", "7"), key.WithHelp("1-7", "tabs")),
		Help:     key.NewBinding(key.WithKeys("?"), key.WithHelp("?", "help")),
		Save:     key.NewBinding(key.WithKeys("S"), key.WithHelp("S", "save image")),
		Quit:     key.NewBinding(key.WithKeys("q", "ctrl+c"), key.WithHelp("q", "quit")),
	}
}

// NavKeyMap moves a cursor or a view in a list; every pane embeds it.
type NavKeyMap struct {
	Up       key.Binding
	Down     key.Binding
	PageUp   key.Binding
	PageDown key.Binding
	Top      key.Binding
	Bottom   key.Binding
}

// DefaultNavKeyMap returns the list movement keys.
func DefaultNavKeyMap() NavKeyMap {
	return NavKeyMap{
		Up:       key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/k", "up")),
		Down:     key.NewBinding(key.WithKeys("down", "j"), key.WithHelp("↓/j", "down")),
		PageUp:   key.NewBinding(key.WithKeys("pgup", "ctrl+u", "b"), key.WithHelp("pgup", "page up")),
		PageDown: key.NewBinding(key.WithKeys("pgdown", "ctrl+d", "space"), key.WithHelp("pgdn", "page down")),
		Top:      key.NewBinding(key.WithKeys("home", "g"), key.WithHelp("g", "top")),
		Bottom:   key.NewBinding(key.WithKeys("end", "G"), key.WithHelp("G", "bottom")),
	}
}

func (k NavKeyMap) bindings() []key.Binding {
	return []key.Binding{k.Up, k.Down, k.PageUp, k.PageDown, k.Top, k.Bottom}
}

// navDelta interprets a navigation key as a cursor change; ok is false when
// the key is not a navigation key. page is the visible height.
func navDelta(k NavKeyMap, msg fmtStringer, cur, n, page int) (int, bool) {
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

// ShortHelp implements help.KeyMap.
func (k KeyMap) ShortHelp() []key.Binding {
	return []key.Binding{k.Save, k.NextPane, k.Tabs, k.Help, k.Quit}
}

// FullHelp implements help.KeyMap.
func (k KeyMap) FullHelp() [][]key.Binding {
	return [][]key.Binding{{k.NextPane, k.PrevPane, k.Tabs, k.NextTab, k.PrevTab}, {k.Save, k.Help, k.Quit}}
}

// ShortHelp implements help.KeyMap.
func (k NavKeyMap) ShortHelp() []key.Binding { return []key.Binding{k.Up, k.Down} }

// FullHelp implements help.KeyMap.
func (k NavKeyMap) FullHelp() [][]key.Binding { return [][]key.Binding{k.bindings()} }

// ShortHelp implements help.KeyMap.
func (k DockerfileKeyMap) ShortHelp() []key.Binding { return []key.Binding{k.Up, k.Down, k.Open} }

// FullHelp implements help.KeyMap.
func (k DockerfileKeyMap) FullHelp() [][]key.Binding {
	return [][]key.Binding{k.bindings(), {k.Open}}
}

// ShortHelp implements help.KeyMap.
func (k StepsKeyMap) ShortHelp() []key.Binding { return []key.Binding{k.Up, k.Down, k.Open, k.Follow} }

// FullHelp implements help.KeyMap.
func (k StepsKeyMap) FullHelp() [][]key.Binding {
	return [][]key.Binding{k.bindings(), {k.Open, k.Follow}}
}

// ShortHelp implements help.KeyMap.
func (k LogsKeyMap) ShortHelp() []key.Binding {
	return []key.Binding{k.Up, k.Down, k.Search, k.Next, k.Follow}
}

// FullHelp implements help.KeyMap.
func (k LogsKeyMap) FullHelp() [][]key.Binding {
	return [][]key.Binding{k.bindings(), {k.Search, k.Next, k.Follow}}
}

// ShortHelp implements help.KeyMap.
func (k FilesKeyMap) ShortHelp() []key.Binding {
	return []key.Binding{k.Open, k.Expand, k.Collapse, k.Filter, k.Sort, k.Whole, k.Search}
}

// FullHelp implements help.KeyMap.
func (k FilesKeyMap) FullHelp() [][]key.Binding {
	return [][]key.Binding{k.bindings(), {k.Open, k.Expand, k.Collapse}, {k.Filter, k.Sort, k.Whole, k.Search, k.Clear}}
}

// ShortHelp implements help.KeyMap.
func (k FileKeyMap) ShortHelp() []key.Binding { return []key.Binding{k.Up, k.Down, k.Back} }

// FullHelp implements help.KeyMap.
func (k FileKeyMap) FullHelp() [][]key.Binding { return [][]key.Binding{k.bindings(), {k.Back}} }
