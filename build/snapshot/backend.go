package snapshot

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/strata-build/strata/build/event"
	"github.com/strata-build/strata/layers"
	"github.com/strata-build/strata/sandbox"
)

// Backend answers the TUI's questions about a build: file contents and
// whole trees of snapshots, and step logs kept on disk. It reads through
// layers.View, never mounting anything.
type Backend struct {
	Store *layers.Store
	// Runner runs the containers of debug shells and of RunImage (the
	// TUI's x); nil: strata's sandbox. Tests fake it.
	Runner Runner

	logPath func(step int) string // where the build keeps a step's log; nil or "": none
	network string                // the build's --network, a debug shell's too
	cancel  context.CancelFunc

	mu   sync.Mutex
	logs map[int]*logIndex
}

// NewBackend returns a Backend on a store; cancel stops its build (nil:
// there is none, as for strata inspect). Attach points it at a build.
func NewBackend(s *layers.Store, cancel context.CancelFunc) *Backend {
	return &Backend{Store: s, cancel: cancel, logs: map[int]*logIndex{}}
}

// Cancel stops the running build.
func (b *Backend) Cancel() {
	if b == nil {
		return
	}
	b.mu.Lock()
	cancel := b.cancel
	b.mu.Unlock()
	if cancel != nil {
		cancel()
	}
}

// Attach points the backend at a new build (a Session's rebuild): where
// its step logs are (logPath may be nil, or return "" while there are none), its --network (for debug
// shells; "" is the default) and its cancel.
func (b *Backend) Attach(logPath func(step int) string, network string, cancel context.CancelFunc) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.logPath, b.network, b.cancel = logPath, network, cancel
	b.logs = map[int]*logIndex{}
}

// View is the merged filesystem of a snapshot (a failed RUN's partial
// result on top when it has one).
func (b *Backend) View(snap *event.Snapshot) *layers.View {
	if snap == nil || b.Store == nil {
		return &layers.View{}
	}
	for _, d := range snap.Layers {
		if _, ok := b.Store.Remote(d); ok {
			b.Store.FetchRemote(d) // a layer still in a shared cache (--cache-from): here on first look
		}
	}
	v := b.Store.View(snap.Layers)
	if snap.UpperDir != "" {
		v.Lowers = append([]string{snap.UpperDir}, v.Lowers...)
	}
	return v
}

// ReadFile reads up to max bytes of a file of the snapshot.
func (b *Backend) ReadFile(snap *event.Snapshot, p string, max int64) ([]byte, error) {
	if err := b.ready(snap); err != nil {
		return nil, err
	}
	return b.View(snap).ReadFile(p, max)
}

// Tree lists the whole filesystem of a snapshot.
func (b *Backend) Tree(snap *event.Snapshot) ([]layers.Change, error) {
	var out []layers.Change
	if err := b.ready(snap); err != nil {
		return nil, err
	}
	v := b.View(snap)
	err := v.Walk("/", func(e *layers.Entry) error {
		if e.Path != "/" {
			out = append(out, entryChange(v, e))
		}
		return nil
	})
	return out, err
}

// EachTreeEntry gives fn the entries of Tree(snap) one at a time, in its
// order, merged from the snapshot's layers' change lists without the
// view's walk (layers.Store.EachMerged; an imported layer, which keeps no
// list, by a walk of its own tree): the whole filesystem of a million
// files is listed in a fraction of the walk's time. An error wrapping
// layers.ErrNoMerge says it cannot be (a list out of walk order, or the
// snapshot has a failed RUN's upper dir on top): Tree walks the view.
func (b *Backend) EachTreeEntry(snap *event.Snapshot, fn func(c *layers.Change) error) error {
	if snap == nil || b.Store == nil || snap.UpperDir != "" {
		return fmt.Errorf("a failed step's snapshot: %w", layers.ErrNoMerge)
	}
	if err := b.ready(snap); err != nil {
		return err
	}
	return b.Store.EachMerged(snap.Layers, fn)
}

// TreeSize is about how many entries Tree(snap) has, at most: the sum of
// its layers' change lists' lengths (0 when unknown), for the room a
// listing's reader makes before it starts.
func (b *Backend) TreeSize(snap *event.Snapshot) int {
	if snap == nil || b.Store == nil {
		return 0
	}
	n := 0
	for _, d := range snap.Layers {
		if m, err := b.Store.Layer(d); err == nil && m.Files > 0 {
			n += m.Files
		}
	}
	return min(n, 1<<24)
}

// logIndex holds the byte offset of every line start of a step's log,
// extended as the file grows, so any window of a huge log is one seek.
type logIndex struct {
	offsets []int64 // start of each complete line
	end     int64   // bytes indexed
}

func (b *Backend) index(step int) (*logIndex, string) {
	if b.logPath == nil {
		return &logIndex{}, ""
	}
	path := b.logPath(step)
	if path == "" {
		return &logIndex{}, ""
	}
	idx := b.logs[step]
	if idx == nil {
		idx = &logIndex{}
		b.logs[step] = idx
	}
	f, err := os.Open(path)
	if err != nil {
		return idx, path
	}
	defer f.Close()
	if _, err := f.Seek(idx.end, io.SeekStart); err != nil {
		return idx, path
	}
	r := bufio.NewReaderSize(f, 256<<10)
	pos := idx.end
	for {
		line, err := r.ReadBytes('\n')
		if err != nil {
			break // a partial last line is indexed once it is complete
		}
		idx.offsets = append(idx.offsets, pos)
		pos += int64(len(line))
		idx.end = pos
	}
	return idx, path
}

// LogLen is the number of complete lines of a step's log.
func (b *Backend) LogLen(step int) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	idx, _ := b.index(step)
	return len(idx.offsets)
}

// LogLines returns lines [from,to) of a step's log.
func (b *Backend) LogLines(step, from, to int) ([]string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	idx, path := b.index(step)
	if from < 0 {
		from = 0
	}
	if to > len(idx.offsets) {
		to = len(idx.offsets)
	}
	if from >= to {
		return nil, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	end := idx.end
	if to < len(idx.offsets) {
		end = idx.offsets[to]
	}
	buf := make([]byte, end-idx.offsets[from])
	if _, err := f.ReadAt(buf, idx.offsets[from]); err != nil && err != io.EOF {
		return nil, err
	}
	out := make([]string, 0, to-from)
	start := 0
	for i, c := range buf {
		if c == '\n' {
			out = append(out, string(buf[start:i]))
			start = i + 1
		}
	}
	return out, nil
}

// Runner runs a container to its end and returns its exit code: the
// sandbox's Run, or a test's fake.
type Runner interface {
	Run(ctx context.Context, spec *sandbox.Spec, stdout, stderr io.Writer) (exitCode int, err error)
}

type sandboxRunner struct{}

func (sandboxRunner) Run(ctx context.Context, spec *sandbox.Spec, stdout, stderr io.Writer) (int, error) {
	return sandbox.Run(ctx, spec, stdout, stderr)
}

// runner is b.Runner, else the sandbox.
func (b *Backend) runner() Runner {
	if b.Runner != nil {
		return b.Runner
	}
	return sandboxRunner{}
}

// buildNetwork is the network of a debug shell: the build's --network,
// else a private network namespace.
func (b *Backend) buildNetwork() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.network == "" {
		return sandbox.NetworkDefault
	}
	return b.network
}
