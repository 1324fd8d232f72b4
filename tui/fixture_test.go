package tui

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"charm.land/bubbles/v2/spinner"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/strata-build/strata/build/event"
	"github.com/strata-build/strata/build/snapshot"
	"github.com/strata-build/strata/layers"
)

// The -update flag rewrites the golden files. charmbracelet/x/exp/golden
// (imported by teatest) registers a flag of that name; we share it, and
// define it only when it is not there yet.
var updateFlag = func() flag.Value {
	if f := flag.Lookup("update"); f != nil {
		return f.Value
	}
	flag.Bool("update", false, "rewrite the golden files under testdata/")
	return flag.Lookup("update").Value
}()

func updating() bool { return updateFlag.String() == "true" }

// requireGolden compares got (ANSI stripped, trailing spaces trimmed) with
// testdata/name.golden, or rewrites it under -update.
func requireGolden(t *testing.T, name, got string) {
	t.Helper()
	got = cleanScreen(got)
	path := filepath.Join("testdata", name+".golden")
	if updating() {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./tui/ -run %s -update to create it)", err, t.Name())
	}
	if string(want) != got {
		var b strings.Builder
		for _, l := range unified(strings.Split(string(want), "\n"), strings.Split(got, "\n"), 2) {
			b.WriteByte(l.op)
			b.WriteString(l.text)
			b.WriteByte('\n')
		}
		t.Errorf("%s differs from the golden file (-want +got):\n%s", name, b.String())
	}
}

func cleanScreen(s string) string {
	lines := strings.Split(ansi.Strip(s), "\n")
	for i := range lines {
		lines[i] = strings.TrimRight(lines[i], " ")
	}
	return strings.Join(lines, "\n") + "\n"
}

var t0 = time.Date(2025, 11, 28, 1, 44, 0, 0, time.UTC)

func hash(s string) v1.Hash {
	sum := sha256.Sum256([]byte(s))
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}
}

func digest(s string) string { return hash(s).String() }

// fakeBackend serves files, trees and logs from memory.
type fakeBackend struct {
	mu       sync.Mutex
	cancels  int
	canceled chan struct{}
	files    map[*event.Snapshot]map[string][]byte
	trees    map[*event.Snapshot][]layers.Change
	logs     map[int][]string
	synth    map[int]int // steps whose log is n generated lines
	saves    []saveCall  // Save calls, in order
	saveErr  error       // what Save returns

	shells   []*fakeShell // OpenShell calls, in order
	shellFn  func(sh *fakeShell)
	compares [][2]*event.Snapshot
	compare  map[[2]*event.Snapshot][]layers.Change
	runOut   []string // lines RunImage prints
	runCode  int
	runGate  chan struct{} // when set, RunImage waits on it (or ctx) before ending
	runs     int
}

// fakeShell stands for a debug shell: Run "types" cmds and makes changes.
type fakeShell struct {
	snap      *event.Snapshot
	opt       snapshot.ShellOptions
	cmds      []string
	changes   []layers.Change
	ran       bool
	kept      bool
	discarded bool
	runErr    error
}

func (s *fakeShell) Run() error                        { s.ran = true; return s.runErr }
func (s *fakeShell) SetStdin(io.Reader)                {}
func (s *fakeShell) SetStdout(io.Writer)               {}
func (s *fakeShell) SetStderr(io.Writer)               {}
func (s *fakeShell) Commands() []string                { return s.cmds }
func (s *fakeShell) Changes() ([]layers.Change, error) { return s.changes, nil }
func (s *fakeShell) Discard()                          { s.discarded = true }

func (s *fakeShell) RunLine() string {
	if len(s.cmds) == 0 {
		return ""
	}
	return "RUN " + strings.Join(s.cmds, " && \\\n    ")
}

func (s *fakeShell) Keep() (*event.Snapshot, string, error) {
	s.kept = true
	d := hash("shell-layer")
	cfg := *s.snap.Config
	cfg.RootFS.DiffIDs = append(append([]v1.Hash(nil), cfg.RootFS.DiffIDs...), d)
	return &event.Snapshot{Layers: append(append([]v1.Hash(nil), s.snap.Layers...), d), Config: &cfg, Changes: s.changes,
		DiffID: d, Parent: s.snap, Step: s.snap.Step}, s.RunLine(), nil
}

