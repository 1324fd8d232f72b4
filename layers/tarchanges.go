package layers

import (
	"archive/tar"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// ChangeList is the change list of a stored layer: the one kept with it
// when strata built it, else read from the layer's tar (imported layers),
// with added and modified told apart by looking the paths up in the layers
// below it (base first).
func (s *Store) ChangeList(diffID v1.Hash, below []v1.Hash) ([]Change, error) {
	c, err := s.LayerChanges(diffID)
	if err == nil {
		return c, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	f, err := s.OpenBlob(diffID)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return tarChanges(&seekBuffer{f: f, buf: make([]byte, 64<<10)}, s.View(below))
}

// EachChange gives fn the entries of ChangeList(diffID, below) one at a
// time, in the list's order, reading the list kept with the layer without
// holding it (c is only valid during the call); an imported layer's list
// is read from its tar first. An error from fn ends it and is returned.
func (s *Store) EachChange(diffID v1.Hash, below []v1.Hash, fn func(c *Change) error) error {
	f, err := os.Open(filepath.Join(s.layerDir(diffID), "changes.json"))
	if errors.Is(err, fs.ErrNotExist) {
		c, err := s.ChangeList(diffID, below)
		if err != nil {
			return err
		}
		for i := range c {
			if err := fn(&c[i]); err != nil {
				return err
			}
		}
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	n := 0
	var fnErr error
	err = eachChange(f, func(c *Change) error {
		if fnErr = fn(c); fnErr == nil {
			n++
		}
		return fnErr
	})
	if err == nil || fnErr != nil {
		return err
	}
	// Not in the form strata writes from entry n on: encoding/json reads
	// the file (as LayerChanges does, error included), and fn has the
	// entries it has not had yet.
	if _, serr := f.Seek(0, io.SeekStart); serr != nil {
		return serr
	}
	var c []Change
	if err := json.NewDecoder(f).Decode(&c); err != nil {
		return err
	}
	if len(c) < n {
		return fmt.Errorf("change list of layer %s: %d entries read as JSON, but %d read before", diffID, len(c), n)
	}
	for i := n; i < len(c); i++ {
		if err := fn(&c[i]); err != nil {
			return err
		}
	}
	return nil
}

// seekBuffer reads a file through a buffer and still seeks, so
// archive/tar reads the headers of many small files in few syscalls and
// skips the contents of big ones.
type seekBuffer struct {
	f    *os.File
	buf  []byte // the buffer; buf[r:w] is read but not consumed
	r, w int
	pos  int64 // logical position: where the next Read starts
}

func (b *seekBuffer) Read(p []byte) (int, error) {
	if b.r == b.w {
		n, err := b.f.Read(b.buf)
		b.r, b.w = 0, n
		if n == 0 {
			if err == nil {
				err = io.ErrNoProgress
			}
			return 0, err
		}
	}
	n := copy(p, b.buf[b.r:b.w])
	b.r += n
	b.pos += int64(n)
	return n, nil
}

func (b *seekBuffer) Seek(off int64, whence int) (int64, error) {
	if whence != io.SeekCurrent {
		return 0, errors.New("seekBuffer: only relative seeks")
	}
	if off >= 0 && off <= int64(b.w-b.r) {
		b.r += int(off)
		b.pos += off
		return b.pos, nil
	}
	p, err := b.f.Seek(b.pos+off, io.SeekStart)
	if err != nil {
		return b.pos, err
	}
	b.r, b.w, b.pos = 0, 0, p
	return p, nil
}

// tarChanges reads a layer tar's headers (archive/tar seeks over the
// contents) into a change list. OCI whiteouts become
// deletions of what they hide in lower, an opaque marker marks its
// directory; entries that hide or replace nothing are not listed.
func tarChanges(r io.Reader, lower *View) ([]Change, error) {
	tr := tar.NewReader(r)
	var out []Change
	at := map[string]int{}      // path → index in out
	opaque := map[string]bool{} // directories made opaque by this layer
	underOpaque := func(p string) bool {
		for d := path.Dir(p); d != "/" && d != "."; d = path.Dir(d) {
			if opaque[d] {
				return true
			}
		}
		return false
	}
	absent := map[string]bool{} // directories of this layer the lowers lack
	inLower := func(p string) (*Entry, bool) {
		if len(lower.Lowers) == 0 || absent[path.Dir(p)] || underOpaque(p) {
			return nil, false
		}
		e, err := lower.Lstat(p)
		return e, err == nil
	}
	put := func(c Change) {
		if i, ok := at[c.Path]; ok {
			out[i] = c
			return
		}
		at[c.Path] = len(out)
		out = append(out, c)
	}
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, fmt.Errorf("read layer tar: %w", err)
		}
		name := strings.TrimPrefix(path.Clean("/"+hdr.Name), "/")
		if name == "" || name == "." || strings.HasPrefix(name, "../") || name == ".." {
			continue
		}
		p := "/" + name
		dir, base := path.Split(p)
		dir = path.Clean(dir)
		switch {
		case base == ".wh..wh..opq":
			opaque[dir] = true
			if dir == "/" {
				continue
			}
			if i, ok := at[dir]; ok {
				out[i].Opaque = true
				continue
			}
			put(Change{Path: dir, Kind: Modified, Type: TypeDir, Opaque: true})
			continue
		case strings.HasPrefix(base, ".wh."):
			target := path.Join(dir, strings.TrimPrefix(base, ".wh."))
			e, ok := inLower(target)
			if !ok {
				continue // hides nothing
			}
			put(Change{Path: target, Kind: Deleted, Type: modeType(e.Info.Mode())})
			continue
		}
		c := Change{Path: p, Kind: Added, Mode: hdr.FileInfo().Mode(), UID: hdr.Uid, GID: hdr.Gid, ModTime: hdr.ModTime}
		switch hdr.Typeflag {
		case tar.TypeReg: // archive/tar reads the old TypeRegA as TypeReg
			c.Type, c.Size = TypeRegular, hdr.Size
		case tar.TypeDir:
			c.Type = TypeDir
		case tar.TypeSymlink:
			c.Type, c.Linkname, c.Size = TypeSymlink, hdr.Linkname, int64(len(hdr.Linkname))
		case tar.TypeLink:
			c.Type, c.Linkname = TypeHardlink, "/"+strings.TrimPrefix(path.Clean("/"+hdr.Linkname), "/")
		case tar.TypeChar:
			c.Type = TypeChar
		case tar.TypeBlock:
			c.Type = TypeBlock
		case tar.TypeFifo:
			c.Type = TypeFIFO
		default:
			continue // global headers, GNU sparse or volume entries
		}
		if _, ok := inLower(p); ok {
			c.Kind = Modified
		} else if c.Type == TypeDir {
			absent[p] = true // so its entries need no lookup
		}
		put(c)
	}
}

// modeType maps a file mode to a change's FileType.
func modeType(m fs.FileMode) FileType {
	switch {
	case m.IsDir():
		return TypeDir
	case m&fs.ModeSymlink != 0:
		return TypeSymlink
	case m&fs.ModeNamedPipe != 0:
		return TypeFIFO
	case m&fs.ModeCharDevice != 0:
		return TypeChar
	case m&fs.ModeDevice != 0:
		return TypeBlock
	case m&fs.ModeSocket != 0:
		return TypeSocket
	}
	return TypeRegular
}
