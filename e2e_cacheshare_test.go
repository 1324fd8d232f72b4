package main

// Sharing the cache (issue 16): --cache-to / --cache-from through Debian's
// docker-registry behind a counting proxy, an OCI layout on disk, and an
// image's inline annotation.

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// blobCounter is a reverse proxy in front of the registry that records
// every blob GET (a download; HEADs, mounts and manifests are not).
type blobCounter struct {
	mu   sync.Mutex
	gets []string
}

func (c *blobCounter) reset() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	g := c.gets
	c.gets = nil
	return g
}

func startCountingProxy(t *testing.T, regAddr string) (string, *blobCounter) {
	t.Helper()
	u, _ := url.Parse("http://" + regAddr)
	rp := httputil.NewSingleHostReverseProxy(u)
	c := &blobCounter{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/sha256:") {
			c.mu.Lock()
			c.gets = append(c.gets, r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:])
			c.mu.Unlock()
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://"), c
}

var builtRe = regexp.MustCompile(`Successfully built ([0-9a-f]{12})`)

func builtID(t *testing.T, out string) string {
	t.Helper()
	m := builtRe.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no 'Successfully built' in:\n%s", out)
	}
	return m[1]
}

// TestCacheShareRegistry: A exports mode=max to the registry; a fresh B
// builds the same context from it: every step a hit with its source named,
// the same image id, and its push downloads no layer blob. Then one
// copied file changes: only the steps from that COPY on run, the miss
// names the file, and only the two layers under the COPY are downloaded.
func TestCacheShareRegistry(t *testing.T) {
	requireRoot(t)
	requireBusybox(t)
	requireTool(t, "docker-registry", "skopeo")
	regAddr, _ := startRegistry(t)
	proxy, count := startCountingProxy(t, regAddr)
	tmp := t.TempDir()
	ctx := filepath.Join(tmp, "ctx")
	rootA, rootB := filepath.Join(tmp, "A"), filepath.Join(tmp, "B")
	mustStrata(t, "example", "--root", rootA, "--dir", ctx, "-t", "ex:1")
	ref := proxy + "/app:cache"
	outA := mustStrata(t, "build", "--root", rootA, "--cache-to", "type=registry,ref="+ref+",mode=max", ctx)
	idA := builtID(t, outA)
	count.reset()

	outB := mustStrata(t, "build", "--root", rootB, "--cache-from", "type=registry,ref="+ref, "-t", proxy+"/app:1", "-o", "type=registry", ctx)
	if idB := builtID(t, outB); idB != idA {
		t.Errorf("B built %s, A built %s: want the same image id\n%s", idB, idA, outB)
	}
	if n := strings.Count(outB, " ---> Using cache"); n != 10 {
		t.Errorf("%d of 10 steps from cache:\n%s", n, outB)
	}
	if n := strings.Count(outB, "cache hit: from "+ref); n != 9 {
		t.Errorf("%d steps say 'cache hit: from %s', want 9 (every step after FROM scratch):\n%s", n, ref, outB)
	}
	if strings.Contains(outB, "Running in") {
		t.Errorf("a container ran:\n%s", outB)
	}
	// One blob GET: the cache's config (its records); no layer.
	if g := count.reset(); len(g) != 1 {
		t.Errorf("B downloaded blobs %v, want only the cache document (no layer)", g)
	}
	checkClean(t, rootB)

	// A push to another repository of the registry mounts the layers.
	rootC := filepath.Join(tmp, "C")
	outC := mustStrata(t, "build", "--root", rootC, "--cache-from", "type=registry,ref="+ref, "-t", proxy+"/other/app:1", "-o", "type=registry", ctx)
	if idC := builtID(t, outC); idC != idA {
		t.Errorf("C built %s, A built %s", idC, idA)
	}
	if g := count.reset(); len(g) != 1 {
		t.Errorf("a push to another repository downloaded blobs %v, want only the cache document (layers mounted)", g)
	}
	runTool(t, "skopeo", "inspect", "--tls-verify=false", "docker://"+regAddr+"/other/app:1")
	checkClean(t, rootC)

	// One file changes.
	if err := os.WriteFile(filepath.Join(ctx, "app", "README.txt"), []byte("changed on B\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	outB2 := mustStrata(t, "build", "--root", rootB, "--cache-from", "type=registry,ref="+ref, "-t", "b:2", ctx)
	if !strings.Contains(outB2, "cache miss: file app/README.txt changed") {
		t.Errorf("the COPY's miss does not name the changed file:\n%s", outB2)
	}
	if n := strings.Count(outB2, "cache hit: from "+ref); n != 3 {
		t.Errorf("%d hits from the registry, want 3 (ADD, ENV, WORKDIR):\n%s", n, outB2)
	}
	if n := strings.Count(outB2, "Running in"); n != 1 {
		t.Errorf("%d RUN containers, want the one after the COPY:\n%s", n, outB2)
	}
	// The ADD's and the WORKDIR's layers, under the COPY: not the old
	// COPY's or the RUN's.
	if g := count.reset(); len(g) != 3 {
		t.Errorf("blob GETs %v: want the cache document and the 2 layers the COPY runs on", g)
	}
	if id := imageID(t, rootB, "b:2"); id == idA {
		t.Errorf("b:2 is A's image %s though a file changed", id)
	}
	// The hits whose layers came here are B's own cache now.
	outB3 := mustStrata(t, "build", "--root", rootB, "-t", "b:3", ctx)
	if n := strings.Count(outB3, " ---> Using cache"); n != 10 {
		t.Errorf("B without --cache-from after that: %d of 10 steps from cache:\n%s", n, outB3)
	}
	checkClean(t, rootB)
}

// TestCacheShareLocalInlineAndBad: type=local round trip; type=inline
// read back from the pushed image alone; a corrupt record, a missing
// blob and a blob with other content are warned about, skipped, and the
// build still succeeds with a complete image.
func TestCacheShareLocalInlineAndBad(t *testing.T) {
	requireRoot(t)
	requireBusybox(t)
	requireTool(t, "docker-registry")
	regAddr, _ := startRegistry(t)
	tmp := t.TempDir()
	ctx := filepath.Join(tmp, "ctx")
	rootA := filepath.Join(tmp, "A")
	mustStrata(t, "example", "--root", rootA, "--dir", ctx, "-t", "ex:1")
	dir := filepath.Join(tmp, "cachedir")
	outA := mustStrata(t, "build", "--root", rootA, "--cache-to", "type=local,dest="+dir, ctx)
	idA := builtID(t, outA)

	t.Run("local", func(t *testing.T) {
		root := filepath.Join(tmp, "L")
		out := mustStrata(t, "build", "--root", root, "--cache-from", "type=local,src="+dir, "-t", "l:1", ctx)
		if id := builtID(t, out); id != idA || strings.Count(out, " ---> Using cache") != 10 {
			t.Errorf("from type=local: id %s (A %s), want all 10 steps cached:\n%s", id, idA, out)
		}
		// No push: the image is needed here, so its layers were fetched.
		if imageID(t, root, "l:1") != idA {
			t.Errorf("l:1 is not A's image")
		}
		checkClean(t, root)
	})

	t.Run("inline", func(t *testing.T) {
		img := regAddr + "/app:inline"
		mustStrata(t, "build", "--root", rootA, "-t", img, "-o", "type=registry", "--cache-to", "type=inline", ctx)
		root := filepath.Join(tmp, "I")
		out := mustStrata(t, "build", "--root", root, "--cache-from", img, "-t", "i:1", ctx)
		if id := builtID(t, out); id != idA || strings.Count(out, "cache hit: from "+img) != 9 {
			t.Errorf("from the inline image: id %s (A %s), want 9 hits from %s:\n%s", id, idA, img, out)
		}
		checkClean(t, root)
	})

	// The bad caches are copies of dir, each hurt one way.
	layout := func(t *testing.T, d string) (man map[string]any, doc map[string]any, write func()) {
		var idx struct {
			Manifests []struct {
				Digest string `json:"digest"`
			} `json:"manifests"`
		}
		readJSON(t, filepath.Join(d, "index.json"), &idx)
		blob := func(dg string) string { return filepath.Join(d, "blobs", "sha256", strings.TrimPrefix(dg, "sha256:")) }
		readJSON(t, blob(idx.Manifests[0].Digest), &man)
		cfg := man["config"].(map[string]any)
		readJSON(t, blob(cfg["digest"].(string)), &doc)
		return man, doc, func() {
			// Rewrite doc then the manifest (new digests), and point the
			// index at it, as a registry's writer would.
			put := func(v any) (string, int) {
				b, _ := json.Marshal(v)
				dg := sha256Hex(b)
				if err := os.WriteFile(blob(dg), b, 0o644); err != nil {
					t.Fatal(err)
				}
				return dg, len(b)
			}
			dg, n := put(doc)
			cfg["digest"], cfg["size"] = dg, n
			mdg, mn := put(man)
			b, _ := os.ReadFile(filepath.Join(d, "index.json"))
			s := strings.Replace(string(b), idx.Manifests[0].Digest, mdg, 1)
			s = regexp.MustCompile(`"size":\d+`).ReplaceAllString(s, `"size":`+itoa(mn))
			os.WriteFile(filepath.Join(d, "index.json"), []byte(s), 0o644)
		}
	}
	copyDir := func(t *testing.T) string {
		d := filepath.Join(t.TempDir(), "c")
		runTool(t, "cp", "-a", dir, d)
		return d
	}
	layerBlob := func(t *testing.T, d string, doc map[string]any, i int) string {
		ls := doc["layers"].([]any)
		return filepath.Join(d, "blobs", "sha256", strings.TrimPrefix(ls[i].(map[string]any)["digest"].(string), "sha256:"))
	}
	check := func(t *testing.T, d, warn string) {
		root := filepath.Join(t.TempDir(), "r")
		out := mustStrata(t, "build", "--root", root, "--cache-from", "type=local,src="+d, "-t", "x:1", ctx)
		if !strings.Contains(out, warn) {
			t.Errorf("no warning %q:\n%s", warn, out)
		}
		if !strings.Contains(out, "Successfully tagged") {
			t.Errorf("no image:\n%s", out)
		}
		imageID(t, root, "x:1") // stored, with every layer
		runOut := mustStrata(t, "run", "--root", root, "--rm", "x:1", "cat", "/srv/data/motd")
		if !strings.Contains(runOut, "hello from strata") {
			t.Errorf("the image runs wrong: %q", runOut)
		}
		checkClean(t, root)
	}
	t.Run("corrupt-record", func(t *testing.T) {
		d := copyDir(t)
		_, doc, write := layout(t, d)
		ents := doc["entries"].([]any)
		ents[len(ents)-1].(map[string]any)["key"] = "../../etc/passwd"
		write()
		check(t, d, "1 cache record corrupt or naming a missing layer: skipped")
	})
	t.Run("missing-blob", func(t *testing.T) {
		d := copyDir(t)
		_, doc, _ := layout(t, d)
		if err := os.Remove(layerBlob(t, d, doc, 1)); err != nil {
			t.Fatal(err)
		}
		check(t, d, "the steps that need it are built")
	})
	t.Run("wrong-digest-blob", func(t *testing.T) {
		d := copyDir(t)
		_, doc, _ := layout(t, d)
		p := layerBlob(t, d, doc, 0)
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		junk := make([]byte, fi.Size())
		rand.Read(junk)
		os.Chmod(p, 0o644)
		if err := os.WriteFile(p, junk, 0o644); err != nil {
			t.Fatal(err)
		}
		check(t, d, "the layer is not used; building again")
	})
}

// TestCacheShareModes: on a two-stage build, mode=min shares the final
// stage's steps only (the builder's RUN runs again), mode=max every
// stage's (nothing runs).
func TestCacheShareModes(t *testing.T) {
	requireRoot(t)
	requireBusybox(t)
	tmp := t.TempDir()
	ctx := filepath.Join(tmp, "ctx")
	mustStrata(t, "example", "--root", filepath.Join(tmp, "E"), "--dir", ctx, "-t", "ex:1")
	df := "FROM scratch AS base\nADD rootfs.tar /\nFROM base AS builder\nRUN echo built > /out\nFROM base\nCOPY --from=builder /out /out\nCMD [\"cat\", \"/out\"]\n"
	if err := os.WriteFile(filepath.Join(ctx, "Dockerfile"), []byte(df), 0o644); err != nil {
		t.Fatal(err)
	}
	rootA := filepath.Join(tmp, "A")
	for _, mode := range []string{"min", "max"} {
		dir := filepath.Join(tmp, mode)
		mustStrata(t, "build", "--root", rootA, "--cache-to", "type=local,dest="+dir+",mode="+mode, ctx)
		root := filepath.Join(tmp, "B"+mode)
		out := mustStrata(t, "build", "--root", root, "--cache-from", "type=local,src="+dir, ctx)
		ran := strings.Count(out, "Running in")
		switch {
		case mode == "min" && ran != 1:
			t.Errorf("mode=min: %d RUNs, want the builder's RUN (its stage is not shared):\n%s", ran, out)
		case mode == "max" && ran != 0:
			t.Errorf("mode=max: %d RUNs, want none:\n%s", ran, out)
		}
		if !strings.Contains(out, "COPY --from=builder") || !strings.Contains(out, "cache hit: from "+dir+" (type=local)") {
			t.Errorf("mode=%s: the final stage's COPY is not a hit from the cache:\n%s", mode, out)
		}
		checkClean(t, root)
	}
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

// TestCacheShareLazyBase: FROM a registry image, with --cache-from, is
// resolved by its manifest and config only: a fresh root whose every step
// hits pushes without downloading a layer (the base's included); when a
// COPY misses, the base's layer is downloaded then, and only it.
func TestCacheShareLazyBase(t *testing.T) {
	requireRoot(t)
	requireBusybox(t)
	requireTool(t, "docker-registry")
	regAddr, _ := startRegistry(t)
	proxy, count := startCountingProxy(t, regAddr)
	tmp := t.TempDir()
	ctx := filepath.Join(tmp, "ctx")
	rootA, rootB := filepath.Join(tmp, "A"), filepath.Join(tmp, "B")
	mustStrata(t, "example", "--root", rootA, "--dir", ctx, "-t", "ex:1")
	base := filepath.Join(tmp, "base")
	os.MkdirAll(base, 0o755)
	runTool(t, "cp", filepath.Join(ctx, "rootfs.tar"), base)
	os.WriteFile(filepath.Join(base, "Dockerfile"), []byte("FROM scratch\nADD rootfs.tar /\n"), 0o644)
	mustStrata(t, "build", "--root", rootA, "-t", proxy+"/base:1", "-o", "type=registry", base)
	df := "FROM " + proxy + "/base:1\nCOPY app/ /app/\nRUN wc -c /app/README.txt > /size\nCMD [\"cat\", \"/size\"]\n"
	os.WriteFile(filepath.Join(ctx, "Dockerfile"), []byte(df), 0o644)
	ref := proxy + "/app:cache"
	idA := builtID(t, mustStrata(t, "build", "--root", rootA, "--cache-to", "type=registry,ref="+ref+",mode=max", ctx))
	count.reset()

	out := mustStrata(t, "build", "--root", rootB, "--cache-from", ref, "-t", proxy+"/app:1", "-o", "type=registry", ctx)
	if id := builtID(t, out); id != idA || strings.Count(out, "cache hit: from "+ref) != 3 {
		t.Errorf("id %s (A %s), want 3 hits from %s:\n%s", id, idA, ref, out)
	}
	if !strings.Contains(out, "its layers stay in the registry until a step needs them") {
		t.Errorf("the base was not resolved lazily:\n%s", out)
	}
	if g := count.reset(); len(g) != 2 {
		t.Errorf("blob GETs %v: want the base's config and the cache document only", g)
	}
	checkClean(t, rootB)

	os.WriteFile(filepath.Join(ctx, "app", "README.txt"), []byte("changed\n"), 0o644)
	out = mustStrata(t, "build", "--root", rootB, "--cache-from", ref, "-t", "b:2", ctx)
	if !strings.Contains(out, "cache miss: file app/README.txt changed") || strings.Count(out, "Running in") != 1 {
		t.Errorf("want the COPY to miss on the changed file and the RUN to run:\n%s", out)
	}
	// The base's config, the cache document, the base's one layer.
	if g := count.reset(); len(g) != 3 {
		t.Errorf("blob GETs %v: want the base's config, the cache document and the base's layer", g)
	}
	checkClean(t, rootB)
}

// TestCacheShareBadBlobNoFailedStep: a shared-cache layer whose blob has
// other content is found bad only when a step that runs needs it (the
// COPY after the changed file): the plan is walked again. That step did
// not fail, so --progress json sends no step_failed, the plain output no
// error, and the report has every step's real outcome (sizes not summed
// over the two walks).
func TestCacheShareBadBlobNoFailedStep(t *testing.T) {
	requireRoot(t)
	requireBusybox(t)
	tmp := t.TempDir()
	ctx := filepath.Join(tmp, "ctx")
	mustStrata(t, "example", "--root", filepath.Join(tmp, "A"), "--dir", ctx, "-t", "ex:1")
	dir := filepath.Join(tmp, "cachedir")
	mustStrata(t, "build", "--root", filepath.Join(tmp, "A"), "--cache-to", "type=local,dest="+dir, ctx)
	// The first layer's blob (the ADD of the rootfs) gets other bytes.
	var idx struct {
		Manifests []struct {
			Digest string `json:"digest"`
		} `json:"manifests"`
	}
	blob := func(dg string) string {
		return filepath.Join(dir, "blobs", "sha256", strings.TrimPrefix(dg, "sha256:"))
	}
	readJSON(t, filepath.Join(dir, "index.json"), &idx)
	var man struct {
		Config struct {
			Digest string `json:"digest"`
		} `json:"config"`
	}
	readJSON(t, blob(idx.Manifests[0].Digest), &man)
	var doc struct {
		Layers []struct {
			Digest string `json:"digest"`
		} `json:"layers"`
	}
	readJSON(t, blob(man.Config.Digest), &doc)
	p := blob(doc.Layers[0].Digest)
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	junk := make([]byte, fi.Size())
	rand.Read(junk)
	os.Chmod(p, 0o644)
	if err := os.WriteFile(p, junk, 0o644); err != nil {
		t.Fatal(err)
	}
	// A changed copied file: the COPY runs and needs the bad layer.
	f, err := os.OpenFile(filepath.Join(ctx, "app", "server.sh"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("# changed\n")
	f.Close()

	for _, progress := range []string{"json", "plain"} {
		t.Run(progress, func(t *testing.T) {
			root, report := filepath.Join(t.TempDir(), "r"), filepath.Join(t.TempDir(), "report.json")
			out := mustStrata(t, "build", "--root", root, "--cache-from", "type=local,src="+dir, "--progress", progress, "--report", report, "-t", "x:1", ctx)
			if !strings.Contains(out, "the layer is not used; building again") {
				t.Fatalf("no warning of the bad layer:\n%s", out)
			}
			if progress == "json" {
				for _, l := range strings.Split(out, "\n") {
					if strings.Contains(l, `"type":"step_failed"`) {
						t.Errorf("a step that then succeeds is reported failed: %s", l)
					}
				}
			} else if strings.Contains(out, "ERROR") || strings.Contains(out, "failed") {
				t.Errorf("the plain output tells a failure:\n%s", out)
			}
			var rep struct {
				Error string `json:"error"`
				Steps []struct {
					Instruction string `json:"instruction"`
					Status      string `json:"status"`
					Size        int64  `json:"size"`
					Files       int    `json:"files"`
					Changes     struct {
						Added int `json:"added"`
					} `json:"changes"`
				} `json:"steps"`
			}
			readJSON(t, report, &rep)
			if rep.Error != "" {
				t.Errorf("report error %q", rep.Error)
			}
			for _, s := range rep.Steps {
				if s.Status != "built" && s.Status != "cached" {
					t.Errorf("report: %s is %s", s.Instruction, s.Status)
				}
				if strings.HasPrefix(s.Instruction, "ADD rootfs.tar") && s.Files != s.Changes.Added {
					t.Errorf("report: %s has %d files for %d added (summed over the two walks?)", s.Instruction, s.Files, s.Changes.Added)
				}
			}
			if got := mustStrata(t, "run", "--root", root, "--rm", "x:1", "cat", "/srv/app/server.sh"); !strings.Contains(got, "# changed") {
				t.Errorf("the image lacks the changed file: %q", got)
			}
			checkClean(t, root)
		})
	}
}

// TestCacheShareClassicImage: --cache-from a plain image (built by strata,
// pushed without an inline cache: docker's classic --cache-from). Steps
// are matched by the image's history where strata can prove it: the RUN
// and the metadata steps on a parent that is a prefix of the image hit,
// their layers left in the registry until a step that runs needs them
// (none when the output is a push); an ADD or COPY cannot be proven (no
// checksum recorded), misses saying so and is built (the ADD's layer is
// the image's again, so the steps after it match). An image whose RUN
// differs matches nothing from that RUN on.
func TestCacheShareClassicImage(t *testing.T) {
	requireRoot(t)
	requireBusybox(t)
	requireTool(t, "docker-registry", "skopeo")
	regAddr, _ := startRegistry(t)
	proxy, count := startCountingProxy(t, regAddr)
	tmp := t.TempDir()
	ctx := filepath.Join(tmp, "ctx")
	rootA := filepath.Join(tmp, "A")
	mustStrata(t, "example", "--root", rootA, "--dir", ctx, "-t", "ex:1")
	noCopy := "FROM scratch\nADD rootfs.tar /\nENV GREETING=hi\nRUN echo \"$GREETING\" > /greeting\nLABEL k=v\nCMD [\"cat\", \"/greeting\"]\n"
	df := noCopy + "COPY app/ /app/\n"
	os.WriteFile(filepath.Join(ctx, "Dockerfile"), []byte(df), 0o644)
	img := proxy + "/app:plain"
	mustStrata(t, "build", "--root", rootA, "-t", img, "-o", "type=registry", ctx)
	hit := "cache hit: from " + img + " (its history: same parent, same instruction)"
	layersOf := func(ref string) []string {
		var m struct{ Layers []string }
		json.Unmarshal([]byte(runTool(t, "skopeo", "inspect", "--tls-verify=false", "docker://"+ref)), &m)
		return m.Layers
	}
	imgLayers := layersOf(img)
	if len(imgLayers) != 3 {
		t.Fatalf("the plain image has layers %v, want 3 (ADD, RUN, COPY)", imgLayers)
	}
	count.reset()

	t.Run("all-provable", func(t *testing.T) {
		// Everything but the ADD matches; the push sends the RUN's layer
		// from the registry without downloading it.
		os.WriteFile(filepath.Join(ctx, "Dockerfile"), []byte(noCopy), 0o644)
		defer os.WriteFile(filepath.Join(ctx, "Dockerfile"), []byte(df), 0o644)
		root := filepath.Join(t.TempDir(), "B")
		report := filepath.Join(t.TempDir(), "report.json")
		out := mustStrata(t, "build", "--root", root, "--cache-from", img, "-t", proxy+"/app:b", "-o", "type=registry", "--report", report, ctx)
		if n := strings.Count(out, hit); n != 4 || strings.Contains(out, "Running in") {
			t.Errorf("%d steps matched by the image's history, want 4 (ENV, RUN, LABEL, CMD) and no RUN run:\n%s", n, out)
		}
		// The RUN's layer stays in the image: its size is not known, not 0.
		if n := strings.Count(out, " in "+img+", not downloaded: size and files not known yet ("); n != 1 {
			t.Errorf("%d lines say a layer is still in the image, want 1 (the RUN's, with its compressed size):\n%s", n, out)
		}
		var rep struct{ Steps []map[string]any }
		b, _ := os.ReadFile(report)
		json.Unmarshal(b, &rep)
		remote := 0
		for _, s := range rep.Steps {
			if s["remote"] == nil {
				continue
			}
			remote++
			if _, ok := s["size"]; ok || s["instruction"] != `RUN echo "$GREETING" > /greeting` {
				t.Errorf("report: remote step %v, want the RUN without a size", s)
			}
		}
		if remote != 1 {
			t.Errorf("report: %d remote steps, want 1 (the RUN):\n%s", remote, b)
		}
		if !strings.Contains(out, "cache miss: cache-from "+img+" has no checksum for ADD") {
			t.Errorf("the ADD's miss does not say why:\n%s", out)
		}
		if g := count.reset(); len(g) != 1 {
			t.Errorf("blob GETs %v: want the image's config only (no layer downloaded for a push)", g)
		}
		if got := layersOf(proxy + "/app:b"); strings.Join(got, ",") != strings.Join(imgLayers[:2], ",") {
			t.Errorf("pushed layers %v, want the image's ADD and RUN layers %v", got, imgLayers[:2])
		}
		checkClean(t, root)
	})

	t.Run("copy-unprovable", func(t *testing.T) {
		root := filepath.Join(t.TempDir(), "B")
		out := mustStrata(t, "build", "--root", root, "--cache-from", img, "-t", "b:1", ctx)
		if n := strings.Count(out, hit); n != 4 {
			t.Errorf("%d steps matched, want 4:\n%s", n, out)
		}
		if !strings.Contains(out, "cache miss: cache-from "+img+" has no checksum for COPY") {
			t.Errorf("the COPY's miss does not say why:\n%s", out)
		}
		if got := mustStrata(t, "run", "--root", root, "--rm", "b:1", "cat", "/greeting", "/app/README.txt"); !strings.HasPrefix(got, "hi\n") {
			t.Errorf("the image is wrong: %q", got)
		}
		checkClean(t, root)
	})

	t.Run("mismatch", func(t *testing.T) {
		other := filepath.Join(t.TempDir(), "ctx")
		runTool(t, "cp", "-a", ctx, other)
		os.WriteFile(filepath.Join(other, "Dockerfile"), []byte(strings.Replace(df, "> /greeting", "> /hello", 1)), 0o644)
		root := filepath.Join(t.TempDir(), "C")
		out := mustStrata(t, "build", "--root", root, "--cache-from", img, "-t", "c:1", other)
		if n := strings.Count(out, "cache hit: from "+img); n != 1 { // the ENV only
			t.Errorf("%d hits from the image, want 1 (the ENV; the RUN differs, and so every step on it):\n%s", n, out)
		}
		if !strings.Contains(out, "Running in") {
			t.Errorf("the changed RUN did not run:\n%s", out)
		}
		if got := mustStrata(t, "run", "--root", root, "--rm", "c:1", "cat", "/hello"); !strings.Contains(got, "hi") {
			t.Errorf("the image is wrong: %q", got)
		}
		checkClean(t, root)
	})
}

// TestTUICacheShareFiles: the TUI on a fresh root builds from a shared
// cache and pushes, so every layer stays in the registry. The Files tab
// of the RUN step downloads its layer (through the counting proxy) and
// lists the file the RUN wrote; it never says "no filesystem change".
// The Space tab, analysed by itself at the build's end, downloads nothing.
func TestTUICacheShareFiles(t *testing.T) {
	requireRoot(t)
	requireBusybox(t)
	requireTool(t, "docker-registry", "tmux")
	regAddr, _ := startRegistry(t)
	proxy, count := startCountingProxy(t, regAddr)
	tmp := t.TempDir()
	ctx := filepath.Join(tmp, "ctx")
	rootA, rootB := filepath.Join(tmp, "A"), filepath.Join(tmp, "B")
	mustStrata(t, "example", "--root", rootA, "--dir", ctx, "-t", "ex:1")
	ref := proxy + "/app:cache"
	mustStrata(t, "build", "--root", rootA, "--cache-to", "type=registry,ref="+ref+",mode=max", ctx)
	count.reset()

	exitFile := filepath.Join(tmp, "exit")
	cmd := strataBin + " --root " + rootB + " --cache-from " + ref + " -t " + proxy + "/app:b -o type=registry " + ctx + "; echo $? > " + exitFile + "; sleep 60"
	s := newTmux(t, 120, 36, cmd)
	s.waitFor("build complete", 60*time.Second)
	if g := count.reset(); len(g) != 1 {
		t.Errorf("blob GETs during the all-hit build %v: want the cache document only", g)
	}
	s.keys("g")
	for i := 0; i < 5; i++ {
		s.keys("j")
	}
	s.waitFor("[6/10] RUN", 5*time.Second)
	s.keys("3") // Files tab
	// Its header counts the step's changes once they are read (the
	// Dockerfile pane names motd too).
	scr := s.waitFor("this step: +", 20*time.Second)
	if !strings.Contains(scr, "-rw-r--r--") || !strings.Contains(scr, "motd") {
		t.Errorf("the Files tab does not list the file the RUN wrote:\n%s", scr)
	}
	if strings.Contains(scr, "no filesystem change") {
		t.Errorf("the Files tab of a remote step says no change:\n%s", scr)
	}
	if g := count.reset(); len(g) == 0 {
		t.Errorf("the Files tab showed the RUN's files without downloading a layer")
	}
	// The Space analysis, run when the build ended, downloaded nothing and
	// says why it has no answer.
	s.keys("9")
	s.waitFor("of the image's layers are still in", 10*time.Second)
	s.keys("q")
	if code := waitExit(t, s, exitFile); code != "0" {
		t.Errorf("strata exited %s", code)
	}
	checkClean(t, rootB)
}
