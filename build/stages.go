package build

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

type stageRef struct{ name string }

// stageRefs lists the --from references of a command.
func stageRefs(c instructions.Command) []*stageRef {
	var out []*stageRef
	switch c := c.(type) {
	case *instructions.CopyCommand:
		if c.From != "" {
			out = append(out, &stageRef{name: c.From})
		}
	case *instructions.RunCommand:
		for _, m := range instructions.GetMounts(c) {
			if m.From != "" {
				out = append(out, &stageRef{name: m.From})
			}
		}
	}
	return out
}

// resolveStageRef maps a --from value to a stage: a name or an index. A
// value that is neither is an image reference (isStage false).
func (p *Plan) resolveStageRef(ref string, byName map[string]int) (int, bool, error) {
	if j, ok := byName[strings.ToLower(ref)]; ok {
		return j, true, nil
	}
	if n, err := strconv.Atoi(ref); err == nil {
		if n < 0 || n >= len(p.Stages) && n >= countStages(p) {
			return 0, false, fmt.Errorf("--from=%d: there is no stage %d (the Dockerfile has stages 0 to %d)", n, n, countStages(p)-1)
		}
		return n, true, nil
	}
	return 0, false, nil
}

func countStages(p *Plan) int { return len(p.Stages) }

// buildOrder lists the stages the target needs, dependencies first, and
// refuses cycles.
func (p *Plan) buildOrder(target int) ([]int, error) {
	state := make([]int, len(p.Stages)) // 0 new, 1 visiting, 2 done
	var order []int
	var visit func(i int, path []int) error
	visit = func(i int, path []int) error {
		switch state[i] {
		case 2:
			return nil
		case 1:
			var names []string
			for _, j := range append(path, i) {
				names = append(names, p.Stages[j].DisplayName())
			}
			return &LineError{File: p.File, Line: lineOf(p.Stages[i].Location), Err: fmt.Errorf("circular dependency between stages: %s", strings.Join(names, " -> "))}
		}
		state[i] = 1
		for _, d := range p.Stages[i].Deps {
			if d >= len(p.Stages) {
				continue
			}
			if err := visit(d, append(path, i)); err != nil {
				return err
			}
		}
		state[i] = 2
		order = append(order, i)
		return nil
	}
	if err := visit(target, nil); err != nil {
		return nil, err
	}
	sort.Ints(order) // Dockerfile order; deps of a stage always come first once cycles are excluded? not necessarily
	// Re-sort topologically while keeping Dockerfile order where free.
	return p.topo(order), nil
}

func (p *Plan) topo(set []int) []int {
	in := map[int]bool{}
	for _, i := range set {
		in[i] = true
	}
	done := map[int]bool{}
	var out []int
	for len(out) < len(set) {
		progressed := false
		for _, i := range set {
			if done[i] {
				continue
			}
			ready := true
			for _, d := range p.Stages[i].Deps {
				if in[d] && !done[d] {
					ready = false
					break
				}
			}
			if ready {
				done[i] = true
				out = append(out, i)
				progressed = true
				break
			}
		}
		if !progressed {
			break
		}
	}
	return out
}

// makeSteps flattens the stages to build into the step list.
func (p *Plan) makeSteps() {
	for _, si := range p.Order {
		s := p.Stages[si]
		total := 1 + len(s.Commands)
		add := func(kind StepKind, text string, loc []parser.Range, meta bool) {
			start, end := 0, 0
			if len(loc) > 0 {
				start, end = loc[0].Start.Line, loc[len(loc)-1].End.Line
			}
			s.Steps = append(s.Steps, len(p.Steps))
			p.Steps = append(p.Steps, StepInfo{
				Index: len(p.Steps), Stage: si, StageName: s.Name, Number: len(s.Steps), StageSteps: total,
				Kind: kind, Text: text, StartLine: start, EndLine: end, MetadataOnly: meta,
			})
		}
		add("FROM", s.inst.SourceCode, s.Location, false)
		for _, c := range s.Commands {
			kind := StepKind(strings.ToUpper(c.Name()))
			add(kind, sourceText(p.Source, c.Location(), strings.ToUpper(c.Name())), c.Location(), isMetadata(kind))
		}
	}
}

func isMetadata(k StepKind) bool {
	switch k {
	case "RUN", "COPY", "ADD", "WORKDIR", "FROM":
		return false
	}
	return true
}
