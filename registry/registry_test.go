package registry

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/strata-build/strata/internal/testutil"
	"github.com/strata-build/strata/layers"
)

func requireRoot(t *testing.T) {
	t.Helper()
	testutil.RequireRoot(t, "unpacking layers into the store keeps owners and modes")
}

// testRegistry is go-containerregistry's in-memory registry on a
// 127.0.0.1 port (plain HTTP, as docker allows for loopback), behind wrap.
type testRegistry struct {
	srv  *httptest.Server
	host string
	mu   sync.Mutex
	wrap func(w http.ResponseWriter, r *http.Request, next http.Handler) bool
	reqs []string
}

func newRegistry(t *testing.T) *testRegistry {
	t.Helper()
	tr := &testRegistry{}
	h := ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0)))
	tr.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tr.mu.Lock()
		tr.reqs = append(tr.reqs, r.Method+" "+r.URL.Path)
		wrap := tr.wrap
		tr.mu.Unlock()
		if wrap != nil && wrap(w, r, h) {
			return
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(tr.srv.Close)
	tr.host = strings.TrimPrefix(tr.srv.URL, "http://")
	return tr
}

func (tr *testRegistry) requests() []string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return append([]string(nil), tr.reqs...)
}

func (tr *testRegistry) put(t *testing.T, ref string, img v1.Image) {
	t.Helper()
	r, err := name.ParseReference(tr.host + "/" + ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img); err != nil {
		t.Fatal(err)
	}
}

func openStore(t *testing.T) *layers.Store {
	t.Helper()
	return testutil.TempStore(t, layers.Open)
}

func randomImage(t *testing.T, nlayers int64, platform *v1.Platform) v1.Image {
	t.Helper()
	img, err := random.Image(4096, nlayers)
	if err != nil {
		t.Fatal(err)
	}
	if platform != nil {
		cf, _ := img.ConfigFile()
		cf = cf.DeepCopy()
		cf.OS, cf.Architecture, cf.Variant = platform.OS, platform.Architecture, platform.Variant
		if img, err = mutate.ConfigFile(img, cf); err != nil {
			t.Fatal(err)
		}
	}
	return img
}

var amd64 = &v1.Platform{OS: "linux", Architecture: "amd64"}

