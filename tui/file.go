package tui

import (
	"bytes"
	"fmt"
	"strings"
	"unicode/utf8"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/strata-build/strata/build/event"
	"github.com/strata-build/strata/layers"
)

// fileReadMax is the most of a file the File tab reads.
const fileReadMax = 1 << 20

// fileKeyMap are the keys of the File tab.
type fileKeyMap struct {
	navKeyMap
	Back key.Binding
}

// defaultFileKeyMap returns the File tab keys.
func defaultFileKeyMap() fileKeyMap {
	return fileKeyMap{
		navKeyMap: defaultNavKeyMap(),
		Back:      key.NewBinding(key.WithKeys("esc", "backspace"), key.WithHelp("esc", "back to files")),
	}
}

// fileRow is one row of the File tab: op ' ' text (num = line number),
// '-'/'+'/'@' diff, 'i' information, 'x' hex dump.
type fileRow struct {
	op   byte
	num  int
	text string
}

type fileLoadedMsg struct {
	seq  int
	head string
	rows []fileRow
}

// backToFilesMsg asks the root to show the Files tab again.
type backToFilesMsg struct{}

// fileModel is the content pager of one file in a snapshot: text, a unified
// diff against the parent snapshot, or a hex summary of binary content.
type fileModel struct {
	c       *common
	be      Backend
	keys    fileKeyMap
	w, h    int
	focused bool

	step    int
	path    string
	loading bool
	seq     int
	head    string
	rows    []fileRow
	off     int
}

func newFile(c *common, be Backend) fileModel {
	return fileModel{c: c, be: be, keys: defaultFileKeyMap(), step: -1}
}

// SetSize sets the content size.
func (m *fileModel) SetSize(w, h int) { m.w, m.h = w, h; m.clamp() }

// SetFocus marks the pane focused.
func (m *fileModel) SetFocus(f bool) { m.focused = f }

func (m *fileModel) clamp() { m.off = clamp(m.off, 0, max(0, len(m.rows)-(m.h-1))) }

// Open loads a file of a snapshot.
func (m *fileModel) Open(msg openFileMsg) tea.Cmd {
	m.seq++
	m.step, m.path, m.loading, m.rows, m.off, m.head = msg.step, msg.ch.Path, true, nil, 0, ""
	be, seq, snap, ch := m.be, m.seq, msg.snap, msg.ch
	return func() tea.Msg {
		head, rows := loadFile(be, snap, ch, msg.unit, msg.base, msg.baseName)
		return fileLoadedMsg{seq: seq, head: head, rows: rows}
	}
}

// Update handles keys and loaded content.
func (m fileModel) Update(msg tea.Msg) (fileModel, tea.Cmd) {
	switch msg := msg.(type) {
	case fileLoadedMsg:
		if msg.seq == m.seq {
			m.loading, m.head, m.rows = false, msg.head, msg.rows
			m.clamp()
		}
	case tea.KeyPressMsg:
		if off, ok := navDelta(m.keys.navKeyMap, msg, m.off, max(1, len(m.rows)-(m.h-1)+1), m.h-1); ok {
			m.off = off
			return m, nil
		}
		if key.Matches(msg, m.keys.Back) {
			return m, func() tea.Msg { return backToFilesMsg{} }
		}
	}
	return m, nil
}

// Scroll moves the view by n rows.
func (m *fileModel) Scroll(n int) { m.off += n; m.clamp() }

