// Package event is a build's event stream: the event types the executor
// publishes (PlanReady, StepStarted, StepLog, StepDone, ..., BuildDone),
// the snapshot a step leaves, the plain and JSON progress printers, and the
// observers that write a build's documents: the --report document (Report)
// and the --trace file (Trace, Chrome trace-event JSON). The TUI and the
// printers import this package and nothing of the executor; it imports
// only layers.
package event
