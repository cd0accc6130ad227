//go:build linux

package daemon_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/daemon"
	"github.com/keyctl-go/keyctl-go/internal/childtest"
	"github.com/keyctl-go/keyctl-go/keyring"
	"github.com/keyctl-go/keyctl-go/perms"
)

// The child is this test binary run again as another uid; these
// variables tell it what to do.
const (
	childEnv    = "KEYCTL_GO_DAEMON_CHILD_SOCKET"
	childKeyEnv = "KEYCTL_GO_DAEMON_CHILD_KEY"
	// childGroupKeyEnv names a key its group may read, the child's
	// supplementary group: the daemon must learn of it from the kernel.
	childGroupKeyEnv = "KEYCTL_GO_DAEMON_CHILD_GROUP_KEY"
	childGroup       = 40777
	childUID         = 40501
)

// childReport is what the child found, as JSON on its stdout.
type childReport struct {
	ReadErrno int    // errno of reading the parent's key
	GroupRead string // what it read of the key its supplementary group may read
	Key       int32  // the key the child added
	UID       uint32 // its owner, as the daemon describes it
	// GiveAwayErrno is the errno of giving its own key to root, which
	// only root may do.
	GiveAwayErrno int
	// PersistentErrno is the errno of asking for root's persistent
	// keyring, which only root may do.
	PersistentErrno int
	Err             string // anything that went wrong otherwise
}

// errnoOf is the errno err unwraps to, 0 if none.
func errnoOf(err error) int {
	var errno unix.Errno
	if errors.As(err, &errno) {
		return int(errno)
	}
	return 0
}

// runChild connects as whatever uid it runs as, and says nothing about
// who it is: there is no field in the protocol for it to say so.
func runChild() int {
	var rep childReport
	defer func() { json.NewEncoder(os.Stdout).Encode(rep) }()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := daemon.Dial(ctx, os.Getenv(childEnv))
	if err != nil {
		rep.Err = err.Error()
		return 0
	}
	defer c.Close()
	key, _ := strconv.Atoi(os.Getenv(childKeyEnv))
	if _, err := c.Read(ctx, keyring.Serial(key)); err != nil {
		var errno unix.Errno
		if errors.As(err, &errno) {
			rep.ReadErrno = int(errno)
		}
	}
	groupKey, _ := strconv.Atoi(os.Getenv(childGroupKeyEnv))
	data, err := c.Read(ctx, keyring.Serial(groupKey))
	if err != nil {
		rep.Err = err.Error()
		return 0
	}
	rep.GroupRead = string(data)
	id, err := c.Add(ctx, "user", "child", []byte("mine"), keyring.UserKeyring)
	if err != nil {
		rep.Err = err.Error()
		return 0
	}
	rep.Key = int32(id)
	d, err := c.Describe(ctx, id)
	if err != nil {
		rep.Err = err.Error()
		return 0
	}
	rep.UID = d.UID
	// Chown to itself is allowed (the key grants its possessor Setattr),
	// so what refuses the give-away below is the owner rule, not the mask.
	if err := c.Chown(ctx, id, childUID, keyring.Unchanged); err != nil {
		rep.Err = err.Error()
		return 0
	}
	rep.GiveAwayErrno = errnoOf(c.Chown(ctx, id, 0, keyring.Unchanged))
	_, err = c.GetPersistent(ctx, 0, keyring.UserKeyring)
	rep.PersistentErrno = errnoOf(err)
	return 0
}

// The daemon knows a connection's uid from the kernel: a child running as
// uid 40501 cannot read root's key, and what it adds is owned by 40501.
func TestIdentityFromKernel(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root, to run a child as another uid")
	}
	e := newEnv(t, daemon.Options{})
	ctx := context.Background()
	root := e.dial(t)
	secret, err := root.Add(ctx, "user", "root-secret", []byte("s3cret"), keyring.UserKeyring)
	if err != nil {
		t.Fatal(err)
	}

	// A key the child may read through its supplementary group alone.
	shared, err := root.Add(ctx, "user", "for-the-group", []byte("shared"), keyring.UserKeyring)
	if err != nil {
		t.Fatal(err)
	}
	owner := e.store.Process(perms.Cred{})
	if err := owner.Chown(ctx, shared, keyring.Unchanged, childGroup); err != nil {
		t.Fatal(err)
	}
	if err := owner.SetPerm(ctx, shared, perms.DefaultUserKey|perms.Mask(perms.View|perms.Read)<<perms.GroupShift); err != nil {
		t.Fatal(err)
	}

	bin := childtest.CopyBinary(t, "daemon.test")
	cmd := exec.Command(bin, "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+e.path, childKeyEnv+"="+strconv.Itoa(int(secret)),
		childGroupKeyEnv+"="+strconv.Itoa(int(shared)))
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: childUID, Gid: childUID, Groups: []uint32{childGroup}}}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("child: %v; stderr: %s", err, stderr.Bytes())
	}
	var rep childReport
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("child said %q: %v", stdout.Bytes(), err)
	}
	if rep.Err != "" {
		t.Fatalf("child: %s", rep.Err)
	}
	if unix.Errno(rep.ReadErrno) != unix.EACCES {
		t.Errorf("child reading root's key: errno %v, want EACCES", unix.Errno(rep.ReadErrno))
	}
	if rep.GroupRead != "shared" {
		t.Errorf("child read %q of the key its group may read", rep.GroupRead)
	}
	if rep.UID != childUID {
		t.Errorf("child's key owned by %d, want %d", rep.UID, childUID)
	}
	if unix.Errno(rep.GiveAwayErrno) != unix.EACCES {
		t.Errorf("child giving its key to root: errno %v, want EACCES", unix.Errno(rep.GiveAwayErrno))
	}
	if unix.Errno(rep.PersistentErrno) != unix.EPERM {
		t.Errorf("child asking for root's persistent keyring: errno %v, want EPERM", unix.Errno(rep.PersistentErrno))
	}
	// Root, through the daemon, sees the child's key as the child's: the
	// key's mask gives others nothing, so root may not even view it.
	if _, err := root.Describe(ctx, keyring.Serial(rep.Key)); !errors.Is(err, unix.EACCES) {
		t.Errorf("root describing the child's key: %v, want EACCES", err)
	}
}
