//go:build linux

package watchfd_test

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

	"go.uber.org/goleak"
	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/cmd/internal/watchfd"
	"github.com/keyctl-go/keyctl-go/internal/childtest"
	"github.com/keyctl-go/keyctl-go/keyring"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// recorder is a Handler that notes what it was asked, and answers EBADSLT
// for key 13, as for a watch that is not there.
type recorder struct {
	mu  sync.Mutex
	got []string
}

func (h *recorder) handle(_ context.Context, r watchfd.Request) error {
	h.mu.Lock()
	h.got = append(h.got, fmt.Sprint(r.Verb, " ", r.Key))
	h.mu.Unlock()
	if r.Key == 13 {
		return fmt.Errorf("no such watch: %w", unix.EBADSLT)
	}
	return nil
}

func (h *recorder) asked() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.got...)
}

// serve starts a Server for h; it is closed when the test ends.
func serve(t *testing.T, h *recorder) (stop func(), child *os.File) {
	t.Helper()
	srv, child, err := watchfd.New(h.handle)
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan struct{})
	go func() { defer close(served); srv.Serve(context.Background()) }()
	var once sync.Once
	stop = func() { once.Do(func() { srv.Close(); <-served }) }
	t.Cleanup(func() { stop(); child.Close() })
	return stop, child
}

// Both ends in this process: requests reach the handler with their
// serial, its errno comes back to the sender, and concurrent senders each
// get their own answer.
func TestProtocol(t *testing.T) {
	h := &recorder{}
	stop, child := serve(t, h)
	fd := int(child.Fd())

	if err := watchfd.Call(fd, watchfd.Request{Verb: watchfd.Add, Key: 42}); err != nil {
		t.Errorf("add: %v", err)
	}
	if err := watchfd.Call(fd, watchfd.Request{Verb: watchfd.Remove, Key: 13}); !errors.Is(err, unix.EBADSLT) {
		t.Errorf("rm of a watch that is not there: %v, want EBADSLT", err)
	}
	if err := watchfd.Call(fd, watchfd.Request{Verb: watchfd.Sync}); err != nil {
		t.Errorf("sync: %v", err)
	}
	if err := watchfd.Call(fd, watchfd.Request{Verb: "frob", Key: 1}); !errors.Is(err, unix.EINVAL) {
		t.Errorf("an unknown verb: %v, want EINVAL", err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() { errs[i] = watchfd.Call(fd, watchfd.Request{Verb: watchfd.Add, Key: keyring.Serial(100 + i)}) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("concurrent add %d: %v", i, err)
		}
	}
	if got := h.asked(); len(got) != 3+len(errs) || got[0] != "add 42" || got[1] != "rm 13" || got[2] != "sync 0" {
		t.Errorf("the watcher was asked %q", got)
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
		if err := watchfd.Call(fd, watchfd.Request{Verb: watchfd.Add, Key: 1}); !errors.Is(err, watchfd.ErrNotWatchFD) {
			t.Errorf("%s: %v, want ErrNotWatchFD", name, err)
		}
	}

	// The watcher gone: the queue was torn down.
	stop()
	if err := watchfd.Call(fd, watchfd.Request{Verb: watchfd.Add, Key: 1}); !errors.Is(err, unix.ENOENT) {
		t.Errorf("after the watcher went: %v, want ENOENT", err)
	}
}

// hostileChild names what TestRefusesAnotherUser's child does with the
// watch fd, which it inherits as fd 3.
const hostileChild = "WATCHFD_TEST_CHILD"

// TestRefusesAnotherUser: a process of another user holding the watch fd
// (handed on by a careless program, or run under it as another uid) is
// refused every request before the handler sees it, since the watcher
// would set the watch with its own rights; and it cannot pass for the
// watcher's uid by sending credentials of its own making, which the
// kernel refuses. The watcher's own uid, through the same fd, is heard.
func TestRefusesAnotherUser(t *testing.T) {
	if mode := os.Getenv(hostileChild); mode != "" {
		childMain(mode)
		return
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root: the sender runs as another uid")
	}
	h := &recorder{}
	_, child := serve(t, h)
	bin := childtest.CopyBinary(t, "watchfd.test")
	run := func(uid uint32, mode string) string {
		t.Helper()
		cmd := exec.Command(bin, "-test.run=^TestRefusesAnotherUser$")
		cmd.Env = []string{hostileChild + "=" + mode}
		cmd.ExtraFiles = []*os.File{child} // fd 3
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: uid, Groups: []uint32{}}}
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			t.Fatalf("child as uid %d (%s): %v\n%s", uid, mode, err, out.String())
		}
		return strings.TrimSpace(out.String())
	}
	for _, mode := range []string{"add", "rm", "sync"} {
		if got := run(1001, mode); got != "EACCES" {
			t.Errorf("uid 1001 %s: %s, want EACCES", mode, got)
		}
	}
	if got := run(1001, "forge"); got != "forged credentials refused: EPERM" {
		t.Errorf("uid 1001 claiming uid 0: %s", got)
	}
	if got := h.asked(); len(got) != 0 {
		t.Errorf("another user's requests reached the watcher: %q", got)
	}
	if got := run(uint32(os.Getuid()), "add"); got != "ok" {
		t.Errorf("the watcher's own uid: %s, want ok", got)
	}
	if got := h.asked(); len(got) != 1 || got[0] != "add 12345" {
		t.Errorf("the watcher was asked %q, want [add 12345]", got)
	}
}

// childMain runs in the child, on the watch fd it inherited as fd 3, and
// prints what came of it.
func childMain(mode string) {
	const fd = 3
	var err error
	switch mode {
	case "add":
		err = watchfd.Call(fd, watchfd.Request{Verb: watchfd.Add, Key: 12345})
	case "rm":
		err = watchfd.Call(fd, watchfd.Request{Verb: watchfd.Remove, Key: 12345})
	case "sync":
		err = watchfd.Call(fd, watchfd.Request{Verb: watchfd.Sync})
	case "forge":
		// A request whose credentials say root sent it, which this
		// process is not: the kernel checks them at sendmsg.
		cred := unix.UnixCredentials(&unix.Ucred{Pid: int32(os.Getpid()), Uid: 0, Gid: 0})
		err = unix.Sendmsg(fd, []byte("keyctl-go-watch/1 add 12345"), cred, nil, 0)
		if err != nil {
			fmt.Printf("forged credentials refused: %s\n", unix.ErrnoName(err.(unix.Errno)))
		} else {
			fmt.Println("forged credentials sent")
		}
		os.Exit(0)
	}
	if err == nil {
		fmt.Println("ok")
	} else {
		var e unix.Errno
		if errors.As(err, &e) {
			fmt.Println(unix.ErrnoName(e))
		} else {
			fmt.Println(err)
		}
	}
	os.Exit(0)
}
