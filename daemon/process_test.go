//go:build linux

package daemon_test

// Real processes for the tests that need them: a daemon in a process of
// its own, to be signalled and killed, and scripted clients running as
// other uids. Both are this test binary run again; TestMain sends it here
// by its environment.

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/keyctl-go/keyctl-go/daemon"
	"github.com/keyctl-go/keyctl-go/internal/childtest"
	"github.com/keyctl-go/keyctl-go/keyring"
	"github.com/keyctl-go/keyctl-go/perms"
	"github.com/keyctl-go/keyctl-go/watchqueue"
)

// The environment of a daemon process.
const (
	serveStoreEnv  = "KEYCTL_GO_TEST_SERVE_STORE"  // the store to serve
	serveSocketEnv = "KEYCTL_GO_TEST_SERVE_SOCKET" // where to listen; empty: socket activation
	// serveMaxKeysEnv, if set, is every user's key quota.
	serveMaxKeysEnv = "KEYCTL_GO_TEST_SERVE_MAX_KEYS"
	// serveOptionsEnv, if set, is the daemon.Options to serve with, as
	// JSON; the daemon logs to its stderr.
	serveOptionsEnv = "KEYCTL_GO_TEST_SERVE_OPTIONS"
	// serveNoFileEnv, if set, is the RLIMIT_NOFILE the daemon sets itself
	// before it opens anything.
	serveNoFileEnv = "KEYCTL_GO_TEST_SERVE_NOFILE"
)

// scriptEnv holds a scripted client's steps, as JSON.
const scriptEnv = "KEYCTL_GO_TEST_SCRIPT"

// childMain runs the child the environment asks for, if any, and
// reports whether it did, with its exit code.
func childMain() (int, bool) {
	switch {
	case os.Getenv(childEnv) != "":
		return runChild(), true
	case os.Getenv(serveStoreEnv) != "":
		return runDaemonProcess(), true
	case os.Getenv(scriptEnv) != "":
		return runScript(), true
	case os.Getenv(impostorEnv) != "":
		return runImpostor(), true
	case os.Getenv(rawClientEnv) != "":
		return runRawClient(), true
	case os.Getenv(rawAddEnv) != "":
		return runRawAdd(), true
	}
	return 0, false
}

// runDaemonProcess is a daemon as `keyctl-go daemon` is one: it serves
// until SIGTERM, then finishes the calls in flight and closes the store.
// It says "ready" on stdout once it accepts connections.
func runDaemonProcess() int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	fail := func(err error) int {
		fmt.Fprintln(os.Stderr, "daemon process:", err)
		return 1
	}
	if v := os.Getenv(serveNoFileEnv); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return fail(err)
		}
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &syscall.Rlimit{Cur: n, Max: n}); err != nil {
			return fail(err)
		}
	}
	var serveOpts daemon.Options
	if v := os.Getenv(serveOptionsEnv); v != "" {
		if err := json.Unmarshal([]byte(v), &serveOpts); err != nil {
			return fail(err)
		}
		serveOpts.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	var opts keyring.Options
	if v := os.Getenv(serveMaxKeysEnv); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return fail(err)
		}
		opts.Quota = keyring.DefaultQuota
		opts.Quota.MaxKeys = uint32(n)
	}
	store, err := keyring.Open(os.Getenv(serveStoreEnv), opts)
	if err != nil {
		return fail(err)
	}
	var srv *daemon.Server
	if path := os.Getenv(serveSocketEnv); path != "" {
		srv, err = daemon.Listen(path, store, serveOpts)
	} else {
		ln, lerr := daemon.ActivationListener()
		switch {
		case lerr != nil:
			err = lerr
		case ln == nil:
			err = errors.New("not socket-activated")
		default:
			srv = daemon.NewServer(ln, store, serveOpts)
		}
	}
	if err != nil {
		store.Close()
		return fail(err)
	}
	fmt.Println("ready")
	if err := srv.Run(ctx); err != nil {
		store.Close()
		return fail(err)
	}
	if err := store.Close(); err != nil {
		return fail(err)
	}
	return 0
}

// daemonProcess is a daemon running in a process of its own.
type daemonProcess struct {
	cmd    *exec.Cmd
	socket string
	exited chan error // Wait's result, once
	stderr *childtest.Log
}

