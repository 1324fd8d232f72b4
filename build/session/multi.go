package session

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/strata-build/strata/build"
	"github.com/strata-build/strata/build/cache"
	"github.com/strata-build/strata/build/event"
	"github.com/strata-build/strata/build/frontend"
	"github.com/strata-build/strata/build/snapshot"
	"github.com/strata-build/strata/internal/platforms"
	"github.com/strata-build/strata/layers"
	"github.com/strata-build/strata/registry"
)

// Multi builds one Dockerfile for several platforms (--platform
// linux/amd64,linux/arm64) into one image index, as docker buildx does:
// each platform is its own run of the plan (an Executor whose plan was
// parsed with that target platform, so TARGETPLATFORM and the others are
// its own), the runs go side by side unless Jobs is 1, a step the runs
// share (a FROM --platform=$BUILDPLATFORM builder stage) is built once,
// and the outputs are the index: an OCI layout with one manifest per
// platform, a pushed manifest list, the local store's index record.
type Multi struct {
	Store     *layers.Store
	Opt       frontend.Options // Platform is ignored; Tags and Outputs are the index's
	Platforms []v1.Platform
	Runner    build.Runner
	Jobs      int // --jobs: 1 builds the platforms one after another, and each one's stages so
	Cache     *cache.Shared
	// BinfmtDir is where emulators are looked for ("": the kernel's).
	BinfmtDir string
	// Observe, when set, sees every event of every platform's run.
	Observe func(platform int, ev event.Event)
	// Backends, when set, are the TUI's, one per platform: each is
	// attached to its platform's run (logs, network).
	Backends []*snapshot.Backend

	plans []*frontend.Plan
}

// PlatformBuild is one platform's run.
type PlatformBuild struct {
	Platform v1.Platform
	Plan     *frontend.Plan
	Result   *build.Result
	Duration time.Duration
	// Emulated says the run executed commands under QEMU.
	Emulated bool
	// RunTime is the time the RUN steps of its target-platform stages
	// took (the part emulation slows; see isRunStep).
	RunTime time.Duration
	// Manifest is the digest of its manifest in the index.
	Manifest v1.Hash
}

// MultiResult is what a multi-platform build made.
type MultiResult struct {
	Index    v1.Hash // the index's digest (stored as a blob)
	Builds   []*PlatformBuild
	Tags     []string
	Duration time.Duration
}

// Plans parses the Dockerfile once per platform and checks, before any
// step runs, that the outputs can take an index and every emulator a RUN
// needs is there. It is called by Build; callers call it first to report
// a bad Dockerfile or a missing emulator early.
func (m *Multi) Plans() ([]*frontend.Plan, error) {
	if m.plans != nil {
		return m.plans, nil
	}
	if len(m.Platforms) == 0 {
		return nil, errors.New("no platform to build")
	}
	if err := checkMultiOptions(m.Opt, len(m.Platforms), m.Cache); err != nil {
		return nil, err
	}
	var plans []*frontend.Plan
	for _, p := range m.Platforms {
		opt := m.Opt
		opt.Platform = platforms.String(p)
		plan, err := frontend.NewPlan(opt)
		if err != nil {
			return nil, err
		}
		plans = append(plans, plan)
	}
	for i, plan := range plans {
		if err := CheckEmulators(plan, m.BinfmtDir); err != nil {
			return nil, fmt.Errorf("--platform %s: %w", platforms.Format(m.Platforms[i]), err)
		}
	}
	m.plans = plans
	return plans, nil
}

