package layers

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/bzip2"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/klauspost/pgzip"
	"github.com/ulikunitz/xz"
	"golang.org/x/sys/unix"

	"github.com/strata-build/strata/internal/rootless"
)

// ErrPathEscapes is wrapped by the error Extract returns for an entry whose
// name (or hardlink target) is absolute, contains "..", or resolves through
// a symlink to outside the target directory.
var ErrPathEscapes = errors.New("path escapes the layer")

// OCI whiteout names (image-spec layer.md).
const (
	whiteoutPrefix = ".wh."
	whiteoutMeta   = ".wh..wh."
	whiteoutOpaque = ".wh..wh..opq"
)

// Overlayfs keeps its own state in xattrs with these prefixes (the second
// with the userxattr mount option). They are never read from nor written to
// a tarball.
const (
	ovlTrustedPrefix = "trusted.overlay."
	ovlUserPrefix    = "user.overlay."
	ovlOpaqueXattr   = "trusted.overlay.opaque"
	paxXattrPrefix   = "SCHILY.xattr."
)

// ExtractStats counts what an extraction wrote.
type ExtractStats struct {
	Files int   // entries applied: files, dirs, links, devices, whiteouts
	Bytes int64 // bytes of regular-file content written
}

// ExtractOptions tunes ExtractWith.
type ExtractOptions struct {
	// OverlayWhiteouts turns OCI whiteouts into overlayfs ones: ".wh.NAME"
	// becomes a 0/0 character device NAME and ".wh..wh..opq" sets
	// trusted.overlay.opaque=y on its directory. Off, they are plain files
	// (what Docker does for ADD of a local archive).
	OverlayWhiteouts bool
	// UID and GID, when set, replace the owners recorded in the archive.
	UID, GID *int
	// NoSameOwner keeps the extracting user as owner (no chown) unless
	// UID/GID say otherwise.
	NoSameOwner bool
}

// extract unpacks a layer tar stream (uncompressed, gzip, bzip2, xz or zstd)
// into dir, which must exist, so that dir can serve as an overlayfs lower
// dir. See ExtractWith; extract converts whiteouts. The stream is read to
// its end, so a caller hashing it through a TeeReader sees every byte.
func extract(r io.Reader, dir string) (ExtractStats, error) {
	return ExtractWith(r, dir, ExtractOptions{OverlayWhiteouts: true})
}

// ExtractWith unpacks an archive into dir. Entries whose name is absolute,
// contains "..", or would resolve through a symlink to outside dir are
// refused with an error naming the entry, and nothing is ever written
// outside dir: every path is resolved beneath dir with openat2
// RESOLVE_BENEATH and each file is created relative to its parent's fd.
// Owners, modes (setuid/setgid/sticky too), mtimes, xattrs (but overlayfs'
// own), symlinks, hardlinks (whose target must be in the archive), fifos and
// device nodes are kept; directories get their mtime after their content;
// missing parents are created 0755.
func ExtractWith(r io.Reader, dir string, opt ExtractOptions) (ExtractStats, error) {
	rc, err := DecompressedReader(r)
	if err != nil {
		return ExtractStats{}, err
	}
	defer rc.Close()
	root, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return ExtractStats{}, fmt.Errorf("extract: open %s: %w", dir, err)
	}
	x := &extractor{
		root:  root,
		opt:   opt,
		dirs:  make(map[string]int),
		buf:   make([]byte, 256<<10),
		what:  "archive entry",
		euid0: unix.Geteuid() == 0,
	}
	if opt.OverlayWhiteouts {
		x.what = "layer entry"
	}
	defer x.close()
	tr := tar.NewReader(rc)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return x.stats, fmt.Errorf("extract into %s: reading tar: %w", dir, err)
		}
		if err := x.entry(hdr, tr); err != nil {
			return x.stats, err
		}
	}
	if err := x.setDirTimes(); err != nil {
		return x.stats, err
	}
	// Read what follows the end-of-archive blocks (padding, compressor
	// trailers) so checksums of the whole stream can be verified.
	if _, err := io.CopyBuffer(io.Discard, rc, x.buf); err != nil {
		return x.stats, fmt.Errorf("extract into %s: reading tar: %w", dir, err)
	}
	return x.stats, nil
}