// View renders the tab.
func (m fileModel) View() string {
	st := &m.c.st
	if m.path == "" {
		return st.dim.Render("no file open: pick one in the Files tab and press enter")
	}
	lines := make([]string, 0, m.h)
	head := m.path
	if m.head != "" {
		head += " · " + m.head
	}
	lines = append(lines, fit(st.bold.Render(head), m.w))
	if m.loading {
		lines = append(lines, st.dim.Render("loading…"))
		return strings.Join(lines, "\n")
	}
	nw := 1
	for _, r := range m.rows {
		nw = max(nw, len(itoa(r.num)))
	}
	for i := m.off; i < len(m.rows) && len(lines) < m.h; i++ {
		r := m.rows[i]
		var s string
		switch r.op {
		case ' ':
			num := itoa(r.num)
			s = st.lineNo.Render(strings.Repeat(" ", nw-len(num))+num) + " " + expandTabs(r.text)
			if r.num == 0 { // diff context
				s = " " + expandTabs(r.text)
			}
		case '-':
			s = st.deleted.Render("-" + expandTabs(r.text))
		case '+':
			s = st.added.Render("+" + expandTabs(r.text))
		case '@':
			s = st.cached.Render(r.text)
		case 'i':
			s = st.dim.Render(r.text)
		default:
			s = r.text
		}
		lines = append(lines, fit(s, m.w))
	}
	return strings.Join(lines, "\n")
}

// loadFile reads what the File tab shows; it runs in a Cmd.
// unit is what the snapshot is of: "step", or "layer" when inspecting.
//
// base, when set, replaces the parent snapshot as what the file is
// compared with (the Compare tab), named baseName.
func loadFile(be Backend, snap *event.Snapshot, ch layers.Change, unit string, base *event.Snapshot, baseName string) (string, []fileRow) {
	if unit == "" {
		unit = "step"
	}
	against := "the parent snapshot"
	if base != nil {
		unit, against = "comparison", baseName
	}
	info := func(s ...string) []fileRow {
		rows := make([]fileRow, len(s))
		for i := range s {
			rows[i] = fileRow{op: 'i', text: s[i]}
		}
		return rows
	}
	if ch.Kind == layers.Deleted && ch.Type != layers.TypeRegular && ch.Type != 0 {
		return "deleted", info("deleted in this " + unit + " (it was a " + ch.Type.String() + ").")
	}
	switch ch.Type {
	case layers.TypeDir:
		return "directory", info("a directory: open it in the Files tab.")
	case layers.TypeSymlink:
		return "symlink", info("symbolic link → " + ch.Linkname)
	case layers.TypeFIFO, layers.TypeChar, layers.TypeBlock, layers.TypeSocket:
		return ch.Type.String(), info("a special file (" + ch.Type.String() + "): no content to show.")
	}
	var parent *event.Snapshot
	if snap != nil {
		parent = snap.Parent
	}
	if base != nil {
		parent = base
	}
	switch ch.Kind {
	case layers.Deleted:
		if parent == nil {
			return "deleted", info("deleted in this " + unit + ".")
		}
		old, err := be.ReadFile(parent, ch.Path, fileReadMax)
		if err != nil {
			return "deleted", info("deleted in this " + unit + "; its old content could not be read: " + err.Error())
		}
		if isBinary(old) {
			return "deleted", append(info("deleted in this "+unit+"; it was:"), hexSummary(old, ch.Size)...)
		}
		return "deleted", diffRows(old, nil, 0) // every old line removed
	case layers.Modified:
		return compareFile(be, parent, snap, ch.Path, against)
	}
	cur, err := be.ReadFile(snap, ch.Path, fileReadMax)
	if err != nil {
		return "", info("cannot read: " + err.Error())
	}
	what := "added in this " + unit
	if ch.Kind == 0 {
		what = "unchanged in this " + unit
	}
	if isBinary(cur) {
		return what + " · binary", hexSummary(cur, ch.Size)
	}
	return what + " · " + humanBytes(ch.Size), textRows(cur, ch.Size)
}

func splitLines(b []byte) []string {
	s := strings.TrimSuffix(string(b), "\n")
	if s == "" {
		return nil
	}
	lines := strings.Split(s, "\n")
	for i := range lines {
		lines[i] = sanitize(strings.TrimSuffix(lines[i], "\r"))
	}
	return lines
}

func textRows(b []byte, size int64) []fileRow {
	lines := splitLines(b)
	rows := make([]fileRow, 0, len(lines)+1)
	for i, l := range lines {
		rows = append(rows, fileRow{op: ' ', num: i + 1, text: l})
	}
	if int64(len(b)) < size {
		rows = append(rows, fileRow{op: 'i', text: fmt.Sprintf("… showing the first %s of %s", humanBytes(int64(len(b))), humanBytes(size))})
	}
	if len(lines) == 0 {
		rows = append(rows, fileRow{op: 'i', text: "(empty file)"})
	}
	return rows
}