// Build runs every platform's plan, each publishing its events on its own
// channel (events[i] for Platforms[i], closed when that run ends), then
// makes the index and writes the outputs. The first platform that fails
// cancels the others; its error is the build's.
func (m *Multi) Build(ctx context.Context, events []chan<- event.Event) (*MultiResult, error) {
	start := time.Now()
	plans, err := m.Plans()
	if err != nil {
		for _, ch := range events {
			if ch != nil {
				close(ch)
			}
		}
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	locks := build.NewKeyLocks()
	builds := make([]*PlatformBuild, len(plans))
	errs := make([]error, len(plans))
	run := func(i int) {
		opt := m.Opt
		opt.Platform = platforms.String(m.Platforms[i])
		opt.Tags, opt.Outputs = nil, nil
		pb := &PlatformBuild{Platform: m.Platforms[i], Plan: plans[i], Emulated: len(EmulatedStages(plans[i])) > 0}
		builds[i] = pb
		ex := &build.Executor{Store: m.Store, Plan: plans[i], Opt: opt, Runner: m.Runner, Jobs: m.Jobs, Cache: m.Cache}
		ex.ShareSteps(locks)
		ex.Observe = func(ev event.Event) {
			if d, ok := ev.(event.StepDone); ok && isRunStep(plans[i], d.Step) {
				pb.RunTime += d.Duration
			}
			if m.Observe != nil {
				m.Observe(i, ev)
			}
		}
		if i < len(m.Backends) && m.Backends[i] != nil {
			m.Backends[i].Attach(ex.LogPathOrNone, opt.Network, cancel)
		}
		var ch chan<- event.Event
		if i < len(events) {
			ch = events[i]
		}
		t0 := time.Now()
		pb.Result, errs[i] = ex.Build(ctx, ch)
		pb.Duration = time.Since(t0)
		if errs[i] != nil {
			cancel()
		}
	}
	if m.Jobs == 1 || (m.Cache != nil && len(m.Cache.From) > 0) {
		for i := range plans {
			if ctx.Err() != nil {
				errs[i] = ctx.Err()
				if i < len(events) && events[i] != nil {
					close(events[i])
				}
				continue
			}
			run(i)
		}
	} else {
		var wg sync.WaitGroup
		for i := range plans {
			wg.Add(1)
			go func() {
				defer wg.Done()
				run(i)
			}()
		}
		wg.Wait()
	}
	if err := firstError(m.Platforms, errs); err != nil {
		return nil, err
	}
	res := &MultiResult{Builds: builds}
	rec := indexRecord(builds)
	idx, _, err := StoredIndex(m.Store, rec)
	if err != nil {
		return nil, err
	}
	raw, err := idx.RawManifest()
	if err != nil {
		return nil, err
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	for i, d := range im.Manifests {
		builds[i].Manifest = d.Digest
	}
	if res.Index, err = m.Store.PutBytes(raw); err != nil {
		return nil, fmt.Errorf("store the image index: %w", err)
	}
	rec.Index = res.Index
	if err := m.tag(res, rec, builds); err != nil {
		return nil, err
	}
	for _, o := range m.Opt.Outputs {
		if err := m.export(ctx, idx, builds, o); err != nil {
			return nil, err
		}
	}
	res.Duration = time.Since(start)
	return res, nil
}

// firstError is the error of the first platform that failed for a reason
// of its own (not the cancellation another's failure caused).
func firstError(ps []v1.Platform, errs []error) error {
	var first error
	for i, err := range errs {
		if err == nil {
			continue
		}
		err = fmt.Errorf("[%s] %w", platforms.Format(ps[i]), err)
		if first == nil || errors.Is(first, context.Canceled) && !errors.Is(err, context.Canceled) {
			first = err
		}
	}
	return first
}

// isRunStep reports whether step is a RUN of a stage for the target
// platform (not FROM --platform=...): the steps that are native on one
// platform and emulated on another, whose times make the ratio.
func isRunStep(p *frontend.Plan, step int) bool {
	if step < 0 || step >= len(p.Steps) || p.Steps[step].Kind != "RUN" {
		return false
	}
	si := p.Steps[step].Stage
	return si >= 0 && si < len(p.Stages) && p.Stages[si].Platform == ""
}

// defaultImage is the build the index's name points at in the local store:
// the host's platform when built, else the first.
func defaultImage(builds []*PlatformBuild) *PlatformBuild {
	for _, b := range builds {
		if platforms.Native(b.Platform) {
			return b
		}
	}
	return builds[0]
}

func recordOf(r *build.Result) layers.ImageRecord {
	return layers.ImageRecord{Manifest: r.Manifest, Config: r.ImageID, Size: r.Size, Created: r.Config.Created.Time}
}

// indexRecord is the local store's record of the builds' index (its
// digest is filled in once it is stored).
func indexRecord(builds []*PlatformBuild) layers.IndexRecord {
	rec := layers.IndexRecord{Created: time.Now().UTC()}
	for _, b := range builds {
		rec.Images = append(rec.Images, layers.PlatformImage{Platform: platforms.String(b.Platform), ImageRecord: recordOf(b.Result)})
	}
	return rec
}

// tag points every -t name at the index (layers.IndexRecord) and at the
// host's image.
func (m *Multi) tag(res *MultiResult, rec layers.IndexRecord, builds []*PlatformBuild) error {
	def := recordOf(defaultImage(builds).Result)
	for _, t := range m.Opt.Tags {
		if err := m.Store.TagIndex(t, rec, def); err != nil {
			return fmt.Errorf("-t %s: %w", t, err)
		}
		n, _ := layers.NormalizeName(t)
		res.Tags = append(res.Tags, n)
	}
	return nil
}

// export writes the index to one output.
func (m *Multi) export(ctx context.Context, idx v1.ImageIndex, builds []*PlatformBuild, o frontend.Output) error {
	switch o.Type {
	case "oci":
		names := m.Opt.Tags
		if len(o.Names) > 0 {
			names = o.Names
		}
		_, statErr := os.Lstat(o.Dest)
		if err := layers.WriteOCIIndex(o.Dest, idx, names); err != nil {
			if statErr != nil {
				layers.RemoveAll(o.Dest) // made here: nothing half-written stays
			}
			return fmt.Errorf("--output type=oci,dest=%s: %w", o.Dest, err)
		}
		return nil
	case "registry":
		names := append(slices.Clone(m.Opt.Tags), o.Names...)
		if len(names) == 0 {
			return errors.New("--output type=registry needs a name to push to: add -t REGISTRY/REPOSITORY[:TAG]")
		}
		var configs []v1.Hash
		for _, b := range builds {
			configs = append(configs, b.Result.ImageID)
		}
		for _, n := range names {
			if _, err := registry.PushIndex(ctx, m.Store, idx, configs, n, registry.Options{Insecure: m.Opt.InsecureRegistries}); err != nil {
				return fmt.Errorf("--output type=registry: push %s: %w", n, err)
			}
		}
		return nil
	}
	return fmt.Errorf("--output type=%s cannot take an index of %d platforms: use type=oci or type=registry", o.Type, len(builds))
}

// StoredIndex is the index a stored multi-platform image's name points at,
// as ggcr's ImageIndex over the local store (push, export).
func StoredIndex(s *layers.Store, rec layers.IndexRecord) (v1.ImageIndex, []v1.Hash, error) {
	var adds []mutate.IndexAddendum
	var configs []v1.Hash
	for _, im := range rec.Images {
		img, err := s.Image(im.Config)
		if err != nil {
			return nil, nil, fmt.Errorf("%s image: %w", im.Platform, err)
		}
		p, err := platforms.Parse(im.Platform)
		if err != nil {
			return nil, nil, err
		}
		if p.Architecture == "arm64" && p.Variant == "v8" {
			p.Variant = "" // arm64's only variant: containerd and BuildKit leave it out
		}
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &p}})
		configs = append(configs, im.Config)
	}
	idx, err := withoutArtifactTypes(mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex), adds...))
	return idx, configs, err
}

