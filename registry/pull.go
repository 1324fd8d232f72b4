package registry

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/zstd"
	"github.com/klauspost/pgzip"

	"github.com/strata-build/strata/internal/platforms"
	"github.com/strata-build/strata/layers"
)

// Options configure how strata talks to registries.
type Options struct {
	// Insecure are the --insecure-registry values (HOST[:PORT] or CIDR).
	Insecure []string
	// Platform picks the image of a multi-platform index; nil is the host's.
	Platform *v1.Platform
	// Pull makes Resolve ask the registry even when the store has the name
	// (docker build --pull).
	Pull bool
	// Progress is told how each layer's download goes (throttled to a few
	// calls a second per layer). It is called from several goroutines.
	Progress func(Progress)
	// Keychain finds credentials; nil is docker's: ~/.docker/config.json
	// ($DOCKER_CONFIG) and its credential helpers.
	Keychain authn.Keychain
	// Transport replaces the HTTP transport under the insecure-registry
	// policy (tests).
	Transport http.RoundTripper
	// Jobs is how many layers download at once (default 3, as docker).
	Jobs int
	// Annotations are added to a pushed manifest (--cache-to type=inline).
	Annotations map[string]string
}

// Progress is one layer's state during a pull.
type Progress struct {
	Layer v1.Hash // compressed blob digest
	Index int     // 1-based layer number
	Count int     // layers in the image
	Done  int64   // bytes downloaded
	Total int64
	// State: "exists" (already in the store), "downloading", "verified",
	// "extracting" or "done".
	State string
}

// Result is what a pull or resolve found.
type Result struct {
	Ref Ref
	// Digest is what the reference points to in the registry (a manifest
	// list's digest for a multi-platform image); zero when the registry
	// was not asked and nothing was remembered.
	Digest v1.Hash
	// Manifest is the platform image's manifest digest in the registry.
	Manifest v1.Hash
	Platform string
	Record   layers.ImageRecord
	Config   *v1.ConfigFile
	// Local is true when the store's copy was used without asking the
	// registry; UpToDate when the registry was asked and nothing changed.
	Local, UpToDate bool
	// Warning is set when the image is not for the platform asked (a
	// single-platform image: used anyway, as docker does, with a warning).
	Warning    string
	Layers     int   // layers in the image
	Downloaded int   // layers fetched
	Bytes      int64 // compressed bytes fetched
}

type client struct {
	s        *layers.Store
	o        Options
	policy   Policy
	platform v1.Platform
}

func newClient(s *layers.Store, o Options) (*client, error) {
	p, err := NewPolicy(o.Insecure)
	if err != nil {
		return nil, err
	}
	c := &client{s: s, o: o, policy: p, platform: platforms.Host()}
	if o.Platform != nil {
		c.platform = *o.Platform
	}
	if c.o.Keychain == nil {
		c.o.Keychain = authn.DefaultKeychain
	}
	if c.o.Jobs <= 0 {
		c.o.Jobs = 3
	}
	return c, nil
}

// name is r for go-containerregistry, marked insecure when the policy
// allows it (the transport then picks HTTPS or HTTP).
func (c *client) name(r Ref) name.Reference {
	if !c.policy.Insecure(r.host()) {
		return r.ref
	}
	ref, err := name.ParseReference(r.ref.String(), name.Insecure)
	if err != nil {
		return r.ref
	}
	return ref
}

func (c *client) remote(ctx context.Context) []remote.Option {
	return []remote.Option{
		remote.WithContext(ctx),
		remote.WithAuthFromKeychain(c.o.Keychain),
		remote.WithTransport(newTransport(c.policy, c.o.Transport)),
		remote.WithUserAgent("strata"),
		remote.WithPlatform(c.platform),
	}
}

// Resolve finds ref for a build's FROM or COPY --from: the store's copy
// of the (normalised) name when there is one for the platform, unless
// o.Pull; else a pull.
func Resolve(ctx context.Context, s *layers.Store, ref string, o Options) (*Result, error) {
	r, c, res, err := resolveLocal(s, ref, o)
	if err != nil || res != nil {
		return res, err
	}
	return c.pull(ctx, r)
}

