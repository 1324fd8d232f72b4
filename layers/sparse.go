package layers

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Sparse files in layer tars.
//
// archive/tar reads GNU's sparse formats but cannot write them, so a file
// with holes (`truncate -s 2G f`, a huge /var/log/lastlog after useradd with
// a high uid) used to go into the layer at its full size, zeros and all.
// Diff writes such a file as a PAX sparse entry of GNU's format 1.0 (what
// GNU tar --sparse --format=posix writes, and what archive/tar — so
// containerd, podman, umoci, docker — and GNU tar read):
//
//	PAX header:  GNU.sparse.major=1 GNU.sparse.minor=0
//	             GNU.sparse.name=<real name> GNU.sparse.realsize=<size>
//	             size=<stored size> when it needs more than 11 octal digits
//	ustar header: name <dir>/GNUSparseFile.0/<base>, size = stored size
//	data:        the map ("<count>\n" then "<offset>\n<length>\n" per data
//	             segment) padded to 512 bytes, then the data segments
//
// Holes are found with lseek SEEK_DATA/SEEK_HOLE, so a hole is never read.
// The uncompressed tar, and so the time to hash it for the diffID, stays
// the size of the data.

const (
	// sparseAlign: hole bounds are rounded inwards to this, so the map
	// does not depend on the filesystem's block size (4 KiB or less).
	sparseAlign = 4 << 10
	// sparseMinHole: smaller holes are stored as zeros. A file is written
	// in sparse form only when it has a hole at least this large.
	sparseMinHole = 64 << 10
	// sparseMaxSegments keeps the map far below archive/tar's 1 MiB limit
	// for it (a segment takes at most 42 bytes of map).
	sparseMaxSegments = 16 << 10
)

// segment is a run of data in a sparse file.
type segment struct{ off, n int64 }