// Magic numbers of the compressed formats a layer can come in.
var (
	magicGzip  = []byte{0x1f, 0x8b}
	magicBzip2 = []byte("BZh")
	magicXz    = []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}
	magicZstd  = []byte{0x28, 0xb5, 0x2f, 0xfd}
	// a bzip2 stream goes on with a digit, then a block or end-of-stream magic
	bzip2Block = []byte{0x31, 0x41, 0x59, 0x26, 0x53, 0x59}
	bzip2End   = []byte{0x17, 0x72, 0x45, 0x38, 0x50, 0x90}
)

// DecompressedReader returns r decompressed when it starts with the magic
// bytes of gzip, bzip2, xz or zstd, and r itself (buffered) otherwise.
func DecompressedReader(r io.Reader) (io.ReadCloser, error) {
	br := bufio.NewReaderSize(r, 1<<20)
	magic, err := br.Peek(10)
	if err != nil && err != io.EOF && err != bufio.ErrBufferFull {
		return nil, fmt.Errorf("reading archive: %w", err)
	}
	switch {
	case bytes.HasPrefix(magic, magicGzip):
		zr, err := pgzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		return zr, nil
	case len(magic) >= 10 && bytes.HasPrefix(magic, magicBzip2) && magic[3] >= '1' && magic[3] <= '9' &&
		(bytes.Equal(magic[4:10], bzip2Block) || bytes.Equal(magic[4:10], bzip2End)):
		return io.NopCloser(bzip2.NewReader(br)), nil
	case bytes.HasPrefix(magic, magicXz):
		zr, err := xz.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("xz: %w", err)
		}
		return io.NopCloser(zr), nil
	case bytes.HasPrefix(magic, magicZstd):
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(false))
		if err != nil {
			return nil, fmt.Errorf("zstd: %w", err)
		}
		return zr.IOReadCloser(), nil
	}
	return io.NopCloser(br), nil
}

type extractor struct {
	root  int
	opt   ExtractOptions
	what  string         // "layer entry" or "archive entry", for errors
	dirs  map[string]int // open directory fds by relative path (cache)
	buf   []byte
	times []dirTime // directories whose times are set at the end
	stats ExtractStats
	euid0 bool
}

type dirTime struct {
	rel          string
	atime, mtime time.Time
}

func (x *extractor) close() {
	x.dropDirs()
	unix.Close(x.root)
}

func (x *extractor) dropDirs() {
	for k, fd := range x.dirs {
		unix.Close(fd)
		delete(x.dirs, k)
	}
}

// entryError names the entry and what went wrong.
type entryError struct {
	what, name string
	err        error
}

func (e *entryError) Error() string {
	return fmt.Sprintf("%s %q: %v", e.what, e.name, e.err)
}

func (e *entryError) Unwrap() error { return e.err }

// cleanEntryName turns a tar name into a clean relative path ("." for the
// root). It refuses absolute names and names with a ".." component.
func cleanEntryName(name string) (string, error) {
	if name == "" {
		return "", errors.New("empty name")
	}
	if name[0] == '/' {
		return "", ErrPathEscapes
	}
	if strings.IndexByte(name, 0) >= 0 {
		return "", errors.New("name contains a NUL byte")
	}
	var b strings.Builder
	for rest := name; rest != ""; {
		var part string
		part, rest, _ = strings.Cut(rest, "/")
		switch part {
		case "", ".":
			continue
		case "..":
			return "", ErrPathEscapes
		}
		if b.Len() > 0 {
			b.WriteByte('/')
		}
		b.WriteString(part)
	}
	if b.Len() == 0 {
		return ".", nil
	}
	if b.Len() == len(name) {
		return name, nil
	}
	return b.String(), nil
}

