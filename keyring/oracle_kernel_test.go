//go:build linux

package keyring_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/internal/childtest"
	"github.com/keyctl-go/keyctl-go/perms"
)

// The kernel side of the oracle: keyctl(2), add_key(2) and request_key(2)
// through golang.org/x/sys/unix, always from one locked OS thread, because
// the session keyring (and thread keyring) belong to a thread's
// credentials. In this process it is a goroutine locked to its thread; for
// other credentials it is a child process, this test binary re-executed
// with SysProcAttr.Credential, which serves one JSON operation per line on
// stdin with one JSON result per line on stdout, as perms' kernel oracle
// does.

// oracleKernel runs operations against the kernel's keyrings.
type oracleKernel interface {
	do(op oracleOp) oracleResult
	close() error
}

// oracleSettleTimeout bounds the wait for the kernel's gc (settle). It
// normally finishes within a millisecond; the bound only matters when the
// two sides really disagree, and then the test fails anyway.
const oracleSettleTimeout = 2 * time.Second

// oracleThread runs operations on one locked OS thread of this process.
type oracleThread struct {
	ops    chan oracleOp
	res    chan oracleResult
	exited chan struct{}
}

// startOracleThread starts the thread; oracle.addActor gives it a fresh
// anonymous session keyring.
func startOracleThread() *oracleThread {
	k := &oracleThread{ops: make(chan oracleOp), res: make(chan oracleResult), exited: make(chan struct{})}
	go func() {
		defer close(k.exited)
		// Never unlocked: the thread's credentials end up holding the
		// test's session keyring, and the runtime retires a thread whose
		// goroutine exits while locked, so no other goroutine inherits
		// them.
		runtime.LockOSThread()
		for op := range k.ops {
			k.res <- oracleKernelExec(op)
		}
	}()
	return k
}

// skipOracleNoKeyrings skips when errno says the kernel has no keyrings or that
// keyctl is filtered away.
func skipOracleNoKeyrings(t testing.TB, errno int) {
	t.Helper()
	switch syscall.Errno(errno) {
	case unix.ENOSYS, unix.EOPNOTSUPP:
		t.Skipf("kernel oracle: this kernel has no keyrings (keyctl: %v)", syscall.Errno(errno))
	case unix.EPERM:
		t.Skipf("kernel oracle: keyctl is blocked here, e.g. by seccomp (keyctl: %v)", syscall.Errno(errno))
	}
}

func (k *oracleThread) do(op oracleOp) oracleResult {
	k.ops <- op
	return <-k.res
}

func (k *oracleThread) close() error {
	close(k.ops)
	<-k.exited
	return nil
}

// oracleChildEnv, when set, makes TestOracleKernelChild serve operations:
// the test binary is then a kernel side with other credentials.
const oracleChildEnv = "KEYCTL_GO_KEYRING_ORACLE_CHILD"

// TestOracleKernelChild is the child process of the oracle's other-uid
// runs; run by itself it skips.
func TestOracleKernelChild(t *testing.T) {
	if os.Getenv(oracleChildEnv) == "" {
		t.Skip("the kernel side of the oracle with other credentials; it runs only as a child of TestOracle*")
	}
	// Exit here, so that the test framework prints nothing to stdout,
	// which carries the replies.
	os.Exit(serveOracleChild(os.Stdin, os.Stdout))
}

func serveOracleChild(in io.Reader, out io.Writer) int {
	runtime.LockOSThread()
	dec := json.NewDecoder(bufio.NewReader(in))
	w := bufio.NewWriter(out)
	enc := json.NewEncoder(w)
	for {
		var op oracleOp
		if err := dec.Decode(&op); errors.Is(err, io.EOF) {
			return 0
		} else if err != nil {
			fmt.Fprintf(os.Stderr, "oracle child: %v\n", err)
			return 2
		}
		if err := enc.Encode(oracleKernelExec(op)); err != nil {
			return 2
		}
		if err := w.Flush(); err != nil {
			return 2
		}
	}
}

// oracleChild is a child process running as other credentials.
type oracleChild struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	enc    *json.Encoder
	dec    *json.Decoder
	stderr bytes.Buffer
	cred   perms.Cred
}

