package build

import (
	"archive/tar"
	"bytes"
	"io/fs"
	"testing"

	"github.com/strata-build/strata/build/frontend"
)

// TestCopyParentsUnderSetgidDir: the directories COPY makes for a
// destination's missing parents follow Linux's rule for a setgid parent,
// as BuildKit's (fsutil's MkdirAll is os.Mkdir, then a chown only with
// --chown): they take the parent's group and keep the setgid bit. docker
// build, after `chgrp 50 /srv/shared && chmod 2775 /srv/shared`:
// `COPY f.txt /srv/shared/sub/f.txt` makes sub 2755 0:50 (f.txt 644 0:0),
// and with --chown=7:8, 2755 7:8. WORKDIR makes its directory the same way.
func TestCopyParentsUnderSetgidDir(t *testing.T) {
	needRoot(t)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range []*tar.Header{
		{Name: "srv/", Typeflag: tar.TypeDir, Mode: 0o755},
		{Name: "srv/shared/", Typeflag: tar.TypeDir, Mode: 0o2775, Gid: 50},
	} {
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
	}
	tw.Close()
	store := newStore(t)
	df := "FROM scratch\nADD base.tar /\nCOPY f.txt /srv/shared/sub/f.txt\nCOPY --chown=7:8 f.txt /srv/shared/own/f.txt\nWORKDIR /srv/shared/wd\nCOPY f.txt /srv/plain/f.txt\n"
	r := build(t, store, df, map[string]string{"base.tar": buf.String(), "f.txt": "hi\n"}, frontend.Options{}).mustOK(t)
	for _, c := range []struct {
		step     int
		path     string
		mode     fs.FileMode
		uid, gid uint32
	}{
		{2, "/srv/shared/sub", fs.ModeSetgid | 0o755, 0, 50},
		{2, "/srv/shared/sub/f.txt", 0o644, 0, 0},
		{3, "/srv/shared/own", fs.ModeSetgid | 0o755, 7, 8},
		{4, "/srv/shared/wd", fs.ModeSetgid | 0o755, 0, 50},
		{5, "/srv/plain", 0o755, 0, 0},
	} {
		ch := r.change(t, c.step, c.path)
		if got := ch.Mode & (fs.ModePerm | fs.ModeSetgid | fs.ModeSetuid | fs.ModeSticky); got != c.mode || uint32(ch.UID) != c.uid || uint32(ch.GID) != c.gid {
			t.Errorf("%s: %v %d:%d, want %v %d:%d", c.path, got, ch.UID, ch.GID, c.mode, c.uid, c.gid)
		}
	}
}