// resolveLocal parses ref and makes its client; res is the store's copy
// of it (unless o.Pull), nil when the registry must be asked (Resolve,
// ResolveLazy).
func resolveLocal(s *layers.Store, ref string, o Options) (Ref, *client, *Result, error) {
	r, err := Parse(ref)
	if err != nil {
		return r, nil, nil, err
	}
	c, err := newClient(s, o)
	if err != nil {
		return r, nil, nil, err
	}
	if !o.Pull {
		if res, ok := c.local(r); ok {
			return r, c, res, nil
		}
	}
	return r, c, nil, nil
}

// Pull asks the registry for ref and stores what the store lacks (docker
// pull). A digest reference already stored is not asked again: its
// content cannot change.
func Pull(ctx context.Context, s *layers.Store, ref string, o Options) (*Result, error) {
	r, err := Parse(ref)
	if err != nil {
		return nil, err
	}
	c, err := newClient(s, o)
	if err != nil {
		return nil, err
	}
	if r.Digest != "" {
		if res, ok := c.local(r); ok {
			res.Local, res.UpToDate = false, true
			if _, named, _ := s.LookupImage(r.Name); !named {
				// Stored by a pull of a tag: name it as asked too.
				if err := s.Tag(r.Name, res.Record); err != nil {
					return nil, err
				}
				res.Record.Name = r.Name
			}
			return res, nil
		}
	}
	return c.pull(ctx, r)
}

// local is the store's copy of r, if it has one whose platform fits.
func (c *client) local(r Ref) (*Result, bool) {
	rec, ok, err := c.s.LookupImage(r.Name)
	if err != nil {
		return nil, false
	}
	p, remembered := lookupPulled(c.s, r.Name)
	if !ok && r.Digest != "" {
		if p, remembered = pulledByDigest(c.s, r); remembered {
			rec, ok, _ = c.s.LookupImage(p.Config.String())
		}
	}
	if !ok {
		return nil, false
	}
	cfg, err := c.s.LoadConfig(rec)
	if err != nil || !c.complete(cfg) {
		return nil, false
	}
	// An image for another platform was pulled for this same question
	// before (the registry had no other): reuse it, with the warning.
	askedBefore := remembered && p.Config == rec.Config && p.Asked != "" && p.Asked == c.platform.String()
	if !platforms.Fits(platforms.Of(cfg), c.platform) && !askedBefore {
		return nil, false
	}
	res := &Result{Ref: r, Record: rec, Config: cfg, Local: true, Layers: len(cfg.RootFS.DiffIDs)}
	if askedBefore {
		res.Warning = otherPlatform(r, p.Platform, p.Asked)
	}
	if remembered && p.Config == rec.Config {
		res.Digest, res.Manifest, res.Platform = p.Digest, p.Manifest, p.Platform
	}
	return res, true
}

// otherPlatform is the warning for an image of platform got used where
// asked was asked for.
func otherPlatform(r Ref, got, asked string) string {
	return fmt.Sprintf("%s is a %s image, not %s as asked; it is used anyway, as docker does", r.Name, got, asked)
}

// complete reports whether every layer of cfg is stored.
func (c *client) complete(cfg *v1.ConfigFile) bool {
	for _, d := range cfg.RootFS.DiffIDs {
		if !c.s.HasLayer(d) {
			return false
		}
	}
	return true
}

