package frontend

import (
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

// checkCasing runs ConsistentInstructionCasing: all upper or all lower.
func checkCasing(ast *parser.Node, lint *linter.Linter) {
	upper, lower := 0, 0
	for _, n := range ast.Children {
		w := strings.Fields(n.Original)
		if len(w) == 0 {
			continue
		}
		switch w[0] {
		case strings.ToUpper(w[0]):
			upper++
		case strings.ToLower(w[0]):
			lower++
		}
	}
	for _, n := range ast.Children {
		w := strings.Fields(n.Original)
		if len(w) == 0 {
			continue
		}
		if upper >= lower && w[0] != strings.ToUpper(w[0]) {
			msg := linter.RuleConsistentInstructionCasing.Format(w[0], "uppercase")
			lint.Run(&linter.RuleConsistentInstructionCasing, n.Location(), msg)
		} else if lower > upper && w[0] != strings.ToLower(w[0]) {
			msg := linter.RuleConsistentInstructionCasing.Format(w[0], "lowercase")
			lint.Run(&linter.RuleConsistentInstructionCasing, n.Location(), msg)
		}
	}
}

// lintStage runs the per-stage build checks that need no execution.
func lintStage(p *Plan, s *Stage, lint *linter.Linter) {
	// MultipleInstructionsDisallowed is reported on the earlier
	// instruction, the one that is ignored (BuildKit's validateUsedOnce).
	var seenCmd, seenEntry, seenHealth []parser.Range
	hasShell := shellSet(s) // once: a stage may have many CMDs
	for _, c := range s.Commands {
		switch c := c.(type) {
		case *instructions.CmdCommand:
			if seenCmd != nil {
				lint.Run(&linter.RuleMultipleInstructionsDisallowed, seenCmd, linter.RuleMultipleInstructionsDisallowed.Format("CMD"))
			}
			seenCmd = c.Location()
			if c.PrependShell && !hasShell {
				lint.Run(&linter.RuleJSONArgsRecommended, c.Location(), linter.RuleJSONArgsRecommended.Format("CMD"))
			}
		case *instructions.EntrypointCommand:
			if seenEntry != nil {
				lint.Run(&linter.RuleMultipleInstructionsDisallowed, seenEntry, linter.RuleMultipleInstructionsDisallowed.Format("ENTRYPOINT"))
			}
			seenEntry = c.Location()
			if c.PrependShell && !hasShell {
				lint.Run(&linter.RuleJSONArgsRecommended, c.Location(), linter.RuleJSONArgsRecommended.Format("ENTRYPOINT"))
			}
		case *instructions.HealthCheckCommand:
			if seenHealth != nil {
				lint.Run(&linter.RuleMultipleInstructionsDisallowed, seenHealth, linter.RuleMultipleInstructionsDisallowed.Format("HEALTHCHECK"))
			}
			seenHealth = c.Location()
		case *instructions.EnvCommand:
			for _, kv := range c.Env {
				if kv.NoDelim {
					lint.Run(&linter.RuleLegacyKeyValueFormat, c.Location(), linter.RuleLegacyKeyValueFormat.Format("ENV"))
				}
				secretKeyCheck("ENV", kv.Key, c.Location(), lint)
			}
		case *instructions.LabelCommand:
			for _, kv := range c.Labels {
				if kv.NoDelim {
					lint.Run(&linter.RuleLegacyKeyValueFormat, c.Location(), linter.RuleLegacyKeyValueFormat.Format("LABEL"))
				}
			}
		case *instructions.ArgCommand:
			for _, kv := range c.Args {
				secretKeyCheck("ARG", kv.Key, c.Location(), lint)
			}
		case *instructions.WorkdirCommand:
			if !strings.HasPrefix(c.Path, "/") && !strings.HasPrefix(c.Path, "$") {
				lint.Run(&linter.RuleWorkdirRelativePath, c.Location(), linter.RuleWorkdirRelativePath.Format(c.Path))
			}
		case *instructions.ExposeCommand:
			for _, port := range c.Ports {
				if strings.Contains(port, ":") {
					lint.Run(&linter.RuleExposeInvalidFormat, c.Location(), linter.RuleExposeInvalidFormat.Format(port))
				}
				if _, proto, ok := strings.Cut(port, "/"); ok && proto != strings.ToLower(proto) {
					lint.Run(&linter.RuleExposeProtoCasing, c.Location(), linter.RuleExposeProtoCasing.Format(port))
				}
			}
		}
	}
}

func shellSet(s *Stage) bool {
	for _, c := range s.Commands {
		if _, ok := c.(*instructions.ShellCommand); ok {
			return true
		}
	}
	return false
}

var secretTokens = []string{"apikey", "auth", "credential", "credentials", "key", "password", "pword", "passwd", "secret", "token"}
var allowTokens = []string{"public"}

// secretKeyCheck is BuildKit's SecretsUsedInArgOrEnv heuristic.
func secretKeyCheck(inst, key string, loc []parser.Range, lint *linter.Linter) {
	words := strings.FieldsFunc(strings.ToLower(key), func(r rune) bool { return r == '_' || r == '-' || r == '.' })
	for _, w := range words {
		for _, a := range allowTokens {
			if w == a {
				return
			}
		}
	}
	for _, w := range words {
		for _, t := range secretTokens {
			if w == t {
				lint.Run(&linter.RuleSecretsUsedInArgOrEnv, loc, linter.RuleSecretsUsedInArgOrEnv.Format(inst, key))
				return
			}
		}
	}
}
