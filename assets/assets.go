// Package assets holds what strata ships inside its binary: the bundled
// example build, and the busybox base rootfs it (and the tests) start from.
package assets

import (
	"archive/tar"
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/strata-build/strata/layers"
)

//go:embed all:example
var example embed.FS

// WriteExample writes the bundled example build context into dir.
func WriteExample(dir string) error {
	return fs.WalkDir(example, "example", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(p, "example"), "/")
		dst := filepath.Join(dir, rel)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		b, err := example.ReadFile(p)
		if err != nil {
			return err
		}
		mode := fs.FileMode(0o644)
		if strings.HasSuffix(p, ".sh") {
			mode = 0o755
		}
		return os.WriteFile(dst, b, mode)
	})
}

// BusyboxPaths are where Debian's busybox-static puts a static busybox.
var BusyboxPaths = []string{"/bin/busybox", "/usr/bin/busybox"}

// FindBusybox returns a statically linked busybox, or an error saying how
// to get one.
func FindBusybox() (string, error) {
	for _, p := range BusyboxPaths {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		// A dynamically linked ELF has a PT_INTERP naming the loader.
		if bytes.Contains(b[:min(len(b), 4096)], []byte("/lib64/ld-linux")) || bytes.Contains(b[:min(len(b), 4096)], []byte("/lib/ld-linux")) {
			continue
		}
		return p, nil
	}
	return "", errors.New("no static busybox found (looked in /bin/busybox, /usr/bin/busybox): install it with `apt-get install busybox-static`")
}

// Applets lists busybox's applets.
func Applets(busybox string) ([]string, error) {
	out, err := exec.Command(busybox, "--list").Output()
	if err != nil {
		return nil, fmt.Errorf("%s --list: %w", busybox, err)
	}
	var names []string
	for _, l := range strings.Fields(string(out)) {
		if l != "busybox" && !strings.Contains(l, "/") {
			names = append(names, l)
		}
	}
	sort.Strings(names)
	return names, nil
}

// BusyboxRootfs writes a minimal Linux root filesystem as a tar: busybox
// with a symlink per applet in /bin, /etc/passwd and /etc/group (root,
// nobody and an "app" user of uid 1000 in groups app and staff), /tmp,
// /root, /home/app. It is how tests and the example get a base image with
// no registry: FROM scratch + ADD rootfs.tar /.
func BusyboxRootfs(w io.Writer, busybox string) error {
	applets, err := Applets(busybox)
	if err != nil {
		return err
	}
	bin, err := os.ReadFile(busybox)
	if err != nil {
		return err
	}
	mtime := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	tw := tar.NewWriter(w)
	dir := func(name string, mode int64, uid, gid int) error {
		return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: mode, Uid: uid, Gid: gid, ModTime: mtime, Format: tar.FormatPAX})
	}
	file := func(name string, mode int64, data []byte) error {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(data)), ModTime: mtime, Format: tar.FormatPAX}); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	for _, d := range []struct {
		name string
		mode int64
		uid  int
	}{{"bin", 0o755, 0}, {"etc", 0o755, 0}, {"root", 0o700, 0}, {"tmp", 0o1777, 0}, {"home", 0o755, 0}, {"home/app", 0o755, 1000}, {"usr", 0o755, 0}, {"usr/bin", 0o755, 0}, {"var", 0o755, 0}, {"dev", 0o755, 0}, {"proc", 0o755, 0}, {"sys", 0o755, 0}} {
		if err := dir(d.name, d.mode, d.uid, d.uid); err != nil {
			return err
		}
	}
	if err := file("bin/busybox", 0o755, bin); err != nil {
		return err
	}
	for _, a := range applets {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: "bin/" + a, Linkname: "busybox", Mode: 0o777, ModTime: mtime, Format: tar.FormatPAX}); err != nil {
			return err
		}
	}
	passwd := "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
	group := "root:x:0:\nstaff:x:50:app\napp:x:1000:\nnogroup:x:65534:\n"
	if err := file("etc/passwd", 0o644, []byte(passwd)); err != nil {
		return err
	}
	if err := file("etc/group", 0o644, []byte(group)); err != nil {
		return err
	}
	if err := file("etc/os-release", 0o644, []byte("NAME=\"strata busybox\"\nID=busybox\n")); err != nil {
		return err
	}
	return tw.Close()
}

// WriteBusyboxRootfs writes BusyboxRootfs into file (atomically).
func WriteBusyboxRootfs(file string) error {
	bb, err := FindBusybox()
	if err != nil {
		return err
	}
	return layers.WriteFileAtomic(file, func(w io.Writer) error { return BusyboxRootfs(w, bb) })
}