func TestPullByTagThenOffline(t *testing.T) {
	requireRoot(t)
	reg := newRegistry(t)
	img := randomImage(t, 2, amd64)
	reg.put(t, "test/img:1", img)
	s := openStore(t)
	var mu sync.Mutex
	var progress []Progress
	o := Options{Platform: amd64, Progress: func(p Progress) { mu.Lock(); progress = append(progress, p); mu.Unlock() }}
	ref := reg.host + "/test/img:1"

	res, err := Pull(context.Background(), s, ref, o)
	if err != nil {
		t.Fatal(err)
	}
	wantID, _ := img.ConfigName()
	wantDigest, _ := img.Digest()
	if res.Record.Config != wantID || res.Digest != wantDigest || res.Downloaded != 2 || res.UpToDate {
		t.Errorf("pull: id %s digest %s downloaded %d up-to-date %v; want id %s digest %s, 2 layers downloaded", res.Record.Config, res.Digest, res.Downloaded, res.UpToDate, wantID, wantDigest)
	}
	// The image id is the registry's config digest, and the name docker's.
	rec, ok, _ := s.LookupImage(ref)
	if !ok || rec.Config != wantID || rec.Name != reg.host+"/test/img:1" {
		t.Errorf("store has %+v (found %v), want id %s", rec, ok, wantID)
	}
	cfg, _ := img.ConfigFile()
	for _, d := range cfg.RootFS.DiffIDs {
		if !s.HasLayer(d) {
			t.Errorf("layer %s not stored", d)
		}
	}
	// Progress: every layer reported its whole size, then done.
	done := map[v1.Hash]bool{}
	full := map[v1.Hash]bool{}
	for _, p := range progress {
		if p.State == "downloading" && p.Done == p.Total && p.Total > 0 {
			full[p.Layer] = true
		}
		if p.State == "done" {
			done[p.Layer] = true
		}
	}
	if len(full) != 2 || len(done) != 2 {
		t.Errorf("progress reported %d full downloads and %d done layers, want 2 and 2: %+v", len(full), len(done), progress)
	}

	// Pull again: one HEAD, nothing downloaded.
	before := len(reg.requests())
	res, err = Pull(context.Background(), s, ref, o)
	if err != nil {
		t.Fatal(err)
	}
	if !res.UpToDate || res.Downloaded != 0 {
		t.Errorf("second pull: up-to-date %v, downloaded %d", res.UpToDate, res.Downloaded)
	}
	for _, r := range reg.requests()[before:] {
		if strings.Contains(r, "/blobs/") {
			t.Errorf("second pull fetched a blob: %s", r)
		}
	}

	// The registry goes away: a build resolves the tag from the store…
	reg.srv.Close()
	res, err = Resolve(context.Background(), s, ref, Options{Platform: amd64})
	if err != nil {
		t.Fatalf("offline resolve: %v", err)
	}
	if !res.Local || res.Record.Config != wantID || res.Digest != wantDigest {
		t.Errorf("offline resolve: local %v id %s digest %s", res.Local, res.Record.Config, res.Digest)
	}
	// …and by the digest it resolved to.
	res, err = Resolve(context.Background(), s, reg.host+"/test/img@"+wantDigest.String(), Options{Platform: amd64})
	if err != nil || res.Record.Config != wantID {
		t.Errorf("offline resolve by digest: %v", err)
	}
	// strata pull by that digest needs no registry either, and names it.
	byDigest := reg.host + "/test/img@" + wantDigest.String()
	if res, err := Pull(context.Background(), s, byDigest, Options{Platform: amd64}); err != nil || !res.UpToDate {
		t.Errorf("offline pull by digest: %v", err)
	}
	if rec, ok, _ := s.LookupImage(byDigest); !ok || rec.Config != wantID {
		t.Errorf("pull by digest did not name the image %s", byDigest)
	}
	// --pull must ask the registry, and says it cannot.
	_, err = Resolve(context.Background(), s, ref, Options{Platform: amd64, Pull: true})
	t.Log(err)
	if err == nil || !strings.Contains(err.Error(), "registry "+reg.host+" refused the connection") {
		t.Errorf("--pull with the registry gone: %v", err)
	}
	// A name never pulled: the error names the registry.
	_, err = Resolve(context.Background(), s, reg.host+"/other:1", Options{Platform: amd64})
	if err == nil || !strings.Contains(err.Error(), "refused the connection") {
		t.Errorf("resolve of an unknown name with the registry gone: %v", err)
	}
}

func TestPullByDigestAndMissingTag(t *testing.T) {
	requireRoot(t)
	reg := newRegistry(t)
	img := randomImage(t, 1, amd64)
	reg.put(t, "test/img:1", img)
	s := openStore(t)
	d, _ := img.Digest()
	ref := reg.host + "/test/img@" + d.String()
	res, err := Pull(context.Background(), s, ref, Options{Platform: amd64})
	if err != nil {
		t.Fatal(err)
	}
	id, _ := img.ConfigName()
	if res.Record.Config != id || res.Record.Name != ref {
		t.Errorf("pull by digest: %+v", res.Record)
	}
	// Stored by digest: a second pull does not ask the registry.
	before := len(reg.requests())
	if res, err = Pull(context.Background(), s, ref, Options{Platform: amd64}); err != nil || !res.UpToDate {
		t.Errorf("second pull by digest: %v %+v", err, res)
	}
	if n := len(reg.requests()) - before; n != 0 {
		t.Errorf("second pull by digest made %d requests", n)
	}
	_, err = Pull(context.Background(), s, reg.host+"/test/img:nope", Options{})
	t.Log(err)
	if err == nil || !strings.Contains(err.Error(), "no such image") || !strings.Contains(err.Error(), "tag nope") {
		t.Errorf("missing tag: %v", err)
	}
}

