package space

import (
	"strings"
	"testing"
)

// TestRulesFiles: dive's .dive-ci format reads as dive reads it; wrong
// keys and values are refused with the file and the key.
func TestRulesFiles(t *testing.T) {
	r := DefaultRules()
	dive := "rules:\n  lowestEfficiency: 0.95\n  highestWastedBytes: 20MB\n  highestUserWastedPercent: disabled\n"
	if err := r.ParseFile(".dive-ci", []byte(dive)); err != nil {
		t.Fatal(err)
	}
	if r.LowestEfficiency == nil || *r.LowestEfficiency != 0.95 || r.HighestWastedBytes == nil || *r.HighestWastedBytes != 20_000_000 || r.HighestUserWastedPercent != nil {
		t.Errorf("rules %+v", r)
	}
	if err := r.ParseFile(".strata-ci.yaml", []byte("maxLayerSize: 1.5kB\nrules:\n  maxImageSize: 3000\n")); err != nil {
		t.Fatal(err)
	}
	if *r.MaxLayerSize != 1500 || *r.MaxImageSize != 3000 || len(r.From) != 3 {
		t.Errorf("rules %+v", r)
	}
	for _, bad := range []struct{ text, want string }{
		{"rules:\n  lowestEfficency: 0.9\n", `.dive-ci: unknown rule "lowestEfficency"`},
		{"rules:\n  lowestEfficiency: 9\n", "lowestEfficiency: \"9\" is not a ratio"},
		{"rules:\n  highestWastedBytes: lots\n", "highestWastedBytes: \"lots\" is not a size"},
		{"rules: [1, 2]\n", "rules: want a map"},
		{"rules:\n\tx", ".dive-ci: yaml"},
	} {
		r := DefaultRules()
		err := r.ParseFile(".dive-ci", []byte(bad.text))
		if err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%q: error %v, want %q", bad.text, err, bad.want)
		}
	}
}

// TestCheck: each rule passes at its threshold and fails beyond it.
func TestCheck(t *testing.T) {
	a := &Analysis{Layers: []LayerStat{
		{Layer: Layer{Step: -1, Base: true}, TarBytes: 5000, Content: 4000, Unavoidable: 1000},
		{Layer: Layer{Step: 1, Line: 2}, TarBytes: 3000, Content: 2000, Unavoidable: 500},
	}, Wastes: []Waste{{Kind: Deleted, Path: "/x", Bytes: 1000, Message: "m", Fix: "f"}}}
	a.Sum()
	f := func(v float64) *float64 { return &v }
	n := func(v int64) *int64 { return &v }
	for _, tc := range []struct {
		name string
		r    Rules
		pass bool
	}{
		{"efficiency at", Rules{LowestEfficiency: f(0.75)}, true},
		{"efficiency under", Rules{LowestEfficiency: f(0.76)}, false},
		{"wasted at", Rules{HighestWastedBytes: n(1500)}, true},
		{"wasted over", Rules{HighestWastedBytes: n(1499)}, false},
		{"user at", Rules{HighestUserWastedPercent: f(0.25)}, true},
		{"user over", Rules{HighestUserWastedPercent: f(0.24)}, false},
		{"image at", Rules{MaxImageSize: n(8000)}, true},
		{"image over", Rules{MaxImageSize: n(7999)}, false},
		{"layer at", Rules{MaxLayerSize: n(5000)}, true},
		{"layer over", Rules{MaxLayerSize: n(4999)}, false},
		{"none", Rules{}, true},
	} {
		res := tc.r.Check(a)
		if res.Pass != tc.pass {
			t.Errorf("%s: pass %v, want %v: %+v", tc.name, res.Pass, tc.pass, res.Verdicts)
		}
		var b strings.Builder
		res.WritePlain(&b)
		if !tc.pass && !strings.Contains(b.String(), "FAIL ") || !strings.Contains(b.String(), "top wastes:\n") {
			t.Errorf("%s: plain output\n%s", tc.name, b.String())
		}
	}
}