// splitRel splits a clean relative path into its parent ("." at the top)
// and its last element.
func splitRel(rel string) (dir, base string) {
	i := strings.LastIndexByte(rel, '/')
	if i < 0 {
		return ".", rel
	}
	return rel[:i], rel[i+1:]
}

func (x *extractor) entry(hdr *tar.Header, tr *tar.Reader) error {
	if len(x.dirs) > 256 {
		x.dropDirs() // only between entries: apply holds fds of the cache
	}
	rel, err := cleanEntryName(hdr.Name)
	if err != nil {
		return &entryError{x.what, hdr.Name, err}
	}
	if err := x.apply(hdr, rel, tr); err != nil {
		return &entryError{x.what, hdr.Name, err}
	}
	return nil
}

func (x *extractor) apply(hdr *tar.Header, rel string, tr *tar.Reader) error {
	switch hdr.Typeflag {
	case tar.TypeXGlobalHeader, tar.TypeXHeader, tar.TypeGNULongName, tar.TypeGNULongLink:
		return nil // metadata the reader already used
	}
	if rel == "." {
		if hdr.Typeflag != tar.TypeDir {
			return errors.New("the root can only be a directory")
		}
		if err := x.setMeta(x.root, x.root, ".", hdr, false); err != nil {
			return err
		}
		x.times = append(x.times, dirTime{".", atimeOf(hdr), hdr.ModTime})
		x.stats.Files++
		return nil
	}
	parentRel, base := splitRel(rel)

	if x.opt.OverlayWhiteouts && strings.HasPrefix(base, whiteoutPrefix) {
		return x.whiteout(parentRel, base)
	}

	parent, err := x.dirFd(parentRel, true)
	if err != nil {
		return err
	}
	switch hdr.Typeflag {
	case tar.TypeDir:
		return x.mkdir(parent, rel, base, hdr)
	case tar.TypeReg, tar.TypeGNUSparse, tar.TypeCont:
		return x.regular(parent, rel, base, hdr, tr)
	case tar.TypeLink:
		return x.hardlink(parentRel, rel, base, hdr)
	case tar.TypeSymlink:
		err := unix.Symlinkat(hdr.Linkname, parent, base)
		if err == unix.EEXIST {
			if err := x.clear(parent, rel, base, false); err != nil {
				return err
			}
			err = unix.Symlinkat(hdr.Linkname, parent, base)
		}
		if err != nil {
			return fmt.Errorf("symlink: %w", err)
		}
		if err := x.setMeta(parent, -1, base, hdr, true); err != nil {
			return err
		}
		x.stats.Files++
		return x.setTimes(parent, base, hdr)
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		mode := uint32(unix.S_IFIFO)
		switch hdr.Typeflag {
		case tar.TypeChar:
			mode = unix.S_IFCHR
		case tar.TypeBlock:
			mode = unix.S_IFBLK
		}
		if err := x.clear(parent, rel, base, false); err != nil {
			return err
		}
		dev := int(unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor)))
		if err := unix.Mknodat(parent, base, mode|0o600, dev); err != nil {
			return fmt.Errorf("mknod: %w", err)
		}
		if err := x.setMeta(parent, -1, base, hdr, false); err != nil {
			return err
		}
		x.stats.Files++
		return x.setTimes(parent, base, hdr)
	}
	return fmt.Errorf("unsupported tar entry type %q", hdr.Typeflag)
}

