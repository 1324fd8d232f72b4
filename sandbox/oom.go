package sandbox

import "github.com/strata-build/strata/internal/bytesize"

// OOMError is returned by Run, with the command's exit code (137 when the
// command itself was the one killed), when the command failed and the
// kernel's OOM killer killed a process of the container because it
// reached its memory limit (Spec.Memory).
type OOMError struct {
	Limit int64 // Spec.Memory, in bytes
	Code  int   // the command's exit code
}

func (e *OOMError) Error() string {
	return "killed: out of memory (limit " + FormatBytes(e.Limit) + ")"
}

// ExitCode returns the command's exit code.
func (e *OOMError) ExitCode() int { return e.Code }

// Message is the error naming the setting the limit came from, e.g.
// "killed: out of memory (limit 64 MiB, --memory)".
func (e *OOMError) Message(setting string) string {
	if setting == "" {
		return e.Error()
	}
	return "killed: out of memory (limit " + FormatBytes(e.Limit) + ", " + setting + ")"
}

// FormatBytes writes a size in binary units: "64 MiB", "1.5 GiB", "512 B"
// (bytesize.Binary, the form of the other limits' messages).
func FormatBytes(n int64) string { return bytesize.Binary(n) }