func (f *fakeBackend) OpenShell(snap *event.Snapshot, opt snapshot.ShellOptions) (snapshot.DebugShell, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	sh := &fakeShell{snap: snap, opt: opt}
	if f.shellFn != nil {
		f.shellFn(sh)
	}
	f.shells = append(f.shells, sh)
	return sh, nil
}

func (f *fakeBackend) shellCalls() []*fakeShell {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*fakeShell(nil), f.shells...)
}

func (f *fakeBackend) Compare(a, b *event.Snapshot) ([]layers.Change, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.compares = append(f.compares, [2]*event.Snapshot{a, b})
	if c, ok := f.compare[[2]*event.Snapshot{a, b}]; ok {
		return c, nil
	}
	return nil, fmt.Errorf("no comparison of steps %d and %d", a.Step, b.Step)
}

func (f *fakeBackend) RunImage(ctx context.Context, cfg *v1.ConfigFile, out func(stream, line string)) (int, error) {
	f.mu.Lock()
	f.runs++
	lines, code, gate := f.runOut, f.runCode, f.runGate
	f.mu.Unlock()
	for _, l := range lines {
		out("stdout", l)
	}
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return -1, ctx.Err()
		}
	}
	return code, nil
}

// fakeControl records what the TUI asks of the build.
type fakeControl struct {
	mu     sync.Mutex
	breaks map[int]bool
	calls  []string
	// on gets every call ("next", "continue", "pause", "break 3").
	on func(call string)
}

func newFakeControl(lines ...int) *fakeControl {
	c := &fakeControl{breaks: map[int]bool{}}
	for _, l := range lines {
		c.breaks[l] = true
	}
	return c
}

func (c *fakeControl) record(s string) {
	c.mu.Lock()
	c.calls = append(c.calls, s)
	on := c.on
	c.mu.Unlock()
	if on != nil {
		on(s)
	}
}

func (c *fakeControl) ToggleBreak(line int) bool {
	c.mu.Lock()
	c.breaks[line] = !c.breaks[line]
	if !c.breaks[line] {
		delete(c.breaks, line)
	}
	on := c.breaks[line]
	c.mu.Unlock()
	c.record(fmt.Sprintf("break %d", line))
	return on
}

func (c *fakeControl) Breakpoints() []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []int
	for l := range c.breaks {
		out = append(out, l)
	}
	slices.Sort(out)
	return out
}

func (c *fakeControl) Next()     { c.record("next") }
func (c *fakeControl) Continue() { c.record("continue") }
func (c *fakeControl) Pause()    { c.record("pause") }

func (c *fakeControl) callList() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.calls...)
}

// saveCall is one call of Backend.Save.
type saveCall struct{ image, dest string }

func (f *fakeBackend) Save(image, dest string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.saves = append(f.saves, saveCall{image, dest})
	if f.saveErr != nil {
		return "", f.saveErr
	}
	return "wrote " + dest, nil
}

func (f *fakeBackend) saveCalls() []saveCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]saveCall(nil), f.saves...)
}

func newFakeBackend() *fakeBackend {
	return &fakeBackend{
		canceled: make(chan struct{}),
		files:    map[*event.Snapshot]map[string][]byte{},
		trees:    map[*event.Snapshot][]layers.Change{},
		logs:     map[int][]string{},
		synth:    map[int]int{},
		compare:  map[[2]*event.Snapshot][]layers.Change{},
	}
}

func (f *fakeBackend) Cancel() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cancels++
	if f.cancels == 1 {
		close(f.canceled)
	}
}

func (f *fakeBackend) ReadFile(snap *event.Snapshot, path string, max int64) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for s := snap; s != nil; s = s.Parent {
		if b, ok := f.files[s][path]; ok {
			if b == nil { // deleted in s
				break
			}
			if int64(len(b)) > max {
				b = b[:max]
			}
			return b, nil
		}
	}
	return nil, fmt.Errorf("read %s: %w", path, fs.ErrNotExist)
}

func (f *fakeBackend) Tree(snap *event.Snapshot) ([]layers.Change, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if t, ok := f.trees[snap]; ok {
		return t, nil
	}
	return nil, fmt.Errorf("no tree for step %d", snap.Step)
}

