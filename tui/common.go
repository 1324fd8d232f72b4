package tui

import (
	"fmt"
	"strings"
	"time"

	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"
)

// common is what every pane shares: the styles, whether colour is off, the
// current spinner frame and the clock. It travels by pointer; there are no
// package-level globals.
type common struct {
	st      styles
	noColor bool
	spin    string           // current spinner frame for running steps
	now     func() time.Time // the clock (fixed in tests)
	timing  *tlData          // the steps' phases and processes (timeline.go)
}

func newCommon(noColor bool) *common {
	return &common{st: newStyles(noColor), noColor: noColor, spin: spinFrames[0], now: time.Now}
}

var spinFrames = []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}

// styles holds every style the panes use. With noColor every style is built
// from attributes only (bold, faint, reverse, underline), as NO_COLOR asks.
type styles struct {
	plain, dim, bold lipgloss.Style

	border, borderFocus, title, titleFocus lipgloss.Style

	header, headerOK, headerErr lipgloss.Style

	keyword, comment, lineNo, cursorLine, selected, selectedBlur lipgloss.Style

	pending, running, cached, built, failed, warning lipgloss.Style

	added, modified, deleted, changed lipgloss.Style

	tabActive, tabInactive lipgloss.Style

	helpKey, helpDesc, helpSep lipgloss.Style

	match lipgloss.Style
}

func newStyles(noColor bool) styles {
	n := lipgloss.NewStyle()
	if noColor {
		return styles{
			plain: n, dim: n.Faint(true), bold: n.Bold(true),
			border: n, borderFocus: n.Bold(true), title: n, titleFocus: n.Bold(true).Reverse(true),
			header: n.Bold(true), headerOK: n.Bold(true), headerErr: n.Bold(true).Underline(true),
			keyword: n.Bold(true), comment: n.Faint(true), lineNo: n.Faint(true),
			cursorLine: n.Reverse(true), selected: n.Reverse(true), selectedBlur: n.Underline(true),
			pending: n.Faint(true), running: n.Bold(true), cached: n.Italic(true), built: n,
			failed: n.Bold(true), warning: n.Underline(true),
			added: n, modified: n, deleted: n.Strikethrough(true), changed: n.Bold(true).Underline(true),
			tabActive: n.Bold(true).Reverse(true), tabInactive: n,
			helpKey: n.Bold(true), helpDesc: n, helpSep: n.Faint(true),
			match: n.Reverse(true),
		}
	}
	c := lipgloss.Color
	return styles{
		plain: n, dim: n.Foreground(c("8")), bold: n.Bold(true),
		border: n.Foreground(c("8")), borderFocus: n.Foreground(c("12")),
		title: n.Foreground(c("7")), titleFocus: n.Foreground(c("12")).Bold(true),
		header: n.Bold(true).Foreground(c("15")), headerOK: n.Bold(true).Foreground(c("10")), headerErr: n.Bold(true).Foreground(c("9")),
		keyword: n.Foreground(c("13")).Bold(true), comment: n.Foreground(c("8")).Italic(true), lineNo: n.Foreground(c("8")),
		cursorLine: n.Background(c("236")), selected: n.Background(c("24")).Foreground(c("15")), selectedBlur: n.Background(c("237")),
		pending: n.Foreground(c("8")), running: n.Foreground(c("11")), cached: n.Foreground(c("14")), built: n.Foreground(c("10")),
		failed: n.Foreground(c("9")).Bold(true), warning: n.Foreground(c("11")),
		added: n.Foreground(c("10")), modified: n.Foreground(c("11")), deleted: n.Foreground(c("9")), changed: n.Foreground(c("11")).Bold(true),
		tabActive: n.Foreground(c("0")).Background(c("12")).Bold(true), tabInactive: n.Foreground(c("7")),
		helpKey: n.Foreground(c("12")), helpDesc: n.Foreground(c("7")), helpSep: n.Foreground(c("8")),
		match: n.Background(c("3")).Foreground(c("0")),
	}
}

