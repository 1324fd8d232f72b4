package space

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"strings"

	units "github.com/docker/go-units"
	"gopkg.in/yaml.v3"

	"github.com/strata-build/strata/build/event"
)

// Rules are the CI gate's thresholds; a nil one is disabled. The first
// three are dive's (.dive-ci) with strata's numbers (see Check); the last
// two are strata's own.
type Rules struct {
	LowestEfficiency         *float64 `json:"lowestEfficiency,omitempty"`
	HighestWastedBytes       *int64   `json:"highestWastedBytes,omitempty"`
	HighestUserWastedPercent *float64 `json:"highestUserWastedPercent,omitempty"`
	// MaxImageSize and MaxLayerSize are over the uncompressed layer tars
	// (what `strata images` shows).
	MaxImageSize *int64 `json:"maxImageSize,omitempty"`
	MaxLayerSize *int64 `json:"maxLayerSize,omitempty"`
	// From says where the rules were read (files, flags, defaults).
	From []string `json:"from"`
}

// DefaultRules are dive's defaults: efficiency at least 0.9, at most 10%
// of the user's bytes wasted.
func DefaultRules() Rules {
	e, p := 0.9, 0.1
	return Rules{LowestEfficiency: &e, HighestUserWastedPercent: &p, From: []string{"defaults (as dive's)"}}
}

// CIFiles are the rule files read from the current directory, the later
// overriding the earlier: dive's, then strata's.
var CIFiles = []string{".dive-ci", ".strata-ci.yaml"}

// LoadRules reads the rule files found in dir over the defaults; a file
// that does not exist is skipped, one that is wrong is an error naming
// the file and the key.
func LoadRules(dir string) (Rules, error) {
	r := DefaultRules()
	for _, name := range CIFiles {
		file := name
		if dir != "" {
			file = dir + "/" + name
		}
		b, err := os.ReadFile(file)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return r, err
		}
		if err := r.ParseFile(file, b); err != nil {
			return r, err
		}
	}
	return r, nil
}

// ParseFile sets the rules a .dive-ci or .strata-ci.yaml file gives: a
// "rules:" map of key: value (dive's format; the keys may also stand at
// the top). A value "disabled" disables the rule.
func (r *Rules) ParseFile(file string, b []byte) error {
	var doc map[string]any
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return fmt.Errorf("%s: %w (want dive's format: \"rules:\" then \"  lowestEfficiency: 0.9\" lines)", file, err)
	}
	kv := map[string]any{}
	for k, v := range doc {
		if k == "rules" {
			m, ok := v.(map[string]any)
			if !ok && v != nil {
				return fmt.Errorf("%s: rules: want a map of rule: value, got %v", file, v)
			}
			for k2, v2 := range m {
				kv[k2] = v2
			}
			continue
		}
		kv[k] = v
	}
	for k, v := range kv {
		s := strings.TrimSpace(fmt.Sprint(v))
		if v == nil {
			s = ""
		}
		if err := r.Set(k, s); err != nil {
			return fmt.Errorf("%s: %w", file, err)
		}
	}
	r.From = append(r.From, file)
	return nil
}

// RuleKeys are the rule names, as in the files and as flags (--KEY).
var RuleKeys = []string{"lowestEfficiency", "highestWastedBytes", "highestUserWastedPercent", "maxImageSize", "maxLayerSize"}

// Set sets one rule from its text ("disabled" or "" disables it).
func (r *Rules) Set(key, val string) error {
	off := val == "" || strings.EqualFold(val, "disabled")
	ratio := func(p **float64) error {
		if off {
			*p = nil
			return nil
		}
		f, err := strconv.ParseFloat(strings.TrimSuffix(val, "%"), 64)
		if err == nil && strings.HasSuffix(val, "%") {
			f /= 100
		}
		if err != nil || f < 0 || f > 1 {
			return fmt.Errorf("%s: %q is not a ratio between 0 and 1 (e.g. 0.9, 90%%, or disabled)", key, val)
		}
		*p = &f
		return nil
	}
	size := func(p **int64) error {
		if off {
			*p = nil
			return nil
		}
		n, err := units.FromHumanSize(val)
		if err != nil || n < 0 {
			return fmt.Errorf("%s: %q is not a size (e.g. 20MB, 1.5GB, 1000000, or disabled)", key, val)
		}
		*p = &n
		return nil
	}
	switch key {
	case "lowestEfficiency":
		return ratio(&r.LowestEfficiency)
	case "highestUserWastedPercent":
		return ratio(&r.HighestUserWastedPercent)
	case "highestWastedBytes":
		return size(&r.HighestWastedBytes)
	case "maxImageSize":
		return size(&r.MaxImageSize)
	case "maxLayerSize":
		return size(&r.MaxLayerSize)
	}
	return fmt.Errorf("unknown rule %q (known: %s)", key, strings.Join(RuleKeys, ", "))
}

