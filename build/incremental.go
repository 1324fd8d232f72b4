package build

import (
	"io/fs"
	"path"
	"syscall"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"

	"github.com/strata-build/strata/build/cache"
	"github.com/strata-build/strata/layers/beneath"
)

// prevCopy is the layer the last build of a COPY step made, when this
// build of the step can start from it: the same instruction, after the
// same parent step, so every source lands where it landed then. A context
// file whose checksum did not change since, and whose copy there has the
// owner, mode and date this copy would give it, is hard-linked from that
// layer instead of copied.
//
// Sharing the inode is safe because nothing ever writes a stored layer's
// files: layers are read-only lower dirs (a RUN's overlay copies a file up
// into its own upper dir before any change, and metacopy keeps the data
// in the lower only for reading), the store removes whole trees, and the
// copier never changes a file it linked (no chown, chmod or chtimes after
// the link). A changed, added or mode-changed file is copied as before, a
// deleted one is not linked, and the layer's tar is written from the tree
// as for a cold COPY, so the layer is byte-identical.
type prevCopy struct {
	root      *beneath.Root    // the previous layer's tree
	unchanged *cache.Unchanged // the sources whose checksums are the same then and now (asked in walk order)
	used      inoSet           // the previous layer's inodes linked (each once: no link between two new files)
	// outside: those of used whose source file has one link, so no other
	// path of the new tree links them (the copier links a source's hard
	// links to its first copy): the layer's differ need not remember them.
	outside inoSet
	linked  int

	// The directory of the last file linked, in both trees (a COPY
	// walks a directory's files one after another): -1 when not open.
	dir            string
	oldDir, newDir int
}

// previousCopy finds the last build's layer of the step being built in
// st, or nil.
func (e *Executor) previousCopy(st *stageState) *prevCopy {
	p := st.pending
	if p == nil || p.in == nil || st.last == nil || st.seq >= len(st.last.Steps) || p.in.Files == nil || p.in.Files.Count == 0 {
		return nil
	}
	ls := st.last.Steps[st.seq]
	if ls.Unfinished || ls.Canonical != p.in.Canonical || ls.Parent != p.in.Parent || ls.Files == nil || ls.Files.Count == 0 {
		return nil
	}
	ent, ok := e.local().Lookup(ls.Key)
	if !ok || ent.DiffID == "" {
		return nil
	}
	h, err := v1.NewHash(ent.DiffID)
	if err != nil || !e.Store.HasLayer(h) {
		return nil
	}
	// Merge-joined from the two sums files (streamed): a fingerprint of
	// each unchanged path is kept, not the paths and their sums.
	dir, err := e.Store.TempDir("unchanged-")
	if err != nil {
		return nil
	}
	unchanged, err := cache.UnchangedSums(ls.Files, p.in.Files, dir)
	if err != nil {
		return nil // it removed dir
	}
	if unchanged.Len() == 0 {
		unchanged.Close()
		return nil
	}
	root, err := beneath.Open(e.Store.LayerFS(h), beneath.NoSymlinks)
	if err != nil {
		unchanged.Close()
		return nil
	}
	return &prevCopy{root: root, unchanged: unchanged, used: inoSet{}, outside: inoSet{}, oldDir: -1, newDir: -1}
}

// inoSet is a set of inode numbers as a sparse bitmap: a COPY's files get
// inodes allocated close together, so a million of them take a few
// thousand words, not a million map entries.
type inoSet map[uint64]uint64

func (s inoSet) has(ino uint64) bool { return s[ino/64]&(1<<(ino%64)) != 0 }
func (s inoSet) add(ino uint64)      { s[ino/64] |= 1 << (ino % 64) }

func (p *prevCopy) close() {
	if p != nil {
		p.closeDirs()
		p.root.Close()
		p.unchanged.Close()
	}
}

func (p *prevCopy) closeDirs() {
	for _, fd := range []*int{&p.oldDir, &p.newDir} {
		if *fd >= 0 {
			unix.Close(*fd)
			*fd = -1
		}
	}
	p.dir = ""
}

// dirs opens dir in the previous layer (beneath it, no symlink on the
// way) and in the stager's tree, unless they are open already.
func (p *prevCopy) dirs(newRoot *beneath.Root, dir string) bool {
	if p.dir == dir && p.oldDir >= 0 {
		return true
	}
	p.closeDirs()
	o, err := p.root.OpenDirFd(dir, true)
	if err != nil {
		return false
	}
	n, err := newRoot.OpenDirFd(dir, true)
	if err != nil {
		unix.Close(o)
		return false
	}
	p.dir, p.oldDir, p.newDir = dir, o, n
	return true
}

// link makes target in the stager's tree a hard link of the previous
// layer's file at target when the source key is unchanged and that file is
// what copying would make (owner uid:gid, mode, the source's size and
// mtime). It reports whether it linked; on false the caller copies.
func (c *copier) linkPrevious(target, key string, info fs.FileInfo, uid, gid int, mode fs.FileMode) bool {
	p := c.prev
	if p == nil || key == "" || c.keepOwner {
		return false
	}
	if !p.unchanged.Has(key) {
		return false
	}
	dir, base := path.Dir(target), path.Base(target)
	if !p.dirs(c.s.root, dir) {
		return false
	}
	// The name itself, never followed: a regular file (stored layers are
	// never written, so it stays what fstat says until it is linked).
	fd, err := unix.Openat(p.oldDir, base, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return false
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
		return false
	}
	mt := info.ModTime()
	if st.Size != info.Size() || int(st.Uid) != uid || int(st.Gid) != gid || st.Mode&0o7777 != unixMode(mode) ||
		st.Mtim.Sec != mt.Unix() || st.Mtim.Nsec != int64(mt.Nanosecond()) || p.used.has(st.Ino) {
		return false
	}
	// Extended attributes: a context copy sets none (only COPY --from
	// keeps them), so a file carrying some is not what a copy makes.
	if n, err := unix.Flistxattr(fd, nil); (err != nil && err != unix.ENOTSUP) || n > 0 {
		return false
	}
	if unix.Linkat(p.oldDir, base, p.newDir, base, 0) != nil {
		return false
	}
	p.used.add(st.Ino)
	if src, ok := info.Sys().(*syscall.Stat_t); ok && src.Nlink == 1 {
		p.outside.add(st.Ino)
	}
	p.linked++
	return true
}

// unixMode is mode's permission and special bits as stat shows them.
func unixMode(m fs.FileMode) uint32 {
	u := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		u |= unix.S_ISUID
	}
	if m&fs.ModeSetgid != 0 {
		u |= unix.S_ISGID
	}
	if m&fs.ModeSticky != 0 {
		u |= unix.S_ISVTX
	}
	return u
}