func (c *client) pull(ctx context.Context, r Ref) (*Result, error) {
	ref := c.name(r)
	opts := c.remote(ctx)
	// A tag pulled before: a HEAD tells whether it moved.
	if p, ok := lookupPulled(c.s, r.Name); ok && r.Tag != "" && (p.Platform == c.platform.String() || p.Asked == c.platform.String()) {
		if res, ok := c.local(r); ok && res.Record.Config == p.Config {
			d, err := remote.Head(ref, opts...)
			if err == nil && d.Digest == p.Digest {
				res.Local, res.UpToDate = false, true
				return res, nil
			}
			if err != nil && !isHTTPStatus(err) {
				return nil, explain(err, r) // unreachable: say so now
			}
		}
	}
	desc, err := remote.Get(ref, opts...)
	if err != nil {
		return nil, explain(err, r)
	}
	res := &Result{Ref: r, Digest: desc.Digest, Manifest: desc.Digest}
	var img v1.Image
	if desc.MediaType.IsIndex() {
		idx, err := desc.ImageIndex()
		if err != nil {
			return nil, explain(err, r)
		}
		im, err := idx.IndexManifest()
		if err != nil {
			return nil, explain(err, r)
		}
		child, err := pickPlatform(im, c.platform, r)
		if err != nil {
			return nil, err
		}
		if img, err = idx.Image(child.Digest); err != nil {
			return nil, explain(err, r)
		}
		res.Manifest, res.Platform = child.Digest, child.Platform.String()
	} else {
		if desc.MediaType == types.DockerManifestSchema1 || desc.MediaType == types.DockerManifestSchema1Signed {
			return nil, &Error{Ref: r, Msg: "a Docker schema 1 image (deprecated since 2017); strata reads schema 2 and OCI images only"}
		}
		if img, err = desc.Image(); err != nil {
			return nil, explain(err, r)
		}
	}
	raw, err := img.RawConfigFile() // verified against the manifest's digest
	if err != nil {
		return nil, explain(fmt.Errorf("image config: %w", err), r)
	}
	cfg, err := v1.ParseConfigFile(bytes.NewReader(raw))
	if err != nil {
		return nil, &Error{Ref: r, Msg: fmt.Sprintf("image config is not valid JSON: %v", err), Err: err}
	}
	if res.Platform == "" {
		res.Platform = platforms.Of(cfg).String()
		if !platforms.Fits(platforms.Of(cfg), c.platform) {
			res.Warning = otherPlatform(r, res.Platform, c.platform.String())
		}
	}
	m, err := img.Manifest()
	if err != nil {
		return nil, explain(err, r)
	}
	if len(m.Layers) != len(cfg.RootFS.DiffIDs) {
		return nil, &Error{Ref: r, Msg: fmt.Sprintf("the manifest lists %d layers but the config %d diff_ids; the image is broken", len(m.Layers), len(cfg.RootFS.DiffIDs))}
	}
	res.Layers = len(m.Layers)
	n, nb, err := c.fetchLayers(ctx, r, img, m.Layers, cfg.RootFS.DiffIDs)
	if err != nil {
		return nil, err
	}
	res.Downloaded, res.Bytes = n, nb
	rec, err := saveRecord(c.s, raw, cfg)
	if err != nil {
		return nil, err
	}
	if err := c.s.Tag(r.Name, rec); err != nil {
		return nil, err
	}
	rec.Name = r.Name
	pr := pulled{Digest: res.Digest, Manifest: res.Manifest, Config: rec.Config, Platform: res.Platform, Time: time.Now().UTC()}
	if res.Warning != "" {
		pr.Asked = c.platform.String()
	}
	if err := remember(c.s, r.Name, pr); err != nil {
		return nil, err
	}
	res.Record, res.Config = rec, cfg
	return res, nil
}

// isHTTPStatus: the registry answered, with an error status (some do
// not answer HEAD well; GET is asked then).
func isHTTPStatus(err error) bool {
	var te *transport.Error
	return errors.As(err, &te)
}

// pickPlatform chooses the image of an index for want (platforms.Pick:
// an absent variant counts as the architecture's default, arm64 = v8).
func pickPlatform(im *v1.IndexManifest, want v1.Platform, r Ref) (v1.Descriptor, error) {
	var seen []string
	offered := make([]*v1.Platform, len(im.Manifests))
	for i, d := range im.Manifests {
		p := d.Platform
		if p == nil || p.OS == "unknown" || !d.MediaType.IsImage() && d.MediaType != "" {
			continue
		}
		seen = append(seen, p.String())
		offered[i] = p
	}
	if i := platforms.Pick(offered, want); i >= 0 {
		return im.Manifests[i], nil
	}
	return v1.Descriptor{}, &Error{Ref: r, Msg: fmt.Sprintf("its index has no image for %s (it has: %s); choose one with --platform", want.String(), strings.Join(seen, ", "))}
}

