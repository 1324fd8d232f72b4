package frontend

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"unicode"
	"unicode/utf8"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"

	"github.com/strata-build/strata/build/event"
	"github.com/strata-build/strata/internal/platforms"
)

// LineError is a user error tied to a Dockerfile line.
type LineError struct {
	File string
	Line int // 1-based; 0 when the error is about the whole file
	Err  error
}

func (e *LineError) Error() string {
	if e.Line > 0 {
		return printable(fmt.Sprintf("%s:%d: %v", ShortPath(e.File), e.Line, e.Err))
	}
	return printable(fmt.Sprintf("%s: %v", ShortPath(e.File), e.Err))
}

// printable escapes control characters and invalid UTF-8 (a binary file
// given as the Dockerfile) so an error cannot garble the terminal.
func printable(s string) string {
	ok := utf8.ValidString(s)
	for _, r := range s {
		if r != '\n' && r != '\t' && unicode.IsControl(r) {
			ok = false
			break
		}
	}
	if ok {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n <= 1:
			fmt.Fprintf(&b, "\\x%02x", s[i])
		case r != '\n' && r != '\t' && unicode.IsControl(r):
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// longLineError names the first line longer than the parser's limit.
func longLineError(file string, src []byte) error {
	const limit = 65535
	x := newLineIndex(src)
	for n := 1; n <= x.count(); n++ {
		if l := x.line(n); len(l) > limit {
			return &LineError{File: file, Line: n, Err: fmt.Errorf("this line is %d bytes long, and a Dockerfile line can have at most %d: split it with \\ at the ends of lines, or put the text in a file of the context and COPY it", len(l), limit)}
		}
	}
	return &LineError{File: file, Err: fmt.Errorf("a line is longer than %d bytes: split it with \\ at the ends of lines", limit)}
}

func (e *LineError) Unwrap() error { return e.Err }

// ErrorLine returns the Dockerfile line an error is about, or 0.
func ErrorLine(err error) int {
	var le *LineError
	if errors.As(err, &le) {
		return le.Line
	}
	var pe *parser.LocationError
	if errors.As(err, &pe) && len(pe.Locations) > 0 && len(pe.Locations[0]) > 0 {
		return pe.Locations[0][0].Start.Line
	}
	return 0
}

func LineOf(loc []parser.Range) int {
	if len(loc) == 0 {
		return 0
	}
	return loc[0].Start.Line
}

// maxWarningsPerRule is how many warnings of one build-check rule a plan
// keeps; the rest are counted in one summary warning.
const maxWarningsPerRule = 1000

// Options are what a build is asked to do (the build flags).
type Options struct {
	ContextDir string
	Dockerfile string // path; default CONTEXT/Dockerfile
	Target     string
	BuildArgs  map[string]string
	Platform   string // e.g. linux/amd64; default: the host's
	NoCache    bool
	// NoCacheFrom > 0: steps whose plan index is at least this are built
	// without cache (the TUI's "rebuild without cache from this step").
	NoCacheFrom int
	Network     string // RUN steps': default ("": a private one with outbound access) | host | none
	Tags        []string
	Outputs     []Output
	Memory      int64
	PidsLimit   int64
	Secrets     map[string]string // id -> host file
	// Pull asks the registry for every base image even when the store has
	// it (--pull); InsecureRegistries may be reached without verified TLS.
	Pull               bool
	InsecureRegistries []string
	// AllowNetworkHost grants the network.host entitlement (--allow
	// network.host, or --network host): without it RUN --network=host is
	// refused, as in BuildKit.
	AllowNetworkHost bool
}

// Output is one -o/--output destination.
type Output struct {
	Type string // oci | docker | registry
	Dest string
	// Names are extra names to push to (type=registry,name=A,name=B or
	// type=image,name=…,push=true), besides the -t tags.
	Names []string
}

// ParseOutput parses an -o value: "type=oci,dest=DIR", or a bare path
// (which, as with docker, means a local directory export, not supported
// here: strata says what to write instead).
func ParseOutput(s string) (Output, error) {
	var o Output
	push := false
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return o, fmt.Errorf("--output %q: want type=oci,dest=DIR | type=docker,dest=FILE | type=registry[,name=REF]", s)
		}
		switch strings.TrimSpace(k) {
		case "type":
			o.Type = v
		case "dest":
			o.Dest = v
		case "name":
			for _, n := range strings.Split(v, ";") {
				if n != "" {
					o.Names = append(o.Names, n)
				}
			}
		case "push":
			push = v == "true" || v == "1"
		default:
			return o, fmt.Errorf("--output %q: unknown key %q (known: type, dest, name, push)", s, k)
		}
	}
	if o.Type == "image" {
		if !push {
			return o, fmt.Errorf("--output %q: type=image is stored locally anyway (use -t); add push=true to push it, or use type=registry", s)
		}
		o.Type = "registry"
	}
	switch o.Type {
	case "oci", "docker":
		if o.Dest == "" {
			return o, fmt.Errorf("--output %q: type=%s needs dest=PATH", s, o.Type)
		}
		o.Names = nil // docker/oci take their names from -t
	case "registry":
	case "":
		return o, fmt.Errorf("--output %q: missing type= (oci, docker or registry)", s)
	default:
		return o, fmt.Errorf("--output %q: unknown type %q (want oci, docker or registry)", s, o.Type)
	}
	return o, nil
}

