//go:build linux

package cli

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// systemSocketLock is the lock file that guards the machine's real
// system socket, daemon.SystemSocket, among tests: the one test that
// serves it holds the lock exclusively, and tests that need no system
// daemon there (the fresh-HOME scenario, which would otherwise reach it)
// hold it shared. Other engineers' test runs may run at the same time
// as this one, so it is a file beside the socket's directory, not a
// mutex of this process.
const systemSocketLock = "/run/keyctl-go-systemtest.lock"

// holdSystemSocket takes the lock, exclusive or shared, waiting for it,
// and returns its release.
func holdSystemSocket(exclusive bool) (func(), error) {
	f, err := os.OpenFile(systemSocketLock, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("the system socket's test lock: %w", err)
	}
	how := unix.LOCK_SH
	if exclusive {
		how = unix.LOCK_EX
	}
	if err := unix.Flock(int(f.Fd()), how); err != nil {
		f.Close()
		return nil, fmt.Errorf("locking %s: %w", systemSocketLock, err)
	}
	return func() { f.Close() }, nil
}
