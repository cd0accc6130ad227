//go:build linux

package daemon_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
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
	"github.com/keyctl-go/keyctl-go/internal/childtest"
	"github.com/keyctl-go/keyctl-go/keyring"
)

// impostorEnv makes the child an impostor: it listens at the path it
// names, takes one connection, and reports how many bytes came.
const impostorEnv = "KEYCTL_GO_TEST_IMPOSTOR"

// impostorReport is what an impostor heard.
type impostorReport struct {
	Accepted bool
	Bytes    int
	Err      string
}

// runImpostor listens where a daemon would, open to all, says "ready",
// and reads what its first caller sends until the caller hangs up.
func runImpostor() int {
	var rep impostorReport
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: os.Getenv(impostorEnv), Net: "unix"})
	if err == nil {
		err = os.Chmod(os.Getenv(impostorEnv), 0o666)
	}
	if err != nil {
		rep.Err = err.Error()
		json.NewEncoder(os.Stdout).Encode(rep)
		return 0
	}
	defer ln.Close()
	os.Stdout.WriteString("ready\n")
	ln.SetDeadline(time.Now().Add(30 * time.Second))
	c, err := ln.Accept()
	if err == nil {
		rep.Accepted = true
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		var n int64
		n, err = io.Copy(io.Discard, c)
		rep.Bytes = int(n)
		c.Close()
	}
	if err != nil {
		rep.Err = err.Error()
	}
	json.NewEncoder(os.Stdout).Encode(rep)
	return 0
}

// startImpostor runs an impostor as uid at path and waits until it
// listens; its report comes on the channel once its caller has gone.
func startImpostor(t *testing.T, bin, path string, uid uint32) <-chan impostorReport {
	t.Helper()
	cmd := exec.Command(bin, "-test.run=^$")
	cmd.Env = append(os.Environ(), impostorEnv+"="+path)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: uid, Groups: []uint32{}}}
	stderr := new(childtest.Log)
	cmd.Stderr = stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	r := bufio.NewReader(out)
	if line, _ := r.ReadString('\n'); line != "ready\n" {
		t.Fatalf("impostor did not start: %q %s", line, stderr)
	}
	reports := make(chan impostorReport, 1)
	go func() {
		var rep impostorReport
		if err := json.NewDecoder(r).Decode(&rep); err != nil {
			rep.Err = "no report: " + err.Error()
		}
		reports <- rep
	}()
	return reports
}

// A user who can put a socket where another user's client looks (a store
// in a shared directory, a stale path in $KEYCTL_GO_SOCKET) gets nothing
// from it: the client sees who listens there, refuses before it sends a
// byte, and says whom it found.
func TestClientRefusesImpostor(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root, to run the impostor and its victim as two other uids")
	}
	shared, err := os.MkdirTemp("", "keyctl-go-shared-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(shared) })
	if err := os.Chmod(shared, os.ModeSticky|0o777); err != nil { // as /tmp, or a team's directory
		t.Fatal(err)
	}
	path := filepath.Join(shared, "a.db.sock")
	bin := childBinary(t)
	heard := startImpostor(t, bin, path, bob)

	victim := startScript(t, bin, path, alice, alice,
		step{Op: "add", Type: "user", Desc: "token", Payload: "S", Ring: int32(keyring.UserKeyring)})
	o := victim.dialErr()
	if unix.Errno(o.Errno) != unix.EPERM || !strings.Contains(o.DialErr, path) || !strings.Contains(o.DialErr, "uid 1001") {
		t.Errorf("alice dialling bob's socket: %q (errno %v); want EPERM naming %s and uid 1001", o.DialErr, unix.Errno(o.Errno), path)
	}
	select {
	case rep := <-heard:
		if !rep.Accepted || rep.Bytes != 0 {
			t.Errorf("the impostor heard %d bytes from alice (accepted %v, %s); want none", rep.Bytes, rep.Accepted, rep.Err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the impostor never reported")
	}
}

// A client whose daemon never answers, accepted or not, gives up within
// the dial timeout with an error naming the socket, instead of hanging.
func TestDialTimesOut(t *testing.T) {
	const timeout = 300 * time.Millisecond
	daemon.SetDialTimeout(t, timeout)
	for _, accept := range []bool{true, false} {
		name := map[bool]string{true: "accepts and says nothing", false: "never accepts"}[accept]
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "silent.sock")
			ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			if accept {
				accepted := make(chan net.Conn, 1)
				go func() {
					c, err := ln.Accept()
					if err == nil {
						accepted <- c
					}
					close(accepted)
				}()
				defer func() {
					if c := <-accepted; c != nil {
						c.Close()
					}
				}()
			}
			start := time.Now()
			done := make(chan error, 1)
			go func() {
				c, err := daemon.Dial(context.Background(), path)
				if c != nil {
					c.Close()
				}
				done <- err
			}()
			select {
			case err := <-done:
				took := time.Since(start)
				if !errors.Is(err, unix.ETIMEDOUT) || !strings.Contains(err.Error(), path) || took > 10*timeout {
					t.Errorf("Dial after %v: %v; want ETIMEDOUT naming %s within about %v", took, err, path, timeout)
				}
			case <-time.After(20 * timeout):
				ln.Close()
				t.Fatalf("Dial still waiting after %v", 20*timeout)
			}
		})
	}
}

// The caller's own deadline, when it is the sooner, is the one Dial keeps
// to, and its error is the caller's.
func TestDialKeepsCallersDeadline(t *testing.T) {
	path := filepath.Join(t.TempDir(), "silent.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = daemon.Dial(ctx, path)
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > daemon.DefaultDialTimeout/2 {
		t.Errorf("Dial with a 100ms context: %v after %v", err, time.Since(start))
	}
}
