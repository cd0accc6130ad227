//go:build linux

package watchqueue

import (
	"fmt"
	"sync"

	"golang.org/x/sys/unix"
)

// The registry of notification types that filters accept. The kernel knows a
// fixed set (WATCH_TYPE__NR) and silently skips filter entries for any other
// type; a program here may add its own types, of which the 24-bit field
// leaves about 16 million.
var typeRegistry = struct {
	sync.RWMutex
	known map[Type]bool
}{known: map[Type]bool{TypeMeta: true, TypeKeyNotify: true}}

// RegisterType makes t a known notification type, so that filter entries
// naming it take effect instead of being skipped. Registering a type twice
// is harmless. Types above MaxType are EINVAL.
//
// Filters are compiled when they are set: register a type before setting a
// filter that names it.
func RegisterType(t Type) error {
	if t > MaxType {
		return fmt.Errorf("watchqueue: register type %#x: beyond the 24-bit type field: %w", uint32(t), unix.EINVAL)
	}
	typeRegistry.Lock()
	defer typeRegistry.Unlock()
	typeRegistry.known[t] = true
	return nil
}

// IsRegistered reports whether t is a known notification type.
func IsRegistered(t Type) bool {
	typeRegistry.RLock()
	defer typeRegistry.RUnlock()
	return typeRegistry.known[t]
}