func (f *fakeBackend) LogLines(step, from, to int) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if n, ok := f.synth[step]; ok {
		to = min(to, n)
		out := make([]string, 0, max(0, to-from))
		for i := from; i < to; i++ {
			out = append(out, synthLine(i))
		}
		return out, nil
	}
	l := f.logs[step]
	to = min(to, len(l))
	if from >= to {
		return nil, nil
	}
	return append([]string(nil), l[from:to]...), nil
}

func synthLine(i int) string {
	if i%1000 == 999 {
		return fmt.Sprintf("(%d/1000000) checkpoint reached: needle-%d", i+1, i+1)
	}
	return fmt.Sprintf("(%d/1000000) Installing package-%d (1.%d.%d-r0)", i+1, i, i%7, i%13)
}

func (f *fakeBackend) LogLen(step int) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	if n, ok := f.synth[step]; ok {
		return n
	}
	return len(f.logs[step])
}

const redisDockerfile = `# syntax=docker/dockerfile:1
FROM alpine:3.20 AS base
RUN apk add --update redis
COPY redis.conf /etc/redis.conf
env REDIS_PORT=6379
EXPOSE 6379
CMD ["redis-server", "/etc/redis.conf"]
`

var runLog = []string{
	"fetch https://dl-cdn.alpinelinux.org/alpine/v3.20/main/x86_64/APKINDEX.tar.gz",
	"(1/1) Installing redis (7.2.5-r0)",
	"Executing redis-7.2.5-r0.pre-install",
	"Executing busybox-1.36.1-r29.trigger",
	"OK: 12 MiB in 16 packages",
}

// fixture is a scripted build of the redis Dockerfile from the user's notes.
type fixture struct {
	be    *fakeBackend
	plan  event.PlanReady
	snaps []*event.Snapshot
}

func step(i, n int, kind, text string, line int, meta bool) event.StepInfo {
	return event.StepInfo{Index: i, Stage: 0, StageName: "base", Number: i + 1, StageSteps: n, Kind: event.StepKind(kind),
		Text: text, StartLine: line, EndLine: line, MetadataOnly: meta}
}

func cfg(parent *v1.ConfigFile, mut func(c *v1.Config)) *v1.ConfigFile {
	c := &v1.ConfigFile{Architecture: "amd64", OS: "linux"}
	if parent != nil {
		cp := *parent
		cp.Config.Env = append([]string(nil), parent.Config.Env...)
		cp.Config.ExposedPorts = map[string]struct{}{}
		for k := range parent.Config.ExposedPorts {
			cp.Config.ExposedPorts[k] = struct{}{}
		}
		cp.RootFS.DiffIDs = append([]v1.Hash(nil), parent.RootFS.DiffIDs...)
		c = &cp
	}
	if mut != nil {
		mut(&c.Config)
	}
	return c
}

