package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestImageRefArchivesRoundTrip: the one image-reference grammar, end to
// end. A build writes -o docker-archive:FILE:NAME:TAG and -o oci:DIR:TAG;
// inspect and run read each back by the same reference from a fresh
// store (docker-archive:FILE:NAME:TAG was split at its last colon, so it
// could not be read back by name). A reference that names nothing says
// so once, with what is accepted.
func TestImageRefArchivesRoundTrip(t *testing.T) {
	requireRoot(t)
	requireBusybox(t)
	tmp := t.TempDir()
	archive, layout := filepath.Join(tmp, "img.tar"), filepath.Join(tmp, "layout")
	mustStrata(t, "example", "--root", filepath.Join(tmp, "root"), "--dir", filepath.Join(tmp, "ctx"),
		"-o", "docker-archive:"+archive+":app:1", "-o", "oci:"+layout+":v2")
	for i, ref := range []string{"docker-archive:" + archive + ":app:1", "oci:" + layout + ":v2"} {
		root := filepath.Join(tmp, "fresh", string(rune('a'+i)))
		out := mustStrata(t, "inspect", "--root", root, "--plain", ref)
		if !strings.Contains(out, "IMAGE    "+ref+"\n") || !strings.Contains(out, "RUN mkdir -p /srv/data") {
			t.Errorf("inspect %s:\n%s", ref, out)
		}
		out = mustStrata(t, "run", "--root", root, ref, "cat", "/srv/data/motd")
		if out != "hello from strata\n" {
			t.Errorf("run %s cat /srv/data/motd: %q", ref, out)
		}
	}
	out, err := strata(t, "inspect", "--root", filepath.Join(tmp, "root"), "--plain", "docker-archive:"+archive+":other:9")
	if err == nil || !strings.Contains(out, "other:9") {
		t.Errorf("inspect by a NAME:TAG the tarball lacks: %v\n%s", err, out)
	}
	out, err = strata(t, "inspect", "--root", filepath.Join(tmp, "root"), "--plain", "NoSuch:1")
	if err == nil || !strings.Contains(out, `image "NoSuch:1" is not in the local store`) || strings.Contains(out, "inspect NoSuch:1:") || strings.Count(out, "oci:DIR") != 1 {
		t.Errorf("inspect of a name that is nowhere: %v\n%s", err, out)
	}
}
