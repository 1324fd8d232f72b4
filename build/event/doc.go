// Package event is a build's event stream: the event types the executor
// publishes (PlanReady, StepStarted, StepLog, StepDone, ..., BuildDone),
// the snapshot a step leaves, the plain and JSON progress printers, and the
// --report document. The TUI and the printers import this package and
// nothing of the executor; it imports only layers.
package event