// Stage is one FROM block of the Dockerfile.
type Stage struct {
	Index    int
	Name     string // lower-cased AS name, "" when unnamed
	BaseName string // as written (before expansion)
	Base     string // expanded base image or stage name
	// BaseStage is the stage index this stage starts from, or -1.
	BaseStage int
	Platform  string // --platform, expanded
	Commands  []instructions.Command
	Location  []parser.Range
	// Deps are the stages whose results this stage reads (FROM, COPY
	// --from, RUN --mount from=).
	Deps  []int
	Steps []int // indexes into Plan.Steps (the FROM step first)
	inst  instructions.Stage
}

// DisplayName is how the TUI and printers name a stage.
func (s *Stage) DisplayName() string {
	if s.Name != "" {
		return s.Name
	}
	return "stage-" + strconv.Itoa(s.Index)
}

// Plan is a parsed Dockerfile ready to execute.
type Plan struct {
	File     string // Dockerfile path as given
	Source   []byte
	Escape   rune
	Syntax   string
	Stages   []*Stage
	Order    []int // stages to build, in order
	Target   int   // the stage whose result is the image
	Steps    []event.StepInfo
	Skipped  []event.SkippedStage // the stages not in Order, each with why
	MetaArgs []instructions.ArgCommand
	// GlobalArgs are the values of the ARGs before the first FROM (and the
	// predefined ones), after --build-arg.
	GlobalArgs map[string]string
	BuildArgs  map[string]string
	Platform   v1.Platform
	Warnings   []event.Warning
	Ignore     *Ignore
	// UnusedBuildArgs are --build-arg names no stage declares.
	UnusedBuildArgs []string
	// Lex expands words with the Dockerfile's escape token.
	Lex          *shell.Lex
	metaDeclared map[string]bool // see ArgDeclared
	expanded     atomic.Int64    // bytes expansion added (see addExpanded)
}

// predefined platform and proxy args (BuildKit's automatic ARGs).
var ProxyArgs = []string{"HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY", "ftp_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"}

func IsProxyArg(k string) bool {
	for _, p := range ProxyArgs {
		if p == k {
			return true
		}
	}
	return false
}

