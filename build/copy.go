package build

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/patternmatcher"
	"golang.org/x/sys/unix"

	"github.com/strata-build/strata/layers"
)

// stager builds a layer without a container: an upper-dir-shaped scratch
// tree over the stage's view. Parent directories that exist in the image
// are copied up with their metadata, as overlayfs would.
type stager struct {
	view *layers.View
	dir  string // the scratch tree (becomes the layer's fs)
	link bool   // COPY --link: do not look at the image
}

func (s *stager) host(p string) string { return filepath.Join(s.dir, p) }

// resolveDest follows the image's symlinks in p's parents (and in p when
// follow), so COPY into /bin on a usr-merged image lands in /usr/bin.
func (s *stager) resolveDest(p string, follow bool) (string, error) {
	if s.link {
		return path.Clean("/" + p), nil
	}
	return s.view.Resolve(p, follow)
}

// mkdirAll makes dir p (already resolved) and its parents in the scratch
// tree. Existing image dirs are copied up; new ones get mode and owner.
func (s *stager) mkdirAll(p string, mode fs.FileMode, uid, gid int, chownNew bool) error {
	p = path.Clean("/" + p)
	if p == "/" {
		return nil
	}
	if err := s.mkdirAll(path.Dir(p), 0o755, uid, gid, chownNew); err != nil {
		return err
	}
	h := s.host(p)
	if fi, err := os.Lstat(h); err == nil {
		if !fi.IsDir() {
			return fmt.Errorf("cannot create directory %s: a file of that name is in the way", p)
		}
		return nil
	}
	if !s.link {
		if e, err := s.view.Lstat(p); err == nil {
			if !e.Info.IsDir() {
				if e.Info.Mode()&fs.ModeSymlink != 0 {
					return fmt.Errorf("cannot create directory %s: it is a symlink in the image", p)
				}
				return fmt.Errorf("cannot create directory %s: the image has a file there (%s)", p, e.Info.Mode().Type())
			}
			st := e.Info.Sys().(*syscall.Stat_t)
			if err := os.Mkdir(h, 0o700); err != nil {
				return err
			}
			if err := os.Lchown(h, int(st.Uid), int(st.Gid)); err != nil {
				return err
			}
			if err := os.Chmod(h, e.Info.Mode()&(fs.ModePerm|fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky)); err != nil {
				return err
			}
			copyXattrs(e.Host, h)
			return nil
		}
	}
	if err := os.Mkdir(h, 0o700); err != nil {
		return err
	}
	if chownNew {
		if err := os.Lchown(h, uid, gid); err != nil {
			return err
		}
	} else if err := os.Lchown(h, 0, 0); err != nil {
		return err
	}
	return os.Chmod(h, mode)
}

func copyXattrs(from, to string) {
	sz, err := unix.Llistxattr(from, nil)
	if err != nil || sz <= 0 {
		return
	}
	buf := make([]byte, sz)
	sz, err = unix.Llistxattr(from, buf)
	if err != nil {
		return
	}
	for _, name := range strings.Split(strings.TrimRight(string(buf[:sz]), "\x00"), "\x00") {
		if name == "" || strings.HasPrefix(name, "trusted.overlay.") {
			continue
		}
		vs, err := unix.Lgetxattr(from, name, nil)
		if err != nil {
			continue
		}
		val := make([]byte, vs)
		vs, err = unix.Lgetxattr(from, name, val)
		if err == nil {
			unix.Lsetxattr(to, name, val[:vs], 0)
		}
	}
}

// makeLayer builds a layer in scratch with fn, then writes its tar and
// change list in one pass (layers.Diff).
func (e *Executor) makeLayer(view *layers.View, fn func(*stager) error) (*layers.PendingLayer, error) {
	return e.makeLayerLink(view, false, fn)
}

