package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/strata-build/strata/build"
	"github.com/strata-build/strata/build/event"
	"github.com/strata-build/strata/build/session"
	"github.com/strata-build/strata/build/space"
	"github.com/strata-build/strata/layers"
)

// ciOpts are the CI gate's flags, shared by inspect and build.
type ciOpts struct {
	on     bool
	config string
	format string
	rules  map[string]*string
}

func (o *ciOpts) register(c *cobra.Command, what string) {
	f := c.Flags()
	f.BoolVar(&o.on, "ci", false, "gate "+what+" on wasted space: exit 1 when a rule fails (rules from --ci-config, else .dive-ci and .strata-ci.yaml here, and the flags below; docs/events.md)")
	f.StringVar(&o.config, "ci-config", "", "with --ci: read the rules from FILE (dive's .dive-ci format) instead of ./.dive-ci and ./.strata-ci.yaml")
	f.StringVar(&o.format, "ci-format", "plain", "with --ci: plain (one line per rule, then the top wastes) or json")
	o.rules = map[string]*string{}
	help := map[string]string{
		"lowestEfficiency":         "with --ci: fail below this efficiency (1 − wasted/content, 0-1; disabled turns it off)",
		"highestWastedBytes":       "with --ci: fail above this many wasted bytes (e.g. 20MB)",
		"highestUserWastedPercent": "with --ci: fail when more than this ratio (0-1) of the user's layers' content is wasted",
		"maxImageSize":             "with --ci: fail when the layer tars together are bigger (e.g. 500MB)",
		"maxLayerSize":             "with --ci: fail when one layer's tar is bigger (e.g. 100MB)",
	}
	for _, k := range space.RuleKeys {
		o.rules[k] = f.String(k, "", help[k])
	}
}

// load is the rules: defaults, then the files, then the flags.
func (o *ciOpts) load() (space.Rules, error) {
	var r space.Rules
	var err error
	if o.config != "" {
		r = space.DefaultRules()
		b, rerr := os.ReadFile(o.config)
		if rerr != nil {
			return r, fmt.Errorf("--ci-config: %w", rerr)
		}
		err = r.ParseFile(o.config, b)
	} else {
		r, err = space.LoadRules("")
	}
	if err != nil {
		return r, err
	}
	var flags []string
	for _, k := range space.RuleKeys {
		if v := *o.rules[k]; v != "" {
			if err := r.Set(k, v); err != nil {
				return r, fmt.Errorf("--%w", err)
			}
			flags = append(flags, "--"+k)
		}
	}
	if len(flags) > 0 {
		r.From = append(r.From, strings.Join(flags, " "))
	}
	return r, nil
}

// check validates the flags before any work.
func (o *ciOpts) check() error {
	if o.format != "plain" && o.format != "json" {
		return fmt.Errorf("--ci-format %q: want plain or json", o.format)
	}
	if !o.on {
		for _, k := range space.RuleKeys {
			if *o.rules[k] != "" {
				return fmt.Errorf("--%s needs --ci", k)
			}
		}
		if o.config != "" {
			return fmt.Errorf("--ci-config needs --ci")
		}
		return nil
	}
	_, err := o.load()
	return err
}

// gate applies the rules to the analysis and writes the outcome; a
// failing rule is exit status 1 (as dive's --ci).
func (o *ciOpts) gate(w io.Writer, a *space.Analysis) error {
	r, err := o.load()
	if err != nil {
		return err
	}
	res := r.Check(a)
	if o.format == "json" {
		err = res.WriteJSON(w)
	} else {
		err = res.WritePlain(w)
	}
	if err != nil {
		return err
	}
	if !res.Pass {
		return &exitError{code: 1}
	}
	return nil
}

