package tui

import "fmt"

// diffLine is one line of a unified diff: op is ' ', '-', '+' or '@' (a
// hunk header, text holds it).
type diffLine struct {
	op   byte
	text string
}

// maxEdit bounds the Myers search; files that differ more are shown as a
// whole replacement (still correct, just not minimal).
const maxEdit = 2000

// lineEdits returns the edit script turning a into b: '=', '-', '+' per
// line, by Myers' O(ND) algorithm after trimming the common prefix/suffix.
func lineEdits(a, b []string) []byte {
	pre := 0
	for pre < len(a) && pre < len(b) && a[pre] == b[pre] {
		pre++
	}
	suf := 0
	for suf < len(a)-pre && suf < len(b)-pre && a[len(a)-1-suf] == b[len(b)-1-suf] {
		suf++
	}
	mid := myers(a[pre:len(a)-suf], b[pre:len(b)-suf])
	ops := make([]byte, 0, pre+len(mid)+suf)
	for i := 0; i < pre; i++ {
		ops = append(ops, '=')
	}
	ops = append(ops, mid...)
	for i := 0; i < suf; i++ {
		ops = append(ops, '=')
	}
	return ops
}

func myers(a, b []string) []byte {
	n, m := len(a), len(b)
	if n == 0 || m == 0 {
		return replaceAll(n, m)
	}
	dmax := min(n+m, maxEdit)
	off := dmax + 1
	v := make([]int32, 2*dmax+3)
	var trace [][]int32
	found := false
	for d := 0; d <= dmax && !found; d++ {
		seg := make([]int32, 2*d+3)
		copy(seg, v[off-d-1:off+d+2])
		trace = append(trace, seg)
		for k := -d; k <= d; k += 2 {
			var x int
			if k == -d || (k != d && v[off+k-1] < v[off+k+1]) {
				x = int(v[off+k+1])
			} else {
				x = int(v[off+k-1]) + 1
			}
			y := x - k
			for x < n && y < m && a[x] == b[y] {
				x++
				y++
			}
			v[off+k] = int32(x)
			if x >= n && y >= m {
				found = true
				break
			}
		}
	}
	if !found { // too different: replace everything
		return replaceAll(n, m)
	}
	var rev []byte
	x, y := n, m
	for d := len(trace) - 1; d >= 0; d-- {
		seg := trace[d]
		at := func(k int) int { return int(seg[k+d+1]) }
		k := x - y
		var pk int
		if k == -d || (k != d && at(k-1) < at(k+1)) {
			pk = k + 1
		} else {
			pk = k - 1
		}
		px := at(pk)
		py := px - pk
		for x > px && y > py {
			rev = append(rev, '=')
			x--
			y--
		}
		if d > 0 {
			if x == px {
				rev = append(rev, '+')
			} else {
				rev = append(rev, '-')
			}
		}
		x, y = px, py
	}
	for i, j := 0, len(rev)-1; i < j; i, j = i+1, j-1 {
		rev[i], rev[j] = rev[j], rev[i]
	}
	return rev
}

// unified renders the edit script of a→b as hunks with ctx lines of
// context. It returns nil when a and b are equal.
func unified(a, b []string, ctx int) []diffLine { return unifiedAt(a, b, ctx, 0) }

// unifiedAt is unified for a and b that start after base lines the two
// files share: hunk headers number lines in the whole files.
func unifiedAt(a, b []string, ctx, base int) []diffLine {
	ops := lineEdits(a, b)
	if !hasChange(ops) {
		return nil
	}
	// positions in a and b before each op
	ai := make([]int, len(ops)+1)
	bi := make([]int, len(ops)+1)
	for i, op := range ops {
		ai[i+1], bi[i+1] = ai[i], bi[i]
		if op != '+' {
			ai[i+1]++
		}
		if op != '-' {
			bi[i+1]++
		}
	}
	var out []diffLine
	for i := 0; i < len(ops); {
		if ops[i] == '=' {
			i++
			continue
		}
		start := max(0, i-ctx)
		end := i
		for end < len(ops) {
			if ops[end] != '=' {
				end++
				continue
			}
			run := end
			for run < len(ops) && ops[run] == '=' {
				run++
			}
			if run == len(ops) || run-end > 2*ctx {
				end = min(len(ops), end+ctx)
				break
			}
			end = run
		}
		oldN, newN := ai[end]-ai[start], bi[end]-bi[start]
		out = append(out, diffLine{op: '@', text: fmt.Sprintf("@@ -%d,%d +%d,%d @@", base+ai[start]+min(1, oldN), oldN, base+bi[start]+min(1, newN), newN)})
		for j := start; j < end; j++ {
			switch ops[j] {
			case '=':
				out = append(out, diffLine{op: ' ', text: a[ai[j]]})
			case '-':
				out = append(out, diffLine{op: '-', text: a[ai[j]]})
			case '+':
				out = append(out, diffLine{op: '+', text: b[bi[j]]})
			}
		}
		i = end
	}
	return out
}

func hasChange(ops []byte) bool {
	for _, o := range ops {
		if o != '=' {
			return true
		}
	}
	return false
}

// replaceAll is n deletions then m additions.
func replaceAll(n, m int) []byte {
	ops := make([]byte, 0, n+m)
	for range n {
		ops = append(ops, '-')
	}
	for range m {
		ops = append(ops, '+')
	}
	return ops
}