// startDaemon starts a daemon process serving store at socket, with env
// added to its environment, and waits until it is ready. It is killed,
// if still running, when the test ends.
func startDaemon(t testing.TB, bin, store, socket string, env ...string) *daemonProcess {
	t.Helper()
	cmd := exec.Command(bin, "-test.run=^$")
	cmd.Env = append(os.Environ(), append(env, serveStoreEnv+"="+store, serveSocketEnv+"="+socket)...)
	return startDaemonCmd(t, cmd, socket)
}

// startDaemonAs is startDaemon in a process running as uid (and gid) with
// opts, logging to its stderr; nofile, if not 0, is its RLIMIT_NOFILE.
func startDaemonAs(t *testing.T, bin, store, socket string, uid uint32, nofile int, opts daemon.Options) *daemonProcess {
	t.Helper()
	b, err := json.Marshal(opts)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run=^$")
	cmd.Env = append(os.Environ(), serveStoreEnv+"="+store, serveSocketEnv+"="+socket, serveOptionsEnv+"="+string(b))
	if nofile != 0 {
		cmd.Env = append(cmd.Env, serveNoFileEnv+"="+strconv.Itoa(nofile))
	}
	if uid != uint32(os.Geteuid()) {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: uid, Groups: []uint32{}}}
	}
	return startDaemonCmd(t, cmd, socket)
}

func startDaemonCmd(t testing.TB, cmd *exec.Cmd, socket string) *daemonProcess {
	t.Helper()
	d := &daemonProcess{cmd: cmd, socket: socket, exited: make(chan error, 1), stderr: new(childtest.Log)}
	cmd.Stderr = d.stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan bool, 1)
	go func() {
		line, _ := bufio.NewReader(out).ReadString('\n')
		ready <- line == "ready\n"
		io.Copy(io.Discard, out)
		d.exited <- cmd.Wait()
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		d.wait(t)
	})
	select {
	case ok := <-ready:
		if !ok {
			t.Fatalf("daemon process did not start: %s", d.stderr)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("daemon process not ready after 30s: %s", d.stderr)
	}
	return d
}

// wait waits for the process to exit, once, and returns how it did.
func (d *daemonProcess) wait(t testing.TB) error {
	t.Helper()
	select {
	case err, ok := <-d.exited:
		if ok {
			close(d.exited)
			return err
		}
		return nil // waited for before
	case <-time.After(30 * time.Second):
		t.Fatalf("daemon process still running 30s after it was told to stop: %s", d.stderr)
		return nil
	}
}

// A step of a scripted client: one call, named by Op.
type step struct {
	Op      string // add, read, describe, update, setperm, chown, watch, watchqueue, keyringid, fill, records, spin, dial, hold, adopt, join, pin, unpin, persistent, link, status, changes, revoke, unlink
	Name    string `json:",omitempty"` // add, join: remember the new key by this name
	Key     int32  `json:",omitempty"` // the key, or the ring for keyringid
	Ref     string `json:",omitempty"` // the key, as named by an earlier add of this script
	Type    string `json:",omitempty"`
	Desc    string `json:",omitempty"` // join: the session's name
	Payload string `json:",omitempty"`
	Ring    int32  `json:",omitempty"` // add, link, persistent: the keyring
	Perm    uint32 `json:",omitempty"` // setperm
	UID     uint32 `json:",omitempty"` // chown, persistent
	Tag     int    `json:",omitempty"` // watch
	N       int    `json:",omitempty"` // records: how many key records to wait for; spin: the payload's size; hold: connections to try; watchqueue: notes
	Rev     uint64 `json:",omitempty"` // changes: the revision to ask for the changes after
}

// What a step did, one JSON line on the script's stdout per step.
type outcome struct {
	Op      string
	Serial  int32    // add, keyringid, join, pin, persistent: the key
	Errno   int      // the call's errno, 0 for success
	Data    string   // read: the payload
	UID     uint32   // describe: the owner
	Count   int      // fill: keys added before the first failure
	Records []string // records: "subtype key" of each key record
	Nanos   int64    // how long the step took
	Err     string   // a failure without an errno: the script is broken
	// DialErr is why the script could not dial the daemon at all, with
	// Errno; the steps were not run.
	DialErr string `json:",omitempty"`
	// Status is the daemon's answer to a status step.
	Status *daemon.Status `json:",omitempty"`
	// Changes are the changes a changes step was told of, as changeText
	// writes them.
	Changes []string `json:",omitempty"`
}

