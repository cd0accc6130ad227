//go:build !linux

// Package parentsession is part of keyctl-go, which is Linux-only: on
// other systems this file is all there is of it, and its import stops the
// build with a message saying so.
package parentsession

import _ "github.com/keyctl-go/keyctl-go/internal/linuxonly"