func platformArgs(build, target v1.Platform) map[string]string {
	return map[string]string{
		// BuildKit's forms: linux/arm64 and no variant for arm64/v8.
		"BUILDPLATFORM":  platforms.Format(build),
		"BUILDOS":        build.OS,
		"BUILDARCH":      build.Architecture,
		"BUILDVARIANT":   platforms.ArgVariant(build),
		"TARGETPLATFORM": platforms.Format(target),
		"TARGETOS":       target.OS,
		"TARGETARCH":     target.Architecture,
		"TARGETVARIANT":  platforms.ArgVariant(target),
	}
}

type MapEnv map[string]string

func (m MapEnv) Get(k string) (string, bool) { v, ok := m[k]; return v, ok }
func (m MapEnv) Keys() []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// NewPlan reads and parses the Dockerfile, applies --target and collects
// build-check warnings. Every error names the Dockerfile line or flag.
func NewPlan(opt Options) (*Plan, error) {
	if opt.ContextDir == "" {
		opt.ContextDir = "."
	}
	ctxShown := ShortPath(opt.ContextDir)
	st, err := os.Stat(opt.ContextDir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("build context %q does not exist: give a directory (strata build DIR)", ctxShown)
		}
		return nil, fmt.Errorf("build context %q: %w", ctxShown, ErrnoOf(err))
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("build context %q is not a directory: give the directory that holds the files COPY reads", ctxShown)
	}
	if _, err := os.ReadDir(opt.ContextDir); err != nil {
		return nil, fmt.Errorf("build context %q cannot be read: %w", ctxShown, ErrnoOf(err))
	}
	file := opt.Dockerfile
	if file == "" {
		file = filepath.Join(opt.ContextDir, "Dockerfile")
	}
	// Read as BuildKit reads it from the "dockerfile" local source: from
	// the folder that holds it, links resolved inside that folder, a
	// regular file of at most 16 MiB (readInDir).
	src, err := readInDir(filepath.Dir(file), filepath.Base(file))
	if err != nil {
		name := "-f " + ShortPath(opt.Dockerfile)
		if opt.Dockerfile == "" {
			name = ShortPath(file)
		}
		switch {
		case errors.Is(err, os.ErrNotExist) && opt.Dockerfile == "":
			return nil, fmt.Errorf("no Dockerfile in %s: create one or name it with -f FILE", ctxShown)
		case errors.Is(err, os.ErrNotExist):
			return nil, fmt.Errorf("%s: no such file", name)
		case errors.Is(err, errLinkOutside):
			return nil, fmt.Errorf("%s: %v; BuildKit reads the Dockerfile from that folder only and resolves links as if it were / (so an absolute link, or one through .., finds nothing): make it a relative link to a file of that folder, or name the real file with -f", name, errLinkOutside)
		case errors.Is(err, errNotRegular):
			return nil, fmt.Errorf("%s: %v: a Dockerfile is a text file", name, ErrnoOf(err))
		case errors.Is(err, errTooLarge):
			return nil, fmt.Errorf("%s: %v", name, errTooLarge)
		}
		return nil, fmt.Errorf("read Dockerfile %s: %w", ShortPath(file), ErrnoOf(err))
	}
	p, err := Parse(file, src, opt)
	if err != nil {
		return p, err
	}
	ign, err := LoadIgnore(opt.ContextDir, file)
	if err != nil {
		return p, err
	}
	p.Ignore = ign
	return p, nil
}

