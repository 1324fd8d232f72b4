package sandbox

import (
	"regexp"
	"strings"
	"testing"
)

// TestTtyPrefillTypedAtThePrompt: the prefilled command is typed once the
// shell reads its line (the terminal out of canonical mode), so it shows
// once, at the prompt: never echoed by the terminal before the shell's
// line editor starts (above the banner), then again at the prompt.
func TestTtyPrefillTypedAtThePrompt(t *testing.T) {
	lower := busyboxRootfs(t)
	// the banner first, as the debug shell's, then an interactive shell
	spec := newSpec(t, lower, "sh", "-c", `echo BANNER; exec sh -i`)
	spec.Env = append(spec.Env, "PS1=PROMPT> ", "HOME=/root")
	spec.Tty = true
	const cmd = "echo prefill-$((6*7)); exit"
	spec.Prefill = cmd + "\n"
	r := mustRun(t, spec)
	// without the line editor's terminal queries (ESC[6n)
	out := regexp.MustCompile(`\x1b\[[0-9;?]*[a-zA-Z]`).ReplaceAllString(strings.ReplaceAll(r.stdout, "\r", ""), "")
	if n := strings.Count(out, cmd); n != 1 {
		t.Errorf("the prefilled command shows %d times, want once (at the prompt):\n%q", n, out)
	}
	i, j := strings.Index(out, "BANNER"), strings.Index(out, "PROMPT> "+cmd)
	if i < 0 || j < i {
		t.Errorf("want the banner, then the prompt with the command typed at it:\n%q", out)
	}
	if !strings.Contains(out, "prefill-42") {
		t.Errorf("the prefilled command did not run:\n%q", out)
	}
}
