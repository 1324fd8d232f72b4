package tui

import (
	"strings"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"
)

// saveKeyMap are the keys of the save form.
type saveKeyMap struct {
	Save   key.Binding
	Cancel key.Binding
}

// defaultSaveKeyMap returns the save form keys.
func defaultSaveKeyMap() saveKeyMap {
	return saveKeyMap{
		Save:   key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "save")),
		Cancel: key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "cancel")),
	}
}

// ShortHelp implements help.KeyMap.
func (k saveKeyMap) ShortHelp() []key.Binding { return []key.Binding{k.Save, k.Cancel} }

// FullHelp implements help.KeyMap.
func (k saveKeyMap) FullHelp() [][]key.Binding { return [][]key.Binding{{k.Save, k.Cancel}} }

// saveForm asks where to save the finished image (S): a name in the local
// store, oci:DIR or docker-archive:FILE. The backend does the writing.
type saveForm struct {
	c      *common
	keys   saveKeyMap
	active bool
	image  string // the image id being saved
	input  textinput.Model
	err    string // what was wrong with the last entry
}

// saveDests are the forms the backend accepts, for the form's legend.
var saveDests = [][2]string{
	{"NAME[:TAG]", "a name in the local store"},
	{"oci:DIR[:TAG]", "an OCI image layout"},
	{"docker-archive:FILE", "a tarball for docker/podman load"},
}

func newSaveForm(c *common) saveForm {
	in := textinput.New()
	in.Prompt = "› "
	in.Placeholder = "name:tag, oci:DIR or docker-archive:FILE"
	in.CharLimit = 4096
	st := textinput.DefaultDarkStyles()
	st.Focused.Prompt, st.Blurred.Prompt = c.st.helpKey, c.st.helpKey
	st.Focused.Text, st.Blurred.Text = c.st.plain, c.st.plain
	st.Focused.Placeholder, st.Blurred.Placeholder = c.st.dim, c.st.dim
	st.Cursor.Blink = false // a steady cursor keeps views deterministic
	if c.noColor {
		st.Cursor.Color = nil
	}
	in.SetStyles(st)
	return saveForm{c: c, keys: defaultSaveKeyMap(), input: in}
}

// open shows the form for image id.
func (f *saveForm) open(image string) {
	f.active, f.image, f.err = true, image, ""
	f.input.Reset()
	f.input.Focus()
}

func (f *saveForm) close() {
	f.active = false
	f.input.Blur()
}

// saveResult is what a key did to the form.
type saveResult int

const (
	saveNone     saveResult = iota
	saveAccepted            // enter with a destination
	saveCanceled            // esc
)

// update handles a key while the form is open.
func (f *saveForm) update(msg tea.KeyPressMsg) saveResult {
	switch {
	case key.Matches(msg, f.keys.Cancel):
		f.close()
		return saveCanceled
	case key.Matches(msg, f.keys.Save):
		if strings.TrimSpace(f.input.Value()) == "" {
			f.err = "type where to save, or esc to cancel"
			return saveNone
		}
		f.close()
		return saveAccepted
	}
	f.err = ""
	f.input, _ = f.input.Update(msg)
	return saveNone
}

// value is the destination typed.
func (f *saveForm) value() string { return strings.TrimSpace(f.input.Value()) }

// size is the form's box size for a w×h screen.
func (f *saveForm) size(w, h int) (int, int) {
	return min(max(40, w-6), 76), min(h, 9)
}