func (e *Executor) makeLayerLink(view *layers.View, link bool, fn func(*stager) error) (*layers.PendingLayer, error) {
	tmp, err := e.Store.TempDir("step-")
	if err != nil {
		return nil, err
	}
	fsDir := filepath.Join(tmp, "fs")
	if err := os.Mkdir(fsDir, 0o755); err != nil {
		layers.RemoveAll(tmp)
		return nil, err
	}
	s := &stager{view: view, dir: fsDir, link: link}
	if err := fn(s); err != nil {
		layers.RemoveAll(tmp)
		return nil, err
	}
	lowers := view.Lowers
	if link {
		lowers = nil
	}
	pl, err := e.diffToLayer(fsDir, lowers, tmp, layers.DiffOptions{})
	if err != nil {
		layers.RemoveAll(tmp)
		return nil, err
	}
	pl.FS = fsDir
	return pl, nil
}

// diffToLayer writes upper's change as a tar in dir and hashes it.
func (e *Executor) diffToLayer(upper string, lowers []string, dir string, opt layers.DiffOptions) (*layers.PendingLayer, error) {
	tf, err := os.Create(filepath.Join(dir, "layer.tar"))
	if err != nil {
		return nil, err
	}
	h := sha256.New()
	cw := &countWriter{w: io.MultiWriter(tf, h)}
	changes, err := layers.Diff(upper, lowers, cw, opt)
	if cerr := tf.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tf.Name())
		return nil, err
	}
	if changes == nil {
		changes = []layers.Change{}
	}
	return &layers.PendingLayer{
		Tar:     tf.Name(),
		DiffID:  v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))},
		Size:    cw.n,
		Changes: changes,
	}, nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// copySpec is a COPY or ADD after expansion.
type copySpec struct {
	cmd      string // COPY | ADD
	sources  []string
	contents []instructions.SourceContent
	dest     string
	chown    string
	chmod    string
	link     bool
	parents  bool
	exclude  []string
	from     string
	add      bool // ADD: archives unpacked, URLs fetched
	checksum string
	unpack   *bool
}

func (e *Executor) copyCmd(ctx context.Context, st *stageState, step int, t0 time.Time, c *instructions.CopyCommand) error {
	sp := &copySpec{cmd: "COPY", sources: c.SourcePaths, contents: c.SourceContents, dest: c.DestPath, chown: c.Chown,
		chmod: c.Chmod, link: c.Link, parents: c.Parents, exclude: c.ExcludePatterns, from: c.From}
	return e.doCopy(ctx, st, step, t0, sp)
}

func (e *Executor) addCmd(ctx context.Context, st *stageState, step int, t0 time.Time, c *instructions.AddCommand) error {
	sp := &copySpec{cmd: "ADD", sources: c.SourcePaths, contents: c.SourceContents, dest: c.DestPath, chown: c.Chown,
		chmod: c.Chmod, link: c.Link, exclude: c.ExcludePatterns, add: true, checksum: c.Checksum, unpack: c.Unpack}
	return e.doCopy(ctx, st, step, t0, sp)
}

// historyText is BuildKit's created_by for COPY/ADD.
func (sp *copySpec) historyText() string {
	var b strings.Builder
	b.WriteString(sp.cmd)
	if sp.parents {
		b.WriteString(" --parents")
	}
	if sp.chown != "" {
		b.WriteString(" --chown=" + sp.chown)
	}
	if sp.chmod != "" {
		b.WriteString(" --chmod=" + sp.chmod)
	}
	// BuildKit's created_by names no --from (dispatchCopy in convert_copy.go).
	for _, s := range sp.sources {
		b.WriteString(" " + s)
	}
	for _, c := range sp.contents {
		b.WriteString(" <<" + c.Path)
	}
	b.WriteString(" " + sp.dest)
	b.WriteString(" # buildkit")
	return b.String()
}

// parseChmod accepts octal modes (as BuildKit's --chmod does).
func parseChmod(s string) (fs.FileMode, error) {
	n, err := strconv.ParseUint(s, 8, 32)
	if err != nil || n > 0o7777 {
		return 0, fmt.Errorf("--chmod=%s: want an octal mode such as 755 or 0644", s)
	}
	m := fs.FileMode(n & 0o777)
	if n&0o4000 != 0 {
		m |= fs.ModeSetuid
	}
	if n&0o2000 != 0 {
		m |= fs.ModeSetgid
	}
	if n&0o1000 != 0 {
		m |= fs.ModeSticky
	}
	return m, nil
}

// srcItem is one thing to copy: a file, dir, symlink, ... of a source.
type srcItem struct {
	rel  string // path below the copy root ("" for the root itself)
	info fs.FileInfo
	host string // where to read content / link target
}

