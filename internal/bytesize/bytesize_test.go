package bytesize

import (
	"math"
	"testing"
)

func TestBinary(t *testing.T) {
	for _, tc := range []struct {
		n    int64
		want string
	}{
		{-5, "-5 B"},
		{0, "0 B"},
		{1, "1 B"},
		{1023, "1023 B"},
		{1024, "1 KiB"},
		{1536, "1.5 KiB"},
		{1 << 20, "1 MiB"},
		{8 << 20, "8 MiB"},
		{16 << 20, "16 MiB"},
		{1<<20 + 1, "1.0 MiB"},
		{64 << 20, "64 MiB"},
		{3 << 29, "1.5 GiB"},
		{1<<30 + 1, "1.0 GiB"},
		{6 << 50, "6 PiB"},
		{1 << 60, "1 EiB"},
		{math.MaxInt64, "8 EiB"},
	} {
		if got := Binary(tc.n); got != tc.want {
			t.Errorf("Binary(%d) = %q, want %q", tc.n, got, tc.want)
		}
	}
}