func newFixture() *fixture {
	f := &fixture{be: newFakeBackend()}
	steps := []event.StepInfo{
		step(0, 6, "FROM", "FROM alpine:3.20 AS base", 2, false),
		step(1, 6, "RUN", "RUN apk add --update redis", 3, false),
		step(2, 6, "COPY", "COPY redis.conf /etc/redis.conf", 4, false),
		step(3, 6, "ENV", "env REDIS_PORT=6379", 5, true),
		step(4, 6, "EXPOSE", "EXPOSE 6379", 6, true),
		step(5, 6, "CMD", `CMD ["redis-server", "/etc/redis.conf"]`, 7, true),
	}
	f.plan = event.PlanReady{Dockerfile: "Dockerfile", Source: []byte(redisDockerfile), Steps: steps, Stages: []string{"base"}}

	mt := t0
	base := []layers.Change{
		{Path: "/bin", Kind: layers.Added, Type: layers.TypeDir, Mode: fs.ModeDir | 0o755, ModTime: mt},
		{Path: "/bin/busybox", Kind: layers.Added, Type: layers.TypeRegular, Size: 919304, Mode: 0o755, ModTime: mt},
		{Path: "/bin/sh", Kind: layers.Added, Type: layers.TypeSymlink, Linkname: "/bin/busybox", Mode: fs.ModeSymlink | 0o777},
		{Path: "/etc", Kind: layers.Added, Type: layers.TypeDir, Mode: fs.ModeDir | 0o755},
		{Path: "/etc/apk", Kind: layers.Added, Type: layers.TypeDir, Mode: fs.ModeDir | 0o755},
		{Path: "/etc/apk/world", Kind: layers.Added, Type: layers.TypeRegular, Size: 26, Mode: 0o644},
		{Path: "/etc/passwd", Kind: layers.Added, Type: layers.TypeRegular, Size: 1172, Mode: 0o644},
		{Path: "/var", Kind: layers.Added, Type: layers.TypeDir, Mode: fs.ModeDir | 0o755},
		{Path: "/var/cache", Kind: layers.Added, Type: layers.TypeDir, Mode: fs.ModeDir | 0o755},
		{Path: "/var/cache/apk", Kind: layers.Added, Type: layers.TypeDir, Mode: fs.ModeDir | 0o755},
		{Path: "/var/cache/apk/old.tar.gz", Kind: layers.Added, Type: layers.TypeRegular, Size: 4096, Mode: 0o644},
	}
	c0 := cfg(nil, func(c *v1.Config) {
		c.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
		c.Cmd = []string{"/bin/sh"}
	})
	c0.RootFS.DiffIDs = []v1.Hash{hash("layer0")}
	s0 := &event.Snapshot{Layers: []v1.Hash{hash("layer0")}, Config: c0, Changes: base, DiffID: hash("layer0"), Step: 0}

	runCh := []layers.Change{
		{Path: "/etc/apk/world", Kind: layers.Modified, Type: layers.TypeRegular, Size: 32, Mode: 0o644},
		{Path: "/etc/redis.conf.default", Kind: layers.Added, Type: layers.TypeRegular, Size: 106545, Mode: 0o640, UID: 100, GID: 101},
		{Path: "/usr", Kind: layers.Added, Type: layers.TypeDir, Mode: fs.ModeDir | 0o755},
		{Path: "/usr/bin", Kind: layers.Added, Type: layers.TypeDir, Mode: fs.ModeDir | 0o755},
		{Path: "/usr/bin/redis-server", Kind: layers.Added, Type: layers.TypeRegular, Size: 1802240, Mode: 0o755},
		{Path: "/usr/bin/redis-cli", Kind: layers.Added, Type: layers.TypeSymlink, Linkname: "redis-server", Mode: fs.ModeSymlink | 0o777},
		{Path: "/var/cache/apk/old.tar.gz", Kind: layers.Deleted, Type: layers.TypeRegular},
	}
	c1 := cfg(c0, nil)
	c1.RootFS.DiffIDs = append(c1.RootFS.DiffIDs, hash("layer1"))
	s1 := &event.Snapshot{Layers: []v1.Hash{hash("layer0"), hash("layer1")}, Config: c1, Changes: runCh, DiffID: hash("layer1"), Parent: s0, Step: 1}

	cpCh := []layers.Change{
		{Path: "/etc/redis.conf", Kind: layers.Added, Type: layers.TypeRegular, Size: 40, Mode: 0o644},
	}
	c2 := cfg(c1, nil)
	c2.RootFS.DiffIDs = append(c2.RootFS.DiffIDs, hash("layer2"))
	s2 := &event.Snapshot{Layers: []v1.Hash{hash("layer0"), hash("layer1"), hash("layer2")}, Config: c2, Changes: cpCh, DiffID: hash("layer2"), Parent: s1, Step: 2}

	c3 := cfg(c2, func(c *v1.Config) { c.Env = append(c.Env, "REDIS_PORT=6379") })
	s3 := &event.Snapshot{Layers: s2.Layers, Config: c3, Parent: s2, Step: 3}
	c4 := cfg(c3, func(c *v1.Config) { c.ExposedPorts["6379/tcp"] = struct{}{} })
	s4 := &event.Snapshot{Layers: s2.Layers, Config: c4, Parent: s3, Step: 4}
	c5 := cfg(c4, func(c *v1.Config) { c.Cmd = []string{"redis-server", "/etc/redis.conf"} })
	s5 := &event.Snapshot{Layers: s2.Layers, Config: c5, Parent: s4, Step: 5}
	f.snaps = []*event.Snapshot{s0, s1, s2, s3, s4, s5}

	elf := append([]byte("\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x03\x00\x3e\x00"), make([]byte, 60)...)
	f.be.files[s0] = map[string][]byte{
		"/etc/apk/world":            []byte("alpine-baselayout\nbusybox\n"),
		"/etc/passwd":               []byte("root:x:0:0:root:/root:/bin/sh\n"),
		"/var/cache/apk/old.tar.gz": {0x1f, 0x8b, 8, 0, 0, 0},
	}
	f.be.files[s1] = map[string][]byte{
		"/etc/apk/world":            []byte("alpine-baselayout\nbusybox\nredis\n"),
		"/etc/redis.conf.default":   []byte("# Redis configuration file example.\nbind 127.0.0.1 -::1\nport 6379\n"),
		"/usr/bin/redis-server":     elf,
		"/var/cache/apk/old.tar.gz": nil,
	}
	f.be.files[s2] = map[string][]byte{"/etc/redis.conf": []byte("bind 0.0.0.0\nport 6379\nappendonly yes\n")}
	whole := append(append([]layers.Change(nil), base[:10]...), runCh[:6]...)
	for i := range whole {
		whole[i].Kind = layers.Added
	}
	f.be.trees[s1] = whole
	f.be.logs[1] = runLog
	return f
}