// source is where COPY reads from: the context or an image/stage view.
type source interface {
	// match expands one source argument to paths (within the source).
	match(arg string) ([]string, error)
	// lstat finds a matched path; follow resolves a final symlink.
	stat(p string, follow bool) (fs.FileInfo, string, error)
	// walk lists everything below dir p (not p itself), parents first.
	walk(p string, fn func(rel string, info fs.FileInfo, host string) error) error
	// excluded reports whether a path is excluded (.dockerignore, --exclude).
	excluded(p string) bool
}

func (e *Executor) doCopy(ctx context.Context, st *stageState, step int, t0 time.Time, sp *copySpec) error {
	if len(sp.sources) == 0 && len(sp.contents) == 0 {
		return fmt.Errorf("%s needs at least one source and a destination: %s SRC... DEST", sp.cmd, sp.cmd)
	}
	if sp.link && sp.chown != "" && chownByName(sp.chown) {
		return fmt.Errorf("--chown=%s: user and group names can't be resolved when used with --link, use numeric uid[:gid] instead", sp.chown)
	}
	var chmod *fs.FileMode
	if sp.chmod != "" {
		m, err := parseChmod(sp.chmod)
		if err != nil {
			return err
		}
		chmod = &m
	}
	view := st.view(e.Store)
	uid, gid := -1, -1
	if sp.chown != "" {
		u, g, err := lookupChown(view, sp.chown)
		if err != nil {
			return err
		}
		uid, gid = u, g
	}
	var excl *patternmatcher.PatternMatcher
	if len(sp.exclude) > 0 {
		pm, err := patternmatcher.New(sp.exclude)
		if err != nil {
			return fmt.Errorf("--exclude: %w", err)
		}
		excl = pm
	}
	// Source.
	var src source
	fromContext := sp.from == ""
	if fromContext {
		cs, err := newContextSource(e.Opt.ContextDir, e.Plan.Ignore, excl)
		if err != nil {
			return err
		}
		src = cs
	} else {
		v, err := e.fromView(ctx, sp.from)
		if err != nil {
			return err
		}
		src = &viewSource{view: v, excl: excl}
	}
	// Destination: relative to WORKDIR.
	dest := sp.dest
	if !path.IsAbs(dest) {
		dest = path.Join("/", st.cfg.Config.WorkingDir, dest)
		if strings.HasSuffix(sp.dest, "/") || sp.dest == "." || strings.HasSuffix(sp.dest, "/.") {
			dest += "/"
		}
	}
	destDirSyntax := strings.HasSuffix(dest, "/") || strings.HasSuffix(sp.dest, "/.") || sp.dest == "."

	pl, err := e.makeLayerLink(view, sp.link, func(s *stager) error {
		// Expand the sources first: how many there are decides the dest rule.
		type matched struct {
			arg  string
			path string
			url  *url.URL
		}
		var all []matched
		for _, arg := range sp.sources {
			if sp.add && isURL(arg) {
				u, _ := url.Parse(arg)
				all = append(all, matched{arg: arg, url: u})
				continue
			}
			if sp.add && strings.HasPrefix(arg, "git@") {
				return fmt.Errorf("ADD %s: git sources are not supported by strata; clone in a RUN step or copy a checkout from the context", arg)
			}
			ps, err := src.match(arg)
			if err != nil {
				return err
			}
			for _, p := range ps {
				all = append(all, matched{arg: arg, path: p})
			}
		}
		multi := len(all)+len(sp.contents) > 1
		destIsDir := destDirSyntax
		rdest, err := s.resolveDest(strings.TrimSuffix(dest, "/"), true)
		if err != nil {
			return err
		}
		if !destIsDir && !sp.link {
			if e, err := s.view.Lstat(rdest); err == nil && e.Info.IsDir() {
				destIsDir = true
			}
		}
		if multi && !destIsDir {
			return fmt.Errorf("when copying more than one source (%d here), the destination must be a directory ending in /: write %s/", len(all)+len(sp.contents), sp.dest)
		}
		if sp.add && sp.checksum != "" && (len(all) != 1 || all[0].url == nil) {
			return errors.New("--checksum works only with a single http(s) URL source")
		}
		cp := &copier{s: s, uid: uid, gid: gid, chmod: chmod, keepOwner: !fromContext, ctx: ctx}
		if destIsDir {
			if err := s.mkdirAll(rdest, 0o755, uid, gid, uid >= 0); err != nil {
				return err
			}
		} else if err := s.mkdirAll(path.Dir(rdest), 0o755, uid, gid, uid >= 0); err != nil {
			return err
		}
		for _, c := range sp.contents {
			target := rdest
			if destIsDir {
				target = path.Join(rdest, c.Path)
			}
			if err := cp.writeFile(target, []byte(c.Data), 0o644); err != nil {
				return err
			}
		}
		for _, m := range all {
			if m.url != nil {
				if err := cp.fetchURL(m.url, rdest, destIsDir, sp.checksum); err != nil {
					return fmt.Errorf("ADD %s: %w", m.arg, err)
				}
				continue
			}
			info, host, err := src.stat(m.path, true)
			if err != nil {
				return err
			}
			base := rdest
			if sp.parents {
				rel := parentsRel(m.arg, m.path)
				base = path.Join(rdest, rel)
				if err := s.mkdirAll(path.Dir(base), 0o755, uid, gid, uid >= 0); err != nil {
					return err
				}
			}
			if info.IsDir() {
				target := base
				if sp.parents {
					if err := s.mkdirAll(target, 0o755, uid, gid, uid >= 0); err != nil {
						return err
					}
				}
				err := src.walk(m.path, func(rel string, fi fs.FileInfo, h string) error {
					return cp.copyItem(path.Join(target, rel), fi, h)
				})
				if err != nil {
					return err
				}
				continue
			}
			target := base
			if destIsDir && !sp.parents {
				target = path.Join(rdest, path.Base(m.path))
			}
			if sp.add && info.Mode().IsRegular() && (sp.unpack == nil || *sp.unpack) {
				ok, err := cp.tryUnpack(host, rdest, destIsDir)
				if err != nil {
					return fmt.Errorf("ADD %s: %w", m.arg, err)
				}
				if ok {
					continue
				}
			}
			if err := cp.copyItem(target, info, host); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return e.layerDone(st, step, t0, sp.historyText(), pl)
}

// parentsRel is the path COPY --parents keeps: below a "/./" pivot when
// the argument has one, else the whole source path.
func parentsRel(arg, matched string) string {
	if i := strings.Index(arg, "/./"); i >= 0 {
		prefix := path.Clean("/" + arg[:i])
		rel := strings.TrimPrefix(matched, prefix)
		return strings.TrimPrefix(rel, "/")
	}
	return strings.TrimPrefix(matched, "/")
}

func isURL(s string) bool {
	return strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://")
}

// copier writes items into the stager.
type copier struct {
	s         *stager
	uid, gid  int // -1: keep (from image) or 0 (from context)
	chmod     *fs.FileMode
	keepOwner bool
	ctx       context.Context
	buf       []byte
}

func (c *copier) owner(info fs.FileInfo) (int, int) {
	if c.uid >= 0 {
		return c.uid, c.gid
	}
	if c.keepOwner {
		if st, ok := info.Sys().(*syscall.Stat_t); ok {
			return int(st.Uid), int(st.Gid)
		}
	}
	return 0, 0
}

func (c *copier) mode(info fs.FileInfo) fs.FileMode {
	if c.chmod != nil {
		return *c.chmod
	}
	return info.Mode() & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)
}

// prepare makes room for target: existing scratch entries are replaced; a
// directory of the image where a file goes is an error (Docker: "cannot
// copy to non-directory" the other way round).
func (c *copier) prepare(target string, isDir bool) error {
	h := c.s.host(target)
	if fi, err := os.Lstat(h); err == nil {
		if fi.IsDir() && isDir {
			return nil
		}
		if fi.IsDir() {
			return fmt.Errorf("cannot copy a file to %s: it is a directory", target)
		}
		if isDir {
			return fmt.Errorf("cannot copy a directory to %s: a file is in the way", target)
		}
		return os.Remove(h)
	}
	if !c.s.link {
		if e, err := c.s.view.Lstat(target); err == nil {
			if e.Info.IsDir() && !isDir {
				return fmt.Errorf("cannot copy a file to %s: the image has a directory there", target)
			}
			if !e.Info.IsDir() && isDir {
				return fmt.Errorf("cannot copy a directory to %s: the image has a file there", target)
			}
		}
	}
	return nil
}

func (c *copier) copyItem(target string, info fs.FileInfo, host string) error {
	if err := c.ctx.Err(); err != nil {
		return err
	}
	if _, err := os.Lstat(c.s.host(path.Dir(target))); err != nil {
		if err := c.s.mkdirAll(path.Dir(target), 0o755, max(c.uid, 0), max(c.gid, 0), c.uid >= 0); err != nil {
			return err
		}
	}
	uid, gid := c.owner(info)
	h := c.s.host(target)
	switch {
	case info.IsDir():
		if err := c.prepare(target, true); err != nil {
			return err
		}
		if _, err := os.Lstat(h); err != nil {
			if !c.s.link {
				if e, err := c.s.view.Lstat(target); err == nil && e.Info.IsDir() {
					// exists in the image: copy it up, keep its metadata
					return c.s.mkdirAll(target, 0, 0, 0, false)
				}
			}
			if err := os.Mkdir(h, 0o700); err != nil {
				return err
			}
		}
		if err := os.Lchown(h, uid, gid); err != nil {
			return err
		}
		if err := os.Chmod(h, c.mode(info)); err != nil {
			return err
		}
		return os.Chtimes(h, info.ModTime(), info.ModTime())
	case info.Mode()&fs.ModeSymlink != 0:
		if err := c.prepare(target, false); err != nil {
			return err
		}
		link, err := os.Readlink(host)
		if err != nil {
			return err
		}
		if err := os.Symlink(link, h); err != nil {
			return err
		}
		if err := os.Lchown(h, uid, gid); err != nil {
			return err
		}
		t := unix.NsecToTimespec(info.ModTime().UnixNano())
		return unix.UtimesNanoAt(unix.AT_FDCWD, h, []unix.Timespec{t, t}, unix.AT_SYMLINK_NOFOLLOW)
	case info.Mode().IsRegular():
		if err := c.prepare(target, false); err != nil {
			return err
		}
		if err := c.copyFile(host, h, info.Size()); err != nil {
			return err
		}
		if err := os.Lchown(h, uid, gid); err != nil {
			return err
		}
		if err := os.Chmod(h, c.mode(info)); err != nil {
			return err
		}
		if c.keepOwner {
			copyXattrs(host, h)
		}
		return os.Chtimes(h, info.ModTime(), info.ModTime())
	case info.Mode()&fs.ModeNamedPipe != 0:
		if err := c.prepare(target, false); err != nil {
			return err
		}
		if err := unix.Mkfifo(h, uint32(info.Mode().Perm())); err != nil {
			return err
		}
		return os.Lchown(h, uid, gid)
	case info.Mode()&fs.ModeDevice != 0:
		st := info.Sys().(*syscall.Stat_t)
		if st.Rdev == 0 && info.Mode()&fs.ModeCharDevice != 0 {
			return nil // a whiteout never copies
		}
		if err := c.prepare(target, false); err != nil {
			return err
		}
		mode := uint32(unix.S_IFBLK)
		if info.Mode()&fs.ModeCharDevice != 0 {
			mode = unix.S_IFCHR
		}
		if err := unix.Mknod(h, mode|uint32(info.Mode().Perm()), int(st.Rdev)); err != nil {
			return err
		}
		return os.Lchown(h, uid, gid)
	default:
		return nil // sockets are not copied
	}
}

func (c *copier) copyFile(from, to string, size int64) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	// copy_file_range (reflinks where the filesystem has them) via io.Copy.
	_, err = io.Copy(out, in)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return err
}

func (c *copier) writeFile(target string, data []byte, mode fs.FileMode) error {
	if err := c.prepare(target, false); err != nil {
		return err
	}
	if err := c.s.mkdirAll(path.Dir(target), 0o755, max(c.uid, 0), max(c.gid, 0), c.uid >= 0); err != nil {
		return err
	}
	h := c.s.host(target)
	if err := os.WriteFile(h, data, 0o600); err != nil {
		return err
	}
	uid, gid := max(c.uid, 0), max(c.gid, 0)
	if err := os.Lchown(h, uid, gid); err != nil {
		return err
	}
	if c.chmod != nil {
		mode = *c.chmod
	}
	return os.Chmod(h, mode)
}

// tryUnpack extracts a local archive (tar, optionally gzip/bzip2/xz/zstd
// compressed) into the destination directory, as ADD does. It reports
// false when the file is not an archive (then it is copied as a file).
func (c *copier) tryUnpack(host, rdest string, destIsDir bool) (bool, error) {
	f, err := os.Open(host)
	if err != nil {
		return false, err
	}
	defer f.Close()
	if !isArchive(f) {
		return false, nil
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return false, err
	}
	dir := rdest
	if !destIsDir {
		// ADD archive.tar /dest (no slash): Docker unpacks into /dest.
	}
	if err := c.s.mkdirAll(dir, 0o755, max(c.uid, 0), max(c.gid, 0), c.uid >= 0); err != nil {
		return false, err
	}
	r, err := layers.DecompressedReader(f)
	if err != nil {
		return false, err
	}
	defer r.Close()
	opt := layers.ExtractOptions{}
	if c.uid >= 0 {
		u, g := c.uid, c.gid
		opt.UID, opt.GID = &u, &g
	}
	if _, err := layers.ExtractWith(r, c.s.host(dir), opt); err != nil {
		return false, err
	}
	return true, nil
}

// isArchive sniffs a tar (possibly compressed) by content, as Docker does.
func isArchive(f *os.File) bool {
	r, err := layers.DecompressedReader(f)
	if err != nil {
		return false
	}
	defer r.Close()
	hdr := make([]byte, 512)
	n, _ := io.ReadFull(r, hdr)
	if n < 512 {
		return false
	}
	return string(hdr[257:262]) == "ustar" || validTarChecksum(hdr)
}

func validTarChecksum(h []byte) bool {
	stored, err := strconv.ParseUint(strings.TrimRight(strings.TrimSpace(string(h[148:156])), "\x00"), 8, 64)
	if err != nil {
		return false
	}
	var sum uint64
	for i, b := range h {
		if i >= 148 && i < 156 {
			b = ' '
		}
		sum += uint64(b)
	}
	return sum == stored && h[0] != 0
}

// fetchURL downloads an ADD URL. Docker: the file gets mode 0600, mtime
// from Last-Modified, and its name from the URL path when dest is a dir.
func (c *copier) fetchURL(u *url.URL, rdest string, destIsDir bool, checksum string) error {
	req, err := http.NewRequestWithContext(c.ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	target := rdest
	if destIsDir {
		name := path.Base(u.Path)
		if name == "/" || name == "." || name == "" {
			return fmt.Errorf("cannot tell a file name from %s: give a destination file name", u)
		}
		target = path.Join(rdest, name)
	}
	if err := c.prepare(target, false); err != nil {
		return err
	}
	h := c.s.host(target)
	out, err := os.OpenFile(h, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	sum := sha256.New()
	_, err = io.Copy(io.MultiWriter(out, sum), resp.Body)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if checksum != "" {
		want := strings.TrimPrefix(checksum, "sha256:")
		got := hex.EncodeToString(sum.Sum(nil))
		if !strings.HasPrefix(checksum, "sha256:") {
			return fmt.Errorf("--checksum=%s: want sha256:<64 hex digits>", checksum)
		}
		if got != want {
			return fmt.Errorf("checksum mismatch: --checksum says sha256:%s, the download is sha256:%s", want, got)
		}
	}
	uid, gid := max(c.uid, 0), max(c.gid, 0)
	if err := os.Lchown(h, uid, gid); err != nil {
		return err
	}
	mode := fs.FileMode(0o600)
	if c.chmod != nil {
		mode = *c.chmod
	}
	if err := os.Chmod(h, mode); err != nil {
		return err
	}
	if lm, err := http.ParseTime(resp.Header.Get("Last-Modified")); err == nil {
		os.Chtimes(h, lm, lm)
	}
	return nil
}

// contextSource reads the build context, honouring .dockerignore and
// --exclude, and never leaving the context (.. or symlinks).
type contextSource struct {
	root string // absolute, symlinks resolved
	ign  *Ignore
	excl *patternmatcher.PatternMatcher
}

func newContextSource(dir string, ign *Ignore, excl *patternmatcher.PatternMatcher) (*contextSource, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return nil, fmt.Errorf("build context: %w", err)
	}
	return &contextSource{root: real, ign: ign, excl: excl}, nil
}

func (c *contextSource) excluded(p string) bool {
	rel := strings.TrimPrefix(path.Clean("/"+p), "/")
	if rel == "" {
		return false
	}
	if c.ign != nil && c.ign.Excluded(rel, false) {
		return true
	}
	if c.excl != nil {
		if m, _ := c.excl.MatchesOrParentMatches(rel); m {
			return true
		}
	}
	return false
}

func cleanSource(arg string) (string, error) {
	p := filepath.ToSlash(arg)
	rel := path.Clean(strings.TrimPrefix(p, "/"))
	if rel == ".." || strings.HasPrefix(rel, "../") {
		return "", fmt.Errorf("%s is outside the build context: sources are relative to the context directory; move the file into the context or pass a wider context", arg)
	}
	return "/" + strings.TrimPrefix(rel, "."), nil
}

func hasMeta(s string) bool { return strings.ContainsAny(s, "*?[") }

func (c *contextSource) match(arg string) ([]string, error) {
	p, err := cleanSource(strings.Replace(arg, "/./", "/", 1))
	if err != nil {
		return nil, err
	}
	if !hasMeta(p) {
		if _, _, err := c.stat(p, true); err != nil {
			return nil, err
		}
		if c.excluded(p) {
			return nil, fmt.Errorf("%s: not found: it is excluded by %s", arg, ignoreName(c.ign))
		}
		return []string{p}, nil
	}
	ms, err := globMatch(p, func(dir string) ([]string, error) {
		des, err := os.ReadDir(filepath.Join(c.root, dir))
		if err != nil {
			return nil, nil
		}
		var names []string
		for _, d := range des {
			if !c.excluded(path.Join(dir, d.Name())) {
				names = append(names, d.Name())
			}
		}
		return names, nil
	})
	if err != nil {
		return nil, err
	}
	// A literal component after a wildcard ("*/a") matches only where it
	// exists, as with filepath.Glob.
	out := ms[:0]
	for _, m := range ms {
		if _, err := os.Lstat(filepath.Join(c.root, m)); err == nil {
			out = append(out, m)
		}
	}
	return out, nil // no match is no error (BuildKit's AllowEmptyWildcard)
}

func ignoreName(ig *Ignore) string {
	if ig == nil || ig.File == "" {
		return "--exclude"
	}
	return filepath.Base(ig.File)
}

// globMatch expands a pattern component by component.
func globMatch(p string, list func(dir string) ([]string, error)) ([]string, error) {
	comps := strings.Split(strings.TrimPrefix(p, "/"), "/")
	cur := []string{"/"}
	for _, comp := range comps {
		var next []string
		for _, dir := range cur {
			if !hasMeta(comp) {
				next = append(next, path.Join(dir, comp))
				continue
			}
			names, err := list(dir)
			if err != nil {
				return nil, err
			}
			for _, n := range names {
				if ok, err := path.Match(comp, n); err != nil {
					return nil, fmt.Errorf("bad pattern %q: %w", p, err)
				} else if ok {
					next = append(next, path.Join(dir, n))
				}
			}
		}
		cur = next
	}
	return cur, nil
}

// stat finds p in the context. Every symlink met on the way (and the last
// one when follow) must resolve inside the context.
func (c *contextSource) stat(p string, follow bool) (fs.FileInfo, string, error) {
	host := filepath.Join(c.root, p)
	fi, err := os.Lstat(host)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, "", fmt.Errorf("%s: not found in the build context %s", strings.TrimPrefix(p, "/"), c.root)
		}
		return nil, "", err
	}
	real, err := filepath.EvalSymlinks(host)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", strings.TrimPrefix(p, "/"), err)
	}
	if real != c.root && !strings.HasPrefix(real, c.root+string(filepath.Separator)) {
		return nil, "", fmt.Errorf("%s is a symlink that leads outside the build context (to %s): copy the target into the context instead", strings.TrimPrefix(p, "/"), real)
	}
	if follow && fi.Mode()&fs.ModeSymlink != 0 {
		fi, err = os.Stat(real)
		if err != nil {
			return nil, "", err
		}
		host = real
	}
	return fi, host, nil
}