// whiteout turns an OCI whiteout into its overlayfs form.
func (x *extractor) whiteout(parentRel, base string) error {
	if base == whiteoutOpaque {
		fd, err := x.dirFd(parentRel, true)
		if err != nil {
			return err
		}
		if err := unix.Fsetxattr(fd, rootless.OverlayOpaqueXattr(), []byte("y"), 0); err != nil {
			return fmt.Errorf("marking %s opaque: %w", parentRel, err)
		}
		x.stats.Files++
		return nil
	}
	if strings.HasPrefix(base, whiteoutMeta) {
		return nil // other AUFS metadata (.wh..wh.plnk, ...): not content
	}
	name := base[len(whiteoutPrefix):]
	if name == "" || name == "." || name == ".." {
		return errors.New("whiteout of nothing")
	}
	parent, err := x.dirFd(parentRel, true)
	if err != nil {
		return err
	}
	var st unix.Stat_t
	if err := unix.Fstatat(parent, name, &st, unix.AT_SYMLINK_NOFOLLOW); err == nil {
		// A whiteout hides lower layers only, never an entry of its own
		// layer (OCI image-spec); a second whiteout is a no-op.
		return nil
	} else if err != unix.ENOENT {
		return err
	}
	if err := unix.Mknodat(parent, name, unix.S_IFCHR, 0); err != nil {
		return fmt.Errorf("creating whiteout: %w", err)
	}
	x.stats.Files++
	return nil
}

// dirFd returns an fd of the directory rel, resolved beneath the root (a
// symlink on the way may not leave it), creating missing directories 0755
// when create is set. The fd stays owned by the cache.
func (x *extractor) dirFd(rel string, create bool) (int, error) {
	if rel == "." {
		return x.root, nil
	}
	if fd, ok := x.dirs[rel]; ok {
		return fd, nil
	}
	fd, err := x.openBeneath(rel)
	if err == unix.ENOENT && create {
		parentRel, base := splitRel(rel)
		var parent int
		parent, err = x.dirFd(parentRel, true)
		if err != nil {
			return -1, err
		}
		if err = unix.Mkdirat(parent, base, 0o755); err != nil && err != unix.EEXIST {
			return -1, fmt.Errorf("creating parent %s: %w", rel, err)
		}
		if err == nil {
			if err := x.implicitDirMeta(parent, base); err != nil {
				return -1, err
			}
		}
		fd, err = x.openBeneath(rel)
	}
	switch err {
	case nil:
	case unix.EXDEV, unix.ELOOP:
		return -1, ErrPathEscapes
	case unix.ENOTDIR:
		return -1, fmt.Errorf("parent %s is not a directory", rel)
	default:
		return -1, fmt.Errorf("opening parent %s: %w", rel, err)
	}
	x.dirs[rel] = fd
	return fd, nil
}

func (x *extractor) openBeneath(rel string) (int, error) {
	how := unix.OpenHow{
		Flags:   unix.O_RDONLY | unix.O_DIRECTORY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_MAGICLINKS,
	}
	for range 16 {
		fd, err := unix.Openat2(x.root, rel, &how)
		if err != unix.EAGAIN && err != unix.EINTR {
			return fd, err
		}
	}
	return -1, unix.EAGAIN
}

// implicitDirMeta sets owner and mode of a parent created for an entry.
func (x *extractor) implicitDirMeta(parent int, base string) error {
	if x.opt.UID != nil || x.opt.GID != nil {
		uid, gid := -1, -1
		if x.opt.UID != nil {
			uid = *x.opt.UID
		}
		if x.opt.GID != nil {
			gid = *x.opt.GID
		}
		if err := unix.Fchownat(parent, base, uid, gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return fmt.Errorf("chown: %w", rootless.OwnerError(err, uid, gid))
		}
	}
	// mkdirat is subject to the umask
	return unix.Fchmodat(parent, base, 0o755, 0)
}

// clear removes what is at rel (parent/base) so that an entry can take its
// place; a directory stays when keepDir is set.
func (x *extractor) clear(parent int, rel, base string, keepDir bool) error {
	var st unix.Stat_t
	if err := unix.Fstatat(parent, base, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		if err == unix.ENOENT {
			return nil
		}
		return err
	}
	isDir := st.Mode&unix.S_IFMT == unix.S_IFDIR
	if isDir && keepDir {
		return nil
	}
	// Cached fds at or below rel would outlive their names (rel may also
	// be a symlink the cache followed).
	for k, fd := range x.dirs {
		if k == rel || (strings.HasPrefix(k, rel) && k[len(rel)] == '/') {
			unix.Close(fd)
			delete(x.dirs, k)
		}
	}
	if !isDir {
		return unix.Unlinkat(parent, base, 0)
	}
	return removeAllAt(parent, base)
}