// Parse parses Dockerfile bytes. On error the returned plan (when not nil)
// still carries the source, for the TUI to show the error on its line.
func Parse(file string, src []byte, opt Options) (p *Plan, err error) {
	defer func() {
		// The front end must never panic on any input.
		if r := recover(); r != nil {
			err = &LineError{File: file, Err: fmt.Errorf("cannot parse the Dockerfile: %v", r)}
		}
	}()
	p = &Plan{File: file, Source: src, BuildArgs: opt.BuildArgs, Target: -1}
	if p.BuildArgs == nil {
		p.BuildArgs = map[string]string{}
	}
	for _, k := range slices.Sorted(maps.Keys(p.BuildArgs)) {
		if err := checkValueSize(p.BuildArgs[k], "--build-arg "+ShortWord(k)); err != nil {
			return p, err
		}
	}
	target := platforms.Host()
	if opt.Platform != "" {
		tp, err := platforms.Parse(opt.Platform)
		if err != nil {
			return p, fmt.Errorf("--platform: %w", err)
		}
		target = tp
	}
	p.Platform = target
	if syn, _, _, ok := parser.DetectSyntax(src); ok {
		p.Syntax = syn
	}
	// A rule's warnings past maxWarningsPerRule are counted, not kept: a
	// large Dockerfile can break one rule on every line (a million CMDs).
	perRule := map[string]int{}
	addWarning := func(w event.Warning) {
		perRule[w.Rule]++
		if perRule[w.Rule] <= maxWarningsPerRule {
			p.Warnings = append(p.Warnings, w)
		}
	}
	defer func() {
		for _, rule := range slices.Sorted(maps.Keys(perRule)) {
			if n := perRule[rule]; n > maxWarningsPerRule {
				name := rule
				if name == "" {
					name = "parser"
				}
				p.Warnings = append(p.Warnings, event.Warning{Rule: rule, Message: fmt.Sprintf("%d more %s warnings not shown (strata keeps the first %d of each rule)", n-maxWarningsPerRule, name, maxWarningsPerRule)})
			}
		}
	}()
	warn := func(rule, desc, url, msg string, loc []parser.Range) {
		addWarning(event.Warning{Rule: rule, Message: msg, URL: url, Line: LineOf(loc)})
	}
	lintCfg := &linter.Config{Warn: warn}
	if check, _, _, ok := parser.ParseDirective("check", src); ok {
		if c, err := linter.ParseLintOptions(check); err == nil {
			c.Warn = warn
			lintCfg = c
		} else {
			return p, &LineError{File: file, Line: 1, Err: fmt.Errorf("check directive: %w", err)}
		}
	}
	lint := linter.New(lintCfg)

	res, err := parser.Parse(bytes.NewReader(src))
	if err != nil {
		line := ErrorLine(err)
		if strings.Contains(err.Error(), "greater than max allowed size") {
			return p, longLineError(file, src)
		}
		return p, &LineError{File: file, Line: line, Err: hintFor(instructionAt(src, line), friendlyParseError(unwrapLoc(err)))}
	}
	p.Escape = res.EscapeToken
	p.Lex = shell.NewLex(res.EscapeToken)
	for _, w := range res.Warnings {
		line := 0
		if w.Location != nil {
			line = w.Location.Start.Line
		}
		rule := ""
		if strings.Contains(w.Short, "Empty continuation") {
			rule = linter.RuleNoEmptyContinuation.Name
		}
		addWarning(event.Warning{Rule: rule, Message: w.Short, URL: w.URL, Line: line})
	}
	checkCasing(res.AST, lint)
	stages, metaArgs, err := instructions.Parse(res.AST, lint)
	if err != nil {
		line := ErrorLine(err)
		return p, &LineError{File: file, Line: line, Err: hintFor(instructionAt(src, line), friendlyParseError(unwrapLoc(err)))}
	}
	if len(stages) == 0 {
		return p, &LineError{File: file, Err: errors.New("no FROM instruction: a Dockerfile starts with FROM IMAGE (or FROM scratch), after optional ARGs")}
	}
	p.MetaArgs = metaArgs
	p.metaDeclared = metaArgSet(metaArgs)

	global, err := p.globalArgs(file, metaArgs, target)
	if err != nil {
		return p, err
	}
	byName, err := p.parseStages(file, stages, global, lint)
	if err != nil {
		return p, err
	}
	if err := p.resolveStageRefs(file, global, byName); err != nil {
		return p, err
	}
	if err := p.selectTarget(file, opt.Target, byName); err != nil {
		return p, err
	}
	p.unusedBuildArgs(file, metaArgs, target)
	sort.SliceStable(p.Warnings, func(i, j int) bool { return p.Warnings[i].Line < p.Warnings[j].Line })
	return p, nil
}

