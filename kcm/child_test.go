//go:build linux

package kcm_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/daemon"
	"github.com/keyctl-go/keyctl-go/internal/childtest"
	"github.com/keyctl-go/keyctl-go/kcm"
	"github.com/keyctl-go/keyctl-go/keyring"
	"github.com/keyctl-go/keyctl-go/perms"
)

// childEnv makes the test binary a test's child process instead of a
// test run (see TestMain): its value is the childTask to do, in JSON. The
// children are real processes, run as other uids, so that the server
// knows them by the kernel's word alone.
const childEnv = "KCM_TEST_CHILD"

// A childTask is what a child does, by Mode:
//   - "serve": serve Store on Socket, as a KCM server with Serve's
//     options, until its stdin closes;
//   - "exchange": connect to Socket, send each of Requests (whole frames)
//     and read its reply, and report the replies;
//   - "hold": open connections to each of Holds, report how many were
//     served, and keep them until its stdin closes;
//   - "silent": open N connections to Socket that send nothing (or, with
//     Half, half a request), and report how many the server cut.
type childTask struct {
	Mode     string
	Socket   string
	Store    string
	Serve    serveOptions
	Requests [][]byte
	Holds    []hold
	N        int
	Half     bool
}

// serveOptions are a serving child's: kcm.Options that JSON can carry,
// and its RLIMIT_NOFILE (soft and hard; 0 leaves it).
type serveOptions struct {
	Private        bool
	MaxConnsPerUID int
	NoFile         uint64
}

// hold is N connections to Socket, the keyctl daemon's (Daemon, made by
// daemon.Dial) or a KCM server's (each asks NOOP, whose answer shows it
// is served).
type hold struct {
	Socket string
	Daemon bool
	N      int
}

// childReport is what a child reports, one JSON line per report.
type childReport struct {
	ConnectErrno int      // exchange: connect(2)'s errno, 0 if it connected
	Replies      [][]byte // exchange: the reply frames, in order
	HungUp       bool     // exchange: the server hung up instead of replying
	Held         []int    // hold: the connections served, for each hold
	Cut          int      // silent: the connections the server closed
	Longest      int64    // silent: ns from the last connect to the last cut
	Err          string
}

// childTimeout bounds what a child waits for, and what a test waits for
// a child's report.
const childTimeout = 30 * time.Second

// silentWait is how long a silent child waits for the server to cut its
// connections: well within childTimeout, well past the tests' first-request
// timeouts, well short of the idle timeout.
const silentWait = 5 * time.Second

func runChild(encoded string) int {
	var task childTask
	if err := json.Unmarshal([]byte(encoded), &task); err != nil {
		json.NewEncoder(os.Stdout).Encode(childReport{Err: err.Error()})
		return 1
	}
	out := json.NewEncoder(os.Stdout)
	switch task.Mode {
	case "serve":
		return childServe(task, out)
	case "exchange":
		out.Encode(childExchange(task))
	case "hold":
		held, rep := childHold(task)
		out.Encode(rep)
		io.Copy(io.Discard, os.Stdin)
		for _, c := range held {
			c.Close()
		}
	case "silent":
		out.Encode(childSilent(task))
	default:
		out.Encode(childReport{Err: "no mode " + task.Mode})
		return 1
	}
	return 0
}

// childServe serves a KCM server, logging to stderr, and reports once it
// listens.
func childServe(task childTask, out *json.Encoder) int {
	fail := func(err error) int {
		out.Encode(childReport{Err: err.Error()})
		return 1
	}
	if n := task.Serve.NoFile; n != 0 {
		if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &unix.Rlimit{Cur: n, Max: n}); err != nil {
			return fail(err)
		}
	}
	store, err := keyring.Open(task.Store, keyring.Options{})
	if err != nil {
		return fail(err)
	}
	defer store.Close()
	ln, err := kcm.Listen(task.Socket, task.Serve.Private)
	if err != nil {
		return fail(err)
	}
	srv := kcm.NewServer(store, kcm.Options{Private: task.Serve.Private, MaxConnsPerUID: task.Serve.MaxConnsPerUID,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, nil))})
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	out.Encode(childReport{})
	io.Copy(io.Discard, os.Stdin)
	srv.Close()
	<-served
	if err := store.Close(); err != nil {
		return fail(err)
	}
	return 0
}

func childExchange(task childTask) childReport {
	var rep childReport
	c, err := net.Dial("unix", task.Socket)
	if err != nil {
		rep.ConnectErrno = errnoOf(err)
		rep.Err = err.Error()
		return rep
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(childTimeout))
	for _, req := range task.Requests {
		if _, err := c.Write(req); err != nil {
			rep.HungUp = true
			return rep
		}
		reply, err := readReplyFrame(c)
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) {
			rep.HungUp = true
			return rep
		}
		if err != nil {
			rep.Err = err.Error()
			return rep
		}
		rep.Replies = append(rep.Replies, reply)
	}
	return rep
}

