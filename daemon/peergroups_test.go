//go:build linux

package daemon_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/daemon"
	"github.com/keyctl-go/keyctl-go/internal/wire"
	"github.com/keyctl-go/keyctl-go/keyring"
	"github.com/keyctl-go/keyctl-go/perms"
)

// The environment of a raw adder: a client that connects, sends one
// request to add a key to a keyring, and either exits at once, leaving
// the daemon to find the request in its listen queue, or waits first
// for "go" on stdin and, after the reply, for stdin to close.
const (
	rawAddEnv     = "KEYCTL_GO_TEST_RAW_ADD"      // the socket
	rawAddRingEnv = "KEYCTL_GO_TEST_RAW_ADD_RING" // the keyring's serial
	rawAddDescEnv = "KEYCTL_GO_TEST_RAW_ADD_DESC" // the key's description
	rawAddWaitEnv = "KEYCTL_GO_TEST_RAW_ADD_WAIT" // set: wait for go, the reply, and stdin's end
)

// rawAddReport is what a waiting raw adder heard back, after a line
// "sent" once its request was written.
type rawAddReport struct {
	Errno int
	Err   string
}

func runRawAdd() int {
	wait := os.Getenv(rawAddWaitEnv) != ""
	in := bufio.NewReader(os.Stdin)
	if wait {
		if line, _ := in.ReadString('\n'); line != "go\n" {
			return 1
		}
	}
	c, err := net.Dial("unix", os.Getenv(rawAddEnv))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ring, _ := strconv.Atoi(os.Getenv(rawAddRingEnv))
	req, _ := wire.AppendRequest(nil, 1, daemon.OpAdd, &wire.AddRequest{Type: "user", Description: os.Getenv(rawAddDescEnv), Payload: []byte("x"), Ring: int32(ring)})
	if _, err := c.Write(req); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if !wait {
		return 0
	}
	os.Stdout.WriteString("sent\n")
	var rep rawAddReport
	var buf []byte
	b := make([]byte, 4096)
	for !wire.FrameBuffered(buf) && rep.Err == "" {
		n, err := c.Read(b)
		if err != nil {
			rep.Err = err.Error()
		}
		buf = append(buf, b[:n]...)
	}
	if rep.Err == "" {
		f, _, err := wire.DecodeFrame(buf)
		if err == nil {
			var errno unix.Errno
			errno, _, err = wire.DecodeReply(f.Body, &wire.SerialReply{})
			rep.Errno = int(errno)
		}
		if err != nil {
			rep.Err = err.Error()
		}
	}
	json.NewEncoder(os.Stdout).Encode(rep)
	// The connection stays open until the test is done with it.
	io.Copy(io.Discard, in)
	c.Close()
	return 0
}

// Supplementary groups are the kernel's word as of connect(), like uid
// and gid, whatever becomes of the process after. Here it exits, and
// another process of the same uid and gid, with other groups, takes its
// pid, before the daemon accepts the connection. The first connection
// keeps the first process's groups, the second has the second's: a
// group-less process gains no group-only right through a pid that
// another's exit freed, and a member keeps its rights.
//
// The pid is chosen through /proc/sys/kernel/ns_last_pid (the next pid is
// the one after it); whatever else forks in between takes it instead, so
// the test tries again.
func TestGroupsCapturedAtConnect(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root, to run children as another uid and to choose their pid")
	}
	if err := unix.Access("/proc/sys/kernel/ns_last_pid", unix.W_OK); err != nil {
		t.Skipf("cannot choose the next pid: /proc/sys/kernel/ns_last_pid: %v", err)
	}
	for _, c := range []struct {
		name          string
		first, second []uint32 // the groups of the process that connects first, and of the one that takes its pid
	}{
		{"a member exits, a process without the group takes its pid", []uint32{childGroup}, []uint32{}},
		{"a process without the group exits, a member takes its pid", []uint32{}, []uint32{childGroup}},
	} {
		t.Run(c.name, func(t *testing.T) {
			testPidReuse(t, c.first, c.second)
		})
	}
}