func TestPullChoosesPlatformFromIndex(t *testing.T) {
	requireRoot(t)
	reg := newRegistry(t)
	arm := &v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}
	imgAMD := randomImage(t, 1, amd64)
	imgARM := randomImage(t, 1, arm)
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: imgAMD, Descriptor: v1.Descriptor{Platform: amd64}},
		mutate.IndexAddendum{Add: imgARM, Descriptor: v1.Descriptor{Platform: arm}},
	)
	r, _ := name.ParseReference(reg.host + "/multi:1")
	if err := remote.WriteIndex(r, idx); err != nil {
		t.Fatal(err)
	}
	idxDigest, _ := idx.Digest()
	for _, c := range []struct {
		p    *v1.Platform
		want v1.Image
	}{
		{amd64, imgAMD},
		{arm, imgARM},
		{&v1.Platform{OS: "linux", Architecture: "arm64"}, imgARM}, // no variant asked: v8 found
	} {
		s := openStore(t)
		res, err := Pull(context.Background(), s, reg.host+"/multi:1", Options{Platform: c.p})
		if err != nil {
			t.Fatalf("%s: %v", c.p, err)
		}
		id, _ := c.want.ConfigName()
		md, _ := c.want.Digest()
		if res.Record.Config != id || res.Manifest != md || res.Digest != idxDigest {
			t.Errorf("%s: got id %s manifest %s digest %s; want %s %s %s", c.p, res.Record.Config, res.Manifest, res.Digest, id, md, idxDigest)
		}
	}
	_, err := Pull(context.Background(), openStore(t), reg.host+"/multi:1", Options{Platform: &v1.Platform{OS: "linux", Architecture: "s390x"}})
	t.Log(err)
	if err == nil || !strings.Contains(err.Error(), "no image for linux/s390x") || !strings.Contains(err.Error(), "linux/arm64/v8") || !strings.Contains(err.Error(), "--platform") {
		t.Errorf("unknown platform: %v", err)
	}
}

