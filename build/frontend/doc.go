// Package frontend is strata's Dockerfile front end: it reads the
// Dockerfile and .dockerignore as BuildKit does (readfile, ignore), parses
// them with BuildKit's parser and instructions into a Plan (plan, stages:
// stage references, --target pruning, build order), runs the build checks
// (lint) and bounds ARG/ENV expansion (expand). It imports build/event for
// the step and warning types, layers/beneath to read beneath the context,
// and neither the executor, the sandbox nor the TUI.
package frontend