// startOracleChild starts bin as an oracle child with credentials c;
// oracle.addActor gives it a fresh anonymous session keyring of its own.
func startOracleChild(t testing.TB, bin string, c perms.Cred) *oracleChild {
	t.Helper()
	k := &oracleChild{cred: c}
	k.cmd = exec.Command(bin, "-test.run=^TestOracleKernelChild$")
	k.cmd.Dir = filepath.Dir(bin)
	// Under -race a Go program sleeps a second at exit unless told not to.
	k.cmd.Env = append(os.Environ(), oracleChildEnv+"=1",
		"GORACE="+strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
	k.cmd.Stderr = &k.stderr
	k.cmd.SysProcAttr = &syscall.SysProcAttr{
		Credential: &syscall.Credential{Uid: c.UID, Gid: c.GID, Groups: c.Groups},
	}
	var err error
	if k.stdin, err = k.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := k.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := k.cmd.Start(); err != nil {
		t.Fatalf("oracle child as %d:%d: %v", c.UID, c.GID, err)
	}
	k.enc, k.dec = json.NewEncoder(k.stdin), json.NewDecoder(bufio.NewReader(stdout))
	return k
}

func (k *oracleChild) do(op oracleOp) oracleResult {
	var r oracleResult
	if err := k.enc.Encode(op); err != nil {
		return oracleResult{Err: fmt.Sprintf("oracle child as %d: send: %v; stderr: %s", k.cred.UID, err, k.stderr.Bytes())}
	}
	if err := k.dec.Decode(&r); err != nil {
		return oracleResult{Err: fmt.Sprintf("oracle child as %d: receive: %v; stderr: %s", k.cred.UID, err, k.stderr.Bytes())}
	}
	return r
}

func (k *oracleChild) close() error {
	k.stdin.Close()
	if err := k.cmd.Wait(); err != nil {
		return fmt.Errorf("oracle child as %d: %w; stderr: %s", k.cred.UID, err, k.stderr.Bytes())
	}
	return nil
}

// oracleChildBinary copies this test binary where the children's made-up
// uids may run it (go test builds it in a directory only its owner may
// enter), and removes the copy when the test ends.
func oracleChildBinary(t testing.TB) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("kernel oracle with other uids: needs root, to run children as other uids")
	}
	return childtest.CopyBinary(t, "keyring.test")
}

// oracleKernelExec runs one operation on the calling thread.
func oracleKernelExec(op oracleOp) oracleResult {
	var r oracleResult
	var n int
	var err error
	switch op.Op {
	case "join":
		if op.Name == nil {
			// A NULL name: KeyctlJoinSessionKeyring("") would pass an
			// empty string, which the kernel takes for a name.
			n, err = unix.KeyctlInt(unix.KEYCTL_JOIN_SESSION_KEYRING, 0, 0, 0, 0)
		} else {
			n, err = unix.KeyctlJoinSessionKeyring(*op.Name)
		}
	case "add":
		n, err = unix.AddKey(op.Type, op.Desc, op.Payload, int(op.Ring))
	case "update":
		_, err = unix.KeyctlBuffer(unix.KEYCTL_UPDATE, int(op.Key), op.Payload, 0)
	case "read":
		r.Data, err = oracleKernelRead(op.Key)
	case "describe":
		r.Text, err = unix.KeyctlString(unix.KEYCTL_DESCRIBE, int(op.Key))
	case "search":
		n, err = unix.KeyctlSearch(int(op.Ring), op.Type, op.Desc, int(op.Dest))
	case "request":
		n, err = oracleKernelRequestKey(op.Type, op.Desc, op.Dest)
	case "link":
		_, err = unix.KeyctlInt(unix.KEYCTL_LINK, int(op.Key), int(op.Ring), 0, 0)
	case "unlink":
		_, err = unix.KeyctlInt(unix.KEYCTL_UNLINK, int(op.Key), int(op.Ring), 0, 0)
	case "move":
		_, err = unix.KeyctlInt(unix.KEYCTL_MOVE, int(op.Key), int(op.Ring), int(op.Dest), op.Flags)
	case "clear":
		_, err = unix.KeyctlInt(unix.KEYCTL_CLEAR, int(op.Ring), 0, 0, 0)
	case "revoke":
		_, err = unix.KeyctlInt(unix.KEYCTL_REVOKE, int(op.Key), 0, 0, 0)
	case "invalidate":
		_, err = unix.KeyctlInt(unix.KEYCTL_INVALIDATE, int(op.Key), 0, 0, 0)
	case "timeout":
		_, err = unix.KeyctlInt(unix.KEYCTL_SET_TIMEOUT, int(op.Key), int(op.Seconds), 0, 0)
	case "setperm":
		err = unix.KeyctlSetperm(int(op.Key), op.Perm)
	case "chown":
		_, err = unix.KeyctlInt(unix.KEYCTL_CHOWN, int(op.Key), int(op.UID), int(op.GID), 0)
	case "restrict":
		err = oracleKernelRestrict(op.Ring, op.RType, op.Restriction)
	case "getid":
		n, err = unix.KeyctlGetKeyringID(int(op.Key), op.Create)
	case "persistent":
		n, err = unix.KeyctlInt(unix.KEYCTL_GET_PERSISTENT, int(op.UID), int(op.Ring), 0, 0)
	case "settle":
		return oracleKernelSettle(op)
	case "cleanup":
		for _, id := range op.Keys {
			// Best effort: a key that lost Search to a random setperm
			// cannot be invalidated, but it lives only in a session
			// keyring tree, which goes with the thread or process.
			unix.KeyctlInt(unix.KEYCTL_INVALIDATE, int(id), 0, 0, 0)
		}
		return r
	default:
		return oracleResult{Err: fmt.Sprintf("kernel: unknown operation %q", op.Op)}
	}
	r.Serial = int32(n)
	if r.Errno = oracleErrno(err); r.Errno == -1 {
		r.Err = fmt.Sprintf("kernel: %s: %v", op.Op, err)
	}
	if r.Errno != 0 {
		r.Data, r.Serial, r.Text = nil, 0, ""
	}
	return r
}

