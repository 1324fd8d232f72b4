package build

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path"
	"strconv"
	"strings"
	"syscall"
	"time"

	symmode "github.com/tonistiigi/dchapes-mode"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/patternmatcher"
	"github.com/strata-build/strata/build/event"
	"github.com/strata-build/strata/build/frontend"
	"github.com/strata-build/strata/build/source"
	"github.com/strata-build/strata/internal/rootless"
	"github.com/strata-build/strata/layers"
	"github.com/strata-build/strata/layers/beneath"
	"golang.org/x/sys/unix"
)

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
	line     int // Dockerfile line, for warnings
}

func (e *Executor) copyCmd(ctx context.Context, r *stepRun, c *instructions.CopyCommand) error {
	sp := &copySpec{cmd: "COPY", sources: c.SourcePaths, contents: c.SourceContents, dest: c.DestPath, chown: c.Chown,
		chmod: c.Chmod, link: c.Link, parents: c.Parents, exclude: c.ExcludePatterns, from: c.From, line: frontend.LineOf(c.Location())}
	return e.doCopy(ctx, r, sp)
}

func (e *Executor) addCmd(ctx context.Context, r *stepRun, c *instructions.AddCommand) error {
	sp := &copySpec{cmd: "ADD", sources: c.SourcePaths, contents: c.SourceContents, dest: c.DestPath, chown: c.Chown,
		chmod: c.Chmod, link: c.Link, exclude: c.ExcludePatterns, add: true, checksum: c.Checksum, unpack: c.Unpack, line: frontend.LineOf(c.Location())}
	return e.doCopy(ctx, r, sp)
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

// chmodFunc is a --chmod: the mode a copied entry gets from its own.
type chmodFunc func(fs.FileMode) fs.FileMode

const permBits = fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky

// parseChmod reads --chmod as BuildKit does: an octal mode (0 to 07777),
// or a symbolic one (u+x, go-w, a=rX, ...) applied to each entry's own
// mode, X adding execute to directories and to what is executable.
func parseChmod(s string) (chmodFunc, error) {
	n, err := strconv.ParseUint(s, 8, 32)
	if err == nil {
		if n > 0o7777 {
			return nil, fmt.Errorf("--chmod=%s: an octal mode is at most 7777; want e.g. 755, 0644 or a symbolic mode such as u+x", s)
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
		return func(fs.FileMode) fs.FileMode { return m }, nil
	}
	set, err := symmode.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("--chmod=%s: want an octal mode such as 755 or 0644, or a symbolic one such as u+x or go-w,a+rX", s)
	}
	return func(m fs.FileMode) fs.FileMode { return set.Apply(m) & permBits }, nil
}

// copyOpts are a COPY/ADD's flags, checked and resolved against the
// stage: --chmod, --chown (names looked up in the stage's /etc/passwd and
// /etc/group) and --exclude.
type copyOpts struct {
	chmod    chmodFunc
	uid, gid int // -1: keep
	excl     *patternmatcher.PatternMatcher
}

func (e *Executor) copyOptions(sp *copySpec, view *layers.View) (copyOpts, error) {
	o := copyOpts{uid: -1, gid: -1}
	if len(sp.sources) == 0 && len(sp.contents) == 0 {
		return o, fmt.Errorf("%s needs at least one source and a destination: %s SRC... DEST", sp.cmd, sp.cmd)
	}
	if sp.link && sp.chown != "" && chownByName(sp.chown) {
		return o, fmt.Errorf("--chown=%s: user and group names can't be resolved when used with --link, use numeric uid[:gid] instead", sp.chown)
	}
	if sp.chmod != "" {
		f, err := parseChmod(sp.chmod)
		if err != nil {
			return o, err
		}
		o.chmod = f
	}
	if sp.chown != "" {
		u, g, warn := lookupChown(view, sp.chown)
		if warn != "" {
			e.emit(event.Warning{Base: event.Now(), Message: "--chown=" + sp.chown + ": " + warn, Line: sp.line})
		}
		o.uid, o.gid = u, g
	}
	if len(sp.exclude) > 0 {
		pm, err := patternmatcher.New(sp.exclude)
		if err != nil {
			return o, fmt.Errorf("--exclude: %w", err)
		}
		o.excl = pm
	}
	return o, nil
}

// copyMatch is one source a COPY/ADD argument expanded to: a path of the
// source, or a URL (ADD).
type copyMatch struct {
	arg  string
	path string
	url  *url.URL
}

// expandSources expands the source arguments (wildcards) against src.
func expandSources(sp *copySpec, src source.Source) ([]copyMatch, error) {
	var all []copyMatch
	for _, arg := range sp.sources {
		if sp.add && isURL(arg) {
			u, _ := url.Parse(arg)
			all = append(all, copyMatch{arg: arg, url: u})
			continue
		}
		if sp.add && strings.HasPrefix(arg, "git@") {
			return nil, fmt.Errorf("ADD %s: git sources are not supported by strata; clone in a RUN step or copy a checkout from the context", arg)
		}
		ps, err := src.Match(arg)
		if err != nil {
			return nil, err
		}
		for _, p := range ps {
			all = append(all, copyMatch{arg: arg, path: p})
		}
	}
	return all, nil
}

// copyDest is a COPY/ADD's destination, relative to WORKDIR, and whether
// it is written as a directory (a trailing / or /., or ".").
func copyDest(sp *copySpec, workdir string) (dest string, dirSyntax bool) {
	dest = sp.dest
	if !path.IsAbs(dest) {
		dest = path.Join("/", workdir, dest)
		if strings.HasSuffix(sp.dest, "/") || sp.dest == "." || strings.HasSuffix(sp.dest, "/.") {
			dest += "/"
		}
	}
	return dest, strings.HasSuffix(dest, "/") || strings.HasSuffix(sp.dest, "/.") || sp.dest == "."
}

func (e *Executor) doCopy(ctx context.Context, r *stepRun, sp *copySpec) error {
	view := r.st.view(e.Store)
	o, err := e.copyOptions(sp, view)
	if err != nil {
		return err
	}
	// Source.
	var src source.Source
	fromContext := sp.from == ""
	if fromContext {
		cs, err := source.NewContext(e.Opt.ContextDir, e.Plan.Ignore, o.excl)
		if err != nil {
			return err
		}
		defer cs.Close()
		src = cs
	} else {
		v, err := e.fromView(ctx, r.step, sp.from)
		if err != nil {
			return err
		}
		src = source.NewView(v, o.excl)
	}
	dest, destDirSyntax := copyDest(sp, r.st.cfg.Config.WorkingDir)

	var prev *prevCopy // incremental.go: the last build's layer of this step
	if fromContext {
		prev = e.previousCopy(r.st)
		defer prev.close()
	}
	r.then("copy")
	pl, err := e.makeLayerLink(view, sp.link, r.thenSnapshot(func(s *stager) error {
		// Expand the sources first: how many there are decides the dest rule.
		all, err := expandSources(sp, src)
		if err != nil {
			return err
		}
		if len(all) == 0 && len(sp.contents) == 0 {
			// Only wildcards that matched nothing: BuildKit allows that
			// (AllowEmptyWildcard) and then copies nothing, so it makes no
			// destination directory either.
			return nil
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
		cp := &copier{s: s, src: src, uid: o.uid, gid: o.gid, chmod: o.chmod, keepOwner: !fromContext, ctx: ctx, prev: prev}
		if prev != nil {
			s.linkedOutside = prev.outside.has
		}
		if destIsDir {
			if err := s.mkdirAll(rdest, 0o755, o.uid, o.gid, o.uid >= 0); err != nil {
				return err
			}
		} else if err := s.mkdirAll(path.Dir(rdest), 0o755, o.uid, o.gid, o.uid >= 0); err != nil {
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
			if err := cp.copyOne(sp, m, rdest, destIsDir); err != nil {
				return err
			}
		}
		return nil
	}))
	if err != nil {
		return err
	}
	return r.layerDone(sp.historyText(), pl)
}

// copyOne copies one matched source to the resolved destination rdest.
func (cp *copier) copyOne(sp *copySpec, m copyMatch, rdest string, destIsDir bool) error {
	s, src, uid, gid := cp.s, cp.src, cp.uid, cp.gid
	if m.url != nil {
		if err := cp.fetchURL(m.url, rdest, destIsDir, sp.checksum); err != nil {
			return fmt.Errorf("ADD %s: %w", m.arg, err)
		}
		return nil
	}
	info, host, err := src.Stat(m.path, true)
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
		// The destination directory is made even for an empty source
		// (BuildKit's copy makes it, 755, root or --chown's owner).
		if err := s.mkdirAll(target, 0o755, uid, gid, uid >= 0); err != nil {
			return err
		}
		// Files hard-linked to each other inside the directory stay
		// linked (BuildKit's copy keeps an inode map per source).
		cp.links = map[[2]uint64]string{}
		cp.fresh = map[string]bool{}
		var times []dirTime
		cp.dirTimes = &times
		err := src.Walk(m.path, func(rel string, fi fs.FileInfo, h string) error {
			cp.key = path.Join(m.path, rel)
			return cp.copyItem(path.Join(target, rel), fi, h)
		})
		cp.links, cp.dirTimes, cp.fresh = nil, nil, nil
		if err != nil {
			return err
		}
		// Deepest first, once all entries exist: each dir keeps its
		// source's mtime, so a rebuild makes the same layer.
		for i := len(times) - 1; i >= 0; i-- {
			if err := s.root.Chtimes(times[i].target, times[i].mtime, times[i].mtime); err != nil {
				return err
			}
		}
		return nil
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
			return nil
		}
	}
	cp.key = m.path
	return cp.copyItem(target, info, host)
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
	chmod     chmodFunc
	keepOwner bool
	ctx       context.Context
	src       source.Source        // opens what is copied, beneath its root
	links     map[[2]uint64]string // dev, inode of a multiply-linked source file -> its first target; nil: no linking
	// dirTimes, while a directory is walked, collects each copied dir's
	// source mtime, set once everything below it exists (creating an
	// entry in a dir changes its mtime); nil: set at once.
	dirTimes *[]dirTime
	// prev, when set, is the last build's layer of this step; key is the
	// source being copied, as its checksum is keyed (incremental.go).
	prev *prevCopy
	key  string
	// fresh, while a directory is walked, holds the directories the walk
	// made where neither the scratch tree nor the image had one.
	fresh map[string]bool
}

