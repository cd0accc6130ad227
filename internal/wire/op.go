//go:build linux

package wire

// Op names an operation: what a request asks and what its reply answers.
// This package knows ops as the numbers frames carry, nothing more: which
// ops there are, with what request and reply types, is the daemon's table
// (package daemon, ops.go), which serves them and calls them both.
type Op uint16