// globalArgs are the args every FROM sees: the predefined ones (platform,
// proxies given with --build-arg), then the ARGs before the first FROM,
// with their --build-arg value if given.
func (p *Plan) globalArgs(file string, metaArgs []instructions.ArgCommand, target v1.Platform) (MapEnv, error) {
	// Global args: predefined, then ARGs before FROM with --build-arg.
	global := MapEnv{}
	for k, v := range platformArgs(platforms.Host(), target) {
		global[k] = v
	}
	for _, k := range ProxyArgs {
		if v, ok := p.BuildArgs[k]; ok {
			global[k] = v
		}
	}
	for _, a := range metaArgs {
		for _, kv := range a.Args {
			if v, ok := p.BuildArgs[kv.Key]; ok {
				global[kv.Key] = v
				continue
			}
			if kv.Value != nil {
				res, err := p.LimitedExpand(p.Lex, *kv.Value, global, Named("ARG "+ShortWord(kv.Key)))
				if err != nil {
					return nil, &LineError{File: file, Line: LineOf(a.Location()), Err: WrapExpand("ARG "+kv.Key, err)}
				}
				global[kv.Key] = res.Result
			}
			// Declared without a value: known, but empty unless given.
		}
	}
	p.GlobalArgs = global
	return global, nil
}

// parseStages makes the plan's stages: each FROM's base expanded with the
// global args, its platform, the stage it is based on, and the build
// checks of its instructions. byName maps a stage's name to its index (a
// later stage of the same name wins, as in BuildKit).
func (p *Plan) parseStages(file string, stages []instructions.Stage, global MapEnv, lint *linter.Linter) (map[string]int, error) {
	byName := map[string]int{}
	for i := range stages {
		s := &Stage{Index: i, Name: strings.ToLower(stages[i].Name), BaseName: stages[i].BaseName,
			Commands: stages[i].Commands, Location: stages[i].Location, BaseStage: -1, inst: stages[i]}
		line := LineOf(s.Location)
		if s.Name != "" {
			if _, dup := byName[s.Name]; dup {
				// BuildKit only warns; from here on the name means this
				// stage (a later FROM or --from reads the latest one).
				msg := linter.RuleDuplicateStageName.Format(s.Name)
				lint.Run(&linter.RuleDuplicateStageName, s.Location, msg)
			}
			if s.Name == "scratch" || s.Name == "context" {
				msg := linter.RuleReservedStageName.Format(s.Name)
				lint.Run(&linter.RuleReservedStageName, s.Location, msg)
			}
		}
		// Expand the base name with the global args only.
		exp, err := p.LimitedExpand(p.Lex, stages[i].BaseName, global, Named("FROM "+ShortWord(stages[i].BaseName)))
		if err != nil {
			return nil, &LineError{File: file, Line: line, Err: WrapExpand("FROM "+stages[i].BaseName, err)}
		}
		for name := range exp.Unmatched {
			if !p.ArgDeclared(name) {
				msg := linter.RuleUndefinedArgInFrom.Format(name, "")
				lint.Run(&linter.RuleUndefinedArgInFrom, s.Location, msg)
			}
		}
		if exp.Result == "" {
			return nil, &LineError{File: file, Line: line, Err: fmt.Errorf("FROM %s expands to an empty base image name: give the ARG a value (ARG NAME=image before FROM, or --build-arg NAME=image)", stages[i].BaseName)}
		}
		s.Base = exp.Result
		if stages[i].Platform != "" {
			pl, err := p.LimitedExpand(p.Lex, stages[i].Platform, global, Named("FROM --platform"))
			if err != nil {
				return nil, &LineError{File: file, Line: line, Err: WrapExpand("FROM --platform", err)}
			}
			if pl.Result == "$BUILDPLATFORM" || stages[i].Platform == "$TARGETPLATFORM" || stages[i].Platform == "${TARGETPLATFORM}" {
				msg := linter.RuleRedundantTargetPlatform.Format(stages[i].Platform)
				lint.Run(&linter.RuleRedundantTargetPlatform, s.Location, msg)
			} else if !strings.Contains(stages[i].Platform, "$") {
				msg := linter.RuleFromPlatformFlagConstDisallowed.Format(stages[i].Platform)
				lint.Run(&linter.RuleFromPlatformFlagConstDisallowed, s.Location, msg)
			}
			if _, err := platforms.Parse(pl.Result); err != nil {
				return nil, &LineError{File: file, Line: line, Err: fmt.Errorf("FROM --platform=%s: %w", stages[i].Platform, err)}
			}
			s.Platform = pl.Result
		}
		if j, ok := byName[strings.ToLower(s.Base)]; ok {
			s.BaseStage = j
			s.Deps = append(s.Deps, j)
		} else if strings.EqualFold(s.Base, s.Name) && s.Name != "" {
			return nil, &LineError{File: file, Line: line, Err: fmt.Errorf("stage %q cannot be based on itself", s.Name)}
		}
		if s.Name != "" {
			byName[s.Name] = i
		}
		p.Stages = append(p.Stages, s)
		lintStage(p, s, lint)
	}
	return byName, nil
}