// removeAllAt removes parent/base and what it contains, never following a
// symlink.
func removeAllAt(parent int, base string) error {
	err := unix.Unlinkat(parent, base, unix.AT_REMOVEDIR)
	if err == nil || err == unix.ENOENT {
		return nil
	}
	if err == unix.ENOTDIR {
		return unix.Unlinkat(parent, base, 0)
	}
	if err != unix.ENOTEMPTY && err != unix.EEXIST {
		return err
	}
	fd, err := unix.Openat(parent, base, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	names, err := readDirNames(fd, make([]byte, 8192), nil)
	if err == nil {
		for _, n := range names {
			var st unix.Stat_t
			if err = unix.Fstatat(fd, n, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
				break
			}
			if st.Mode&unix.S_IFMT == unix.S_IFDIR {
				err = removeAllAt(fd, n)
			} else {
				err = unix.Unlinkat(fd, n, 0)
			}
			if err != nil && err != unix.ENOENT {
				break
			}
			err = nil
		}
	}
	unix.Close(fd)
	if err != nil {
		return err
	}
	return unix.Unlinkat(parent, base, unix.AT_REMOVEDIR)
}

// readDirNames appends the names in the directory fd (without "." and
// "..") to names, reading with buf.
func readDirNames(fd int, buf []byte, names []string) ([]string, error) {
	for {
		n, err := unix.Getdents(fd, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return names, err
		}
		if n <= 0 {
			return names, nil
		}
		_, _, names = unix.ParseDirent(buf[:n], -1, names)
	}
}

func (x *extractor) mkdir(parent int, rel, base string, hdr *tar.Header) error {
	if err := x.clear(parent, rel, base, true); err != nil {
		return err
	}
	if err := unix.Mkdirat(parent, base, 0o700); err != nil && err != unix.EEXIST {
		return fmt.Errorf("mkdir: %w", err)
	}
	fd, err := unix.Openat(parent, base, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("opening directory: %w", err)
	}
	if old, ok := x.dirs[rel]; ok {
		unix.Close(old)
	}
	x.dirs[rel] = fd
	if err := x.setMeta(parent, fd, base, hdr, false); err != nil {
		return err
	}
	x.times = append(x.times, dirTime{rel, atimeOf(hdr), hdr.ModTime})
	x.stats.Files++
	return nil
}

func (x *extractor) regular(parent int, rel, base string, hdr *tar.Header, tr *tar.Reader) error {
	// O_EXCL|O_NOFOLLOW: never open something that was already there.
	const flags = unix.O_WRONLY | unix.O_CREAT | unix.O_EXCL | unix.O_NOFOLLOW | unix.O_CLOEXEC
	fd, err := unix.Openat(parent, base, flags, 0o600)
	if err == unix.EEXIST {
		if err := x.clear(parent, rel, base, false); err != nil {
			return err
		}
		fd, err = unix.Openat(parent, base, flags, 0o600)
	}
	if err != nil {
		return fmt.Errorf("create: %w", err)
	}
	n, err := copyToFd(fd, tr, x.buf)
	x.stats.Bytes += n
	if err == nil && n != hdr.Size {
		err = io.ErrUnexpectedEOF
	}
	if err == nil {
		err = x.setMeta(parent, fd, base, hdr, false)
	}
	if cerr := unix.Close(fd); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	x.stats.Files++
	return x.setTimes(parent, base, hdr)
}

// zeros is compared with to find blocks of zero bytes.
var zeros = make([]byte, sparseAlign)

// copyToFd copies r to the new, empty file fd with buf (a multiple of
// 4 KiB long). Blocks of 4 KiB (at 4 KiB offsets) that are all zero are
// not written but left as holes, as cp --sparse=auto does, so that sparse
// files (whose holes the tar reader hands out as zeros) stay sparse; the
// file gets its size at the end.
func copyToFd(fd int, r io.Reader, buf []byte) (int64, error) {
	var off int64  // bytes read
	var size int64 // end of what was written
	for {
		n, rerr := io.ReadFull(r, buf)
		chunk := buf[:n]
		for len(chunk) > 0 {
			// the data up to the next zero block, then the zero blocks
			data := 0
			for data < len(chunk) && !isZeroBlock(chunk[data:]) {
				data += min(sparseAlign, len(chunk)-data)
			}
			if err := pwriteAll(fd, chunk[:data], off); err != nil {
				return off, err
			}
			off += int64(data)
			if data > 0 {
				size = off
			}
			chunk = chunk[data:]
			for len(chunk) > 0 && isZeroBlock(chunk) {
				chunk = chunk[sparseAlign:]
				off += sparseAlign
			}
		}
		if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			if size < off {
				if err := unix.Ftruncate(fd, off); err != nil {
					return off, fmt.Errorf("truncate: %w", err)
				}
			}
			return off, nil
		}
		if rerr != nil {
			return off, rerr
		}
	}
}