func diffRows(old, cur []byte, size int64) []fileRow {
	d := unified(splitLines(old), splitLines(cur), 3)
	rows := make([]fileRow, 0, len(d)+1)
	for _, l := range d {
		rows = append(rows, fileRow{op: l.op, text: l.text})
	}
	if int64(len(cur)) < size || len(old) == fileReadMax {
		rows = append(rows, fileRow{op: 'i', text: "… the diff covers only the first " + humanBytes(fileReadMax)})
	}
	return rows
}

// isBinary looks for NUL bytes or invalid UTF-8 at the start of b.
func isBinary(b []byte) bool {
	s := b[:min(len(b), 8000)]
	if bytes.IndexByte(s, 0) >= 0 {
		return true
	}
	if utf8.Valid(s) {
		return false
	}
	if len(s) < len(b) { // a rune may be cut at the end of the sample
		for i := 1; i <= 3 && i < len(s); i++ {
			if utf8.Valid(s[:len(s)-i]) {
				return false
			}
		}
	}
	return true
}

// fileType guesses what binary content is from its magic bytes.
func fileType(b []byte) string {
	switch {
	case bytes.HasPrefix(b, []byte("\x7fELF")):
		s := "ELF"
		if len(b) > 4 && b[4] == 2 {
			s += " 64-bit"
		} else if len(b) > 4 && b[4] == 1 {
			s += " 32-bit"
		}
		if len(b) > 17 {
			switch b[16] {
			case 2:
				s += " executable"
			case 3:
				s += " shared object / PIE executable"
			case 1:
				s += " relocatable"
			}
		}
		return s
	case bytes.HasPrefix(b, []byte{0x1f, 0x8b}):
		return "gzip compressed data"
	case bytes.HasPrefix(b, []byte("PK\x03\x04")):
		return "zip archive"
	case bytes.HasPrefix(b, []byte("\x89PNG")):
		return "PNG image"
	case bytes.HasPrefix(b, []byte{0xff, 0xd8, 0xff}):
		return "JPEG image"
	case bytes.HasPrefix(b, []byte("\xfd7zXZ")):
		return "xz compressed data"
	case bytes.HasPrefix(b, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		return "zstd compressed data"
	case bytes.HasPrefix(b, []byte("BZh")):
		return "bzip2 compressed data"
	case len(b) > 262 && bytes.Equal(b[257:262], []byte("ustar")):
		return "tar archive"
	case bytes.HasPrefix(b, []byte("!<arch>")):
		return "ar archive"
	case bytes.HasPrefix(b, []byte("#!")):
		return "script"
	}
	return "binary data"
}

// hexSummary is the type, the size and a hex dump of the first 256 bytes.
func hexSummary(b []byte, size int64) []fileRow {
	if size < int64(len(b)) {
		size = int64(len(b))
	}
	rows := []fileRow{{op: 'i', text: fmt.Sprintf("%s, %s (%d bytes)", fileType(b), humanBytes(size), size)}}
	n := min(len(b), 256)
	for o := 0; o < n; o += 16 {
		chunk := b[o:min(n, o+16)]
		var hx, asc strings.Builder
		for i := 0; i < 16; i++ {
			if i < len(chunk) {
				fmt.Fprintf(&hx, "%02x ", chunk[i])
				c := chunk[i]
				if c < 0x20 || c > 0x7e {
					c = '.'
				}
				asc.WriteByte(c)
			} else {
				hx.WriteString("   ")
			}
			if i == 7 {
				hx.WriteByte(' ')
			}
		}
		rows = append(rows, fileRow{op: 'x', text: fmt.Sprintf("%08x  %s |%s|", o, hx.String(), asc.String())})
	}
	if int64(n) < size {
		rows = append(rows, fileRow{op: 'i', text: "…"})
	}
	return rows
}
