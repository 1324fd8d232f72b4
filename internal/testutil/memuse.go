package testutil

import (
	"runtime"
	"sync/atomic"
	"time"
)

// MiB is 1 << 20 bytes, the unit the memory tests state their bounds in.
const MiB = 1 << 20

// MemUse is the memory f used, measured by MeasureMem. Two measures, both
// from runtime.MemStats:
//
//   - Total, the TotalAlloc delta: every byte allocated while f runs,
//     garbage included. It is deterministic and an upper bound on the
//     peak, so it is the one asserted where it can be (few long lines:
//     BuildKit's parser itself allocates little there).
//   - Peak, the peak HeapAlloc over the start, sampled every 200µs while f
//     runs: what the process actually holds (live data plus garbage not
//     yet collected, i.e. about its RSS). It is used for many short lines,
//     where BuildKit's parser alone allocates ~50 times the file in
//     short-lived garbage (515 MB of TotalAlloc for a 10 MB file) so a
//     TotalAlloc bound would measure BuildKit, not strata. Sampling can
//     miss a spike shorter than the period; the quadratic growth this
//     guards against is not short.
type MemUse struct{ Total, Peak uint64 }

// MeasureMem runs f and returns the memory it used; what f returns is
// kept alive until the end of the measure.
func MeasureMem(f func() any) MemUse {
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	var peak atomic.Uint64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			if m.HeapAlloc > peak.Load() {
				peak.Store(m.HeapAlloc)
			}
			select {
			case <-stop:
				return
			case <-time.After(200 * time.Microsecond):
			}
		}
	}()
	keep := f()
	close(stop)
	<-done
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(keep)
	u := MemUse{Total: after.TotalAlloc - before.TotalAlloc}
	if p := max(peak.Load(), after.HeapAlloc); p > before.HeapAlloc {
		u.Peak = p - before.HeapAlloc
	}
	return u
}