// fit cuts or pads s (which may hold ANSI styles) to exactly w cells.
func fit(s string, w int) string {
	if w <= 0 {
		return ""
	}
	sw := ansi.StringWidth(s)
	if sw > w {
		s = ansi.Truncate(s, w, "…")
		sw = ansi.StringWidth(s)
	}
	if sw < w {
		s += strings.Repeat(" ", w-sw)
	}
	return s
}

// leftRight puts l at the left and r at the right of a w-cell line; l is
// cut first when both do not fit.
func leftRight(l, r string, w int) string {
	rw := ansi.StringWidth(r)
	if rw >= w-1 {
		return fit(r, w)
	}
	lw := ansi.StringWidth(l)
	if lw > w-rw-1 { // keep one space between the two sides
		return fit(l, w-rw-1) + " " + r
	}
	return fit(l, w-rw) + r
}

// box draws a rounded border with a title around lines, w×h cells overall.
func box(st *styles, title string, focused bool, lines []string, w, h int) string {
	if w < 4 || h < 2 {
		return ""
	}
	bs, ts := st.border, st.title
	if focused {
		bs, ts = st.borderFocus, st.titleFocus
		// the focus shows without color too: the title is marked ▸
		if strings.HasPrefix(title, " ") {
			title = "▸" + title
		} else {
			title = "▸ " + title
		}
	}
	inner := w - 2
	var b strings.Builder
	t := ansi.Truncate(" "+title+" ", inner-1, "…")
	tw := ansi.StringWidth(t)
	b.WriteString(bs.Render("╭─"))
	b.WriteString(ts.Render(t))
	b.WriteString(bs.Render(strings.Repeat("─", max(0, inner-1-tw)) + "╮"))
	side := bs.Render("│")
	for i := 0; i < h-2; i++ {
		b.WriteByte('\n')
		b.WriteString(side)
		if i < len(lines) {
			b.WriteString(fit(lines[i], inner))
		} else {
			b.WriteString(strings.Repeat(" ", inner))
		}
		b.WriteString(side)
	}
	b.WriteByte('\n')
	b.WriteString(bs.Render("╰" + strings.Repeat("─", inner) + "╯"))
	return b.String()
}

// humanBytes formats a size in decimal units (kB = 1000 B) with one
// decimal and a space: "2.1 MB", "340.0 kB", "512 B". It differs from
// event.HumanSize (Docker's compact "2.14MB" of the plain output) on
// purpose: a fixed one decimal keeps the TUI's size columns aligned and the
// "+1.2 MB" deltas readable. Keep the two apart; the TUI goldens use this form.
func humanBytes(n int64) string {
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %cB", float64(n)/float64(div), "kMGTPE"[exp])
}

// humanDuration is a short duration: 0.4s, 2.3s, 1m05s.
func humanDuration(d time.Duration) string {
	switch {
	case d <= 0:
		return "0.0s"
	case d < time.Minute:
		return fmt.Sprintf("%.1fs", d.Seconds())
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	}
	return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
}

// shortID cuts a digest or container id for display: "sha256:94de9090842b".
func shortID(id string, n int) string {
	algo, hex, ok := strings.Cut(id, ":")
	if !ok {
		hex, algo = id, ""
	}
	if len(hex) > n {
		hex = hex[:n]
	}
	if algo != "" {
		return algo + ":" + hex
	}
	return hex
}

func clamp(v, lo, hi int) int {
	if v > hi {
		v = hi
	}
	if v < lo {
		v = lo
	}
	return v
}

// scrollTo keeps cursor within [off, off+h) and returns the new offset.
func scrollTo(cursor, off, h, n int) int {
	if h <= 0 {
		return 0
	}
	if cursor < off {
		off = cursor
	}
	if cursor >= off+h {
		off = cursor - h + 1
	}
	return clamp(off, 0, max(0, n-h))
}

// expandTabs replaces tabs so widths stay predictable.
func expandTabs(s string) string {
	if !strings.ContainsRune(s, '\t') {
		return s
	}
	return strings.ReplaceAll(s, "\t", "    ")
}

// sanitize removes control characters (and escape sequences) from text that
// comes from a build, so a log line cannot move the cursor or recolour us.
func sanitize(s string) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	s = ansi.Strip(s)
	s = expandTabs(s)
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
}

// plural is "1 file", "2 files".
func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return itoa(n) + " " + word + "s"
}
