package build

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path"
	"strconv"
	"strings"
	"syscall"

	"github.com/strata-build/strata/layers"
	"golang.org/x/sys/unix"
)

// tryUnpack extracts a local archive (tar, optionally gzip/bzip2/xz/zstd
// compressed) into the destination directory, as ADD does. It reports
// false when the file is not an archive (then it is copied as a file).
func (c *copier) tryUnpack(host, rdest string, destIsDir bool) (bool, error) {
	f, err := c.src.Open(host)
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
	// With or without a trailing slash, Docker unpacks into the destination.
	dir := rdest
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
	// Docker's untar skips the archive's "." entry when the destination
	// exists (and it always does by now): the destination directory keeps
	// its owner, mode and time, whatever the archive says about "./".
	root := c.s.root
	before, err := root.Lstat(dir)
	if err != nil {
		return false, err
	}
	// The extractor gets the directory pinned as an fd (resolved beneath the
	// scratch root), never a host path a symlink could redirect.
	dfd, err := root.OpenDirFd(dir, true)
	if err != nil {
		return false, err
	}
	_, err = layers.ExtractWith(r, "/proc/self/fd/"+strconv.Itoa(dfd), opt)
	unix.Close(dfd)
	if err != nil {
		return false, err
	}
	if st, ok := before.Sys().(*syscall.Stat_t); ok {
		if err := root.Lchown(dir, int(st.Uid), int(st.Gid)); err != nil {
			return false, err
		}
	}
	if err := root.Chmod(dir, before.Mode()&(fs.ModePerm|fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky)); err != nil {
		return false, err
	}
	return true, root.Chtimes(dir, before.ModTime(), before.ModTime())
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
	h := target // resolved beneath the scratch root
	root := c.s.root
	out, err := root.OpenFile(h, os.O_CREATE|os.O_EXCL|os.O_WRONLY|unix.O_NOFOLLOW, 0o600)
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
	if err := root.Lchown(h, uid, gid); err != nil {
		return err
	}
	mode := fs.FileMode(0o600)
	if c.chmod != nil {
		mode = c.chmod(mode)
	}
	if err := root.Chmod(h, mode); err != nil {
		return err
	}
	if lm, err := http.ParseTime(resp.Header.Get("Last-Modified")); err == nil {
		root.Chtimes(h, lm, lm)
	}
	return nil
}