// oracleKernelRead is KEYCTL_READ into a buffer big enough for the whole payload:
// the kernel copies nothing unless it all fits, and returns its length.
func oracleKernelRead(id int32) ([]byte, error) {
	buf := make([]byte, 4096)
	for {
		n, err := unix.KeyctlBuffer(unix.KEYCTL_READ, int(id), buf, 0)
		if err != nil {
			return nil, err
		}
		if n <= len(buf) {
			return buf[:n:n], nil
		}
		buf = make([]byte, n)
	}
}

// oracleKernelRestrict is KEYCTL_RESTRICT_KEYRING with NULL for a nil type or
// restriction, which x/sys cannot pass for the restriction.
func oracleKernelRestrict(ring int32, typ, restriction *string) error {
	var p [2]*byte
	for i, s := range []*string{typ, restriction} {
		if s == nil {
			continue
		}
		b, err := unix.BytePtrFromString(*s)
		if err != nil {
			return err
		}
		p[i] = b
	}
	_, _, errno := unix.Syscall6(unix.SYS_KEYCTL, unix.KEYCTL_RESTRICT_KEYRING, uintptr(ring),
		uintptr(unsafe.Pointer(p[0])), uintptr(unsafe.Pointer(p[1])), 0, 0)
	runtime.KeepAlive(p)
	if errno != 0 {
		return errno
	}
	return nil
}

// oracleKernelRequestKey is request_key(2) with a NULL callout: not found is
// ENOKEY and nothing is constructed, which is what the store's RequestKey
// does. (x/sys's RequestKey passes "" for no callout, which asks for an
// upcall.)
func oracleKernelRequestKey(typ, desc string, dest int32) (int, error) {
	t, err := unix.BytePtrFromString(typ)
	if err != nil {
		return 0, err
	}
	d, err := unix.BytePtrFromString(desc)
	if err != nil {
		return 0, err
	}
	id, _, errno := unix.Syscall6(unix.SYS_REQUEST_KEY, uintptr(unsafe.Pointer(t)), uintptr(unsafe.Pointer(d)),
		0, uintptr(dest), 0, 0)
	runtime.KeepAlive(t)
	runtime.KeepAlive(d)
	if errno != 0 {
		return 0, errno
	}
	return int(id), nil
}

// oracleKernelSettle polls until the kernel's gc has done what the store did
// synchronously (see oracle.settle), or reports, as ETIMEDOUT, what still
// differs.
func oracleKernelSettle(op oracleOp) oracleResult {
	deadline := time.Now().Add(oracleSettleTimeout)
	for wait := 50 * time.Microsecond; ; wait = min(2*wait, time.Millisecond) {
		why, key := oracleKernelUnsettled(op)
		if why == "" {
			return oracleResult{}
		}
		if time.Now().After(deadline) {
			return oracleResult{Errno: int(unix.ETIMEDOUT), Text: why, Serial: key}
		}
		time.Sleep(wait)
	}
}

