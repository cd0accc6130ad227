//go:build linux

package daemon_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/daemon"
	"github.com/keyctl-go/keyctl-go/internal/wire"
	"github.com/keyctl-go/keyctl-go/keyring"
	"github.com/keyctl-go/keyctl-go/perms"
)

// rawClientEnv makes the child a hostile client that speaks the wire
// protocol itself, so that no check of Dial's stands in its way: it
// connects to the socket named, asks to add a key "planted" to its user
// keyring, and reports what came back.
const rawClientEnv = "KEYCTL_GO_TEST_RAW_CLIENT"

// rawReport is what a raw client met.
type rawReport struct {
	ConnectErrno int // connect(2)'s errno, 0 if it connected
	Replied      int // bytes the daemon sent back before it hung up
	Err          string
}

func runRawClient() int {
	var rep rawReport
	defer func() { json.NewEncoder(os.Stdout).Encode(rep) }()
	c, err := net.Dial("unix", os.Getenv(rawClientEnv))
	if err != nil {
		rep.ConnectErrno = errnoOf(err)
		rep.Err = err.Error()
		return 0
	}
	defer c.Close()
	req, err := wire.AppendRequest(nil, 1, daemon.OpAdd, &wire.AddRequest{Type: "user", Description: "planted", Payload: []byte("x"), Ring: int32(keyring.UserKeyring)})
	if err != nil {
		rep.Err = err.Error()
		return 0
	}
	// The write may fail if the daemon has hung up already.
	c.Write(req)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 4096)
	for {
		n, err := c.Read(buf)
		rep.Replied += n
		if err != nil {
			if !errors.Is(err, os.ErrDeadlineExceeded) {
				return 0 // hung up
			}
			rep.Err = err.Error()
			return 0
		}
	}
}

// rawClient runs a raw client as uid against socket.
func rawClient(t *testing.T, bin, socket string, uid uint32) rawReport {
	t.Helper()
	cmd := exec.Command(bin, "-test.run=^$")
	cmd.Env = append(os.Environ(), rawClientEnv+"="+socket)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: uid, Groups: []uint32{}}}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("raw client: %v", err)
	}
	var rep rawReport
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("raw client said %q: %v", out, err)
	}
	return rep
}

// A per-user daemon is its user's alone. Its socket is 0600, so another
// user cannot connect; and if the socket is opened to others anyway (by
// a careless unit file, a chmod, an older daemon), the daemon still
// serves nobody but its own uid and root: another uid is hung up on
// before its request is read, and the refusal is logged.
func TestPrivateDaemonServesItsUserOnly(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root, to run the daemon and its callers as two other uids")
	}
	dir, err := os.MkdirTemp("", "keyctl-go-private-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	// Alice's directory, which bob may enter: so that only the socket's
	// mode and the daemon stand between him and her daemon.
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dir, alice, alice); err != nil {
		t.Fatal(err)
	}
	socket, store := filepath.Join(dir, "socket"), filepath.Join(dir, "keys.db")
	bin := childBinary(t)
	d := startDaemonAs(t, bin, store, socket, alice, 0, daemon.Options{Private: true})

	if fi, err := os.Lstat(socket); err != nil || fi.Mode() != os.ModeSocket|0o600 {
		t.Errorf("per-user socket: %v, %v; want a socket of mode 0600", fi.Mode(), err)
	}
	mine := startScript(t, bin, socket, alice, alice,
		step{Op: "add", Name: "k", Type: "user", Desc: "mine", Payload: "alice's", Ring: int32(keyring.UserKeyring)},
		step{Op: "read", Ref: "k"})
	mine.next("add")
	if o := mine.next("read"); o.Data != "alice's" {
		t.Errorf("alice reading her key through her daemon: %+v", o)
	}

	if rep := rawClient(t, bin, socket, bob); unix.Errno(rep.ConnectErrno) != unix.EACCES {
		t.Errorf("bob connecting to alice's 0600 socket: %+v; want EACCES", rep)
	}
	if err := os.Chmod(socket, 0o666); err != nil {
		t.Fatal(err)
	}
	if rep := rawClient(t, bin, socket, bob); rep.ConnectErrno != 0 || rep.Replied != 0 || rep.Err != "" {
		t.Errorf("bob at alice's daemon, socket opened to all: %+v; want connected, then hung up on without a reply", rep)
	}

	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := d.wait(t); err != nil {
		t.Fatalf("daemon: %v: %s", err, d.stderr)
	}
	logged := d.stderr.String()
	if !strings.Contains(logged, `msg="daemon: connection refused" uid=1001 `) {
		t.Errorf("bob's refusal not logged; the daemon's log:\n%s", logged)
	}
	s, err := keyring.Open(store, keyring.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if id, err := s.Process(perms.Cred{UID: bob, GID: bob}).Search(context.Background(), keyring.UserKeyring, "user", "planted", 0); err == nil {
		t.Errorf("bob's key %v is in alice's store", id)
	}
}
