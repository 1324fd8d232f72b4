package sandbox

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// benchTrace runs args with and without Spec.Trace, alternating which goes
// first, b.N times each, and reports both times and their ratio.
func benchTrace(b *testing.B, args []string, wantProcs int) {
	lower := busyboxRootfs(b)
	base := b.TempDir()
	var with, without time.Duration
	var withs, withouts []time.Duration
	var cpuWith, cpuWithout time.Duration // this process's CPU: the recorder's cost
	procs := 0
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		order := []bool{true, false}
		if i%2 == 1 {
			order = []bool{false, true}
		}
		for _, traced := range order {
			dir := filepath.Join(base, fmt.Sprint(i, traced))
			spec := &Spec{
				Lower: []string{lower}, Upper: filepath.Join(dir, "upper"), Work: filepath.Join(dir, "work"),
				TmpDir: base, Args: args, Network: NetworkNone,
			}
			if traced {
				spec.Trace = &Trace{}
			}
			for _, d := range []string{spec.Upper, spec.Work} {
				if err := os.MkdirAll(d, 0o755); err != nil {
					b.Fatal(err)
				}
			}
			cpu0 := selfCPU()
			start := time.Now()
			code, err := Run(context.Background(), spec, nil, nil)
			d := time.Since(start)
			cpu := selfCPU() - cpu0
			if err != nil || code != 0 {
				b.Fatalf("Run = %d, %v", code, err)
			}
			if traced {
				if spec.Trace.Err != nil {
					b.Skipf("process recording unavailable: %v", spec.Trace.Err)
				}
				if got := len(spec.Trace.Processes); got < wantProcs {
					b.Fatalf("recorded %d processes, want at least %d (lost events: %v)", got, wantProcs, spec.Trace.Lost)
				}
				with += d
				withs = append(withs, d)
				cpuWith += cpu
				procs += len(spec.Trace.Processes)
			} else {
				without += d
				withouts = append(withouts, d)
				cpuWithout += cpu
			}
		}
	}
	n := float64(b.N)
	b.ReportMetric(float64(with.Microseconds())/1000/n, "traced-ms/op")
	b.ReportMetric(float64(without.Microseconds())/1000/n, "untraced-ms/op")
	b.ReportMetric(float64(with)/float64(without), "ratio")
	// The machine's noise hits single runs: the medians' ratio too.
	b.ReportMetric(float64(median(withs))/float64(median(withouts)), "median-ratio")
	// What the recorder itself costs, whatever the machine's load: the
	// CPU this process used more when recording, per process recorded.
	if procs > 0 {
		b.ReportMetric(float64((cpuWith-cpuWithout).Microseconds())/float64(procs), "recorder-cpu-µs/proc")
	}
}

// selfCPU is the user and system CPU this process used so far.
func selfCPU() time.Duration {
	var ru unix.Rusage
	if unix.Getrusage(unix.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	return s[len(s)/2]
}

// BenchmarkTraceShortProcesses: a RUN that execs 10,000 short processes.
func BenchmarkTraceShortProcesses(b *testing.B) {
	benchTrace(b, []string{"/bin/sh", "-c", "i=0; while [ $i -lt 10000 ]; do /bin/true; i=$((i+1)); done"}, 10001)
}

// BenchmarkTraceLongComputation: a RUN of one long computation (a shell
// arithmetic loop, no process started).
func BenchmarkTraceLongComputation(b *testing.B) {
	benchTrace(b, []string{"/bin/sh", "-c", "i=0; while [ $i -lt 2000000 ]; do i=$((i+1)); done"}, 1)
}