type dirTime struct {
	target string
	mtime  time.Time
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
		return c.chmod(info.Mode())
	}
	return info.Mode() & permBits
}

// prepare makes room for target: existing scratch entries are replaced; a
// directory of the image where a file goes is an error (Docker: "cannot
// copy to non-directory" the other way round).
func (c *copier) prepare(target string, isDir bool) error {
	r := c.s.root
	if fi, err := r.Lstat(target); err == nil {
		if fi.IsDir() && isDir {
			return nil
		}
		if fi.Mode()&fs.ModeSymlink != 0 && isDir {
			return fmt.Errorf("cannot copy a directory to %s: a symlink made earlier in this step is in the way (COPY never writes through a symlink it made)", target)
		}
		if fi.IsDir() {
			return fmt.Errorf("cannot copy a file to %s: it is a directory", target)
		}
		if isDir {
			return fmt.Errorf("cannot copy a directory to %s: a file is in the way", target)
		}
		return r.Remove(target)
	} else if errors.Is(err, beneath.ErrOutside) {
		return outsideErr(target, err)
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

// prepareUnless is prepare for a file, unless its directory is fresh.
func (c *copier) prepareUnless(fresh bool, target string) error {
	if fresh {
		return nil
	}
	return c.prepare(target, false)
}

func (c *copier) copyItem(target string, info fs.FileInfo, host string) error {
	if err := c.ctx.Err(); err != nil {
		return err
	}
	r := c.s.root
	// Under a directory this walk made, nothing exists but what the walk
	// copies, each name once: no check of the scratch tree or the image.
	fresh := c.fresh != nil && c.fresh[path.Dir(target)]
	if !fresh {
		if _, err := r.Lstat(path.Dir(target)); err != nil {
			if errors.Is(err, beneath.ErrOutside) {
				return outsideErr(target, err)
			}
			if err := c.s.mkdirAll(path.Dir(target), 0o755, max(c.uid, 0), max(c.gid, 0), c.uid >= 0); err != nil {
				return err
			}
		}
	}
	uid, gid := c.owner(info)
	h := target // a name in the scratch root, resolved beneath it
	switch {
	case info.IsDir():
		if fresh {
			if err := r.Mkdir(h, 0o700); err != nil {
				return err
			}
			c.fresh[target] = true
		} else {
			if err := c.prepare(target, true); err != nil {
				return err
			}
			if _, err := r.Lstat(h); err != nil {
				if !c.s.link {
					if e, err := c.s.view.Lstat(target); err == nil && e.Info.IsDir() {
						// exists in the image: copy it up, keep its metadata
						return c.s.mkdirAll(target, 0, 0, 0, false)
					}
				}
				if err := r.Mkdir(h, 0o700); err != nil {
					return err
				}
				if c.fresh != nil {
					c.fresh[target] = true
				}
			}
		}
		if err := r.Lchown(h, uid, gid); err != nil {
			return err
		}
		if err := r.Chmod(h, c.mode(info)); err != nil {
			return err
		}
		if c.dirTimes != nil {
			*c.dirTimes = append(*c.dirTimes, dirTime{h, info.ModTime()})
			return nil
		}
		return r.Chtimes(h, info.ModTime(), info.ModTime())
	case info.Mode()&fs.ModeSymlink != 0:
		if err := c.prepareUnless(fresh, target); err != nil {
			return err
		}
		link, err := c.src.Readlink(host)
		if err != nil {
			return err
		}
		if err := r.Symlink(link, h); err != nil {
			return err
		}
		if err := r.Lchown(h, uid, gid); err != nil {
			return err
		}
		return r.Chtimes(h, info.ModTime(), info.ModTime())
	case info.Mode().IsRegular():
		if err := c.prepareUnless(fresh, target); err != nil {
			return err
		}
		if st, ok := info.Sys().(*syscall.Stat_t); ok && c.links != nil && st.Nlink > 1 {
			key := [2]uint64{uint64(st.Dev), st.Ino}
			if first, seen := c.links[key]; seen {
				return r.Link(first, h)
			}
			c.links[key] = target
		}
		if c.linkPrevious(h, c.key, info, uid, gid, c.mode(info)) {
			return nil // unchanged since the last build: its file, shared
		}
		// Owner, mode and date are set on the new file's descriptor (no
		// path walked again); extended attributes do not change the date.
		if err := c.copyFile(host, h, fileMeta{uid, gid, c.mode(info), info.ModTime()}); err != nil {
			return err
		}
		if c.keepOwner {
			copyXattrs(host, r, h)
		}
		return nil
	case info.Mode()&fs.ModeNamedPipe != 0:
		if err := c.prepare(target, false); err != nil {
			return err
		}
		if err := r.Mknod(h, unix.S_IFIFO|uint32(info.Mode().Perm()), 0); err != nil {
			return err
		}
		return r.Lchown(h, uid, gid)
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
		if err := r.Mknod(h, mode|uint32(info.Mode().Perm()), int(st.Rdev)); err != nil {
			return err
		}
		return r.Lchown(h, uid, gid)
	default:
		return nil // sockets are not copied
	}
}

// outsideErr explains a destination that a symlink made earlier in this
// step would take outside the image.
func outsideErr(target string, err error) error {
	return fmt.Errorf("cannot copy to %s: a symlink on the way, made earlier in this step, leads outside the image's root (%w); copy the symlink's target instead, or copy in two steps", target, beneath.ErrOutside)
}

// fileMeta is what a copied file gets besides its content.
type fileMeta struct {
	uid, gid int
	mode     fs.FileMode
	mtime    time.Time
}

// set gives the open file f (named name, for errors) its owner, then its
// mode (a chown clears setuid bits), then its times.
func (m fileMeta) set(f *os.File, name string) error {
	fd := int(f.Fd())
	if err := unix.Fchown(fd, m.uid, m.gid); err != nil {
		return rootless.OwnerError(&fs.PathError{Op: "lchown", Path: name, Err: err}, m.uid, m.gid)
	}
	if err := unix.Fchmod(fd, unixMode(m.mode)); err != nil {
		return &fs.PathError{Op: "chmod", Path: name, Err: err}
	}
	ts := []unix.Timespec{unix.NsecToTimespec(m.mtime.UnixNano()), unix.NsecToTimespec(m.mtime.UnixNano())}
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, "/proc/self/fd/"+strconv.Itoa(fd), ts, 0); err != nil {
		return &fs.PathError{Op: "chtimes", Path: name, Err: err}
	}
	return nil
}

func (c *copier) copyFile(from, to string, meta fileMeta) error {
	in, err := c.src.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := c.s.root.OpenFile(to, os.O_CREATE|os.O_EXCL|os.O_WRONLY|unix.O_NOFOLLOW, 0o600)
	if err != nil {
		return err
	}
	// Only the data runs (holes stay holes), with copy_file_range: reflinks
	// where the filesystem has them.
	_, err = layers.CopySparse(out, in)
	if err == nil {
		err = meta.set(out, to)
	}
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
	r := c.s.root
	f, err := r.OpenFile(target, os.O_CREATE|os.O_EXCL|os.O_WRONLY|unix.O_NOFOLLOW, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	uid, gid := max(c.uid, 0), max(c.gid, 0)
	if err := r.Lchown(target, uid, gid); err != nil {
		return err
	}
	if c.chmod != nil {
		mode = c.chmod(mode)
	}
	return r.Chmod(target, mode)
}