// view draws the form as a bordered box of bw×bh cells.
func (f *saveForm) view(bw, bh int) string {
	st := &f.c.st
	inner := bw - 4 // border and one space each side
	f.input.SetWidth(max(1, inner-ansi.StringWidth(f.input.Prompt)-1))
	lines := []string{
		"Save image " + st.bold.Render(shortID(f.image, 12)) + " to:",
		f.input.View(),
	}
	if f.err != "" {
		lines = append(lines, st.failed.Render("✗ "+f.err))
	} else {
		lines = append(lines, "")
	}
	kw := 0
	for _, d := range saveDests {
		kw = max(kw, len(d[0]))
	}
	for _, d := range saveDests {
		lines = append(lines, st.helpKey.Render(d[0])+strings.Repeat(" ", kw-len(d[0])+2)+st.dim.Render(d[1]))
	}
	lines = append(lines, st.helpKey.Render("enter")+st.helpDesc.Render(" save")+st.helpSep.Render(" • ")+
		st.helpKey.Render("esc")+st.helpDesc.Render(" cancel"))
	for i := range lines {
		lines[i] = " " + fit(lines[i], inner) + " "
	}
	return box(st, "Save image", true, lines, bw, bh)
}

// overlay draws box (lines of bw cells) over screen at column x, row y.
func overlay(screen, box string, x, y int) string {
	rows := strings.Split(screen, "\n")
	for i, b := range strings.Split(box, "\n") {
		r := y + i
		if r < 0 || r >= len(rows) {
			continue
		}
		bw := ansi.StringWidth(b)
		left := ansi.Truncate(rows[r], x, "")
		if lw := ansi.StringWidth(left); lw < x {
			left += strings.Repeat(" ", x-lw)
		}
		right := ansi.TruncateLeft(rows[r], x+bw, "")
		rows[r] = left + resetSGR + b + resetSGR + right
	}
	return strings.Join(rows, "\n")
}

// resetSGR ends any style a cut line left open.
const resetSGR = "\x1b[m"

// statusKind colours the status line.
type statusKind int

const (
	statusInfo statusKind = iota
	statusOK
	statusErr
)

// statusLine renders the status message in place of the help bar.
func statusLine(st *styles, kind statusKind, msg string, w int) string {
	var s lipgloss.Style
	switch kind {
	case statusOK:
		s = st.headerOK
	case statusErr:
		s = st.failed
	default:
		s = st.running
	}
	return fit(s.Render(msg), w)
}

func (m *model) setStatus(kind statusKind, msg string) {
	m.statusKind, m.status, m.statusLife = kind, sanitize(msg), untilKey
}

// openSave opens the save form when there is an image to save.
func (m *model) openSave() {
	d := m.b.done
	switch {
	case m.saving:
		m.setStatus(statusInfo, "a save is running; wait for it to finish")
	case d == nil:
		m.setStatus(statusErr, "nothing to save yet: the build has not finished")
	case d.Error != "" || d.ImageID == "":
		m.setStatus(statusErr, "the build failed: there is no image to save")
	case m.opt.Backend == nil:
		m.setStatus(statusErr, "saving is not available here")
	default:
		m.form.open(d.ImageID)
	}
}

// formKey handles a key while the save form is open; enter starts the
// save in the background.
func (m *model) formKey(msg tea.KeyPressMsg) tea.Cmd {
	switch m.form.update(msg) {
	case saveAccepted:
		dest, id, be := m.form.value(), m.form.image, m.opt.Backend
		m.saving = true
		m.setStatus(statusInfo, "saving image "+shortID(id, 12)+" to "+dest+"…")
		return func() tea.Msg {
			what, err := be.Save(id, dest)
			return savedMsg{dest: dest, what: what, err: err}
		}
	case saveCanceled:
		m.setStatus(statusInfo, "save cancelled")
	}
	return nil
}

// onSaved shows a save's result.
func (m *model) onSaved(msg savedMsg) tea.Cmd {
	m.saving = false
	if msg.err != nil {
		m.setStatus(statusErr, "✗ save to "+msg.dest+" failed: "+msg.err.Error())
	} else {
		m.setStatus(statusOK, "✓ saved: "+msg.what)
		m.b.saved = append(m.b.saved, sanitize(msg.what))
	}
	if m.quitAfterSave {
		return tea.Quit
	}
	return nil
}
