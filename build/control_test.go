package build

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/strata-build/strata/build/event"
	"github.com/strata-build/strata/build/frontend"
)

// runControlled builds with a Control and answers every pause with the
// next action of script ("n" = Next, "c" = Continue), recording where it
// stopped as "line:why".
func runControlled(t *testing.T, ctx context.Context, df string, c *Control, script string) ([]string, error) {
	t.Helper()
	store := newStore(t)
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"Dockerfile": df, "a": "x"})
	p, err := frontend.NewPlan(frontend.Options{ContextDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	e := &Executor{Store: store, Plan: p, Opt: frontend.Options{ContextDir: dir}, Runner: &fakeRunner{}, Control: c}
	ch := make(chan event.Event, 16)
	var stops []string
	done := make(chan struct{})
	go func() {
		defer close(done)
		i := 0
		for ev := range ch {
			pe, ok := ev.(event.Paused)
			if !ok {
				continue
			}
			stops = append(stops, fmt.Sprintf("%d:%s", pe.Line, pe.Why))
			if i >= len(script) {
				continue // leave it paused (the test cancels)
			}
			if script[i] == 'n' {
				c.Next()
			} else {
				c.Continue()
			}
			i++
		}
	}()
	_, err = e.Build(ctx, ch)
	<-done
	return stops, err
}

const controlDockerfile = "FROM scratch\nENV A=1\nCOPY a /a\nENV B=2\nRUN true\nCMD [\"x\"]\n"

// TestControlBreakStepContinue: break at line 3, step twice, continue.
func TestControlBreakStepContinue(t *testing.T) {
	c := NewControl(false, []int{3})
	stops, err := runControlled(t, context.Background(), controlDockerfile, c, "nnc")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(stops, " "); got != "3:breakpoint 4:step 5:step" {
		t.Errorf("stops %q, want 3:breakpoint 4:step 5:step", got)
	}
	if c.Paused() {
		t.Error("still paused after the build")
	}
}

// TestControlStartPaused: --step stops before the first step; toggling a
// breakpoint while paused takes effect.
func TestControlStartPaused(t *testing.T) {
	c := NewControl(true, nil)
	if !c.ToggleBreak(6) || c.ToggleBreak(6) || !c.ToggleBreak(6) {
		t.Fatal("ToggleBreak does not toggle")
	}
	if got := fmt.Sprint(c.Breakpoints()); got != "[6]" {
		t.Fatalf("Breakpoints %s", got)
	}
	stops, err := runControlled(t, context.Background(), controlDockerfile, c, "cc")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(stops, " "); got != "1:step 6:breakpoint" {
		t.Errorf("stops %q", got)
	}
}

// TestControlCancelWhilePaused: cancelling a paused build ends it with
// the context's error, promptly.
func TestControlCancelWhilePaused(t *testing.T) {
	c := NewControl(false, []int{5})
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for !c.Paused() {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	start := time.Now()
	stops, err := runControlled(t, ctx, controlDockerfile, c, "")
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
	if len(stops) != 1 || time.Since(start) > 5*time.Second {
		t.Errorf("stops %v after %v", stops, time.Since(start))
	}
}

// TestControlBreakOnContinuationLineQA: a breakpoint on the second line of
// an instruction stops before its step, and the pause names that line
// (it named the instruction's first line, where no ● is).
func TestControlBreakOnContinuationLineQA(t *testing.T) {
	c := NewControl(false, []int{3})
	stops, err := runControlled(t, context.Background(), "FROM scratch\nENV A=1 \\\n  B=2\nCMD [\"x\"]\n", c, "c")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(stops, " "); got != "3:breakpoint" {
		t.Errorf("stops %q, want 3:breakpoint", got)
	}
}