// withoutArtifactTypes is idx with no artifactType on its image
// descriptors. go-containerregistry's partial.Descriptor gives every
// manifest one (the config's media type when the manifest has none), but
// an image index of images carries none in the OCI spec's examples, nor in
// what BuildKit and docker write: artifactType marks an artifact.
func withoutArtifactTypes(idx v1.ImageIndex) (v1.ImageIndex, error) {
	mf, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	mf = mf.DeepCopy()
	for i := range mf.Manifests {
		if mf.Manifests[i].MediaType == types.OCIManifestSchema1 || mf.Manifests[i].MediaType == types.DockerManifestSchema2 {
			mf.Manifests[i].ArtifactType = ""
		}
	}
	raw, err := json.Marshal(mf)
	if err != nil {
		return nil, err
	}
	return &plainIndex{inner: idx, mf: mf, raw: raw}, nil
}

// plainIndex is an index whose manifest is mf (raw): its children are the
// wrapped index's.
type plainIndex struct {
	inner v1.ImageIndex
	mf    *v1.IndexManifest
	raw   []byte
}

func (p *plainIndex) Image(h v1.Hash) (v1.Image, error)           { return p.inner.Image(h) }
func (p *plainIndex) ImageIndex(h v1.Hash) (v1.ImageIndex, error) { return p.inner.ImageIndex(h) }

func (p *plainIndex) IndexManifest() (*v1.IndexManifest, error) { return p.mf.DeepCopy(), nil }
func (p *plainIndex) RawManifest() ([]byte, error)              { return p.raw, nil }
func (p *plainIndex) Size() (int64, error)                      { return int64(len(p.raw)), nil }
func (p *plainIndex) MediaType() (types.MediaType, error)       { return p.mf.MediaType, nil }
func (p *plainIndex) Digest() (v1.Hash, error) {
	h, _, err := v1.SHA256(bytes.NewReader(p.raw))
	return h, err
}
