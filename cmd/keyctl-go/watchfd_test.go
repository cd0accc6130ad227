package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/keyring"
)

// The watch fd's protocol, both ends in this process: requests reach the
// handler with their serial, its errno comes back to the sender, and
// concurrent senders each get their own answer.
func TestWatchFDProtocol(t *testing.T) {
	var mu sync.Mutex
	var got []string
	srv, child, err := newWatchFD(func(_ context.Context, verb string, id keyring.Serial) error {
		mu.Lock()
		got = append(got, fmt.Sprint(verb, " ", id))
		mu.Unlock()
		if id == 13 {
			return fmt.Errorf("no such watch: %w", unix.EBADSLT)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan struct{})
	go func() { defer close(served); srv.serve(context.Background()) }()
	defer func() { srv.Close(); <-served; child.Close() }()
	fd := int(child.Fd())

	if err := watchFDRequest(fd, "add 42"); err != nil {
		t.Errorf("add: %v", err)
	}
	if err := watchFDRequest(fd, "rm 13"); !errors.Is(err, unix.EBADSLT) {
		t.Errorf("rm of a watch that is not there: %v, want EBADSLT", err)
	}
	if err := watchFDRequest(fd, "sync"); err != nil {
		t.Errorf("sync: %v", err)
	}
	for _, bad := range []string{"add x", "frob 1", "add"} {
		if err := watchFDRequest(fd, bad); !errors.Is(err, unix.EINVAL) {
			t.Errorf("%q: %v, want EINVAL", bad, err)
		}
	}
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() { errs[i] = watchFDRequest(fd, fmt.Sprint("add ", 100+i)) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("concurrent add %d: %v", i, err)
		}
	}
	mu.Lock()
	if len(got) != 3+len(errs) || got[0] != "add 42" || got[1] != "rm 13" || got[2] != "sync 0" {
		t.Errorf("the watcher was asked %q", got)
	}
	mu.Unlock()

	// Another user's request is refused before the handler sees it: the
	// kernel would check that user's own rights, which the watcher cannot.
	if e := srv.do(context.Background(), watchFDMagic+" add 42", os.Getuid()+1); e != unix.EACCES {
		t.Errorf("a request from another uid: %v, want EACCES", e)
	}

	// Not a watcher's fd: a pipe, a stream socket, nothing at all.
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(pair[0])
	defer unix.Close(pair[1])
	for name, fd := range map[string]int{"pipe": int(r.Fd()), "stream socket": pair[0], "closed fd": 1 << 20} {
		if err := watchFDRequest(fd, "add 1"); !errors.Is(err, errNotWatchFD) {
			t.Errorf("%s: %v, want errNotWatchFD", name, err)
		}
	}

	// The watcher gone: the queue was torn down.
	srv.Close()
	<-served
	if err := watchFDRequest(fd, "add 1"); !errors.Is(err, unix.ENOENT) {
		t.Errorf("after the watcher went: %v, want ENOENT", err)
	}
}

// A process of another user holding the watch fd (handed on by a
// careless program, or run under it as another uid) is refused every
// request: the kernel tells the watcher who sent it, and the watcher sets
// watches with its own rights only for its own uid. The kernel refuses a
// sender that claims credentials it does not have, so the check rests on
// the kernel's word.
func TestWatchFDRefusesAnotherUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the sender runs as another uid")
	}
	var mu sync.Mutex
	var got []string
	srv, child, err := newWatchFD(func(_ context.Context, verb string, id keyring.Serial) error {
		mu.Lock()
		got = append(got, fmt.Sprint(verb, " ", id))
		mu.Unlock()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan struct{})
	go func() { defer close(served); srv.serve(context.Background()) }()
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