// isZeroBlock reports whether b starts with a whole block of zeros.
func isZeroBlock(b []byte) bool {
	return len(b) >= sparseAlign && bytes.Equal(b[:sparseAlign], zeros)
}

func pwriteAll(fd int, b []byte, off int64) error {
	for len(b) > 0 {
		m, err := unix.Pwrite(fd, b, off)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("write: %w", err)
		}
		b, off = b[m:], off+int64(m)
	}
	return nil
}

func (x *extractor) hardlink(parentRel, rel, base string, hdr *tar.Header) error {
	target, err := cleanEntryName(hdr.Linkname)
	if err != nil {
		return fmt.Errorf("hardlink target %q: %w", hdr.Linkname, err)
	}
	if target == "." {
		return fmt.Errorf("hardlink target %q is the root", hdr.Linkname)
	}
	if target == rel {
		return fmt.Errorf("hardlink to itself")
	}
	tdirRel, tbase := splitRel(target)
	tdir, err := x.dirFd(tdirRel, false)
	if err != nil {
		if errors.Is(err, ErrPathEscapes) {
			return fmt.Errorf("hardlink target %q: %w", hdr.Linkname, err)
		}
		return fmt.Errorf("hardlink target %q: not in the archive", hdr.Linkname)
	}
	var st unix.Stat_t
	if err := unix.Fstatat(tdir, tbase, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("hardlink target %q: not in the archive", hdr.Linkname)
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		return fmt.Errorf("hardlink target %q is a directory", hdr.Linkname)
	}
	parent, err := x.dirFd(parentRel, true)
	if err != nil {
		return err
	}
	if err := x.clear(parent, rel, base, false); err != nil {
		return err
	}
	// clear may have closed cached fds below rel: resolve both again.
	if tdir, err = x.dirFd(tdirRel, false); err != nil {
		return fmt.Errorf("hardlink target %q: not in the archive", hdr.Linkname)
	}
	if parent, err = x.dirFd(parentRel, true); err != nil {
		return err
	}
	if err := unix.Linkat(tdir, tbase, parent, base, 0); err != nil {
		if err == unix.ENOENT {
			return fmt.Errorf("hardlink target %q: not in the archive", hdr.Linkname)
		}
		return fmt.Errorf("hardlink to %q: %w", hdr.Linkname, err)
	}
	x.stats.Files++
	return nil
}