// resolveStageRefs adds to each stage's deps the stages its COPY --from
// and RUN --mount from= name (any stage, earlier or later).
func (p *Plan) resolveStageRefs(file string, global MapEnv, byName map[string]int) error {
	// Second pass: COPY --from and RUN --mount from= can name any stage.
	for _, s := range p.Stages {
		for _, c := range s.Commands {
			for _, ref := range stageRefs(c) {
				// A --from that cannot be expanded stays as written here;
				// the step itself reports the error.
				exp, err := p.LimitedExpand(p.Lex, ref.name, global, Named("--from"))
				if err == nil {
					ref.name = exp.Result
				}
				j, isStage, err := p.ResolveStageRef(ref.name, byName)
				if err != nil {
					return &LineError{File: file, Line: LineOf(c.Location()), Err: err}
				}
				if !isStage {
					continue
				}
				if j == s.Index {
					return &LineError{File: file, Line: LineOf(c.Location()), Err: fmt.Errorf("%s --from=%s: a stage cannot copy from itself; name an earlier stage", strings.ToUpper(c.Name()), ref.name)}
				}
				s.Deps = append(s.Deps, j)
			}
		}
	}
	return nil
}

// selectTarget picks the --target stage (the last one by default) and the
// order of the stages it needs, and makes the plan's steps.
func (p *Plan) selectTarget(file, name string, byName map[string]int) error {
	// Target.
	target0 := len(p.Stages) - 1
	if name != "" {
		j, ok := byName[strings.ToLower(name)]
		if !ok {
			var names []string
			for _, s := range p.Stages {
				if s.Name != "" {
					names = append(names, s.Name)
				}
			}
			hint := "the Dockerfile names no stage (use FROM image AS name)"
			if len(names) > 0 {
				hint = "stages: " + strings.Join(names, ", ")
			}
			return fmt.Errorf("--target %s: no stage of that name in %s (%s)", name, ShortPath(file), hint)
		}
		target0 = j
	}
	p.Target = target0
	order, err := p.buildOrder(target0)
	if err != nil {
		return err
	}
	p.Order = order
	p.Skipped = p.skippedStages(name)
	p.makeSteps()
	return nil
}

