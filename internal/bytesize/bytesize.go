// Package bytesize writes sizes in binary units for limits and messages:
// "64 MiB", "1.5 GiB", "512 B". It imports nothing from strata.
//
// strata has three ways to write a size, each on purpose:
//   - Binary (this package): limits that are powers of two (the sandbox's
//     --memory, the front end's expansion and Dockerfile limits), the way
//     the kernel, runc and BuildKit's messages state them: "1 MiB", never
//     "1.05 MB";
//   - event.HumanSize: the plain output and the commands, in Docker's
//     compact decimal form ("2.14MB", as `docker images` prints), so that
//     strata's output reads like Docker's and its goldens stay stable;
//   - the TUI's humanBytes: decimal with one decimal and a space
//     ("2.1 MB"), a fixed width that lines up in columns.
package bytesize

import "strconv"

var binaryUnits = []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}

// Binary writes n in binary units (1 KiB = 1024 B) with at most one
// decimal, and none when the value is whole: "0 B", "1023 B", "1 KiB",
// "1.5 GiB", "1.0 GiB" (a little over 1 GiB).
func Binary(n int64) string {
	if n < 1024 {
		return strconv.FormatInt(n, 10) + " B"
	}
	v, i := float64(n), 0
	for v >= 1024 && i < len(binaryUnits)-1 {
		v /= 1024
		i++
	}
	s := strconv.FormatFloat(v, 'f', 1, 64)
	if v == float64(int64(v)) {
		s = strconv.FormatInt(int64(v), 10)
	}
	return s + " " + binaryUnits[i]
}