// events of a build of the fixture: all steps built, COPY from cache.
func (f *fixture) events() []event.Event {
	s := f.snaps
	evs := []event.Event{
		f.plan,
		event.Warning{Rule: "ConsistentInstructionCasing", Message: "command 'env' should match the case of the command majority (uppercase)", Line: 5},
		event.StepStarted{Step: 0},
		event.StepDone{Step: 0, ImageID: digest("img0"), DiffID: s[0].DiffID.String(), Size: 7_800_000, Files: 11, Stats: layers.Stats(s[0].Changes), Duration: 1200 * time.Millisecond, Reason: "base image pulled", Key: digest("key0"), Snapshot: s[0]},
		event.StepStarted{Step: 1, Container: "3f2a1c9e8b7d6a5f4e3d2c1b0a998877"},
	}
	for _, l := range runLog {
		evs = append(evs, event.StepLog{Step: 1, Stream: "stdout", Line: l})
	}
	evs = append(evs,
		event.StepDone{Step: 1, ImageID: digest("img1"), DiffID: s[1].DiffID.String(), Size: 1_908_817, Files: 7, Stats: layers.Stats(s[1].Changes), Duration: 2300 * time.Millisecond, Reason: "no cache entry for this instruction on this parent", Key: digest("key1"), Snapshot: s[1]},
		event.StepCached{Step: 2, Key: digest("key2"), ImageID: digest("img2"), DiffID: s[2].DiffID.String(), Size: 40, Files: 1, Snapshot: s[2]},
		event.StepStarted{Step: 3},
		event.StepDone{Step: 3, ImageID: digest("img3"), Duration: 3 * time.Millisecond, Reason: "parent changed", Snapshot: s[3]},
		event.StepStarted{Step: 4},
		event.StepDone{Step: 4, ImageID: digest("img4"), Duration: 2 * time.Millisecond, Reason: "parent changed", Snapshot: s[4]},
		event.StepStarted{Step: 5},
		event.StepDone{Step: 5, ImageID: digest("img5"), Duration: 2 * time.Millisecond, Reason: "parent changed", Snapshot: s[5]},
		event.BuildDone{ImageID: digest("img5"), Size: 9_708_857, Layers: 3, Duration: 3600 * time.Millisecond, Cached: 1, Built: 5, Tags: []string{"redis:latest"}},
	)
	return evs
}

// running is the event prefix of a build that is inside its RUN step.
func (f *fixture) running() []event.Event {
	evs := f.events()
	return evs[:5+3] // plan, warning, FROM, RUN started and three log lines
}