// oracleKernelUnsettled says what still differs, and about which key.
func oracleKernelUnsettled(op oracleOp) (string, int32) {
	alive := 0
	for i, id := range op.Keys {
		// Describe is ENOKEY for a key that is gone: invalidated, or no
		// longer referenced (which the kernel notices only after an RCU
		// grace period, 10-20 ms after the last link went). Everything
		// else (no permission, revoked, expired) is checked after the key
		// is found, so this works for any caller.
		_, err := unix.KeyctlString(unix.KEYCTL_DESCRIBE, int(id))
		gone := errors.Is(err, unix.ENOKEY)
		if gone != op.Dead[i] {
			return fmt.Sprintf("key %d is %s in the kernel but %s in the store", id, oracleGoneWord(gone), oracleGoneWord(op.Dead[i])), id
		}
		if !gone {
			alive++
			continue
		}
		// Gone is not yet destroyed: an invalidated key stays linked, and
		// a dead keyring keeps its keys, until the gc gets to them, and
		// until then other operations still find it (read says EACCES
		// rather than ENOKEY). Unlink is the one operation that looks a
		// key up without checking its state or permissions, so it tells:
		// ENOKEY once the key is destroyed, ENOENT while it is not. The
		// keyring it unlinks from must hold nothing, since the kernel
		// unlinks whatever key there has the same type and description
		// (see knownDiscrepancies): hence the empty probe keyring.
		_, err = unix.KeyctlInt(unix.KEYCTL_UNLINK, int(id), int(op.Key), 0, 0)
		switch {
		case errors.Is(err, unix.ENOKEY):
		case errors.Is(err, unix.ENOENT):
			return fmt.Sprintf("key %d is gone but not yet destroyed in the kernel", id), id
		default:
			return fmt.Sprintf("probing key %d with unlink from the empty keyring %d: %v", id, op.Key, err), id
		}
	}
	if op.Owner != 0 {
		u, err := readOracleKeyUsers()
		if err != nil {
			return err.Error(), 0
		}
		if got := u[op.Owner].keys; got != alive {
			return fmt.Sprintf("/proc/key-users counts %d keys of uid %d, %d of the keys known are alive", got, op.Owner, alive), 0
		}
	}
	return "", 0
}

func oracleGoneWord(gone bool) string {
	if gone {
		return "gone"
	}
	return "alive"
}

// oracleKeyUser is a line of /proc/key-users.
type oracleKeyUser struct {
	keys, quotaKeys, quotaBytes int
}

// readOracleKeyUsers parses /proc/key-users:
// "%5u: %5d %d/%d %d/%d %d/%d" = uid: usage nkeys/nikeys qnkeys/maxkeys
// qnbytes/maxbytes.
func readOracleKeyUsers() (map[uint32]oracleKeyUser, error) {
	b, err := os.ReadFile("/proc/key-users")
	if err != nil {
		return nil, err
	}
	users := map[uint32]oracleKeyUser{}
	for line := range strings.Lines(string(b)) {
		var uid uint32
		var usage, nikeys, maxKeys, maxBytes int
		var u oracleKeyUser
		if _, err := fmt.Sscanf(line, "%d: %d %d/%d %d/%d %d/%d", &uid, &usage, &u.keys, &nikeys,
			&u.quotaKeys, &maxKeys, &u.quotaBytes, &maxBytes); err != nil {
			return nil, fmt.Errorf("/proc/key-users: %q: %w", line, err)
		}
		users[uid] = u
	}
	return users, nil
}

// oracleUIDBase is where the made-up uids of the oracle's children start:
// high enough not to be real accounts, and clear of the uids perms' kernel
// oracle uses (40100-40104, 50000-59999), which may run at the same time.
const oracleUIDBase = 40300

// freeOracleUID returns a made-up uid that holds no keys in the kernel, so
// that its quota is all there: an earlier run's keys may still be
// awaiting the kernel's gc, or have been left by a run that crashed. It
// waits a little for the gc first.
func freeOracleUID(t testing.TB, after uint32) uint32 {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		users, err := readOracleKeyUsers()
		if err != nil {
			t.Fatal(err)
		}
		for uid := max(after+1, oracleUIDBase); uid < oracleUIDBase+200; uid++ {
			if u := users[uid]; u.keys == 0 && u.quotaBytes == 0 {
				return uid
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no uid in %d..%d is free of kernel keys; see /proc/key-users", oracleUIDBase, oracleUIDBase+199)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitOracleUIDFree waits until uid holds no keys in the kernel, after a child
// that ran as uid has exited, so that the next child as uid starts with its
// whole quota. It reports whether that happened.
func waitOracleUIDFree(uid uint32, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for {
		users, err := readOracleKeyUsers()
		if err == nil && users[uid].keys == 0 && users[uid].quotaBytes == 0 {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(2 * time.Millisecond)
	}
}
