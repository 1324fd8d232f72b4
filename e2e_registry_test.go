package main

// The real pull/push path against Debian's docker-registry (distribution),
// started on a free 127.0.0.1 port, checked with skopeo.

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/strata-build/strata/assets"
)

// startRegistry runs docker-registry serve with its storage in a temp dir
// on a free loopback port; the returned func (also run at cleanup) stops
// it.
func startRegistry(t *testing.T) (string, func()) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	dir := t.TempDir()
	cfg := fmt.Sprintf(`version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
http:
  addr: %s
`, filepath.Join(dir, "storage"), addr)
	cfgPath := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(dir, "registry.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("docker-registry", "serve", cfgPath)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); logf.Close(); close(done) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cmd.Process.Kill()
		<-done
	}
	t.Cleanup(stop)
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return addr, stop
			}
		}
		select {
		case <-done:
			b, _ := os.ReadFile(filepath.Join(dir, "registry.log"))
			t.Fatalf("docker-registry exited:\n%s", b)
		default:
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(filepath.Join(dir, "registry.log"))
			t.Fatalf("docker-registry did not answer on %s: %v\n%s", addr, err, b)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

var digestRe = regexp.MustCompile(`digest: (sha256:[0-9a-f]{64})`)

// imageID is the IMAGE ID column of strata images for name.
func imageID(t *testing.T, root, name string) string {
	t.Helper()
	out := mustStrata(t, "images", "--root", root)
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) >= 3 && f[0]+":"+f[1] == name {
			return f[2]
		}
	}
	t.Fatalf("strata images has no %s:\n%s", name, out)
	return ""
}