// failing is a build whose RUN step fails.
func (f *fixture) failing() []event.Event {
	evs := f.events()[:5+2]
	evs = append(evs,
		event.StepLog{Step: 1, Stream: "stderr", Line: "ERROR: unable to select packages:"},
		event.StepLog{Step: 1, Stream: "stderr", Line: "  rediss (no such package):"},
		event.StepFailed{Step: 1, Error: "process \"/bin/sh -c apk add --update rediss\" did not complete successfully: exit code: 1",
			ExitCode: 1, Command: "/bin/sh -c apk add --update rediss", Duration: 900 * time.Millisecond,
			Last: []string{"ERROR: unable to select packages:", "  rediss (no such package):"}, Snapshot: &event.Snapshot{Parent: f.snaps[0], Step: 1, Changes: f.snaps[1].Changes[:1]}},
		event.BuildDone{Error: "failed to build: step [2/6] RUN apk add --update rediss: exit code 1", Line: 3, Duration: 2100 * time.Millisecond},
	)
	return evs
}

// parseError is what the lead sends when the Dockerfile does not parse.
func parseError() []event.Event {
	return []event.Event{
		event.PlanReady{Dockerfile: "Dockerfile", Source: []byte("FROM alpine\nRUN echo hi\nCOPPY a b\nCMD [\"sh\"]\n")},
		event.BuildDone{Error: "dockerfile parse error on line 3: unknown instruction: COPPY (did you mean COPY?)", Line: 3},
	}
}

// newTestModel returns a model with a fixed clock and no animations, sized
// w×h, with evs applied synchronously.
func newTestModel(t testing.TB, be Backend, w, h int, evs ...event.Event) *model {
	t.Helper()
	m := newModel(Options{Backend: be, Title: "redis-image"})
	m.c.now = func() time.Time { return t0.Add(1500 * time.Millisecond) }
	settle(t, m, func() tea.Msg { return tea.WindowSizeMsg{Width: w, Height: h} })
	if len(evs) > 0 {
		settle(t, m, func() tea.Msg { return eventsMsg{evs: evs} })
	}
	return m
}

// settle runs cmd and feeds its messages back into m until nothing is left
// (the spinner's ticks are dropped: tests have no animation).
func settle(t testing.TB, m *model, cmd tea.Cmd) {
	t.Helper()
	queue := []tea.Cmd{cmd}
	for n := 0; len(queue) > 0; n++ {
		if n > 10000 {
			t.Fatal("settle: too many messages")
		}
		c := queue[0]
		queue = queue[1:]
		if c == nil {
			continue
		}
		switch msg := c().(type) {
		case nil, spinner.TickMsg, tea.QuitMsg:
		case tea.BatchMsg:
			queue = append(queue, msg...)
		default:
			_, next := m.Update(msg)
			queue = append(queue, next)
		}
	}
}

func press(t testing.TB, m *model, keys ...string) {
	t.Helper()
	for _, k := range keys {
		settle(t, m, func() tea.Msg { return keyMsg(k) })
	}
}

func keyMsg(k string) tea.KeyPressMsg {
	switch k {
	case "enter":
		return tea.KeyPressMsg{Code: tea.KeyEnter}
	case "esc":
		return tea.KeyPressMsg{Code: tea.KeyEscape}
	case "tab":
		return tea.KeyPressMsg{Code: tea.KeyTab}
	case "shift+tab":
		return tea.KeyPressMsg{Code: tea.KeyTab, Mod: tea.ModShift}
	case "down":
		return tea.KeyPressMsg{Code: tea.KeyDown}
	case "up":
		return tea.KeyPressMsg{Code: tea.KeyUp}
	case "right":
		return tea.KeyPressMsg{Code: tea.KeyRight}
	case "left":
		return tea.KeyPressMsg{Code: tea.KeyLeft}
	case "pgdown":
		return tea.KeyPressMsg{Code: tea.KeyPgDown}
	case "ctrl+c":
		return tea.KeyPressMsg{Code: 'c', Mod: tea.ModCtrl}
	case "backspace":
		return tea.KeyPressMsg{Code: tea.KeyBackspace}
	}
	r := []rune(k)
	return tea.KeyPressMsg{Code: r[0], Text: k}
}

func typeText(t testing.TB, m *model, s string) {
	t.Helper()
	for _, r := range s {
		press(t, m, string(r))
	}
}

func ansiWidth(s string) int { return ansi.StringWidth(s) }