// printSpace is the analysis as text: the totals, the layers and the
// ranked wastes and findings (strata inspect --plain).
func printSpace(w io.Writer, a *space.Analysis) {
	hs := event.HumanSize
	fmt.Fprintf(w, "\nSPACE    content %s, wasted %s, efficiency %.1f%%\n", hs(a.Image.Content), hs(a.Image.Wasted), 100*a.Image.Efficiency)
	part := func(name string, t space.Totals) {
		if t.Layers == 0 {
			fmt.Fprintf(w, "  %-5s none\n", name)
			return
		}
		comp := "compressed unknown"
		if t.Compressed > 0 {
			comp = fmt.Sprintf("compressed %s, wasted ≈%s (estimate)", hs(t.Compressed), hs(t.WastedCompressed))
		}
		fmt.Fprintf(w, "  %-5s %d layers: content %s, wasted %s (%.1f%% efficient); layer tars %s; %s\n",
			name, t.Layers, hs(t.Content), hs(t.Wasted), 100*t.Efficiency, hs(t.TarBytes), comp)
	}
	part("user", a.User)
	part("base", a.BaseImg)
	fmt.Fprintf(w, "  base: %s\n", a.BaseRule)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	col := "LINE"
	if a.LinesAre == "history" {
		col = "HISTORY" // an inspected image: its history entry, no Dockerfile
	}
	fmt.Fprintf(tw, "  LAYER\t%s\tCONTENT\tCOMPRESSED\tWASTED HERE\tCAUSED\n", col)
	for _, l := range a.Layers {
		line, comp := "base", "-"
		if !l.Base && l.Line > 0 {
			line = fmt.Sprint(l.Line)
		}
		if l.Compressed > 0 {
			comp = hs(l.Compressed)
		}
		fmt.Fprintf(tw, "  %d\t%s\t%s\t%s\t%s\t%s\n", l.Index+1, line, hs(l.Content), comp, hs(l.Unavoidable), hs(l.Caused))
	}
	tw.Flush()
	if len(a.Wastes) == 0 {
		fmt.Fprintln(w, "  no wasted bytes: no layer ships a file a later layer deletes, replaces or stores again")
	}
	for i, x := range a.Wastes {
		if i == 20 {
			fmt.Fprintf(w, "  … %d more\n", len(a.Wastes)-i)
			break
		}
		fmt.Fprintf(w, "  %8s  %-11s %s\n            fix: %s\n", hs(x.Bytes), x.Kind, x.Message, x.Fix)
	}
	for _, f := range a.Findings {
		fmt.Fprintf(w, "  %8s  %-11s %s\n            fix: %s\n", hs(f.Bytes), f.Rule, f.Message, f.Fix)
	}
	for _, e := range a.Errors {
		fmt.Fprintln(w, "  not analysed: "+e)
	}
}

// collect adds the wasted-space analysis' collector to an executor's
// observers when --report or --ci needs it.
func (o *buildOpts) collect(ex *build.Executor) *space.Collector {
	if o.report == "" && !o.ci.on {
		return nil
	}
	col := &space.Collector{}
	prev := ex.Observe
	ex.Observe = func(ev event.Event) {
		if prev != nil {
			prev(ev)
		}
		col.Observe(ev)
	}
	return col
}

// collectSession is collect for the TUI's session (--report only).
func (o *buildOpts) collectSession(sess *session.Session) *space.Collector {
	if o.report == "" {
		return nil
	}
	col := &space.Collector{}
	prev := sess.Observe
	sess.Observe = func(ev event.Event) {
		if prev != nil {
			prev(ev)
		}
		col.Observe(ev)
	}
	return col
}

// analyse is the analysis of the built image, put in the report; a
// failed analysis fails only --ci (the report says why it has none).
func (o *buildOpts) analyse(ctx context.Context, store *layers.Store, report *event.Report, col *space.Collector) (*space.Analysis, error) {
	if col == nil {
		return nil, nil
	}
	a, err := col.Run(ctx, store, space.Options{Compress: true})
	if err != nil {
		err = fmt.Errorf("wasted-space analysis of the image: %w", err)
		if report != nil {
			report.SetSpace(map[string]string{"error": err.Error()})
		}
		return nil, err
	}
	if report != nil {
		report.SetSpace(a)
	}
	return a, nil
}
