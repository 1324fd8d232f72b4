package frontend

import (
	"container/heap"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/strata-build/strata/build/event"
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

// ResolveStageRef maps a --from value to a stage: a name or an index. A
// value that is neither is an image reference (isStage false).
func (p *Plan) ResolveStageRef(ref string, byName map[string]int) (int, bool, error) {
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
// refuses cycles. The walk keeps its own stack (no recursion), so a long
// chain of stages costs no goroutine stack.
func (p *Plan) buildOrder(target int) ([]int, error) {
	state := make([]int, len(p.Stages)) // 0 new, 1 visiting, 2 done
	var order []int
	type frame struct{ stage, next int }
	stack := []frame{{stage: target}}
	state[target] = 1
	for len(stack) > 0 {
		top := &stack[len(stack)-1]
		deps := p.Stages[top.stage].Deps
		if top.next == len(deps) {
			state[top.stage] = 2
			order = append(order, top.stage)
			stack = stack[:len(stack)-1]
			continue
		}
		d := deps[top.next]
		top.next++
		if d >= len(p.Stages) {
			continue
		}
		switch state[d] {
		case 2:
		case 1:
			var names []string
			for _, f := range stack {
				names = append(names, p.Stages[f.stage].DisplayName())
			}
			names = append(names, p.Stages[d].DisplayName())
			return nil, &LineError{File: p.File, Line: LineOf(p.Stages[d].Location), Err: fmt.Errorf("circular dependency between stages: %s", strings.Join(names, " -> "))}
		default:
			state[d] = 1
			stack = append(stack, frame{stage: d})
		}
	}
	sort.Ints(order)
	// Sort topologically, keeping Dockerfile order where free.
	return p.topo(order), nil
}

// topo orders set (sorted stage indexes) so that every stage comes after
// its dependencies, taking the lowest-numbered ready stage each time
// (Kahn's algorithm with a min-heap: n log n, not a rescan per stage).
func (p *Plan) topo(set []int) []int {
	in := make(map[int]bool, len(set))
	for _, i := range set {
		in[i] = true
	}
	indeg := make(map[int]int, len(set))
	users := map[int][]int{}
	seen := map[int]bool{}
	ready := &intHeap{}
	for _, i := range set {
		clear(seen)
		for _, d := range p.Stages[i].Deps {
			if in[d] && !seen[d] {
				seen[d] = true
				indeg[i]++
				users[d] = append(users[d], i)
			}
		}
		if indeg[i] == 0 {
			heap.Push(ready, i)
		}
	}
	out := make([]int, 0, len(set))
	for ready.Len() > 0 {
		i := heap.Pop(ready).(int)
		out = append(out, i)
		for _, u := range users[i] {
			if indeg[u]--; indeg[u] == 0 {
				heap.Push(ready, u)
			}
		}
	}
	return out
}

type intHeap []int

func (h intHeap) Len() int           { return len(h) }
func (h intHeap) Less(i, j int) bool { return h[i] < h[j] }
func (h intHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *intHeap) Push(x any)        { *h = append(*h, x.(int)) }
func (h *intHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// makeSteps flattens the stages to build into the step list.
func (p *Plan) makeSteps() {
	lines := newLineIndex(p.Source)
	n := 0
	for _, si := range p.Order {
		n += 1 + len(p.Stages[si].Commands)
	}
	p.Steps = make([]event.StepInfo, 0, n)
	for _, si := range p.Order {
		s := p.Stages[si]
		total := 1 + len(s.Commands)
		s.Steps = make([]int, 0, total)
		add := func(kind event.StepKind, text string, loc []parser.Range, meta bool) {
			start, end := 0, 0
			if len(loc) > 0 {
				start, end = loc[0].Start.Line, loc[len(loc)-1].End.Line
			}
			s.Steps = append(s.Steps, len(p.Steps))
			p.Steps = append(p.Steps, event.StepInfo{
				Index: len(p.Steps), Stage: si, StageName: s.Name, Number: len(s.Steps), StageSteps: total,
				Kind: kind, Text: text, StartLine: start, EndLine: end, MetadataOnly: meta,
			})
		}
		add("FROM", s.inst.SourceCode, s.Location, false)
		for _, c := range s.Commands {
			kind := event.StepKind(strings.ToUpper(c.Name()))
			add(kind, sourceText(lines, c.Location(), strings.ToUpper(c.Name())), c.Location(), isMetadata(kind))
		}
	}
}

func isMetadata(k event.StepKind) bool {
	switch k {
	case "RUN", "COPY", "ADD", "WORKDIR", "FROM":
		return false
	}
	return true
}

// skippedStages lists the stages Order leaves out, with why: a stage after
// the --target one (or one only such stages read) is not needed for it; any
// other is one no stage reads (BuildKit builds only what the target needs).
func (p *Plan) skippedStages(target string) []event.SkippedStage {
	built := make([]bool, len(p.Stages))
	for _, si := range p.Order {
		built[si] = true
	}
	if len(p.Order) == len(p.Stages) {
		return nil
	}
	read := make([]bool, len(p.Stages)) // some other stage reads it
	for j, s := range p.Stages {
		for _, d := range s.Deps {
			if d >= 0 && d < len(read) && d != j {
				read[d] = true
			}
		}
	}
	var out []event.SkippedStage
	for i, s := range p.Stages {
		if built[i] {
			continue
		}
		reason := "no stage depends on it"
		switch {
		case target != "" && (i > p.Target || read[i]):
			reason = "not needed for --target " + target
		case read[i]:
			reason = "only skipped stages depend on it"
		}
		start, end := 0, 0
		if len(s.Location) > 0 {
			start, end = s.Location[0].Start.Line, s.Location[len(s.Location)-1].End.Line
		}
		for _, c := range s.Commands {
			if loc := c.Location(); len(loc) > 0 {
				end = max(end, loc[len(loc)-1].End.Line)
			}
		}
		out = append(out, event.SkippedStage{Stage: i, Name: s.DisplayName(), StartLine: start, EndLine: end, Reason: reason})
	}
	return out
}