// fetchLayers downloads the layers the store lacks, verifying each blob's
// digest and size, into scratch; only when all are verified are they
// unpacked into the store (each checked against its diffID there), so a
// bad blob leaves the store as it was.
func (c *client) fetchLayers(ctx context.Context, r Ref, img v1.Image, descs []v1.Descriptor, diffIDs []v1.Hash) (int, int64, error) {
	type job struct {
		i    int
		desc v1.Descriptor
		file string
	}
	var jobs []*job
	byDigest := map[v1.Hash]*job{}
	for i, d := range descs {
		if c.s.HasLayer(diffIDs[i]) {
			c.report(Progress{Layer: d.Digest, Index: i + 1, Count: len(descs), Done: d.Size, Total: d.Size, State: "exists"})
			continue
		}
		if _, dup := byDigest[d.Digest]; dup {
			continue
		}
		j := &job{i: i, desc: d}
		byDigest[d.Digest] = j
		jobs = append(jobs, j)
	}
	if len(jobs) == 0 {
		return 0, 0, nil
	}
	tmp, err := c.s.TempDir("pull-")
	if err != nil {
		return 0, 0, err
	}
	defer layers.RemoveAll(tmp)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
		total    int64
		sem      = make(chan struct{}, c.o.Jobs)
	)
	for _, j := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
				defer func() { <-sem }()
			case <-ctx.Done():
				return
			}
			if ctx.Err() != nil {
				return
			}
			j.file = filepath.Join(tmp, j.desc.Digest.Hex)
			n, err := c.download(ctx, r, img, j.desc, j.i, len(descs), j.file)
			mu.Lock()
			defer mu.Unlock()
			total += n
			if err != nil && firstErr == nil {
				firstErr = err
				cancel()
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return 0, 0, firstErr
	}
	if err := ctx.Err(); err != nil {
		return 0, 0, err
	}
	for _, j := range jobs {
		for i, d := range descs {
			if d.Digest != j.desc.Digest || c.s.HasLayer(diffIDs[i]) {
				continue
			}
			c.report(Progress{Layer: d.Digest, Index: i + 1, Count: len(descs), Done: d.Size, Total: d.Size, State: "extracting"})
			if err := c.unpack(j.file, d, diffIDs[i]); err != nil {
				return 0, 0, &Error{Ref: r, Msg: fmt.Sprintf("layer %d of %d (blob %s): %v", i+1, len(descs), d.Digest, err), Err: err}
			}
			c.report(Progress{Layer: d.Digest, Index: i + 1, Count: len(descs), Done: d.Size, Total: d.Size, State: "done"})
		}
	}
	return len(jobs), total, nil
}

// download writes one blob to file, checking its size and digest.
func (c *client) download(ctx context.Context, r Ref, img v1.Image, d v1.Descriptor, i, count int, file string) (int64, error) {
	blobErr := func(msg string, err error) error {
		return &Error{Ref: r, Msg: fmt.Sprintf("blob %s (layer %d of %d) from %s: %s", d.Digest, i+1, count, r.Repo(), msg), Err: err}
	}
	l, err := img.LayerByDigest(d.Digest)
	if err != nil {
		return 0, blobErr(err.Error(), err)
	}
	rc, err := l.Compressed()
	if err != nil {
		e := explain(err, r)
		return 0, blobErr(e.Error(), err)
	}
	defer rc.Close()
	f, err := os.Create(file)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	h := sha256.New()
	pr := &progressReader{r: rc, report: func(n int64, final bool) {
		if final || n == d.Size {
			c.report(Progress{Layer: d.Digest, Index: i + 1, Count: count, Done: n, Total: d.Size, State: "downloading"})
			return
		}
		c.throttled(d.Digest, Progress{Layer: d.Digest, Index: i + 1, Count: count, Done: n, Total: d.Size, State: "downloading"})
	}}
	n, copyErr := io.Copy(io.MultiWriter(f, h), pr)
	got := v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))}
	switch {
	case copyErr != nil && ctx.Err() != nil:
		return n, ctx.Err()
	case d.Digest.Algorithm == "sha256" && n == d.Size && got != d.Digest:
		return n, blobErr(fmt.Sprintf("the registry sent content whose digest is %s, not %s: corrupted or wrong data, refused (nothing was stored)", got, d.Digest), copyErr)
	case copyErr != nil:
		return n, blobErr(fmt.Sprintf("download failed after %d of %d bytes: %v (nothing was stored)", n, d.Size, explain(copyErr, r)), copyErr)
	case d.Size >= 0 && n != d.Size:
		return n, blobErr(fmt.Sprintf("the registry sent %d bytes, the manifest says %d: refused (nothing was stored)", n, d.Size), nil)
	case d.Digest.Algorithm == "sha256" && got != d.Digest:
		return n, blobErr(fmt.Sprintf("the registry sent content whose digest is %s, not %s: corrupted or wrong data, refused (nothing was stored)", got, d.Digest), nil)
	}
	c.report(Progress{Layer: d.Digest, Index: i + 1, Count: count, Done: n, Total: d.Size, State: "verified"})
	return n, f.Close()
}

