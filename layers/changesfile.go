package layers

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"time"
)

// writeChanges writes a change list as json.Marshal would, one entry at a
// time through a buffer: the list's JSON is never held whole (it is about
// as large as the list itself, a few MB per 10,000 files).
func writeChanges(file string, changes []Change) error {
	cw, err := createChanges(file)
	if err != nil {
		return err
	}
	for i := range changes {
		if err := cw.add(&changes[i]); err != nil {
			cw.abort()
			return err
		}
	}
	return cw.close()
}

// changesWriter streams a change list to a file, one entry at a time,
// in json.Marshal's form of the whole list, and counts it: a producer
// (DiffLayer) writes a layer's list without holding it.
type changesWriter struct {
	f     *os.File
	w     *bufio.Writer
	n     int         // entries written
	stats ChangeStats // their counts
}

func createChanges(file string) (*changesWriter, error) {
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o444)
	if err != nil {
		return nil, err
	}
	w := bufio.NewWriterSize(f, 64<<10)
	w.WriteByte('[')
	return &changesWriter{f: f, w: w}, nil
}

func (cw *changesWriter) add(c *Change) error {
	b, err := json.Marshal(c)
	if err != nil {
		return err
	}
	if cw.n > 0 {
		cw.w.WriteByte(',')
	}
	if _, err := cw.w.Write(b); err != nil {
		return err
	}
	cw.n++
	cw.stats.Add(c)
	return nil
}

// close ends the list and the file.
func (cw *changesWriter) close() error {
	cw.w.WriteByte(']')
	err := cw.w.Flush()
	if cerr := cw.f.Close(); err == nil {
		err = cerr
	}
	return err
}

// abort closes and removes the file: nothing half-written is left.
func (cw *changesWriter) abort() {
	cw.f.Close()
	os.Remove(cw.f.Name())
}

// eachChange reads a change list in the form changesWriter writes (a JSON
// array of Change objects, keys as json.Marshal writes them) one entry at
// a time, giving each to fn; c is only valid during the call. It is about
// five times faster than encoding/json's reflection on a list of a
// million entries, which the Files tab of such a step waits for. Anything
// else (an unknown key, a null) is an error: LayerChanges then reads the
// file with encoding/json.
func eachChange(r io.Reader, fn func(c *Change) error) error {
	d := changeDecoder{r: bufio.NewReaderSize(r, 256<<10)}
	if err := d.expect('['); err != nil {
		return err
	}
	b, err := d.next()
	if err != nil {
		return err
	}
	if b == ']' {
		return nil
	}
	d.r.UnreadByte()
	var c Change
	for {
		c = Change{}
		if err := d.object(&c); err != nil {
			return err
		}
		if err := fn(&c); err != nil {
			return err
		}
		b, err := d.next()
		if err != nil {
			return err
		}
		switch b {
		case ',':
		case ']':
			return nil
		default:
			return fmt.Errorf("change list: %q after an entry, want ',' or ']'", b)
		}
	}
}

type changeDecoder struct {
	r   *bufio.Reader
	buf []byte // a value's bytes
}

// next is the next byte that is not JSON white space.
func (d *changeDecoder) next() (byte, error) {
	for {
		b, err := d.r.ReadByte()
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return 0, fmt.Errorf("change list: %w", err)
		}
		switch b {
		case ' ', '\t', '\n', '\r':
			continue
		}
		return b, nil
	}
}

func (d *changeDecoder) expect(want byte) error {
	b, err := d.next()
	if err == nil && b != want {
		err = fmt.Errorf("change list: %q where %q was expected", b, want)
	}
	return err
}

// str reads a string whose opening quote was read; escapes go through
// encoding/json.
func (d *changeDecoder) str() (string, error) {
	return d.strFrom(d.r.ReadSlice('"'))
}

// strFrom reads a string whose first slice up to a quote (the read's
// result) is sl.
func (d *changeDecoder) strFrom(sl []byte, err error) (string, error) {
	if err == nil && plainString(sl[:len(sl)-1]) {
		return string(sl[:len(sl)-1]), nil // the common case: one slice of the buffer
	}
	d.buf = append(append(d.buf[:0], '"'), sl...)
	for {
		if err == nil {
			// the quote ends the string unless an odd number of
			// backslashes escapes it
			n := 0
			for i := len(d.buf) - 2; i >= 1 && d.buf[i] == '\\'; i-- {
				n++
			}
			if n%2 == 0 {
				break
			}
		} else if err != bufio.ErrBufferFull {
			return "", fmt.Errorf("change list: in a string: %w", io.ErrUnexpectedEOF)
		}
		sl, err = d.r.ReadSlice('"')
		d.buf = append(d.buf, sl...)
	}
	var v string
	if err := json.Unmarshal(d.buf, &v); err != nil {
		return "", fmt.Errorf("change list: %w", err)
	}
	return v, nil
}

