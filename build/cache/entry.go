package cache

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"

	"github.com/strata-build/strata/layers"
)

// The cache. Every step has a key: a hash chain of the parent step's key,
// the instruction after expansion, the build args in effect and, for
// steps that read files, a checksum of exactly what they read. A step
// whose key has an entry (and whose layer is still in the store) is not
// run: its recorded result is used. Next to the keys, the inputs of the
// last build of each Dockerfile stage are kept, so a miss can say what
// changed.
//
// On disk, under ROOT/cache:
//
//	keys/<key>.json       one Entry per key (its mtime is its last use)
//	records/<id>.json     the last build of a Dockerfile stage (StageRecord)
//	sums/<digest>         the checksums of a step's sources (sums.go)
//	files/<id>.stat       stat cache of context file checksums (build/source)
//
// Every file is written to a temp file and renamed, so two builds on one
// ROOT never see a half-written entry; the last writer of a record wins.

// Entry is a step's recorded result. A step that made a layer
// records its config whole (Config); a step that made none (LABEL, ENV,
// CMD, …) records what it changed in the step before's config (Delta,
// from the image Parent, making the image ImageID, with the layers
// Layers), so N such steps store O(N) bytes, not N growing configs: a hit
// rebuilds the config from the stage's (the executor's resolveEntry).
type Entry struct {
	Key     string                              `json:"key"`
	Step    string                              `json:"step"` // instruction text, for people reading the store
	Config  *v1.ConfigFile                      `json:"config,omitempty"`
	ImageID string                              `json:"image_id,omitempty"`
	Parent  string                              `json:"parent_image,omitempty"`
	Delta   *layers.ConfigDelta                 `json:"delta,omitempty"`
	Layers  []v1.Hash                           `json:"layers,omitempty"`
	Args    []instructions.KeyValuePairOptional `json:"args,omitempty"`
	CmdSet  bool                                `json:"cmd_set,omitempty"`
	ArgOver []string                            `json:"arg_over,omitempty"` // the stage's args overridden
	DiffID  string                              `json:"diff_id,omitempty"`
	Size    int64                               `json:"size,omitempty"`
	Files   int                                 `json:"files,omitempty"`
	Stats   layers.ChangeStats                  `json:"stats"`
	Created time.Time                           `json:"created"`

	// Fresh: Config was rebuilt from Delta for this build (resolveEntry).
	Fresh bool `json:"-"`
}

// WellFormed: the entry has a config, or a delta with the ids it joins.
func (c *Entry) WellFormed() bool {
	if c.Config != nil {
		return true
	}
	return c.Delta != nil && hexKey(c.ImageID) && hexKey(c.Parent)
}

// Apply is an entry recorded as a delta with its config: the delta
// applied to base, the config of the image it was taken from, and
// checked against the image id recorded (id computes one). false: it
// cannot be rebuilt.
func (c *Entry) Apply(base *v1.ConfigFile, id func(*v1.ConfigFile) string) (*Entry, bool) {
	cfg, err := c.Delta.ApplyAppend(base)
	if err != nil || id(cfg) != c.ImageID {
		return nil, false
	}
	r := *c
	r.Config, r.Fresh = cfg, true
	return &r, true
}

// LayerIDs are the layers of the entry's image.
func (c *Entry) LayerIDs() []v1.Hash {
	if c.Config != nil {
		return c.Config.RootFS.DiffIDs
	}
	return c.Layers
}

// FileSums is the content checksum of the sources a step reads from the
// build context: one entry per path (relative to the context, "/" first),
// each the digest of its type, mode bits, link target and content. Owners
// and mtimes of context files are not part of it: COPY from the context
// sets the owner itself (root or --chown), and BuildKit ignores mtimes.
// It is kept as a sums file (Sums, FileSums.Write); Digest is the
// digest of that file.
type FileSums map[string]string