func testPidReuse(t *testing.T, firstGroups, secondGroups []uint32) {
	ctx := context.Background()
	store, err := keyring.Open(filepath.Join(t.TempDir(), "keys.db"), keyring.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	// A keyring that only members of childGroup may add to.
	root := store.Process(perms.Cred{})
	ring, err := root.Add(ctx, "keyring", "members-only", nil, keyring.UserKeyring)
	if err != nil {
		t.Fatal(err)
	}
	if err := root.Chown(ctx, ring, keyring.Unchanged, childGroup); err != nil {
		t.Fatal(err)
	}
	member := perms.Mask(perms.View|perms.Read|perms.Write|perms.Search) << perms.GroupShift
	if err := root.SetPerm(ctx, ring, perms.Mask(perms.All)<<perms.UserShift|member); err != nil {
		t.Fatal(err)
	}

	socket := sharedSocket(t)
	srv, err := daemon.Listen(socket, store, daemon.Options{})
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	defer func() {
		srv.Close()
		<-served
	}()
	bin := childBinary(t)
	adder := func(desc string, groups []uint32, wait bool) *exec.Cmd {
		cmd := exec.Command(bin, "-test.run=^$")
		cmd.Env = append(os.Environ(), rawAddEnv+"="+socket, rawAddRingEnv+"="+strconv.Itoa(int(ring)), rawAddDescEnv+"="+desc)
		if wait {
			cmd.Env = append(cmd.Env, rawAddWaitEnv+"=1")
		}
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: childUID, Gid: childUID, Groups: groups}}
		return cmd
	}

	// The first connects and sends its request, and exits: the daemon is
	// not accepting yet, so the connection waits in the listen queue.
	firstCmd := adder("first", firstGroups, false)
	if out, err := firstCmd.CombinedOutput(); err != nil {
		t.Fatalf("first adder: %v: %s", err, out)
	}
	pid := firstCmd.Process.Pid

	// The second takes its pid, and waits to be told to connect.
	second, stdin, stdout := startOnPid(t, pid, func() *exec.Cmd { return adder("second", secondGroups, true) })
	if _, err := io.WriteString(stdin, "go\n"); err != nil {
		t.Fatal(err)
	}
	// Its request is in the queue once it says so; the kernel's queue is
	// in connect order, so the daemon takes the first's first, while
	// /proc/<pid> is the second's.
	if line, err := stdout.ReadString('\n'); line != "sent\n" {
		t.Fatalf("second adder: %q, %v", line, err)
	}
	go func() { served <- srv.Serve() }()
	var rep rawAddReport
	if err := json.NewDecoder(stdout).Decode(&rep); err != nil || rep.Err != "" {
		t.Fatalf("second adder: %v %s", err, rep.Err)
	}
	// The first connection, its request answered into a socket nobody
	// holds, ends; the second's stays until its process lets go.
	deadline := time.Now().Add(10 * time.Second)
	for daemon.Connections(srv) != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("%d connections served 10 s on, want the second's alone", daemon.Connections(srv))
		}
		time.Sleep(5 * time.Millisecond)
	}
	stdin.Close()
	second.Wait()

	// What the keyring holds, asked as a member, who may read it and view
	// the keys (each their owner's, childUID's).
	asMember := store.Process(perms.Cred{UID: childUID, GID: childUID, Groups: []uint32{childGroup}})
	ids, err := asMember.Keys(ctx, ring)
	if err != nil {
		t.Fatal(err)
	}
	added := map[string]bool{}
	for _, id := range ids {
		d, err := asMember.Describe(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		added[d.Description] = true
	}
	for _, who := range []struct {
		desc   string
		groups []uint32
	}{{"first", firstGroups}, {"second", secondGroups}} {
		if isMember := len(who.groups) > 0; added[who.desc] != isMember {
			t.Errorf("the %s process, groups %v: its key added to the members' keyring: %v", who.desc, who.groups, added[who.desc])
		}
	}
	if wantErrno := map[bool]unix.Errno{true: 0, false: unix.EACCES}[len(secondGroups) > 0]; unix.Errno(rep.Errno) != wantErrno {
		t.Errorf("the second process, groups %v: errno %v, want %v", secondGroups, unix.Errno(rep.Errno), wantErrno)
	}
}

// startOnPid starts the command newCmd makes as process pid, which must
// be free, and returns it with its stdin and stdout. It writes pid-1 to
// ns_last_pid so that the fork takes pid; a fork anywhere else in the
// meantime takes it first, and it tries again. It skips the test after
// many tries.
func startOnPid(t *testing.T, pid int, newCmd func() *exec.Cmd) (*exec.Cmd, io.WriteCloser, *bufio.Reader) {
	t.Helper()
	for range 200 {
		cmd := newCmd()
		stdin, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile("/proc/sys/kernel/ns_last_pid", []byte(strconv.Itoa(pid-1)), 0); err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		if cmd.Process.Pid == pid {
			t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
			return cmd, stdin, bufio.NewReader(out)
		}
		// Told nothing yet, it has not connected: gone without a trace.
		cmd.Process.Kill()
		cmd.Wait()
	}
	t.Skipf("pid %d taken by another process 200 times", pid)
	return nil, nil, nil
}