// plainString: b needs no unescaping and holds nothing JSON refuses in a
// string.
func plainString(b []byte) bool {
	for _, c := range b {
		if c == '\\' || c < 0x20 {
			return false
		}
	}
	return true
}

// key reads an object key and its colon.
func (d *changeDecoder) key() ([]byte, error) {
	// the common case: the key, its quotes and colon already in the
	// buffer, without white space (the longest key, "linkname", takes 11
	// bytes): no copy
	if p, _ := d.r.Peek(12); len(p) > 3 && p[0] == '"' {
		if i := bytes.IndexByte(p[1:], '"'); i >= 0 && i+2 < len(p) && p[i+2] == ':' && bytes.IndexByte(p[1:i+1], '\\') < 0 {
			d.r.Discard(i + 3)
			return p[1 : i+1], nil // valid until the next read
		}
	}
	if err := d.expect('"'); err != nil {
		return nil, err
	}
	// strata's keys are short ASCII words: no escapes
	k, err := d.r.ReadSlice('"')
	if err != nil {
		return nil, fmt.Errorf("change list: in a key: %w", io.ErrUnexpectedEOF)
	}
	k = k[:len(k)-1]
	if bytes.IndexByte(k, '\\') >= 0 {
		return nil, errors.New("change list: escaped key")
	}
	d.buf = append(d.buf[:0], k...) // valid until the next read of a value
	return d.buf, d.expect(':')
}

// num reads a JSON number's bytes (its first byte is b).
func (d *changeDecoder) num(b byte) ([]byte, error) {
	d.buf = append(d.buf[:0], b)
	for {
		c, err := d.r.ReadByte()
		if err != nil {
			return nil, fmt.Errorf("change list: in a number: %w", io.ErrUnexpectedEOF)
		}
		if isNumByte(c) {
			d.buf = append(d.buf, c)
			continue
		}
		d.r.UnreadByte()
		return d.buf, nil
	}
}