// runScript dials the daemon and runs the steps, printing each outcome
// as it goes, so that a test can wait for one before it acts.
func runScript() int {
	var steps []step
	if err := json.Unmarshal([]byte(os.Getenv(scriptEnv)), &steps); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out := json.NewEncoder(os.Stdout)
	c, err := daemon.Dial(ctx, os.Getenv(childEnvSocket))
	if err != nil {
		out.Encode(outcome{DialErr: err.Error(), Errno: errnoOf(err)})
		return 0
	}
	defer c.Close()
	named := map[string]keyring.Serial{}
	for _, s := range steps {
		start := time.Now()
		o := s.run(ctx, c, named)
		o.Nanos = int64(time.Since(start))
		out.Encode(o)
	}
	return 0
}

// held are the connections hold steps made, open until the script ends.
var held []*daemon.Client

// childEnvSocket is the daemon a scripted client dials.
const childEnvSocket = "KEYCTL_GO_TEST_SCRIPT_SOCKET"

func (s step) run(ctx context.Context, c *daemon.Client, named map[string]keyring.Serial) outcome {
	o := outcome{Op: s.Op}
	key := keyring.Serial(s.Key)
	if s.Ref != "" {
		key = named[s.Ref]
	}
	var err error
	switch s.Op {
	case "add":
		var id keyring.Serial
		id, err = c.Add(ctx, s.Type, s.Desc, []byte(s.Payload), keyring.Serial(s.Ring))
		o.Serial = int32(id)
		named[s.Name] = id
	case "read":
		var b []byte
		b, err = c.Read(ctx, key)
		o.Data = string(b)
	case "describe":
		var d keyring.Description
		d, err = c.Describe(ctx, key)
		o.UID = d.UID
	case "update":
		err = c.Update(ctx, key, []byte(s.Payload))
	case "setperm":
		err = c.SetPerm(ctx, key, perms.Mask(s.Perm))
	case "chown":
		err = c.Chown(ctx, key, s.UID, keyring.Unchanged)
	case "watch":
		err = c.Watch(ctx, key, s.Tag)
	case "keyringid":
		var id keyring.Serial
		id, err = c.GetKeyringID(ctx, key, true)
		o.Serial = int32(id)
	case "adopt":
		err = c.AdoptSession(ctx, key)
	case "join":
		var id keyring.Serial
		id, err = c.JoinSession(ctx, s.Desc)
		o.Serial = int32(id)
		named[s.Name] = id
	case "pin":
		var id keyring.Serial
		id, err = c.PinSession(ctx)
		o.Serial = int32(id)
	case "unpin":
		err = c.UnpinSession(ctx, key)
	case "persistent":
		var id keyring.Serial
		id, err = c.GetPersistent(ctx, s.UID, keyring.Serial(s.Ring))
		o.Serial = int32(id)
	case "link":
		err = c.Link(ctx, key, keyring.Serial(s.Ring))
	case "changes":
		// The changes after Rev of the daemon's store, or, with Desc
		// "nil", of its history in a store of UUID nil.
		var store keyring.StoreID
		if store, err = c.StoreID(ctx); s.Desc == "nil" {
			store.UUID = uuid.Nil
		}
		if err == nil {
			var cs []keyring.Change
			cs, _, err = c.Changes(ctx, store, s.Rev)
			o.Changes = changeTexts(cs)
		}
	case "revoke":
		err = c.Revoke(ctx, key)
	case "unlink":
		err = c.Unlink(ctx, key, keyring.Serial(s.Ring))
	case "status":
		var st daemon.Status
		st, err = c.Status(ctx)
		o.Status = &st
	case "fill":
		for err == nil {
			if _, err = c.Add(ctx, "user", "fill-"+strconv.Itoa(o.Count), []byte("x"), keyring.UserKeyring); err == nil {
				o.Count++
			}
		}
	case "spin":
		// Updates with a payload of N bytes, without end: a client busy
		// in calls, to be killed in the middle of one.
		payload := make([]byte, s.N)
		for err == nil {
			err = c.Update(ctx, key, payload)
		}
	case "dial":
		// A connection of its own, then a call on it: what a new
		// command meets.
		var d *daemon.Client
		if d, err = daemon.Dial(ctx, os.Getenv(childEnvSocket)); err == nil {
			_, err = d.GetKeyringID(ctx, keyring.UserKeyring, true)
			d.Close()
		}
	case "hold":
		// Up to N connections, each made as Dial makes it, and kept: how
		// many the daemon lets one uid have.
		for range s.N {
			d, derr := daemon.Dial(ctx, os.Getenv(childEnvSocket))
			if derr != nil {
				o.Data = derr.Error()
				continue
			}
			held = append(held, d)
			o.Count++
		}
	case "watchqueue":
		// The connection's queue, of N notes, filtered to pass only the
		// key notification subtype Type names, if any.
		var f *watchqueue.Filter
		if s.Type != "" {
			var sub watchqueue.SubtypeSet
			for i := range uint8(8) {
				if watchqueue.KeySubtype(i).String() == s.Type {
					sub.Add(i)
				}
			}
			f = &watchqueue.Filter{Types: []watchqueue.TypeFilter{{Type: watchqueue.TypeKeyNotify, Subtypes: sub}}}
		}
		err = c.SetWatchQueue(ctx, s.N, f)
	case "records":
		for r, rerr := range c.Records(ctx) {
			if rerr != nil {
				err = rerr
				break
			}
			if k, ok := r.(watchqueue.KeyNotification); ok {
				o.Records = append(o.Records, fmt.Sprintf("%v %d", k.Subtype, k.KeyID))
			}
			if len(o.Records) == s.N {
				break
			}
		}
	default:
		err = fmt.Errorf("unknown step %q", s.Op)
	}
	if err != nil {
		if o.Errno = errnoOf(err); o.Errno == 0 {
			o.Err = err.Error()
		}
	}
	return o
}