// unpack stores a verified blob as a layer (decompressed; ImportLayer
// checks the diffID).
func (c *client) unpack(file string, d v1.Descriptor, diffID v1.Hash) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 1<<20)
	magic, _ := br.Peek(4)
	var r io.Reader = br
	switch {
	case len(magic) >= 2 && magic[0] == 0x1f && magic[1] == 0x8b:
		zr, err := pgzip.NewReader(br)
		if err != nil {
			return fmt.Errorf("gzip: %w", err)
		}
		defer zr.Close()
		r = zr
	case len(magic) == 4 && bytes.Equal(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		zr, err := zstd.NewReader(br)
		if err != nil {
			return fmt.Errorf("zstd: %w", err)
		}
		defer zr.Close()
		r = zr
	}
	_, err = c.s.ImportLayer(r, diffID)
	return err
}

var (
	throttleMu sync.Mutex
	lastReport = map[v1.Hash]time.Time{}
)

func (c *client) throttled(layer v1.Hash, p Progress) {
	if c.o.Progress == nil {
		return
	}
	throttleMu.Lock()
	now := time.Now()
	if now.Sub(lastReport[layer]) < 200*time.Millisecond {
		throttleMu.Unlock()
		return
	}
	lastReport[layer] = now
	throttleMu.Unlock()
	c.o.Progress(p)
}

func (c *client) report(p Progress) {
	if c.o.Progress == nil {
		return
	}
	if p.State != "downloading" {
		throttleMu.Lock()
		delete(lastReport, p.Layer)
		throttleMu.Unlock()
	}
	c.o.Progress(p)
}

type progressReader struct {
	r      io.Reader
	n      int64
	report func(n int64, final bool)
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.n += int64(n)
	if n > 0 || err == io.EOF {
		p.report(p.n, err == io.EOF)
	}
	return n, err
}

// saveRecord stores the config exactly as the registry served it (so the
// image id is the registry's config digest, as with docker) and a local
// manifest of the uncompressed layers, as layers.SaveImage does.
func saveRecord(s *layers.Store, raw []byte, cfg *v1.ConfigFile) (layers.ImageRecord, error) {
	cfgDigest, err := s.PutBytes(raw)
	if err != nil {
		return layers.ImageRecord{}, err
	}
	m := v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.OCIManifestSchema1,
		Config:        v1.Descriptor{MediaType: types.OCIConfigJSON, Digest: cfgDigest, Size: int64(len(raw))},
		Layers:        []v1.Descriptor{},
	}
	var total int64
	for _, d := range cfg.RootFS.DiffIDs {
		meta, err := s.Layer(d)
		if err != nil {
			return layers.ImageRecord{}, err
		}
		total += meta.Size
		m.Layers = append(m.Layers, v1.Descriptor{MediaType: types.OCIUncompressedLayer, Digest: d, Size: meta.Size})
	}
	mraw, err := json.Marshal(m)
	if err != nil {
		return layers.ImageRecord{}, err
	}
	md, err := s.PutBytes(mraw)
	if err != nil {
		return layers.ImageRecord{}, err
	}
	return layers.ImageRecord{Manifest: md, Config: cfgDigest, Size: total, Created: cfg.Created.Time}, nil
}