func (c *contextSource) walk(p string, fn func(rel string, info fs.FileInfo, host string) error) error {
	_, start, err := c.stat(p, true)
	if err != nil {
		return err
	}
	return filepath.WalkDir(start, func(h string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if h == start {
			return nil
		}
		rel := filepath.ToSlash(strings.TrimPrefix(h, start+string(filepath.Separator)))
		ctxRel := path.Join(p, rel)
		if c.excluded(ctxRel) {
			if d.IsDir() && !(c.ign != nil && c.ign.MayMatchInside(strings.TrimPrefix(ctxRel, "/"))) {
				return filepath.SkipDir
			}
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		return fn(rel, info, h)
	})
}

// viewSource reads another stage's or image's filesystem.
type viewSource struct {
	view *layers.View
	excl *patternmatcher.PatternMatcher
}

func (v *viewSource) excluded(p string) bool {
	if v.excl == nil {
		return false
	}
	m, _ := v.excl.MatchesOrParentMatches(strings.TrimPrefix(p, "/"))
	return m
}

func (v *viewSource) match(arg string) ([]string, error) {
	p := path.Clean("/" + strings.Replace(arg, "/./", "/", 1))
	if !hasMeta(p) {
		if _, _, err := v.stat(p, true); err != nil {
			return nil, err
		}
		return []string{p}, nil
	}
	ms, err := globMatch(p, func(dir string) ([]string, error) {
		es, err := v.view.ReadDir(dir)
		if err != nil {
			return nil, nil
		}
		var names []string
		for _, e := range es {
			if !v.excluded(e.Path) {
				names = append(names, path.Base(e.Path))
			}
		}
		return names, nil
	})
	if err != nil {
		return nil, err
	}
	out := ms[:0]
	for _, m := range ms {
		if _, err := v.view.Lstat(m); err == nil {
			out = append(out, m)
		}
	}
	return out, nil // no match is no error (BuildKit's AllowEmptyWildcard)
}

func (v *viewSource) stat(p string, follow bool) (fs.FileInfo, string, error) {
	var e *layers.Entry
	var err error
	if follow {
		e, err = v.view.Stat(p)
	} else {
		e, err = v.view.Lstat(p)
	}
	if err != nil {
		return nil, "", fmt.Errorf("%s: not found in the source image", p)
	}
	return e.Info, e.Host, nil
}

func (v *viewSource) walk(p string, fn func(rel string, info fs.FileInfo, host string) error) error {
	r, err := v.view.Resolve(p, true)
	if err != nil {
		return err
	}
	return v.view.Walk(r, func(e *layers.Entry) error {
		if e.Path == r {
			return nil
		}
		if v.excluded(e.Path) {
			if e.Info.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(e.Path, r), "/")
		return fn(rel, e.Info, e.Host)
	})
}

// fromView is the filesystem COPY --from names: a stage or an image.
func (e *Executor) fromView(ctx context.Context, from string) (*layers.View, error) {
	byName := map[string]int{}
	for _, s := range e.Plan.Stages {
		if s.Name != "" {
			byName[s.Name] = s.Index
		}
	}
	if j, isStage, err := e.Plan.resolveStageRef(from, byName); err != nil {
		return nil, err
	} else if isStage {
		st, ok := e.stages[j]
		if !ok {
			return nil, fmt.Errorf("--from=%s: stage %s is not built yet (COPY --from can only read stages defined before this one)", from, e.Plan.Stages[j].DisplayName())
		}
		return st.view(e.Store), nil
	}
	resolve := e.Resolve
	if resolve == nil {
		resolve = e.defaultResolve
	}
	p := e.Plan.Platform
	cfg, err := resolve(ctx, from, &p)
	if err != nil {
		return nil, fmt.Errorf("--from=%s: not a stage of this Dockerfile (stages are named with FROM IMAGE AS NAME, or numbered from 0), so read as an image: %w", from, err)
	}
	st := &stageState{cfg: cfg}
	return st.view(e.Store), nil
}