// Verdict is one rule's outcome.
type Verdict struct {
	Rule   string `json:"rule"`
	Pass   bool   `json:"pass"`
	Reason string `json:"reason"`
}

// CIResult is the gate's outcome on one analysis.
type CIResult struct {
	Pass     bool      `json:"pass"`
	Verdicts []Verdict `json:"rules"`
	Rules    Rules     `json:"thresholds"`
	Top      []Waste   `json:"top_wastes"`
	Image    Totals    `json:"image"`
	User     Totals    `json:"user"`
}

// Check applies the rules. lowestEfficiency and highestWastedBytes are
// over the whole image (strata's waste: only the dead copies, never the
// kept one); highestUserWastedPercent is the user's layers' wasted bytes
// over their content (dive divides all wasted bytes by the user's).
func (r Rules) Check(a *Analysis) CIResult {
	res := CIResult{Pass: true, Rules: r, Image: a.Image, User: a.User}
	add := func(rule string, fail bool, reason string) {
		res.Verdicts = append(res.Verdicts, Verdict{Rule: rule, Pass: !fail, Reason: reason})
		res.Pass = res.Pass && !fail
	}
	hs := event.HumanSize
	if t := r.LowestEfficiency; t != nil {
		add("lowestEfficiency", a.Image.Efficiency < *t,
			fmt.Sprintf("efficiency %.4f (%s of %s content wasted), lowest allowed %.4f", a.Image.Efficiency, hs(a.Image.Wasted), hs(a.Image.Content), *t))
	}
	if t := r.HighestWastedBytes; t != nil {
		add("highestWastedBytes", a.Image.Wasted > *t,
			fmt.Sprintf("%s wasted (%d bytes), highest allowed %s", hs(a.Image.Wasted), a.Image.Wasted, hs(*t)))
	}
	if t := r.HighestUserWastedPercent; t != nil {
		p := 0.0
		if a.User.Content > 0 {
			p = float64(a.User.Wasted) / float64(a.User.Content)
		}
		add("highestUserWastedPercent", p > *t,
			fmt.Sprintf("%.2f%% of the user's layers wasted (%s of %s), highest allowed %.2f%%", 100*p, hs(a.User.Wasted), hs(a.User.Content), 100**t))
	}
	if t := r.MaxImageSize; t != nil {
		add("maxImageSize", a.Image.TarBytes > *t, fmt.Sprintf("image %s (layer tars), largest allowed %s", hs(a.Image.TarBytes), hs(*t)))
	}
	if t := r.MaxLayerSize; t != nil {
		big, at := int64(0), -1
		for i, l := range a.Layers {
			if l.TarBytes > big {
				big, at = l.TarBytes, i
			}
		}
		what := "no layers"
		if at >= 0 {
			what = fmt.Sprintf("largest layer %s (%s)", hs(big), who(a.Layers[at].Layer, at))
		}
		add("maxLayerSize", big > *t, fmt.Sprintf("%s, largest allowed %s", what, hs(*t)))
	}
	res.Top = a.Wastes[:min(5, len(a.Wastes))]
	return res
}

// WritePlain writes the gate's outcome for a CI log: one line per rule
// (FAIL lines first), then the top wastes.
func (c CIResult) WritePlain(w io.Writer) error {
	var b bytes.Buffer
	fmt.Fprintf(&b, "efficiency %.4f: %s wasted of %s content; user layers %s of %s; rules from %s\n",
		c.Image.Efficiency, event.HumanSize(c.Image.Wasted), event.HumanSize(c.Image.Content),
		event.HumanSize(c.User.Wasted), event.HumanSize(c.User.Content), strings.Join(c.Rules.From, ", "))
	for _, pass := range []bool{false, true} {
		for _, v := range c.Verdicts {
			if v.Pass == pass {
				word := "FAIL"
				if pass {
					word = "PASS"
				}
				fmt.Fprintf(&b, "%s %s: %s\n", word, v.Rule, v.Reason)
			}
		}
	}
	if len(c.Top) > 0 {
		b.WriteString("top wastes:\n")
		for _, t := range c.Top {
			fmt.Fprintf(&b, "  %8s  %s: %s\n", event.HumanSize(t.Bytes), t.Message, t.Fix)
		}
	}
	if c.Pass {
		b.WriteString("result: PASS\n")
	} else {
		b.WriteString("result: FAIL\n")
	}
	_, err := w.Write(b.Bytes())
	return err
}

// WriteJSON writes the outcome as one JSON document.
func (c CIResult) WriteJSON(w io.Writer) error {
	e := json.NewEncoder(w)
	e.SetIndent("", "  ")
	return e.Encode(c)
}
