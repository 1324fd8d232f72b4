package event

// Grouped keeps each step's lines together when steps run at once
// (independent stages build concurrently): one step is printed as it
// runs; the events of the others wait until it ends, then come out whole,
// in the order their steps started, as BuildKit's plain progress does.
// A build whose steps run one after another prints as without it.
func Grouped(p Printer) Printer { return &grouped{p: p, cur: -1} }

type grouped struct {
	p     Printer
	cur   int // the step being printed, -1 for none
	order []int
	held  map[int][]Event
}

// stepOf is the step an event belongs to, and whether it ends the step.
func stepOf(ev Event) (step int, end, ok bool) {
	switch ev := ev.(type) {
	case StepStarted:
		return ev.Step, false, true
	case StepLog:
		return ev.Step, false, true
	case StepProgress:
		return ev.Step, false, true
	case Paused:
		return ev.Step, false, true
	case Resumed:
		return ev.Step, false, true
	case StepCached:
		return ev.Step, true, true
	case StepDone:
		return ev.Step, true, true
	case StepFailed:
		return ev.Step, true, true
	}
	return 0, false, false
}

func (g *grouped) Print(ev Event) {
	step, end, ok := stepOf(ev)
	if !ok {
		if _, last := ev.(BuildDone); last {
			g.flushAll()
		}
		g.p.Print(ev)
		return
	}
	if g.cur < 0 && len(g.order) == 0 {
		g.cur = step
	}
	if step != g.cur {
		if g.held == nil {
			g.held = map[int][]Event{}
		}
		if _, seen := g.held[step]; !seen {
			g.order = append(g.order, step)
		}
		g.held[step] = append(g.held[step], ev)
		return
	}
	g.p.Print(ev)
	if end {
		g.cur = -1
		g.next()
	}
}

// next prints the held steps that have ended, in order, and makes the
// first one still running the current step.
func (g *grouped) next() {
	for len(g.order) > 0 {
		step := g.order[0]
		g.order = g.order[1:]
		evs := g.held[step]
		delete(g.held, step)
		ended := false
		for _, ev := range evs {
			g.p.Print(ev)
			_, end, _ := stepOf(ev)
			ended = ended || end
		}
		if !ended {
			g.cur = step
			return
		}
	}
}

// flushAll prints whatever is held (a build that ended with steps
// unfinished: cancelled, or failed elsewhere).
func (g *grouped) flushAll() {
	for _, step := range g.order {
		for _, ev := range g.held[step] {
			g.p.Print(ev)
		}
	}
	g.order, g.held, g.cur = nil, nil, -1
}