// scriptProcess is a scripted client running as another user.
type scriptProcess struct {
	t    *testing.T
	cmd  *exec.Cmd
	out  chan outcome
	errs *childtest.Log
}

// startScript runs steps as a client of the daemon at socket, in a
// process running as uid and gid.
func startScript(t *testing.T, bin, socket string, uid, gid uint32, steps ...step) *scriptProcess {
	t.Helper()
	b, err := json.Marshal(steps)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run=^$")
	cmd.Env = append(os.Environ(), scriptEnv+"="+string(b), childEnvSocket+"="+socket)
	if uid != uint32(os.Getuid()) || gid != uint32(os.Getgid()) {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: gid, Groups: []uint32{}}}
	}
	p := &scriptProcess{t: t, cmd: cmd, out: make(chan outcome, len(steps)+1), errs: new(childtest.Log)}
	cmd.Stderr = p.errs
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		dec := json.NewDecoder(stdout)
		for {
			var o outcome
			if dec.Decode(&o) != nil {
				close(p.out)
				return
			}
			p.out <- o
		}
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
		cmd.Wait()
	})
	return p
}

// next is the outcome of the script's next step. A step that failed
// without an errno fails the test: the script, not the daemon, is wrong.
func (p *scriptProcess) next(op string) outcome {
	p.t.Helper()
	select {
	case o, ok := <-p.out:
		if !ok {
			p.t.Fatalf("script ended before its %s step: %s", op, p.errs)
		}
		if o.Err != "" || o.DialErr != "" || o.Op != op {
			p.t.Fatalf("script step %s: %+v (want %s)", o.Op, o, op)
		}
		return o
	case <-time.After(30 * time.Second):
		p.t.Fatalf("script step %s: no outcome after 30s: %s", op, p.errs)
		return outcome{}
	}
}

// dialErr is the outcome of a script that could not dial the daemon;
// one that could fails the test.
func (p *scriptProcess) dialErr() outcome {
	p.t.Helper()
	select {
	case o, ok := <-p.out:
		if !ok || o.DialErr == "" {
			p.t.Fatalf("script dialled the daemon (%+v, ended %v): %s", o, !ok, p.errs)
		}
		return o
	case <-time.After(30 * time.Second):
		p.t.Fatalf("script: no outcome after 30s: %s", p.errs)
		return outcome{}
	}
}

// childBinary is the test binary, copied where other uids may run it.
func childBinary(t *testing.T) string {
	t.Helper()
	return childtest.CopyBinary(t, "daemon.test")
}
