package layers

import (
	"archive/tar"
	"bufio"
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// DiffOptions tunes Diff.
type DiffOptions struct {
	// Exclude reports paths (absolute in the image, e.g. "/etc/hosts")
	// that must never be captured. An excluded directory is skipped whole.
	Exclude func(path string) bool
	// LinkedOutside reports a regular file's inode whose other links are
	// all outside the upper dir (an incremental COPY's file hard-linked
	// from the stored layer it was copied into before): such an inode is
	// not remembered for a later link in the tree, which never comes; a
	// million of them would be a million entries held. nil: every inode
	// with more than one link is remembered.
	LinkedOutside func(ino uint64) bool
}

// Diff reads the change recorded in an overlay upper dir (or a staging dir
// laid out the same way: plain entries are added or modified, a 0/0 char
// device is a deletion, a directory with trusted.overlay.opaque=y replaces
// the lower one) relative to the read-only lower dirs, top first like
// overlay's lowerdir=, writes it to w as an uncompressed OCI layer tar and
// returns the change list.
//
// Only the upper dir is walked; the lowers are stat'ed for the paths the
// upper dir holds and nothing else. The tar is in PAX format, sorted with
// parents first, with OCI whiteouts (".wh.NAME", ".wh..wh..opq"), hardlinks
// within the layer as link entries, owners, modes, mtimes (to the second,
// like Docker), symlinks, fifos, device nodes and xattrs (but overlayfs' own
// and security.selinux). Sockets are skipped. A directory that is in the
// upper dir only because something below it changed is reported Modified,
// as docker diff does.
func Diff(upper string, lowers []string, w io.Writer, opt DiffOptions) ([]Change, error) {
	var changes []Change
	err := DiffTo(upper, lowers, w, opt, func(c *Change) error {
		changes = append(changes, *c)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return changes, nil
}

// DiffTo is Diff giving each change to emit as it is written, in the
// list's order, instead of keeping the list: a layer of a million files
// is diffed without its change list in memory (DiffLayer streams it to
// changes.json). c is only valid during the call.
func DiffTo(upper string, lowers []string, w io.Writer, opt DiffOptions, emit func(c *Change) error) error {
	root, err := unix.Open(upper, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("diff: open upper dir: %w", err)
	}
	defer unix.Close(root)
	bw := bufio.NewWriterSize(w, 1<<20)
	d := &differ{
		upper:  upper,
		lowers: lowers,
		opt:    opt,
		tw:     tar.NewWriter(bw),
		bw:     bw,
		buf:    make([]byte, 512<<10),
		dents:  make([]byte, 32<<10),
		xbuf:   make([]byte, 4096),
		vbuf:   make([]byte, 4096),
		emit:   emit,
	}
	// Every lower's root is a directory; the first opaque one hides the
	// layers below it.
	var vis []int
	for i, l := range lowers {
		var st unix.Stat_t
		if err := unix.Stat(l, &st); err != nil {
			return fmt.Errorf("diff: lower dir: %w", err)
		}
		vis = append(vis, i)
		if d.lowerOpaque(l) {
			break
		}
	}
	if err := d.walk(root, "", vis); err != nil {
		return err
	}
	if err := d.tw.Close(); err != nil {
		return fmt.Errorf("diff: writing tar: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("diff: writing tar: %w", err)
	}
	return nil
}

type devIno struct{ dev, ino uint64 }

type differ struct {
	upper  string
	lowers []string
	opt    DiffOptions
	tw     *tar.Writer
	bw     *bufio.Writer       // under tw: sparse entries are written to it directly
	emit   func(*Change) error // each change, as written
	links  map[devIno]string   // first tar name of an inode with nlink > 1
	buf    []byte              // file content
	dents  []byte              // getdents
	xbuf   []byte              // xattr names
	vbuf   []byte              // xattr values
	hdr    tar.Header
}

// upperEntry is what the walk learned about one path of the upper dir.
type upperEntry struct {
	rel    string // "etc/passwd"
	st     unix.Stat_t
	xattrs map[string]string // PAX records, nil when none
	opaque bool
}

// walk writes the entries of the upper directory dirfd (at rel, "" for the
// root) whose lower counterparts are in the lowers vis (indices, top first).
func (d *differ) walk(dirfd int, rel string, vis []int) error {
	names, err := readDirNames(dirfd, d.dents, nil)
	if err != nil {
		return fmt.Errorf("diff: reading %s: %w", d.upperPath(rel), err)
	}
	slices.Sort(names)
	// fuse-overlayfs' forms (its upper dir where it cannot mknod a 0/0
	// device, and its opaque markers): ".wh.NAME" deletes NAME as a 0/0
	// device does; ".wh..wh..opq" and ".wh..opq" are the directory's
	// opaque marker, said by its xattr too (readXattrs).
	var fuseWhiteouts map[string]bool
	for _, name := range names {
		if w, ok := strings.CutPrefix(name, whiteoutPrefix); ok && w != "" && name != whiteoutOpaque && name != fuseOpaqueDev {
			if fuseWhiteouts == nil {
				fuseWhiteouts = map[string]bool{}
			}
			fuseWhiteouts[w] = true
		}
	}
	for w := range fuseWhiteouts {
		if !slices.Contains(names, w) {
			names = append(names, w) // the whiteout's own entry, visited in order
		}
	}
	if fuseWhiteouts != nil {
		slices.Sort(names)
	}
	for _, name := range names {
		if strings.HasPrefix(name, whiteoutPrefix) {
			continue // fuse-overlayfs' markers, read above
		}
		var e upperEntry
		if rel == "" {
			e.rel = name
		} else {
			e.rel = rel + "/" + name
		}
		if d.opt.Exclude != nil && d.opt.Exclude("/"+e.rel) {
			continue
		}
		if fuseWhiteouts[name] {
			// fuse-overlayfs' ".wh.NAME": the deletion of NAME (NAME itself,
			// if there too, was made again over it: it decides).
			err := unix.Fstatat(dirfd, name, &e.st, unix.AT_SYMLINK_NOFOLLOW)
			if err == unix.ENOENT {
				e.st = unix.Stat_t{Mode: unix.S_IFCHR}
				if err = unix.Fstatat(dirfd, whiteoutPrefix+name, &e.st, unix.AT_SYMLINK_NOFOLLOW); err == nil {
					e.st.Mode, e.st.Rdev = unix.S_IFCHR, 0
				}
			}
			if err != nil {
				return fmt.Errorf("diff: %w", &fs.PathError{Op: "lstat", Path: d.upperPath(e.rel), Err: err})
			}
		} else if err := unix.Fstatat(dirfd, name, &e.st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return fmt.Errorf("diff: %w", &fs.PathError{Op: "lstat", Path: d.upperPath(e.rel), Err: err})
		}
		if err := d.entry(dirfd, name, &e, vis); err != nil {
			return err
		}
	}
	return nil
}

func (d *differ) upperPath(rel string) string {
	if rel == "" {
		return d.upper
	}
	return d.upper + "/" + rel
}

// fuse-overlayfs' own xattrs (user.fuseoverlayfs.opaque in a user
// namespace, origin, override_stat) and the 0/0 device it puts next to
// ".wh..wh..opq" in an opaque directory: never content.
const (
	fuseOvlUserPrefix     = "user.fuseoverlayfs."
	fuseOvlSecurityPrefix = "security.fuseoverlayfs."
	fuseOpaqueDev         = ".wh..opq"
)

func isWhiteoutDev(st *unix.Stat_t) bool {
	return st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == 0
}

func (d *differ) entry(dirfd int, name string, e *upperEntry, vis []int) error {
	ft := e.st.Mode & unix.S_IFMT
	if ft == unix.S_IFSOCK {
		return nil // tar has no sockets
	}
	isDir := ft == unix.S_IFDIR
	lower, childVis, err := d.lookup(vis, e.rel, isDir)
	if err != nil {
		return err
	}

	if isWhiteoutDev(&e.st) {
		if !lower.found {
			return nil // hides nothing
		}
		dir, base := splitRel(e.rel)
		wname := whiteoutPrefix + base
		if dir != "." {
			wname = dir + "/" + wname
		}
		if err := d.writeMarker(wname, &e.st); err != nil {
			return err
		}
		return d.emit(&Change{Path: "/" + e.rel, Kind: Deleted, Type: fileType(lower.st.Mode)})
	}

	kind := Added
	if lower.found {
		kind = Modified
	}
	switch ft {
	case unix.S_IFDIR:
		fd, err := unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("diff: %w", &fs.PathError{Op: "open", Path: d.upperPath(e.rel), Err: err})
		}
		defer unix.Close(fd)
		if err := d.readXattrs(fd, "", e); err != nil {
			return err
		}
		var wst unix.Stat_t
		if !e.opaque && unix.Fstatat(fd, whiteoutOpaque, &wst, unix.AT_SYMLINK_NOFOLLOW) == nil {
			e.opaque = true // fuse-overlayfs' marker where it cannot set xattrs
		}
		// Opaque only matters over a lower directory.
		opaque := e.opaque && lower.found && lower.st.Mode&unix.S_IFMT == unix.S_IFDIR
		if e.opaque {
			childVis = nil
		}
		if err := d.writeHeader(e, tar.TypeDir, e.rel+"/", ""); err != nil {
			return err
		}
		c := d.change(e, kind, TypeDir, "")
		c.Opaque = opaque
		if err := d.emit(&c); err != nil {
			return err
		}
		if opaque {
			if err := d.writeMarker(e.rel+"/"+whiteoutOpaque, &e.st); err != nil {
				return err
			}
		}
		return d.walk(fd, e.rel, childVis)

	case unix.S_IFREG:
		if e.st.Nlink > 1 {
			if first, ok := d.links[devIno{uint64(e.st.Dev), uint64(e.st.Ino)}]; ok {
				if err := d.writeHeader(e, tar.TypeLink, e.rel, first); err != nil {
					return err
				}
				c := d.change(e, kind, TypeHardlink, "/"+first)
				return d.emit(&c)
			}
		}
		fd, err := unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("diff: %w", &fs.PathError{Op: "open", Path: d.upperPath(e.rel), Err: err})
		}
		err = d.regular(fd, e)
		unix.Close(fd)
		if err != nil {
			return err
		}
		d.rememberLink(e)
		c := d.change(e, kind, TypeRegular, "")
		return d.emit(&c)

	case unix.S_IFLNK, unix.S_IFIFO, unix.S_IFCHR, unix.S_IFBLK:
		if e.st.Nlink > 1 {
			if first, ok := d.links[devIno{uint64(e.st.Dev), uint64(e.st.Ino)}]; ok {
				if err := d.writeHeader(e, tar.TypeLink, e.rel, first); err != nil {
					return err
				}
				c := d.change(e, kind, TypeHardlink, "/"+first)
				return d.emit(&c)
			}
		}
		// By the directory's descriptor, as the walk reached it: the upper
		// dir's path string is never resolved again.
		if err := d.readXattrs(-1, "/proc/self/fd/"+strconv.Itoa(dirfd)+"/"+name, e); err != nil {
			return err
		}
		var typ byte
		var ct FileType
		var target string
		switch ft {
		case unix.S_IFLNK:
			typ, ct = tar.TypeSymlink, TypeSymlink
			target, err = readlinkAt(dirfd, name, d.buf)
			if err != nil {
				return fmt.Errorf("diff: %w", &fs.PathError{Op: "readlink", Path: d.upperPath(e.rel), Err: err})
			}
		case unix.S_IFIFO:
			typ, ct = tar.TypeFifo, TypeFIFO
		case unix.S_IFCHR:
			typ, ct = tar.TypeChar, TypeChar
		default:
			typ, ct = tar.TypeBlock, TypeBlock
		}
		if err := d.writeHeader(e, typ, e.rel, target); err != nil {
			return err
		}
		d.rememberLink(e)
		c := d.change(e, kind, ct, target)
		return d.emit(&c)
	}
	return nil
}

func (d *differ) rememberLink(e *upperEntry) {
	if e.st.Nlink > 1 && (d.opt.LinkedOutside == nil || !d.opt.LinkedOutside(uint64(e.st.Ino))) {
		if d.links == nil {
			d.links = make(map[devIno]string)
		}
		d.links[devIno{uint64(e.st.Dev), uint64(e.st.Ino)}] = e.rel
	}
}

func readlinkAt(dirfd int, name string, buf []byte) (string, error) {
	for {
		n, err := unix.Readlinkat(dirfd, name, buf)
		if err != nil {
			return "", err
		}
		if n < len(buf) {
			return string(buf[:n]), nil
		}
		buf = make([]byte, 2*len(buf))
	}
}

// regular writes the header and content of a regular file; a file with
// holes as a sparse entry (sparse.go).
func (d *differ) regular(fd int, e *upperEntry) error {
	if err := d.readXattrs(fd, "", e); err != nil {
		return err
	}
	segs, err := dataSegments(fd, e.st.Size)
	if err != nil {
		return fmt.Errorf("diff: %w", &fs.PathError{Op: "seek", Path: d.upperPath(e.rel), Err: err})
	}
	if segs != nil {
		return d.sparseRegular(fd, e, segs)
	}
	if err := d.writeHeader(e, tar.TypeReg, e.rel, ""); err != nil {
		return err
	}
	remaining := e.st.Size
	for remaining > 0 {
		b := d.buf
		if int64(len(b)) > remaining {
			b = b[:remaining]
		}
		n, err := unix.Read(fd, b)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("diff: %w", &fs.PathError{Op: "read", Path: d.upperPath(e.rel), Err: err})
		}
		if n == 0 {
			return fmt.Errorf("diff: %s: file shrank while it was read", d.upperPath(e.rel))
		}
		if _, err := d.tw.Write(b[:n]); err != nil {
			return fmt.Errorf("diff: writing tar: %w", err)
		}
		remaining -= int64(n)
	}
	return nil
}

// writeHeader writes the tar header of e.
func (d *differ) writeHeader(e *upperEntry, typ byte, name, link string) error {
	h := &d.hdr
	*h = tar.Header{
		Typeflag:   typ,
		Name:       name,
		Linkname:   link,
		Mode:       int64(e.st.Mode & 0o7777),
		Uid:        int(e.st.Uid),
		Gid:        int(e.st.Gid),
		ModTime:    time.Unix(int64(e.st.Mtim.Sec), 0),
		PAXRecords: e.xattrs,
		Format:     tar.FormatPAX,
	}
	switch typ {
	case tar.TypeReg:
		h.Size = e.st.Size
	case tar.TypeChar, tar.TypeBlock:
		h.Devmajor = int64(unix.Major(e.st.Rdev))
		h.Devminor = int64(unix.Minor(e.st.Rdev))
	case tar.TypeLink:
		h.PAXRecords = nil
	}
	if err := d.tw.WriteHeader(h); err != nil {
		return fmt.Errorf("diff: writing tar header for %s: %w", name, err)
	}
	return nil
}

// writeMarker writes an OCI whiteout file.
func (d *differ) writeMarker(name string, st *unix.Stat_t) error {
	h := &d.hdr
	*h = tar.Header{
		Typeflag: tar.TypeReg,
		Name:     name,
		ModTime:  time.Unix(int64(st.Mtim.Sec), 0),
		Format:   tar.FormatPAX,
	}
	if err := d.tw.WriteHeader(h); err != nil {
		return fmt.Errorf("diff: writing tar header for %s: %w", name, err)
	}
	return nil
}

func (d *differ) change(e *upperEntry, kind ChangeKind, t FileType, link string) Change {
	c := Change{
		Path:     "/" + e.rel,
		Kind:     kind,
		Type:     t,
		Mode:     fileMode(e.st.Mode),
		UID:      int(e.st.Uid),
		GID:      int(e.st.Gid),
		Linkname: link,
		ModTime:  time.Unix(int64(e.st.Mtim.Sec), int64(e.st.Mtim.Nsec)),
	}
	if t == TypeRegular || t == TypeHardlink || t == TypeSymlink {
		c.Size = e.st.Size
	}
	return c
}

// readXattrs reads the xattrs of e (through fd, or path when fd is -1)
// into PAX records, noting overlayfs' opaque marker and refusing its
// redirect and metacopy features, whose content lives in the lowers.
func (d *differ) readXattrs(fd int, path string, e *upperEntry) error {
	var n int
	var err error
	for {
		if fd >= 0 {
			n, err = unix.Flistxattr(fd, d.xbuf)
		} else {
			n, err = unix.Llistxattr(path, d.xbuf)
		}
		if err == unix.ERANGE {
			d.xbuf = make([]byte, 2*len(d.xbuf))
			continue
		}
		break
	}
	if err == unix.ENOTSUP || n == 0 {
		return nil
	}
	if err != nil {
		return fmt.Errorf("diff: listing xattrs of %s: %w", d.upperPath(e.rel), err)
	}
	for names := d.xbuf[:n]; len(names) > 0; {
		i := bytes.IndexByte(names, 0)
		if i < 0 {
			i = len(names)
		}
		name := string(names[:i])
		names = names[min(i+1, len(names)):]
		if name == "" || name == "security.selinux" {
			continue
		}
		val, err := d.getXattr(fd, path, name)
		if err == unix.ENODATA {
			continue
		}
		if err != nil {
			return fmt.Errorf("diff: reading xattr %s of %s: %w", name, d.upperPath(e.rel), err)
		}
		if isOverlayXattr(name) || strings.HasPrefix(name, fuseOvlUserPrefix) || strings.HasPrefix(name, fuseOvlSecurityPrefix) {
			key := strings.TrimPrefix(strings.TrimPrefix(name, ovlTrustedPrefix), ovlUserPrefix)
			key = strings.TrimPrefix(strings.TrimPrefix(key, fuseOvlUserPrefix), fuseOvlSecurityPrefix)
			switch key {
			case "opaque":
				e.opaque = val == "y"
			case "redirect":
				return fmt.Errorf("diff: %s: overlayfs redirect_dir is in use, which is not supported", d.upperPath(e.rel))
			case "metacopy":
				return fmt.Errorf("diff: %s: overlayfs metacopy is in use, which is not supported", d.upperPath(e.rel))
			}
			continue
		}
		if e.xattrs == nil {
			e.xattrs = make(map[string]string, 1)
		}
		e.xattrs[paxXattrPrefix+name] = val
	}
	return nil
}

func (d *differ) getXattr(fd int, path, name string) (string, error) {
	for {
		var n int
		var err error
		if fd >= 0 {
			n, err = unix.Fgetxattr(fd, name, d.vbuf)
		} else {
			n, err = unix.Lgetxattr(path, name, d.vbuf)
		}
		if err == unix.ERANGE {
			d.vbuf = make([]byte, 2*len(d.vbuf))
			continue
		}
		if err != nil {
			return "", err
		}
		return string(d.vbuf[:n]), nil
	}
}

// lowerEntry is what the lowers hold at a path: the topmost visible entry.
type lowerEntry struct {
	found bool
	st    unix.Stat_t
}

// lookup finds rel in the lowers vis the way overlayfs does: the topmost
// layer that has it decides (a whiteout there means it is not there). For a
// directory it also returns the layers whose rel is a directory merged into
// it (top first, down to the first opaque one), where its children are to
// be looked up.
func (d *differ) lookup(vis []int, rel string, wantDirs bool) (lowerEntry, []int, error) {
	var le lowerEntry
	var dirs []int
	for _, li := range vis {
		var st unix.Stat_t
		p := d.lowers[li] + "/" + rel
		err := unix.Lstat(p, &st)
		if err == unix.ENOENT || err == unix.ENOTDIR {
			continue
		}
		if err != nil {
			return le, nil, fmt.Errorf("diff: %w", &fs.PathError{Op: "lstat", Path: p, Err: err})
		}
		if !le.found {
			if isWhiteoutDev(&st) {
				return le, nil, nil
			}
			le.found, le.st = true, st
		}
		if st.Mode&unix.S_IFMT != unix.S_IFDIR || !wantDirs {
			break // a non-directory hides the layers below
		}
		dirs = append(dirs, li)
		if d.lowerOpaque(p) {
			break
		}
	}
	if le.found && le.st.Mode&unix.S_IFMT != unix.S_IFDIR {
		dirs = nil
	}
	return le, dirs, nil
}

func (d *differ) lowerOpaque(path string) bool {
	var b [1]byte
	for _, name := range []string{ovlOpaqueXattr, ovlUserPrefix + "opaque"} {
		if n, err := unix.Lgetxattr(path, name, b[:]); err == nil && n == 1 && b[0] == 'y' {
			return true
		}
	}
	return false
}

// fileType maps a stat mode to a FileType.
func fileType(mode uint32) FileType {
	switch mode & unix.S_IFMT {
	case unix.S_IFREG:
		return TypeRegular
	case unix.S_IFDIR:
		return TypeDir
	case unix.S_IFLNK:
		return TypeSymlink
	case unix.S_IFIFO:
		return TypeFIFO
	case unix.S_IFCHR:
		return TypeChar
	case unix.S_IFBLK:
		return TypeBlock
	case unix.S_IFSOCK:
		return TypeSocket
	}
	return 0
}

// fileMode maps a stat mode to an fs.FileMode.
func fileMode(mode uint32) fs.FileMode {
	m := fs.FileMode(mode & 0o777)
	switch mode & unix.S_IFMT {
	case unix.S_IFDIR:
		m |= fs.ModeDir
	case unix.S_IFLNK:
		m |= fs.ModeSymlink
	case unix.S_IFIFO:
		m |= fs.ModeNamedPipe
	case unix.S_IFCHR:
		m |= fs.ModeDevice | fs.ModeCharDevice
	case unix.S_IFBLK:
		m |= fs.ModeDevice
	case unix.S_IFSOCK:
		m |= fs.ModeSocket
	}
	if mode&unix.S_ISUID != 0 {
		m |= fs.ModeSetuid
	}
	if mode&unix.S_ISGID != 0 {
		m |= fs.ModeSetgid
	}
	if mode&unix.S_ISVTX != 0 {
		m |= fs.ModeSticky
	}
	return m
}