// setMeta applies owner, mode and xattrs of hdr to parent/base; fd, when not
// -1, is an open fd of that file and is used instead of the name.
func (x *extractor) setMeta(parent, fd int, base string, hdr *tar.Header, symlink bool) error {
	uid, gid := hdr.Uid, hdr.Gid
	if x.opt.NoSameOwner {
		uid, gid = -1, -1
	}
	if x.opt.UID != nil {
		uid = *x.opt.UID
	}
	if x.opt.GID != nil {
		gid = *x.opt.GID
	}
	if uid != -1 || gid != -1 {
		var err error
		if fd >= 0 {
			err = unix.Fchown(fd, uid, gid)
		} else {
			err = unix.Fchownat(parent, base, uid, gid, unix.AT_SYMLINK_NOFOLLOW)
		}
		if err != nil {
			return fmt.Errorf("chown %d:%d: %w", uid, gid, rootless.OwnerError(err, uid, gid))
		}
	}
	// after chown, which clears setuid/setgid
	if !symlink {
		mode := uint32(hdr.Mode) & 0o7777
		var err error
		if fd >= 0 {
			err = unix.Fchmod(fd, mode)
		} else {
			// parent/base was just created by us and is no symlink
			err = unix.Fchmodat(parent, base, mode, 0)
		}
		if err != nil {
			return fmt.Errorf("chmod %#o: %w", mode, err)
		}
	}
	// after chown and the content, which both clear security.capability
	for k, v := range hdr.PAXRecords {
		name, ok := strings.CutPrefix(k, paxXattrPrefix)
		if !ok || name == "" || isOverlayXattr(name) {
			continue
		}
		var err error
		if fd >= 0 {
			err = unix.Fsetxattr(fd, name, []byte(v), 0)
		} else {
			// the l-variant on the parent's /proc fd: never follows base
			err = unix.Lsetxattr("/proc/self/fd/"+strconv.Itoa(parent)+"/"+base, name, []byte(v), 0)
		}
		if err != nil {
			if symlink && (err == unix.EPERM || err == unix.ENOTSUP) {
				continue // user.* cannot be set on symlinks
			}
			return fmt.Errorf("setting xattr %s: %w", name, err)
		}
	}
	return nil
}

func isOverlayXattr(name string) bool {
	return strings.HasPrefix(name, ovlTrustedPrefix) || strings.HasPrefix(name, ovlUserPrefix)
}

func atimeOf(hdr *tar.Header) time.Time {
	if !hdr.AccessTime.IsZero() {
		return hdr.AccessTime
	}
	return hdr.ModTime
}

func (x *extractor) setTimes(parent int, base string, hdr *tar.Header) error {
	return utimesAt(parent, base, atimeOf(hdr), hdr.ModTime)
}

func utimesAt(parent int, base string, atime, mtime time.Time) error {
	ts := []unix.Timespec{timespec(atime), timespec(mtime)}
	if err := unix.UtimesNanoAt(parent, base, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("setting times: %w", err)
	}
	return nil
}

func timespec(t time.Time) unix.Timespec {
	if t.IsZero() {
		return unix.Timespec{Sec: 0, Nsec: 0}
	}
	return unix.NsecToTimespec(t.UnixNano())
}

// setDirTimes sets the directories' times once their content is written,
// deepest last-written first.
func (x *extractor) setDirTimes() error {
	for i := len(x.times) - 1; i >= 0; i-- {
		t := x.times[i]
		parentRel, base := splitRel(t.rel)
		if t.rel == "." {
			parentRel, base = ".", "."
		}
		parent, err := x.dirFd(parentRel, false)
		if err != nil {
			continue // replaced by a later entry
		}
		var st unix.Stat_t
		if unix.Fstatat(parent, base, &st, unix.AT_SYMLINK_NOFOLLOW) != nil || st.Mode&unix.S_IFMT != unix.S_IFDIR {
			continue
		}
		if err := utimesAt(parent, base, t.atime, t.mtime); err != nil {
			return &entryError{x.what, t.rel, err}
		}
	}
	return nil
}