// A registry that serves a blob whose bytes do not match its digest is
// refused, with the blob named, and nothing reaches the store.
func TestCorruptBlobRefused(t *testing.T) {
	requireRoot(t)
	reg := newRegistry(t)
	img := randomImage(t, 2, amd64)
	reg.put(t, "test/img:1", img)
	ls, _ := img.Layers()
	bad, _ := ls[1].Digest()
	reg.wrap = func(w http.ResponseWriter, r *http.Request, next http.Handler) bool {
		if r.Method != http.MethodGet || !strings.HasSuffix(r.URL.Path, "/blobs/"+bad.String()) {
			return false
		}
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		body := rec.Body.Bytes()
		body[len(body)/2] ^= 0xff // same size, different content
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		w.Write(body)
		return true
	}
	s := openStore(t)
	_, err := Pull(context.Background(), s, reg.host+"/test/img:1", Options{Platform: amd64})
	if err == nil {
		t.Fatal("a corrupted blob was accepted")
	}
	t.Log(err)
	for _, want := range []string{"blob " + bad.String(), "layer 2 of 2", "corrupted", "refused", "nothing was stored"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	// Nothing stored: no blob, no layer, no name, no scratch left.
	for _, dir := range []string{"blobs/sha256", "layers"} {
		ents, _ := os.ReadDir(filepath.Join(s.Root(), dir))
		if len(ents) != 0 {
			t.Errorf("%s holds %d entries after a refused pull", dir, len(ents))
		}
	}
	if _, ok, _ := s.LookupImage(reg.host + "/test/img:1"); ok {
		t.Error("the name was recorded")
	}
	tmps, _ := filepath.Glob(filepath.Join(s.Root(), "tmp", "*", "pull-*"))
	if len(tmps) != 0 {
		t.Errorf("scratch left: %v", tmps)
	}
}

// Push a stored image, pull it back by digest into another store: same
// image id, same layers.
func TestPushPullRoundTrip(t *testing.T) {
	requireRoot(t)
	reg := newRegistry(t)
	img := randomImage(t, 2, amd64)
	reg.put(t, "src/img:1", img)
	a := openStore(t)
	if _, err := Pull(context.Background(), a, reg.host+"/src/img:1", Options{Platform: amd64}); err != nil {
		t.Fatal(err)
	}
	pushed, err := Push(context.Background(), a, reg.host+"/src/img:1", reg.host+"/dst/copy:2", Options{})
	if err != nil {
		t.Fatal(err)
	}
	id, _ := img.ConfigName()
	if pushed.Config != id {
		t.Errorf("pushed config %s, want the image id %s", pushed.Config, id)
	}
	r, _ := name.ParseReference(reg.host + "/dst/copy:2")
	desc, err := remote.Get(r)
	if err != nil {
		t.Fatal(err)
	}
	if desc.Digest != pushed.Digest || desc.Size != pushed.Size {
		t.Errorf("registry has %s (%d bytes), push said %s (%d)", desc.Digest, desc.Size, pushed.Digest, pushed.Size)
	}
	b := openStore(t)
	res, err := Pull(context.Background(), b, reg.host+"/dst/copy@"+pushed.Digest.String(), Options{Platform: amd64})
	if err != nil {
		t.Fatal(err)
	}
	if res.Record.Config != id || res.Manifest != pushed.Digest {
		t.Errorf("pulled back id %s manifest %s, want %s %s", res.Record.Config, res.Manifest, id, pushed.Digest)
	}
	// Pushing again sends no layer (the registry has them).
	before := len(reg.requests())
	if again, err := Push(context.Background(), a, reg.host+"/src/img:1", reg.host+"/dst/copy:2", Options{}); err != nil || again.Digest != pushed.Digest {
		t.Errorf("second push: %v, digest %v", err, again)
	}
	for _, r := range reg.requests()[before:] {
		if strings.HasPrefix(r, "PATCH") || strings.HasPrefix(r, "PUT /v2/dst/copy/blobs") {
			t.Errorf("second push uploaded: %s", r)
		}
	}
	// Bad input.
	if _, err := Push(context.Background(), a, "nosuch:1", "", Options{}); err == nil || !strings.Contains(err.Error(), "no image \"nosuch:1\" in the local store") {
		t.Errorf("push of an unknown image: %v", err)
	}
	if _, err := Push(context.Background(), a, id.Hex[:12], "", Options{}); err == nil || !strings.Contains(err.Error(), "say where to push it") {
		t.Errorf("push of an id without DEST: %v", err)
	}
	if _, err := Push(context.Background(), a, reg.host+"/src/img:1", reg.host+"/x@"+id.String(), Options{}); err == nil || !strings.Contains(err.Error(), "names a tag, not a digest") {
		t.Errorf("push to a digest: %v", err)
	}
}

// Credentials come from docker's config ($DOCKER_CONFIG/config.json).
func TestKeychainFromDockerConfig(t *testing.T) {
	requireRoot(t)
	reg := newRegistry(t)
	img := randomImage(t, 1, amd64)
	reg.put(t, "private/img:1", img)
	want := "Basic " + base64.StdEncoding.EncodeToString([]byte("strata:s3cret"))
	reg.wrap = func(w http.ResponseWriter, r *http.Request, next http.Handler) bool {
		if r.Header.Get("Authorization") == want {
			return false
		}
		w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
		w.WriteHeader(http.StatusUnauthorized)
		return true
	}
	dir := t.TempDir()
	t.Setenv("DOCKER_CONFIG", dir)
	ref := reg.host + "/private/img:1"
	_, err := Pull(context.Background(), openStore(t), ref, Options{Platform: amd64})
	t.Log(err)
	if err == nil || !strings.Contains(err.Error(), "denied access") || !strings.Contains(err.Error(), "docker login "+reg.host) {
		t.Errorf("pull without credentials: %v", err)
	}
	cfg := fmt.Sprintf(`{"auths":{%q:{"auth":%q}}}`, reg.host, base64.StdEncoding.EncodeToString([]byte("strata:s3cret")))
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Pull(context.Background(), openStore(t), ref, Options{Platform: amd64, Keychain: authn.DefaultKeychain}); err != nil {
		t.Errorf("pull with credentials in $DOCKER_CONFIG: %v", err)
	}
}

// TestOtherPlatformReusedOffline: a single-platform image used for
// another platform (with a warning, as docker does) is found in the store
// the next time the same platform is asked, registry or not.
func TestOtherPlatformReusedOffline(t *testing.T) {
	requireRoot(t)
	reg := newRegistry(t)
	img := randomImage(t, 1, amd64)
	reg.put(t, "test/only-amd64:1", img)
	s := openStore(t)
	ref := reg.host + "/test/only-amd64:1"
	arm := v1.Platform{OS: "linux", Architecture: "arm64"}
	res, err := Resolve(context.Background(), s, ref, Options{Platform: &arm})
	if err != nil {
		t.Fatal(err)
	}
	if res.Local || !strings.Contains(res.Warning, "not linux/arm64 as asked") {
		t.Fatalf("first resolve: local %v warning %q", res.Local, res.Warning)
	}
	reg.srv.Close()
	res, err = Resolve(context.Background(), s, ref, Options{Platform: &arm})
	if err != nil {
		t.Fatalf("offline resolve of the same question: %v", err)
	}
	if !res.Local || !strings.Contains(res.Warning, "not linux/arm64 as asked") {
		t.Errorf("offline resolve: local %v warning %q", res.Local, res.Warning)
	}
}