// Digest is the checksum of the whole set.
func (f FileSums) Digest() string {
	keys := make([]string, 0, len(f))
	for k := range f {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	h := sha256.New()
	for _, k := range keys {
		fmt.Fprintf(h, "%s\x00%s\x00", k, f[k])
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Inputs is what a step's result depends on, kept per step of the
// last build to explain the next miss.
type Inputs struct {
	Text      string            `json:"text"`      // the instruction as written
	Canonical string            `json:"canonical"` // after expansion, flags included
	Args      map[string]string `json:"args,omitempty"`
	// ArgsKeyed: the step sees the args (RUN, ARG), so they are in its key.
	ArgsKeyed bool     `json:"args_keyed,omitempty"`
	Env       []string `json:"env,omitempty"`
	Files     *Sums    `json:"sums,omitempty"`
	From      string   `json:"from,omitempty"` // --from / bind source identity
	// FromFiles: for COPY --from, what it copies (its key, not From).
	FromFiles *Sums  `json:"from_sums,omitempty"`
	FromName  string `json:"from_name,omitempty"` // as written
	Base      string `json:"base,omitempty"`      // FROM: the base's identity
	Parent    string `json:"parent"`              // key of the step before
	// Uncacheable, when set, says why this step is always run.
	Uncacheable string `json:"uncacheable,omitempty"`

	// Inline: a record of an older strata held the checksums inline
	// ("files", "from_files"): not read (it is no longer written), only
	// seen, so a miss says why it cannot name the file.
	Inline     inlineSums `json:"files,omitempty"`
	FromInline inlineSums `json:"from_files,omitempty"`
}

// inlineSums notes that an old record had inline checksums, without
// reading them into memory.
type inlineSums bool

func (s *inlineSums) UnmarshalJSON(b []byte) error {
	*s = string(b) != "null" && string(b) != "false"
	return nil
}

func (s inlineSums) MarshalJSON() ([]byte, error) { return []byte("true"), nil }

// RecordStep is a step of a StageRecord: its inputs and key.
type RecordStep struct {
	Inputs
	Key string `json:"key"`
	// Unfinished: the step failed or was cancelled in that build.
	Unfinished bool `json:"unfinished,omitempty"`
}

// StageRecord is the last build of a Dockerfile stage.
type StageRecord struct {
	Dockerfile string       `json:"dockerfile"`
	Stage      string       `json:"stage"`
	Steps      []RecordStep `json:"steps"`
	Time       time.Time    `json:"time"`
	// Stopped: that build ended (failed or cancelled) before the stage's
	// end, so steps past Steps were not seen rather than absent.
	Stopped bool `json:"stopped,omitempty"`
}

// Key is the step's cache key.
func (in *Inputs) Key() string {
	h := sha256.New()
	fmt.Fprintf(h, "strata-cache-v1\x00%s\x00%s\x00", in.Parent, in.Canonical)
	keys := make([]string, 0, len(in.Args))
	for k := range in.Args {
		if !in.ArgsKeyed {
			break
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(h, "arg\x00%s=%s\x00", k, in.Args[k])
	}
	if in.Files != nil {
		fmt.Fprintf(h, "files\x00%s\x00", in.Files.Digest)
	}
	from := in.From
	if in.FromFiles != nil {
		// COPY --from is keyed on what it copies, not on the whole
		// source stage (as BuildKit's content-based key of a file op).
		from = "files:" + in.FromFiles.Digest
	}
	fmt.Fprintf(h, "from\x00%s\x00base\x00%s\x00", from, in.Base)
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// Canonical is an instruction after expansion, in a stable form: its
// exported fields (no source locations) and, for RUN, its flags.
func Canonical(c instructions.Command) string {
	b, _ := json.Marshal(c)
	s := strings.ToUpper(c.Name()) + " " + string(b)
	if r, ok := c.(*instructions.RunCommand); ok {
		mb, _ := json.Marshal(instructions.GetMounts(r))
		s += " mounts=" + string(mb)
		s += " network=" + instructions.GetNetwork(r)
		s += " security=" + instructions.GetSecurity(r)
	}
	return s
}
