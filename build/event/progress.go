package event

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
)

// Printer is a consumer of build events that writes progress.
type Printer interface {
	Print(Event)
}

// Consume feeds every event of a build to p until the channel closes.
func Consume(events <-chan Event, p Printer) {
	for ev := range events {
		p.Print(ev)
	}
}

// NewPrinter returns the printer for --progress plain|json.
func NewPrinter(mode string, w io.Writer) (Printer, error) {
	switch mode {
	case "plain", "auto", "tty", "":
		return Grouped(&PlainPrinter{W: w}), nil // grouped.go: concurrent stages
	case "json":
		return &JSONPrinter{W: w}, nil
	}
	return nil, fmt.Errorf("--progress %q: want auto, tty, plain or json", mode)
}

// PlainPrinter writes the classic builder's output:
//
//	Step 2/4 : COPY . /app
//	 ---> Running in 3f2a1b2c3d4e
//	 ---> 9c1d0e3f4a5b
type PlainPrinter struct {
	W io.Writer
	// NoTimes leaves durations out (golden tests).
	NoTimes bool
	steps   []StepInfo
	started int            // 1 + the step whose header was printed last
	reasons map[int]string // cache-miss reasons, for findings
}

// plural is "1 layer", "2 layers".
func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

func shortID(id string) string {
	id = strings.TrimPrefix(id, "sha256:")
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

func (p *PlainPrinter) dur(d time.Duration) string {
	if p.NoTimes {
		return ""
	}
	return " in " + d.Round(time.Millisecond).String()
}

// paused is the time a build spent paused, shown apart from its time.
func (p *PlainPrinter) paused(d time.Duration) string {
	if p.NoTimes || d <= 0 {
		return ""
	}
	return " (+" + d.Round(time.Millisecond).String() + " paused)"
}

// HumanSize formats bytes the way docker images does (kB = 1000 B): three
// significant digits and no space, "2.14MB", "512B". It is the form of the
// plain output and the commands (images, inspect, prune, pull), so that they
// read like Docker's; the TUI's humanBytes ("2.1 MB") differs on purpose (a
// fixed one decimal that lines up in columns), and limits are written in
// binary units by internal/bytesize ("1 MiB"). Changing one of them changes
// golden files; keep them apart.
func HumanSize(n int64) string {
	f := float64(n)
	units := []string{"B", "kB", "MB", "GB", "TB"}
	i := 0
	for f >= 1000 && i < len(units)-1 {
		f /= 1000
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%dB", n)
	}
	return fmt.Sprintf("%.3g%s", f, units[i])
}

func (p *PlainPrinter) Print(ev Event) {
	w := p.W
	switch ev := ev.(type) {
	case PlanReady:
		p.steps, p.reasons = ev.Steps, nil
	case Warning:
		if ev.Line > 0 {
			fmt.Fprintf(w, "WARN: %s: %s (line %d)\n", ruleOr(ev.Rule), ev.Message, ev.Line)
		} else {
			fmt.Fprintf(w, "WARN: %s: %s\n", ruleOr(ev.Rule), ev.Message)
		}
	case StepStarted:
		if ev.Step < len(p.steps) && !(ev.Container != "" && p.started == ev.Step+1) {
			s := p.steps[ev.Step]
			fmt.Fprintf(w, "Step %d/%d : %s\n", ev.Step+1, len(p.steps), s.Text)
		}
		p.started = ev.Step + 1
		if ev.Container != "" {
			fmt.Fprintf(w, " ---> Running in %s\n", shortID(ev.Container))
		}
	case StepLog:
		if r, ok := strings.CutPrefix(ev.Line, "cache miss: "); ok && ev.Stream == "info" {
			if p.reasons == nil {
				p.reasons = map[int]string{}
			}
			p.reasons[ev.Step] = r
		}
		if ev.Stream == "info" {
			fmt.Fprintf(w, " ---> %s\n", ev.Line)
		} else {
			fmt.Fprintln(w, ev.Line)
		}
	case StepProgress:
	case StepCached:
		fmt.Fprintf(w, " ---> Using cache\n")
		if ev.Remote != nil {
			fmt.Fprintf(w, " ---> layer %s %s\n", shortID(ev.DiffID), strings.TrimPrefix(ev.Remote.String(), "layer "))
		}
		fmt.Fprintf(w, " ---> %s\n", shortID(ev.ImageID))
	case StepDone:
		if ev.DiffID != "" && ev.Files == 0 {
			// docker build keeps a layer for RUN, COPY, ADD and WORKDIR
			// even when they change nothing: an empty one.
			fmt.Fprintf(w, " ---> no changes: empty layer %s%s\n", shortID(ev.DiffID), p.dur(ev.Duration))
		} else if ev.DiffID != "" {
			fmt.Fprintf(w, " ---> layer %s: %s, %s%s\n", shortID(ev.DiffID), plural(ev.Files, "file"), HumanSize(ev.Size), p.dur(ev.Duration))
		} else if ev.Step < len(p.steps) && p.steps[ev.Step].Kind != "FROM" && !p.steps[ev.Step].MetadataOnly {
			fmt.Fprintf(w, " ---> no changes, no layer%s\n", p.dur(ev.Duration))
		}
		p.timing(ev.Step, ev.Duration, ev.Phases, ev.Processes, ev.Files, ev.Reason)
		fmt.Fprintf(w, " ---> %s\n", shortID(ev.ImageID))
	case StepFailed:
		p.timing(ev.Step, ev.Duration, ev.Phases, ev.Processes, 0, "")
		// Nothing: the step's output is above, and the error is printed
		// once, on stderr, by the command (as docker's classic builder).
	case BuildDone:
		if ev.Error != "" {
			return
		}
		fmt.Fprintf(w, "Successfully built %s (%s, %s, %s built, %d cached)%s\n", shortID(ev.ImageID), plural(ev.Layers, "layer"), HumanSize(ev.Size), plural(ev.Built, "step"), ev.Cached, p.dur(ev.Duration)+p.paused(ev.Paused))
		for _, t := range ev.Tags {
			fmt.Fprintf(w, "Successfully tagged %s\n", t)
		}
		for _, o := range ev.Outputs {
			fmt.Fprintf(w, "Exported to %s\n", o)
		}
	}
}

// timing writes where a step of over a second spent its time: its phases
// and the findings read from them (never with NoTimes).
func (p *PlainPrinter) timing(step int, d time.Duration, phases []Phase, procs []Process, files int, reason string) {
	if p.NoTimes || d <= time.Second || len(phases) == 0 {
		return
	}
	fmt.Fprintf(p.W, " ---> time: %s\n", PhaseSummary(phases))
	st := StepTiming{Duration: d, Phases: phases, Processes: procs, Files: files, Reason: reason}
	if step >= 0 && step < len(p.steps) {
		st.Kind, st.Text = p.steps[step].Kind, p.steps[step].Text
		if j, ok := RebuildCause(p.steps, func(j int) string { return p.reasons[j] }, step); ok {
			st.Cause, st.CauseLine, st.CauseReason = p.steps[j].Text, p.steps[j].StartLine, p.reasons[j]
		}
	}
	for _, f := range Findings(st) {
		fmt.Fprintf(p.W, " ---> note: %s\n", f)
	}
}

func ruleOr(r string) string {
	if r == "" {
		return "Warning"
	}
	return r
}

// JSONPrinter writes one JSON object per event (docs/events.md).
type JSONPrinter struct {
	W io.Writer
}

func (p *JSONPrinter) Print(ev Event) {
	b, err := MarshalEvent(ev)
	if err != nil {
		return
	}
	p.W.Write(append(b, '\n'))
}

// MarshalEvent is the JSON form of an event: its fields plus "type".
func MarshalEvent(ev Event) ([]byte, error) {
	b, err := json.Marshal(ev)
	if err != nil {
		return nil, err
	}
	t, _ := json.Marshal(ev.EventType())
	out := append([]byte(`{"type":`), t...)
	if len(b) > 2 {
		out = append(out, ',')
		out = append(out, b[1:]...)
	} else {
		out = append(out, '}')
	}
	return out, nil
}