// unusedBuildArgs lists the --build-args no ARG declares and warns once
// about them, as BuildKit does.
func (p *Plan) unusedBuildArgs(file string, metaArgs []instructions.ArgCommand, target v1.Platform) {
	// Build args nobody declares.
	declared := map[string]bool{}
	for _, a := range metaArgs {
		for _, kv := range a.Args {
			declared[kv.Key] = true
		}
	}
	for _, s := range p.Stages {
		for _, c := range s.Commands {
			if a, ok := c.(*instructions.ArgCommand); ok {
				for _, kv := range a.Args {
					declared[kv.Key] = true
				}
			}
		}
	}
	for k := range p.BuildArgs {
		if !declared[k] && !IsProxyArg(k) && platformArgs(platforms.Host(), target)[k] == "" {
			p.UnusedBuildArgs = append(p.UnusedBuildArgs, k)
		}
	}
	sort.Strings(p.UnusedBuildArgs)
	if len(p.UnusedBuildArgs) > 0 {
		p.Warnings = append(p.Warnings, event.Warning{Message: fmt.Sprintf("build arg(s) %s were not consumed by any ARG in %s", strings.Join(p.UnusedBuildArgs, ", "), filepath.Base(file))})
	}
}

// ArgDeclared reports whether an ARG before the first FROM declares name,
// or name is a predefined ARG. The set is built once, by Parse: a check per
// variable must not walk every global ARG (quadratic on a large Dockerfile).
func (p *Plan) ArgDeclared(name string) bool {
	set := p.metaDeclared
	if set == nil { // a Plan not made by Parse
		set = metaArgSet(p.MetaArgs)
	}
	return set[name]
}

func metaArgSet(meta []instructions.ArgCommand) map[string]bool {
	set := map[string]bool{}
	for _, a := range meta {
		for _, kv := range a.Args {
			set[kv.Key] = true
		}
	}
	for k := range platformArgs(v1.Platform{}, v1.Platform{}) {
		set[k] = true
	}
	for _, k := range ProxyArgs {
		set[k] = true
	}
	return set
}

func unwrapLoc(err error) error {
	var le *parser.LocationError
	if errors.As(err, &le) {
		return errors.Unwrap(le)
	}
	return err
}

// instructionAt is the upper-cased first word of a Dockerfile line.
func instructionAt(src []byte, line int) string {
	w := strings.Fields(string(newLineIndex(src).line(line)))
	if len(w) == 0 {
		return ""
	}
	return strings.ToUpper(w[0])
}

// instructionForms are what the hints for malformed instructions show.
var instructionForms = map[string]string{
	"ADD":  "ADD [--chown=U:G] [--chmod=MODE] [--link] [--exclude=PAT] [--checksum=sha256:HEX] [--keep-git-dir] [--unpack] SRC... DEST",
	"COPY": "COPY [--from=STAGE] [--chown=U:G] [--chmod=MODE] [--link] [--parents] [--exclude=PAT] SRC... DEST",
	"ENV":  "ENV NAME=value [NAME=value...]",
	"ARG":  "ARG NAME[=default]",
	"FROM": "FROM [--platform=OS/ARCH] IMAGE [AS NAME]",
	"RUN":  "RUN [--mount=...] [--network=default|none|host] COMMAND",

	// instructions whose parse errors say only "requires N arguments"
	"USER":        "USER NAME[:GROUP] (or UID[:GID])",
	"WORKDIR":     "WORKDIR /PATH",
	"HEALTHCHECK": "HEALTHCHECK [--interval=30s] [--timeout=30s] [--start-period=0s] [--start-interval=5s] [--retries=3] CMD COMMAND (or HEALTHCHECK NONE)",
	"STOPSIGNAL":  "STOPSIGNAL SIGNAL (a name like SIGTERM or a number)",
	"EXPOSE":      "EXPOSE PORT[/tcp|/udp]...",
	"LABEL":       "LABEL KEY=value [KEY=value...]",
	"SHELL":       `SHELL ["EXECUTABLE", "PARAM"...]`,
	"VOLUME":      "VOLUME /PATH... (or VOLUME [\"/PATH\"...])",
	"ONBUILD":     "ONBUILD INSTRUCTION ARGUMENTS",
}

