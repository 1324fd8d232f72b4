package frontend

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestShortPath(t *testing.T) {
	if got := ShortPath("/a/b"); got != "/a/b" {
		t.Errorf("short path changed: %q", got)
	}
	exact := strings.Repeat("x", shortPathMax)
	if got := ShortPath(exact); got != exact {
		t.Errorf("a %d-byte path was shortened", len(exact))
	}
	long := "/start/" + strings.Repeat("d/", 500) + "the-end"
	got := ShortPath(long)
	if !strings.HasPrefix(got, long[:100]) || !strings.HasSuffix(got, long[len(long)-100:]) || !strings.Contains(got, "…") {
		t.Errorf("ShortPath(long) = %q: want the first and last 100 bytes around …", got)
	}
	if len(got) != 200+len("…") {
		t.Errorf("len = %d", len(got))
	}
	// Multi-byte characters are never cut in half.
	wide := strings.Repeat("é", 300)
	if got := ShortPath(wide); !utf8.ValidString(got) || len(got) > 200+len("…") {
		t.Errorf("ShortPath(é×300) = %q (valid %v, %d bytes)", got, utf8.ValidString(got), len(got))
	}
}