// TestRegistryPushPullRoundTrip: a base built FROM scratch is pushed with
// -o type=registry; a fresh store builds FROM it (a real pull, with
// progress events) and pushes the result; skopeo reads the result back by
// digest and finds the config strata has as the image id. With the
// registry gone the pulled base is reused, and --pull says it cannot ask.
func TestRegistryPushPullRoundTrip(t *testing.T) {
	requireRoot(t)
	requireBusybox(t)
	requireTool(t, "docker-registry", "skopeo")
	host, stop := startRegistry(t)
	tmp := t.TempDir()

	// The base, pushed by the build.
	baseCtx := filepath.Join(tmp, "base")
	os.MkdirAll(baseCtx, 0o755)
	if err := assets.WriteBusyboxRootfs(filepath.Join(baseCtx, "rootfs.tar")); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(baseCtx, "Dockerfile"), []byte("FROM scratch\nADD rootfs.tar /\nCMD [\"/bin/sh\"]\n"), 0o644)
	rootA := filepath.Join(tmp, "rootA")
	out := mustStrata(t, "build", "--root", rootA, "--progress", "plain", "-t", host+"/base:1", "-o", "type=registry", baseCtx)
	if !strings.Contains(out, "pushed "+host+"/base:1: digest: sha256:") {
		t.Fatalf("base build did not report its push:\n%s", out)
	}

	// A fresh store builds on it: FROM pulls.
	appCtx := filepath.Join(tmp, "app")
	os.MkdirAll(appCtx, 0o755)
	os.WriteFile(filepath.Join(appCtx, "Dockerfile"), []byte("FROM "+host+"/base:1\nRUN echo built on a pulled base > /hello\n"), 0o644)
	rootB := filepath.Join(tmp, "rootB")
	out = mustStrata(t, "build", "--root", rootB, "--progress", "json", "-t", host+"/result:1", "-o", "type=registry", appCtx)
	var sawProgress, sawPulled, sawPushed bool
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var ev struct {
			Type        string
			Step        int
			What, Line  string
			Done, Total int64
		}
		if json.Unmarshal(sc.Bytes(), &ev) != nil {
			continue
		}
		switch {
		case ev.Type == "progress" && ev.Step == 0 && strings.HasPrefix(ev.What, "pull sha256:") && ev.Total > 0 && ev.Done == ev.Total:
			sawProgress = true
		case ev.Type == "log" && ev.Step == 0 && strings.HasPrefix(ev.Line, "pulled "+host+"/base:1 (sha256:"):
			sawPulled = true
		case ev.Type == "log" && strings.HasPrefix(ev.Line, "pushed "+host+"/result:1: digest: sha256:"):
			sawPushed = true
		}
	}
	if !sawProgress || !sawPulled || !sawPushed {
		t.Errorf("events: progress of the FROM step %v, pulled line %v, pushed line %v:\n%s", sawProgress, sawPulled, sawPushed, out)
	}
	checkClean(t, rootB)

	// strata push prints the digest (everything is there already).
	out = mustStrata(t, "push", "--root", rootB, host+"/result:1")
	m := digestRe.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("strata push printed no digest:\n%s", out)
	}
	digest := m[1]
	id := imageID(t, rootB, host+"/result:1")

	// skopeo reads it back by digest; the config is strata's image.
	var insp struct {
		Digest string
		Layers []string
	}
	if err := json.Unmarshal([]byte(runTool(t, "skopeo", "inspect", "--tls-verify=false", "docker://"+host+"/result@"+digest)), &insp); err != nil {
		t.Fatal(err)
	}
	if insp.Digest != digest || len(insp.Layers) != 2 {
		t.Errorf("skopeo inspect: digest %s, %d layers; want %s, 2", insp.Digest, len(insp.Layers), digest)
	}
	oci := filepath.Join(tmp, "oci")
	runTool(t, "skopeo", "copy", "--src-tls-verify=false", "docker://"+host+"/result@"+digest, "oci:"+oci+":r")
	var index struct{ Manifests []struct{ Digest string } }
	readJSON(t, filepath.Join(oci, "index.json"), &index)
	if len(index.Manifests) != 1 || index.Manifests[0].Digest != digest {
		t.Fatalf("oci index %+v, want manifest %s", index, digest)
	}
	var man struct{ Config struct{ Digest string } }
	readJSON(t, filepath.Join(oci, "blobs", "sha256", strings.TrimPrefix(digest, "sha256:")), &man)
	if !strings.HasPrefix(strings.TrimPrefix(man.Config.Digest, "sha256:"), id) {
		t.Errorf("registry config %s, strata images id %s", man.Config.Digest, id)
	}

	// strata pull by digest into a third store: same image id.
	rootC := filepath.Join(tmp, "rootC")
	out = mustStrata(t, "pull", "--root", rootC, host+"/result@"+digest)
	if !strings.Contains(out, "Digest: "+digest) || !strings.Contains(out, "Image ID: "+man.Config.Digest) {
		t.Errorf("strata pull by digest:\n%s\nwant Digest %s and Image ID %s", out, digest, man.Config.Digest)
	}
	checkClean(t, rootC)

	// strata inspect reads a registry image (pulled into a fresh store).
	rootD := filepath.Join(tmp, "rootD")
	out = mustStrata(t, "inspect", "--root", rootD, "--plain", host+"/result:1")
	if !strings.Contains(out, "ADD rootfs.tar /") || !strings.Contains(out, "RUN") {
		t.Errorf("strata inspect of %s/result:1:\n%s", host, out)
	}
	checkClean(t, rootD)

	// COPY --from=IMAGE pulls through the same resolver (its layer is
	// stored already, as part of the result: nothing is downloaded).
	copyCtx := filepath.Join(tmp, "copy")
	os.MkdirAll(copyCtx, 0o755)
	os.WriteFile(filepath.Join(copyCtx, "Dockerfile"), []byte("FROM scratch\nCOPY --from="+host+"/base:1 /etc/os-release /os-release\n"), 0o644)
	out = mustStrata(t, "build", "--root", rootC, "--progress", "json", copyCtx)
	if !strings.Contains(out, `"step":1,"stream":"info","line":"pulled `+host+`/base:1 (sha256:`) || !strings.Contains(out, "0 of 1 layers downloaded") {
		t.Errorf("COPY --from did not pull through the resolver (or downloaded a stored layer):\n%s", out)
	}
	checkClean(t, rootC)

	// The registry goes away: the pulled base serves a new build…
	stop()
	os.WriteFile(filepath.Join(appCtx, "Dockerfile"), []byte("FROM "+host+"/base:1\nRUN echo offline > /offline\n"), 0o644)
	mustStrata(t, "build", "--root", rootB, "--progress", "plain", appCtx)
	// …and --pull says what it could not do.
	out, err := strata(t, "build", "--root", rootB, "--progress", "plain", "--pull", appCtx)
	if err == nil {
		t.Fatalf("--pull with the registry gone succeeded:\n%s", out)
	}
	for _, want := range []string{"Dockerfile:1", "--pull: cannot check " + host + "/base:1", "registry " + host + " refused the connection", "without --pull it is used"} {
		if !strings.Contains(out, want) {
			t.Errorf("--pull error lacks %q:\n%s", want, out)
		}
	}
	checkClean(t, rootB)
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}