// hintFor adds the instruction's correct form to an instruction error.
func hintFor(inst string, err error) error {
	form, ok := instructionForms[inst]
	if !ok {
		return err
	}
	var ue *instructions.UnknownInstructionError
	if errors.As(err, &ue) || strings.Contains(err.Error(), "no build stage in current context") {
		return err // not about the form of the instruction
	}
	return fmt.Errorf("%w: write %s", err, form)
}

func friendlyParseError(err error) error {
	var ue *instructions.UnknownInstructionError
	if errors.As(err, &ue) && printable(ue.Instruction) != ue.Instruction {
		return fmt.Errorf("%w: this is not a text file, so not a Dockerfile; give the Dockerfile with -f FILE", err)
	}
	if errors.As(err, &ue) {
		return fmt.Errorf("%w (instructions are: ADD, ARG, CMD, COPY, ENTRYPOINT, ENV, EXPOSE, FROM, HEALTHCHECK, LABEL, MAINTAINER, ONBUILD, RUN, SHELL, STOPSIGNAL, USER, VOLUME, WORKDIR)", err)
	}
	if strings.Contains(err.Error(), "file with no instructions") {
		return fmt.Errorf("%w: a Dockerfile needs at least FROM IMAGE (or FROM scratch)", err)
	}
	if strings.Contains(err.Error(), "no build stage in current context") {
		return fmt.Errorf("%w: only ARG may come before the first FROM; start the Dockerfile with FROM IMAGE (or FROM scratch)", err)
	}
	return err
}

// lineIndex finds a Dockerfile's lines by number without splitting the
// whole file again for every instruction: the file is scanned once for
// line starts, and a line is a slice of the source.
type lineIndex struct {
	src    []byte
	starts []int // starts[k] is the offset of line k+1
}

func newLineIndex(src []byte) *lineIndex {
	starts := make([]int, 1, bytes.Count(src, []byte{'\n'})+1)
	for i, c := range src {
		if c == '\n' {
			starts = append(starts, i+1)
		}
	}
	return &lineIndex{src: src, starts: starts}
}

// count is the number of lines, as len(strings.Split(src, "\n")).
func (x *lineIndex) count() int { return len(x.starts) }

// line is line n (1-based) without its "\n"; nil when out of range.
func (x *lineIndex) line(n int) []byte {
	if n < 1 || n > len(x.starts) {
		return nil
	}
	end := len(x.src)
	if n < len(x.starts) {
		end = x.starts[n] - 1
	}
	return x.src[x.starts[n-1]:end]
}

// sourceText is the instruction as written, continuation lines joined.
// The text is a fresh string of its own length: a step never holds the
// whole file.
func sourceText(x *lineIndex, loc []parser.Range, fallback string) string {
	if len(loc) == 0 {
		return fallback
	}
	start, end := loc[0].Start.Line, loc[len(loc)-1].End.Line
	if start < 1 || end > x.count() || start > end {
		return fallback
	}
	var b strings.Builder
	first := true
	for n := start; n <= end; n++ {
		l := bytes.TrimRight(x.line(n), "\r")
		t := bytes.TrimSpace(l)
		if bytes.HasPrefix(t, []byte("#")) {
			continue
		}
		t = bytes.TrimSuffix(t, []byte("\\"))
		t = bytes.TrimSuffix(t, []byte("`"))
		if !first {
			b.WriteByte(' ')
		}
		first = false
		b.Write(bytes.TrimSpace(t))
	}
	return b.String()
}

// ParseFailed is the event stream of a build whose Dockerfile does not
// parse: the source (when it could be read) and the error on its line.
func ParseFailed(plan *Plan, err error) []event.Event {
	// No steps and no stages: [] in the JSON form, never null.
	pr := event.PlanReady{Base: event.Now(), Steps: []event.StepInfo{}, Stages: []string{}}
	if plan != nil {
		pr.Dockerfile, pr.Source = plan.File, plan.Source
	}
	return []event.Event{pr, event.BuildDone{Base: event.Now(), Error: err.Error(), Line: ErrorLine(err)}}
}
