package tui

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"strings"

	"github.com/strata-build/strata/build/event"
	"github.com/strata-build/strata/build/snapshot"
)

// fileOpener is a Backend that streams a whole file (build/snapshot's
// does): the File tab then compares files of any size.
type fileOpener interface {
	OpenFile(snap *event.Snapshot, path string) (io.ReadCloser, int64, error)
}

// diffHoldMax is the most of each version, after the lines both share at
// the start, that a line diff holds in memory.
const diffHoldMax = 16 << 20

// diffContext is the lines of context around a hunk.
const diffContext = 3

// openFile opens the whole of a file of a snapshot, with its size.
func openFile(be Backend, snap *event.Snapshot, p string) (io.ReadCloser, int64, error) {
	if o, ok := be.(fileOpener); ok {
		return o.OpenFile(snap, p)
	}
	b, err := be.ReadFile(snap, p, math.MaxInt64)
	if err != nil {
		return nil, 0, err
	}
	return io.NopCloser(bytes.NewReader(b)), int64(len(b)), nil
}

// fileDigest is the sha256 digest of the whole of a file.
func fileDigest(be Backend, snap *event.Snapshot, p string) (string, error) {
	r, _, err := openFile(be, snap, p)
	if err != nil {
		return "", err
	}
	defer r.Close()
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		return "", err
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}

// compareFile says how path in snap differs from path in parent (nil: no
// earlier version), whatever their sizes: equal content is decided by size
// and digest of the whole files; a text diff covers the whole files, shown
// as the hunks around each change, saying how much was left out.
func compareFile(be Backend, parent, snap *event.Snapshot, p, against string) (string, []fileRow) {
	cr, csize, err := openFile(be, snap, p)
	if err != nil {
		return "modified", infoRows("cannot read: " + err.Error())
	}
	defer func() { cr.Close() }()
	var or io.ReadCloser = io.NopCloser(bytes.NewReader(nil))
	var osize int64
	if parent != nil {
		r, n, err := openFile(be, parent, p)
		switch {
		case err == nil:
			or, osize = r, n
		case !errors.Is(err, fs.ErrNotExist):
			cur, _ := be.ReadFile(snap, p, fileReadMax)
			return "modified", append(infoRows("parent version unreadable ("+err.Error()+"); current content:"), textRows(cur, csize)...)
		}
	}
	defer func() { or.Close() }()

	digests := ""
	if parent != nil && osize == csize {
		do, err1 := fileDigest(be, parent, p)
		dc, err2 := fileDigest(be, snap, p)
		if err := errors.Join(err1, err2); err != nil {
			return "modified", infoRows("cannot read: " + err.Error())
		}
		if do == dc {
			return "modified · metadata only", infoRows(
				"content unchanged: the same size ("+humanBytes(csize)+", "+itoa64(csize)+" bytes) and sha256 digest as in "+against+";",
				"only metadata changed (mode, owner or time).",
				"digest "+do)
		}
		digests = " (same size, sha256 " + shortHex(do) + " → " + shortHex(dc) + ")"
	}

	ob, cb := bufio.NewReaderSize(or, 64<<10), bufio.NewReaderSize(cr, 64<<10)
	oh, _ := ob.Peek(8000)
	ch, _ := cb.Peek(8000)
	if isBinary(ch) || isBinary(oh) {
		msg := fmt.Sprintf("binary file changed: %s → %s%s", humanBytes(osize), humanBytes(csize), digests)
		if parent == nil {
			msg = "binary file, " + humanBytes(csize)
		}
		head, _ := cb.Peek(256)
		return "modified · binary", append(infoRows(msg), hexSummary(head, csize)...)
	}
	return "modified · diff against " + against, textDiff(ob, cb, osize, csize)
}

func infoRows(s ...string) []fileRow {
	rows := make([]fileRow, len(s))
	for i := range s {
		rows[i] = fileRow{op: 'i', text: s[i]}
	}
	return rows
}

// nextLine reads one line (without its end); false at the end.
func nextLine(r *bufio.Reader) (string, bool) {
	l, err := r.ReadString('\n')
	if l == "" && err != nil {
		return "", false
	}
	return sanitize(strings.TrimSuffix(strings.TrimSuffix(l, "\n"), "\r")), true
}

// textDiff diffs two whole text files: the lines both start with are read
// and passed over (keeping the context before the first change), then up
// to diffHoldMax of each rest is diffed.
func textDiff(old, cur *bufio.Reader, osize, csize int64) []fileRow {
	skipped := 0 // common lines before the diffed part
	var keep []string
	var a, b []string
	for {
		lo, okO := nextLine(old)
		lc, okC := nextLine(cur)
		if okO && okC && lo == lc {
			keep = append(keep, lo)
			if len(keep) > 4*diffContext {
				skipped += len(keep) - diffContext
				keep = append(keep[:0], keep[len(keep)-diffContext:]...)
			}
			continue
		}
		a, b = append(a, keep...), append(b, keep...)
		if okO {
			a = append(a, lo)
		}
		if okC {
			b = append(b, lc)
		}
		break
	}
	a, truncO := readLines(old, a)
	b, truncC := readLines(cur, b)
	d := unifiedAt(a, b, diffContext, skipped)
	dels, shown := 0, 0
	rows := make([]fileRow, 0, len(d)+2)
	for _, l := range d {
		switch l.op {
		case '-':
			dels++
		case ' ':
			shown++
		}
	}
	hunks := 0
	for _, l := range d {
		if l.op == '@' {
			hunks++
		}
	}
	if left := skipped + len(a) - dels - shown; left > 0 && hunks > 0 {
		rows = append(rows, fileRow{op: 'i', text: fmt.Sprintf("%s (%s → %s); %s left out",
			plural(hunks, "changed region"), humanBytes(osize), humanBytes(csize), plural(left, "unchanged line"))})
	}
	for _, l := range d {
		rows = append(rows, fileRow{op: l.op, text: l.text})
	}
	if truncO || truncC {
		rows = append(rows, fileRow{op: 'i', text: "… the line diff stops " + humanBytes(diffHoldMax) + " after the first change; the rest of the file is not shown"})
	}
	if hunks == 0 && !truncO && !truncC {
		rows = append(rows, fileRow{op: 'i', text: fmt.Sprintf("the lines are the same; only line ends or the final newline differ (%s → %s)", humanBytes(osize), humanBytes(csize))})
	}
	return rows
}

// readLines appends the lines of r to ls until diffHoldMax bytes were read;
// true when it stopped before the end.
func readLines(r *bufio.Reader, ls []string) ([]string, bool) {
	n := 0
	for n < diffHoldMax {
		l, ok := nextLine(r)
		if !ok {
			return ls, false
		}
		ls = append(ls, l)
		n += len(l) + 1
	}
	_, err := r.Peek(1)
	return ls, err == nil
}

func itoa64(n int64) string { return fmt.Sprint(n) }

// shortHex is a digest's first 12 hex digits.
func shortHex(d string) string {
	d = strings.TrimPrefix(d, "sha256:")
	return d[:min(12, len(d))]
}

// the real backend streams files
var _ fileOpener = (*snapshot.Backend)(nil)