// dataSegments returns the data runs of the file fd of size bytes when it
// has holes worth keeping (see sparseMinHole), or nil when the file is to
// be written whole (no holes, or a filesystem without SEEK_DATA). The
// file's offset is left at 0.
func dataSegments(fd int, size int64) ([]segment, error) {
	if size < sparseMinHole {
		return nil, nil
	}
	defer unix.Seek(fd, 0, io.SeekStart)
	var segs []segment
	for off := int64(0); off < size; {
		data, err := unix.Seek(fd, off, unix.SEEK_DATA)
		if err == unix.ENXIO {
			break // a hole up to the end
		}
		if err == unix.EINVAL || err == unix.EOPNOTSUPP {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		if data >= size {
			break
		}
		hole, err := unix.Seek(fd, data, unix.SEEK_HOLE)
		if err != nil {
			return nil, err
		}
		hole = min(hole, size)
		if hole <= data { // the file changed under us: keep it whole
			return nil, nil
		}
		// Round outwards (the hole inwards) to sparseAlign.
		start := data &^ (sparseAlign - 1)
		end := min((hole+sparseAlign-1)&^(sparseAlign-1), size)
		if k := len(segs); k > 0 && start-(segs[k-1].off+segs[k-1].n) < sparseMinHole {
			segs[k-1].n = end - segs[k-1].off // a small hole: stored as zeros
		} else {
			segs = append(segs, segment{start, end - start})
		}
		off = hole
	}
	// A small hole at the start or the end is stored as zeros too.
	if len(segs) > 0 && segs[0].off > 0 && segs[0].off < sparseMinHole {
		segs[0].n += segs[0].off
		segs[0].off = 0
	}
	if k := len(segs); k > 0 {
		if tail := size - (segs[k-1].off + segs[k-1].n); tail > 0 && tail < sparseMinHole {
			segs[k-1].n += tail
		}
	}
	if len(segs) > sparseMaxSegments {
		segs = coarsen(segs, sparseMaxSegments)
	}
	var data int64
	for _, s := range segs {
		data += s.n
	}
	if data == size {
		return nil, nil // no hole worth keeping
	}
	if segs == nil {
		segs = []segment{} // all hole
	}
	return segs, nil
}

// coarsen merges the segments separated by the smallest holes (those
// holes are stored as zeros) until max segments are left.
func coarsen(segs []segment, max int) []segment {
	gaps := make([]int64, len(segs)-1)
	for i := range gaps {
		gaps[i] = segs[i+1].off - (segs[i].off + segs[i].n)
	}
	sorted := slices.Clone(gaps)
	slices.Sort(sorted)
	merges := len(segs) - max
	limit := sorted[merges-1] // merge every gap below it, and enough of those equal to it
	equal := merges
	for _, g := range gaps {
		if g < limit {
			equal--
		}
	}
	out := []segment{segs[0]}
	for i, g := range gaps {
		if g < limit || (g == limit && equal > 0) {
			if g == limit {
				equal--
			}
			last := &out[len(out)-1]
			last.n = segs[i+1].off + segs[i+1].n - last.off
			continue
		}
		out = append(out, segs[i+1])
	}
	return out
}

// sparseMap is the map of a PAX 1.0 sparse entry, padded to a block. A
// file that ends in a hole gets a last, empty segment at its size, as GNU
// tar writes it (so that every reader gives the file its size).
func sparseMap(segs []segment, size int64) []byte {
	segs = slices.Clone(segs)
	if k := len(segs); k == 0 || segs[k-1].off+segs[k-1].n < size {
		segs = append(segs, segment{size, 0})
	}
	b := strconv.AppendInt(nil, int64(len(segs)), 10)
	b = append(b, '\n')
	for _, s := range segs {
		b = strconv.AppendInt(b, s.off, 10)
		b = append(b, '\n')
		b = strconv.AppendInt(b, s.n, 10)
		b = append(b, '\n')
	}
	return append(b, make([]byte, blockPad(int64(len(b))))...)
}

func blockPad(n int64) int64 { return -n & 511 }

// sparseRegular writes the regular file fd (e) as a PAX 1.0 sparse entry
// with the data segments segs. The tar writer must be between entries
// (flushed); the entry is written to d.bw directly.
func (d *differ) sparseRegular(fd int, e *upperEntry, segs []segment) error {
	if err := d.tw.Flush(); err != nil {
		return fmt.Errorf("diff: writing tar: %w", err)
	}
	smap := sparseMap(segs, e.st.Size)
	stored := int64(len(smap))
	for _, s := range segs {
		stored += s.n
	}
	mtime := int64(e.st.Mtim.Sec)
	recs := map[string]string{
		"GNU.sparse.major":    "1",
		"GNU.sparse.minor":    "0",
		"GNU.sparse.name":     e.rel,
		"GNU.sparse.realsize": strconv.FormatInt(e.st.Size, 10),
	}
	for k, v := range e.xattrs {
		recs[k] = v
	}
	uid, gid := int64(e.st.Uid), int64(e.st.Gid)
	if uid > maxOctal(8) {
		recs["uid"] = strconv.FormatInt(uid, 10)
		uid = 0
	}
	if gid > maxOctal(8) {
		recs["gid"] = strconv.FormatInt(gid, 10)
		gid = 0
	}
	if mtime < 0 || mtime > maxOctal(12) {
		recs["mtime"] = strconv.FormatInt(mtime, 10)
		mtime = 0
	}
	size := stored
	if size > maxOctal(12) {
		recs["size"] = strconv.FormatInt(size, 10)
		size = 0
	}
	pax, err := paxRecords(recs)
	if err != nil {
		return fmt.Errorf("diff: %s: %w", d.upperPath(e.rel), err)
	}
	dir, base := path.Split(e.rel)
	var hdr []byte
	hdr = append(hdr, ustarBlock(path.Join(dir, "PaxHeaders.0", base), 0, 0, 0, int64(len(pax)), 0, 'x')...)
	hdr = append(hdr, pax...)
	hdr = append(hdr, make([]byte, blockPad(int64(len(pax))))...)
	hdr = append(hdr, ustarBlock(path.Join(dir, "GNUSparseFile.0", base), int64(e.st.Mode&0o7777), uid, gid, size, mtime, '0')...)
	hdr = append(hdr, smap...)
	if _, err := d.bw.Write(hdr); err != nil {
		return fmt.Errorf("diff: writing tar: %w", err)
	}
	for _, s := range segs {
		for off, end := s.off, s.off+s.n; off < end; {
			b := d.buf[:min(int64(len(d.buf)), end-off)]
			n, err := unix.Pread(fd, b, off)
			if err == unix.EINTR {
				continue
			}
			if err != nil {
				return fmt.Errorf("diff: %w", &fs.PathError{Op: "read", Path: d.upperPath(e.rel), Err: err})
			}
			if n == 0 {
				return fmt.Errorf("diff: %s: file shrank while it was read", d.upperPath(e.rel))
			}
			if _, err := d.bw.Write(b[:n]); err != nil {
				return fmt.Errorf("diff: writing tar: %w", err)
			}
			off += int64(n)
		}
	}
	if _, err := d.bw.Write(make([]byte, blockPad(stored))); err != nil {
		return fmt.Errorf("diff: writing tar: %w", err)
	}
	return nil
}

// maxOctal is the largest number an octal field of width bytes holds
// (with its terminating NUL).
func maxOctal(width int) int64 { return 1<<(3*(width-1)) - 1 }

// paxRecords formats PAX extended header records, sorted by key as
// archive/tar writes them.
func paxRecords(recs map[string]string) ([]byte, error) {
	keys := make([]string, 0, len(recs))
	for k := range recs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b []byte
	for _, k := range keys {
		v := recs[k]
		if k == "" || strings.ContainsAny(k, "=\x00") {
			return nil, fmt.Errorf("PAX record key %q cannot be written (it holds '=' or NUL)", k)
		}
		// "<len> <key>=<value>\n", where len counts itself.
		n := len(k) + len(v) + 3
		n += len(strconv.Itoa(n))
		rec := strconv.Itoa(n) + " " + k + "=" + v + "\n"
		if len(rec) != n {
			n = len(rec)
			rec = strconv.Itoa(n) + " " + k + "=" + v + "\n"
		}
		b = append(b, rec...)
	}
	if len(b) > 1<<20 {
		return nil, fmt.Errorf("PAX records of %d bytes are over the 1 MiB that readers accept", len(b))
	}
	return b, nil
}

// ustarBlock formats a POSIX ustar header block. A name that does not fit
// the 100-byte field is cut (the PAX records carry the real one).
func ustarBlock(name string, mode, uid, gid, size, mtime int64, typ byte) []byte {
	b := make([]byte, 512)
	name = asciiName(name, 100)
	copy(b[0:100], name)
	octal(b[100:108], mode)
	octal(b[108:116], uid)
	octal(b[116:124], gid)
	octal(b[124:136], size)
	octal(b[136:148], mtime)
	b[156] = typ
	copy(b[257:263], "ustar\x00")
	copy(b[263:265], "00")
	octal(b[329:337], 0) // devmajor
	octal(b[337:345], 0) // devminor
	// The checksum is the sum of the bytes, its own field read as spaces.
	copy(b[148:156], "        ")
	var sum int64
	for _, c := range b {
		sum += int64(c)
	}
	octal(b[148:155], sum) // 6 digits and a NUL, then the space left above
	return b
}

// octal writes n as zero-padded octal digits and a NUL into f.
func octal(f []byte, n int64) {
	s := strconv.FormatInt(n, 8)
	for len(s) < len(f)-1 {
		s = "0" + s
	}
	copy(f, s)
	f[len(f)-1] = 0
}

// asciiName keeps the ASCII bytes of name, at most max of them.
func asciiName(name string, max int) string {
	var b []byte
	for i := 0; i < len(name) && len(b) < max; i++ {
		if c := name[i]; c >= 0x20 && c < 0x7f {
			b = append(b, c)
		}
	}
	return string(b)
}

// CopySparse copies the regular file src (from its start) into dst, a new
// empty file, keeping src's holes: only the data runs that SEEK_DATA and
// SEEK_HOLE find are copied (with copy_file_range, so as reflinks where
// the filesystem has them), and dst gets src's size. On a filesystem
// without SEEK_DATA the whole file is copied. It returns src's size.
func CopySparse(dst, src *os.File) (int64, error) {
	fi, err := src.Stat()
	if err != nil {
		return 0, err
	}
	size := fi.Size()
	sfd, dfd := int(src.Fd()), int(dst.Fd())
	segs := []segment{{0, size}}
	if _, err := unix.Seek(sfd, 0, unix.SEEK_DATA); err == nil || err == unix.ENXIO {
		segs = segs[:0]
		for off := int64(0); off < size; {
			data, err := unix.Seek(sfd, off, unix.SEEK_DATA)
			if err == unix.ENXIO {
				break
			}
			if err != nil {
				return 0, fmt.Errorf("copy %s: %w", src.Name(), err)
			}
			hole, err := unix.Seek(sfd, data, unix.SEEK_HOLE)
			if err != nil {
				return 0, fmt.Errorf("copy %s: %w", src.Name(), err)
			}
			hole = min(hole, size)
			if hole <= data {
				break
			}
			segs = append(segs, segment{data, hole - data})
			off = hole
		}
	}
	var buf []byte // nil until copy_file_range fails: then read and write
	for _, s := range segs {
		roff, woff, end := s.off, s.off, s.off+s.n
		for roff < end {
			if buf == nil {
				n, err := unix.CopyFileRange(sfd, &roff, dfd, &woff, int(min(end-roff, 1<<30)), 0)
				switch {
				case err == unix.EINTR || (err == nil && n > 0):
					continue
				case err == nil:
					return 0, fmt.Errorf("copy %s: the file shrank while it was copied", src.Name())
				case err != unix.EXDEV && err != unix.ENOSYS && err != unix.EINVAL && err != unix.EOPNOTSUPP:
					return 0, fmt.Errorf("copy %s: %w", src.Name(), err)
				}
				buf = make([]byte, 256<<10)
			}
			m, rerr := unix.Pread(sfd, buf[:min(int64(len(buf)), end-roff)], roff)
			if rerr == unix.EINTR {
				continue
			}
			if rerr != nil {
				return 0, fmt.Errorf("copy %s: %w", src.Name(), rerr)
			}
			if m == 0 {
				return 0, fmt.Errorf("copy %s: the file shrank while it was copied", src.Name())
			}
			if werr := pwriteAll(dfd, buf[:m], woff); werr != nil {
				return 0, fmt.Errorf("copy to %s: %w", dst.Name(), werr)
			}
			roff += int64(m)
			woff += int64(m)
		}
	}
	if err := dst.Truncate(size); err != nil {
		return 0, err
	}
	return size, nil
}
