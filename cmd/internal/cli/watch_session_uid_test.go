//go:build linux

package cli

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/keyctl-go/keyctl-go/cmd/internal/watchfd"
)

// A process of another user holding the watch fd (handed on by a
// careless program, or run under it as another uid) is refused every
// request: the kernel tells the watcher who sent it, and the watcher sets
// watches with its own rights only for its own uid. This is the whole
// command line's version of cmd/internal/watchfd's TestRefusesAnotherUser:
// keyctl-go watch_add, watch_rm and watch_sync run as uid 1001 print
// keyctl's "Permission denied".
func TestWatchFDRefusesAnotherUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the sender runs as another uid")
	}
	var mu sync.Mutex
	var got []string
	srv, child, err := watchfd.New(func(_ context.Context, r watchfd.Request) error {
		mu.Lock()
		got = append(got, r.String())
		mu.Unlock()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan struct{})
	go func() { defer close(served); srv.Serve(context.Background()) }()
	defer func() { srv.Close(); <-served; child.Close() }()

	bin := publicCopy(t)
	run := func(uid uint32, args ...string) (string, int) {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Env = []string{"HOME=/nonexistent", "PATH=/usr/bin:/bin", envSocket + "=/nonexistent"}
		cmd.ExtraFiles = []*os.File{child} // fd 3
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: uid, Groups: []uint32{}}}
		var errb bytes.Buffer
		cmd.Stderr = &errb
		err := cmd.Run()
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return errb.String(), exit.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return errb.String(), 0
	}
	for _, args := range [][]string{{"watch_add", "3", "12345"}, {"watch_rm", "3", "12345"}, {"watch_sync", "3"}} {
		errs, code := run(1001, args...)
		if code != 1 || !strings.Contains(errs, "Permission denied") {
			t.Errorf("uid 1001: keyctl-go %s: exit %d, %q; want Permission denied", strings.Join(args, " "), code, errs)
		}
	}
	mu.Lock()
	if len(got) != 0 {
		t.Errorf("another user's requests reached the watcher: %q", got)
	}
	mu.Unlock()
	// The watcher's own uid is heard, through the same fd.
	if errs, code := run(uint32(os.Getuid()), "watch_add", "3", "12345"); code != 0 {
		t.Errorf("the watcher's own uid: exit %d, %q", code, errs)
	}
	mu.Lock()
	if len(got) != 1 || got[0] != "add 12345" {
		t.Errorf("the watcher was asked %q, want [add 12345]", got)
	}
	mu.Unlock()
}
