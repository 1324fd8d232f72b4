package cache

import (
	"encoding/json"
	"fmt"
)

// MaxInline bounds the inline cache annotation (--cache-to
// type=inline), as it is written in the manifest (a JSON string: its
// quotes escaped). Most registries refuse a manifest over 4 MiB
// (distribution's default, Docker Hub, GHCR, ECR): the rest of the
// manifest gets what is left.
const MaxInline = 4<<20 - 256<<10

// annotationSize is what b takes as a JSON string value.
func annotationSize(b []byte) int {
	s, _ := json.Marshal(string(b))
	return len(s)
}

// FitInline marshals doc for the inline annotation within max bytes:
// whole when it fits, else without its stage records (they only explain
// misses), then with the entries of the first steps only (a later step's
// entry names the layers of the steps before it). warn says what was
// left out ("" when nothing); an error when not even the first step's
// entry fits.
func FitInline(doc *Doc, max int) ([]byte, string, error) {
	b, err := json.Marshal(doc)
	if err != nil || annotationSize(b) <= max {
		return b, "", err
	}
	full := annotationSize(b)
	d := *doc
	d.Records, d.Sums = nil, nil
	if b, err = json.Marshal(&d); err != nil {
		return nil, "", err
	}
	if annotationSize(b) <= max {
		return b, fmt.Sprintf("--cache-to type=inline: the cache records are %s, over the %s a registry takes in a manifest: the stage records that explain misses were left out (the entries are all there); type=registry has no such limit",
			inlineMiB(full), inlineMiB(max)), nil
	}
	// The largest prefix of entries that fits: sizes add up (a comma
	// each), checked again once marshalled.
	d.Entries = nil
	b, _ = json.Marshal(&d)
	base := annotationSize(b)
	n, size := 0, base
	for _, ent := range doc.Entries {
		eb, err := json.Marshal(ent)
		if err != nil {
			return nil, "", err
		}
		if size+annotationSize(eb)+1 > max {
			break
		}
		size += annotationSize(eb) + 1
		n++
	}
	for ; n > 0; n-- {
		d.Entries = doc.Entries[:n]
		if b, err = json.Marshal(&d); err != nil {
			return nil, "", err
		}
		if annotationSize(b) <= max {
			return b, fmt.Sprintf("--cache-to type=inline: the cache records are %s, over the %s a registry takes in a manifest: only the first %d of %d steps' entries were written (the rest run again on a machine that imports it); use --cache-to type=registry,ref=REF for all of them",
				inlineMiB(full), inlineMiB(max), n, len(doc.Entries)), nil
		}
	}
	return nil, "", fmt.Errorf("the cache records are %s, and not even the first step's entry fits in the %s a registry takes in a manifest: no inline cache written; use --cache-to type=registry,ref=REF", inlineMiB(full), inlineMiB(max))
}

func inlineMiB(n int) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