// smallInt parses an optionally negative decimal of at most 18 digits
// (which fits an int64, and every 32-bit int); ok is false for anything
// else, which strconv then parses (or refuses).
func smallInt(b []byte) (int64, bool) {
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 18 || (b[0] == '0' && len(b) > 1) {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}

// number reads a JSON number's bytes: from the buffer when it is all
// there (valid until the next read), else through num.
func (d *changeDecoder) number() ([]byte, error) {
	p, _ := d.r.Peek(24)
	i := 0
	for i < len(p) && isNumByte(p[i]) {
		i++
	}
	if i > 0 && i < len(p) {
		d.r.Discard(i)
		return p[:i], nil
	}
	b, err := d.next()
	if err != nil {
		return nil, err
	}
	return d.num(b)
}

func isNumByte(c byte) bool {
	return (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E'
}

func (d *changeDecoder) int(bits int) (int64, error) {
	nb, err := d.number()
	if err != nil {
		return 0, err
	}
	if n, ok := smallInt(nb); ok {
		return n, nil // the common case, without a string per number
	}
	n, err := strconv.ParseInt(string(nb), 10, bits)
	if err != nil {
		return 0, fmt.Errorf("change list: %w", err)
	}
	return n, nil
}

func (d *changeDecoder) uint(bits int) (uint64, error) {
	nb, err := d.number()
	if err != nil {
		return 0, err
	}
	if n, ok := smallInt(nb); ok && n >= 0 && (bits == 64 || n < 1<<bits) {
		return uint64(n), nil
	}
	n, err := strconv.ParseUint(string(nb), 10, bits)
	if err != nil {
		return 0, fmt.Errorf("change list: %w", err)
	}
	return n, nil
}

func (d *changeDecoder) stringValue() (string, error) {
	if err := d.expect('"'); err != nil {
		return "", err
	}
	return d.str()
}

// timeValue reads a time as json.Marshal writes it (RFC 3339): a UTC
// time is read from the buffer, without a string or time.Parse (a million
// of them in a large list); anything else goes through time.Parse.
func (d *changeDecoder) timeValue() (time.Time, error) {
	if err := d.expect('"'); err != nil {
		return time.Time{}, err
	}
	sl, err := d.r.ReadSlice('"')
	if err == nil {
		if t, ok := utcTime(sl[:len(sl)-1]); ok {
			return t, nil
		}
	}
	s, err := d.strFrom(sl, err)
	if err != nil {
		return time.Time{}, err
	}
	return time.Parse(time.RFC3339Nano, s)
}

// utcTime reads "2006-01-02T15:04:05.999999999Z" (the fraction optional,
// of 1 to 9 digits) as time.Parse(time.RFC3339Nano) would; ok is false for
// anything else, time.Parse's to read or refuse.
func utcTime(b []byte) (t time.Time, ok bool) {
	if len(b) < 20 || b[4] != '-' || b[7] != '-' || b[10] != 'T' || b[13] != ':' || b[16] != ':' || b[len(b)-1] != 'Z' {
		return time.Time{}, false
	}
	digits := func(s []byte) (int, bool) {
		n := 0
		for _, c := range s {
			if c < '0' || c > '9' {
				return 0, false
			}
			n = n*10 + int(c-'0')
		}
		return n, true
	}
	year, ok1 := digits(b[0:4])
	month, ok2 := digits(b[5:7])
	day, ok3 := digits(b[8:10])
	hour, ok4 := digits(b[11:13])
	minute, ok5 := digits(b[14:16])
	sec, ok6 := digits(b[17:19])
	if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 || !ok6 {
		return time.Time{}, false
	}
	nsec := 0
	if frac := b[19 : len(b)-1]; len(frac) > 0 {
		if frac[0] != '.' || len(frac) < 2 || len(frac) > 10 {
			return time.Time{}, false
		}
		if nsec, ok = digits(frac[1:]); !ok {
			return time.Time{}, false
		}
		for range 10 - len(frac) {
			nsec *= 10
		}
	}
	t = time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC)
	// time.Date carries a day 32 or a second 60 over; time.Parse refuses them
	if t.Year() != year || int(t.Month()) != month || t.Day() != day || t.Hour() != hour || t.Minute() != minute || t.Second() != sec {
		return time.Time{}, false
	}
	return t, true
}

func (d *changeDecoder) boolValue() (bool, error) {
	b, err := d.next()
	if err != nil {
		return false, err
	}
	word := "false"
	if b == 't' {
		word = "true"
	}
	if b != word[0] {
		return false, fmt.Errorf("change list: %q where a boolean was expected", b)
	}
	for i := 1; i < len(word); i++ {
		if c, err := d.r.ReadByte(); err != nil || c != word[i] {
			return false, fmt.Errorf("change list: a boolean other than true or false")
		}
	}
	return b == 't', nil
}

// object reads one Change.
func (d *changeDecoder) object(c *Change) error {
	if err := d.expect('{'); err != nil {
		return err
	}
	b, err := d.next()
	if err != nil {
		return err
	}
	if b == '}' {
		return nil
	}
	d.r.UnreadByte()
	for {
		kb, err := d.key()
		if err != nil {
			return err
		}
		var n int64
		var u uint64
		switch string(kb) {
		case "path":
			c.Path, err = d.stringValue()
		case "linkname":
			c.Linkname, err = d.stringValue()
		case "kind":
			u, err = d.uint(8)
			c.Kind = ChangeKind(u)
		case "type":
			u, err = d.uint(8)
			c.Type = FileType(u)
		case "size":
			c.Size, err = d.int(64)
		case "mode":
			u, err = d.uint(32)
			c.Mode = fs.FileMode(u)
		case "uid":
			n, err = d.int(strconv.IntSize)
			c.UID = int(n)
		case "gid":
			n, err = d.int(strconv.IntSize)
			c.GID = int(n)
		case "mtime":
			c.ModTime, err = d.timeValue()
		case "opaque":
			c.Opaque, err = d.boolValue()
		default:
			return fmt.Errorf("change list: unknown key %q", kb)
		}
		if err != nil {
			return err
		}
		b, err := d.next()
		if err != nil {
			return err
		}
		switch b {
		case ',':
		case '}':
			return nil
		default:
			return fmt.Errorf("change list: %q in an entry, want ',' or '}'", b)
		}
	}
}