// readReplyFrame reads one whole reply: its length and status words, and
// the length's bytes after them.
func readReplyFrame(r io.Reader) ([]byte, error) {
	h := make([]byte, 8)
	if _, err := io.ReadFull(r, h); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(h)
	if n > kcm.DefaultMaxRequestSize {
		return nil, errors.New("reply too long")
	}
	frame := append(h, make([]byte, n)...)
	_, err := io.ReadFull(r, frame[8:])
	return frame, err
}

func childHold(task childTask) ([]io.Closer, childReport) {
	var rep childReport
	var held []io.Closer
	for _, h := range task.Holds {
		n := 0
		for range h.N {
			if c := holdOne(h); c != nil {
				held = append(held, c)
				n++
			}
		}
		rep.Held = append(rep.Held, n)
	}
	return held, rep
}

// holdOne opens a connection that its server serves, or returns nil.
func holdOne(h hold) io.Closer {
	ctx, cancel := context.WithTimeout(context.Background(), childTimeout)
	defer cancel()
	if h.Daemon {
		c, err := daemon.Dial(ctx, h.Socket)
		if err != nil {
			return nil
		}
		return c
	}
	c, err := net.Dial("unix", h.Socket)
	if err != nil {
		return nil
	}
	c.SetDeadline(time.Now().Add(childTimeout))
	if _, err := c.Write(kcm.AppendRequest(nil, kcm.OpNoop, nil)); err != nil {
		c.Close()
		return nil
	}
	if _, err := readReplyFrame(c); err != nil {
		c.Close()
		return nil
	}
	c.SetDeadline(time.Time{})
	return c
}

func childSilent(task childTask) childReport {
	var rep childReport
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range task.N {
		c, err := net.Dial("unix", task.Socket)
		if err != nil {
			rep.Err = err.Error()
			return rep
		}
		conns = append(conns, c)
		if task.Half {
			// The length prefix of a request, and half its header.
			req := kcm.AppendRequest(nil, kcm.OpGetDefaultCache, nil)
			c.Write(req[:len(req)-2])
		}
	}
	start := time.Now()
	for _, c := range conns {
		c.SetReadDeadline(start.Add(silentWait))
		if _, err := c.Read(make([]byte, 64)); errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) {
			rep.Cut++
			rep.Longest = int64(time.Since(start))
		}
	}
	return rep
}

func errnoOf(err error) int {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return int(errno)
	}
	return -1
}

// child is a child process running a childTask.
type child struct {
	t      *testing.T
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	out    chan childReport
	stderr *childtest.Log
	exited chan error
}

// childBinary is the test binary, copied where other uids may run it.
func childBinary(t *testing.T) string {
	t.Helper()
	return childtest.CopyBinary(t, "kcm.test")
}

// startChild runs task in a child process of bin, as cred (nil: as the
// test), and returns it as soon as it started. The child is killed, if
// still running, when the test ends.
func startChild(t *testing.T, bin string, cred *perms.Cred, task childTask) *child {
	t.Helper()
	b, err := json.Marshal(task)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+string(b))
	if cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: cred.UID, Gid: cred.GID, Groups: []uint32{}}}
	}
	c := &child{t: t, cmd: cmd, out: make(chan childReport, 4), stderr: new(childtest.Log), exited: make(chan error, 1)}
	cmd.Stderr = c.stderr
	if c.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		dec := json.NewDecoder(bufio.NewReader(stdout))
		for {
			var rep childReport
			if dec.Decode(&rep) != nil {
				close(c.out)
				break
			}
			c.out <- rep
		}
		c.exited <- cmd.Wait()
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		c.wait()
	})
	return c
}

// report is the child's next report; the test fails if the child reports
// an error or nothing in time.
func (c *child) report() childReport {
	c.t.Helper()
	select {
	case rep, ok := <-c.out:
		if !ok {
			c.t.Fatalf("the child exited without reporting: %s", c.stderr)
		}
		if rep.Err != "" && rep.ConnectErrno == 0 {
			c.t.Fatalf("the child: %s\n%s", rep.Err, c.stderr)
		}
		return rep
	case <-time.After(childTimeout):
		c.t.Fatalf("no report from the child in %v: %s", childTimeout, c.stderr)
		return childReport{}
	}
}

// stop closes the child's stdin, which ends a serving or holding child,
// and waits for it to exit.
func (c *child) stop() error {
	c.stdin.Close()
	return c.wait()
}

func (c *child) wait() error {
	select {
	case err, ok := <-c.exited:
		if ok {
			close(c.exited)
			return err
		}
		return nil
	case <-time.After(childTimeout):
		c.cmd.Process.Kill()
		return errors.New("the child did not exit in time")
	}
}

// runChildTask runs task as cred and returns its report.
func runChildTask(t *testing.T, bin string, cred *perms.Cred, task childTask) childReport {
	t.Helper()
	c := startChild(t, bin, cred, task)
	rep := c.report()
	c.stop()
	return rep
}
