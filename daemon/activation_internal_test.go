//go:build linux

package daemon

import (
	"errors"
	"testing"

	"golang.org/x/sys/unix"
)

// The environment decides whether the process was socket-activated before
// fd 3 is touched: these cases never reach it, so they run in the test
// process, whose fd 3 is something else entirely.
func TestActivationEnvironment(t *testing.T) {
	const self = 4242
	tests := []struct {
		name      string
		pid, fds  string
		wantErrno unix.Errno // 0: not activated, nil listener
	}{
		{"no variables", "", "", 0},
		{"only LISTEN_FDS", "", "1", 0},
		{"for another process", "4243", "1", 0},
		{"no sockets", "4242", "0", 0},
		{"two sockets", "4242", "2", unix.EINVAL},
		{"pid not a number", "me", "1", unix.EINVAL},
		{"count not a number", "4242", "one", unix.EINVAL},
		{"negative count", "4242", "-1", unix.EINVAL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ln, err := activationListener(tt.pid, tt.fds, self)
			if ln != nil {
				ln.Close()
				t.Fatal("a listener where none was passed")
			}
			if tt.wantErrno == 0 && err != nil || tt.wantErrno != 0 && !errors.Is(err, tt.wantErrno) {
				t.Fatalf("err = %v, want errno %v", err, tt.wantErrno)
			}
		})
	}
}
