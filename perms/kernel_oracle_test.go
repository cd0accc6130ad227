//go:build linux

package perms_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/internal/childtest"
	"github.com/keyctl-go/keyctl-go/perms"
)

// The kernel oracle asks the running kernel's keyrings the questions Check
// answers, and fails wherever the two disagree. The parent, as root, makes
// user keys in a fresh session keyring and gives them owners, groups and
// masks; children re-executed from this test binary under other
// credentials then try one operation per permission bit on every key and
// report the errno. Each child either keeps the inherited session keyring,
// so the keys are reachable and may be possessed, or first joins a new one,
// so they are not.

// oracleChildEnv, when set, turns the test binary into an oracle child (see
// TestMain); the request arrives on stdin and the reply leaves on stdout.
const oracleChildEnv = "KEYCTL_GO_PERMS_ORACLE_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(oracleChildEnv) != "" {
		os.Exit(runOracleChild(os.Stdin, os.Stdout))
	}
	os.Exit(m.Run())
}

// Made-up ids, high enough not to collide with real accounts on a test
// machine: the kernel needs no passwd entry to run a process as a uid.
const (
	oracleOwner     = 40100 // owns every test key
	oracleGroup     = 40200 // group of every test key but the controls
	oracleElsewhere = 40900 // a group no key has
)

// oracleUIDRing is the uid whose user keyring stands in for a key with no
// group. It differs per run so that two runs at once (go test ./... in two
// shells) do not invalidate each other's keyring.
var oracleUIDRing = uint32(50000 + os.Getpid()%10000)

// oracleChildren are the credentials the children run with, one per
// relationship to the test keys.
var oracleChildren = []struct {
	name string
	cred perms.Cred
}{
	{"owner", perms.Cred{UID: oracleOwner, GID: oracleElsewhere}},
	{"owner in group", perms.Cred{UID: oracleOwner, GID: oracleGroup}},
	{"group by gid", perms.Cred{UID: 40101, GID: oracleGroup}},
	{"group by supplementary gid", perms.Cred{UID: 40102, GID: oracleElsewhere, Groups: []uint32{40901, oracleGroup}}},
	{"other", perms.Cred{UID: 40103, GID: oracleElsewhere, Groups: []uint32{40901}}},
	{"root", perms.Cred{UID: 0, GID: 0}},
	{"overflow gid", perms.Cred{UID: 40104, GID: perms.OverflowGID}},
}

// oracleMasks returns the masks given to the test keys: every single bit
// in every class byte, and combinations that separate the rules.
func oracleMasks() []perms.Mask {
	masks := []perms.Mask{
		0,
		perms.AllMask,
		perms.DefaultUserKey,
		perms.DefaultLogonKey,
		0x3f000000, // possessor only
		0x37000000, // possessor without Search: never possessed
		0x01000008, // possessed through the other byte's Search
		0x08000001, // possessor's Search lets other's View through
		0x0000013e, // group members bound to a poorer group byte
		0x0001003e, // owner bound to a poorer user byte
		0x00003f01, // group all, other View
		0x003f0000, // owner all
		0x00003f00, // group all: not for an owner in the group
		0x0000003f, // other all: group members fall through
	}
	for _, shift := range []uint{perms.PossessorShift, perms.UserShift, perms.GroupShift, perms.OtherShift} {
		for bit := perms.View; bit <= perms.Setattr; bit <<= 1 {
			masks = append(masks, perms.Mask(bit)<<shift)
		}
	}
	return masks
}

type oracleOp struct {
	need perms.Perm
	op   func(serial int) error
}

// oracleOps lists one operation per permission bit whose permission rule
// on the key is that bit alone (read excepted, see kernelShouldGrant), and
// whose effect is harmless to repeat. Link comes last because, in a child
// with a session of its own, linking a key into it makes the key possessed.
var oracleOps = []oracleOp{
	// describe
	{perms.View, func(id int) error { _, err := unix.KeyctlString(unix.KEYCTL_DESCRIBE, id); return err }},
	// read, with no buffer: the kernel checks, then reports the length
	{perms.Read, func(id int) error { _, err := unix.KeyctlBuffer(unix.KEYCTL_READ, id, nil, 0); return err }},
	// update with the payload the key already has
	{perms.Write, func(id int) error { _, err := unix.KeyctlBuffer(unix.KEYCTL_UPDATE, id, []byte("x"), 0); return err }},
	// get_keyring_id works on any key, not just keyrings
	{perms.Search, func(id int) error { _, err := unix.KeyctlGetKeyringID(id, false); return err }},
	// set_timeout 0: the key stays permanent
	{perms.Setattr, func(id int) error { _, err := unix.KeyctlInt(unix.KEYCTL_SET_TIMEOUT, id, 0, 0, 0); return err }},
	// link into the child's session keyring, which it possesses and may write
	{perms.Link, func(id int) error {
		_, err := unix.KeyctlInt(unix.KEYCTL_LINK, id, unix.KEY_SPEC_SESSION_KEYRING, 0, 0)
		return err
	}},
}

// What a child is asked to do.
const (
	modeInherit        = "inherit"           // keep the parent's session keyring: test keys reachable
	modeOwnSession     = "own session"       // join a new session keyring first: nothing reachable
	modeUIDRingSetup   = "uid keyring setup" // make the caller's user keyring and set its mask
	modeUIDRingCleanup = "uid keyring cleanup"
)

type oracleRequest struct {
	Mode    string
	Queries []oracleQuery
	Mask    perms.Mask // for modeUIDRingSetup
}

type oracleQuery struct {
	Serial int
	Need   perms.Perm
}

type oracleReply struct {
	UID, GID int
	Groups   []int
	Session  int
	Errnos   []int  // per query; 0 for success
	Serial   int    // modeUIDRingSetup: the user keyring
	Describe string // modeUIDRingSetup: the user keyring before its mask changed
	Err      string // a failure outside the queries
}

// runOracleChild serves one request and returns the exit status.
func runOracleChild(in io.Reader, out io.Writer) int {
	// Session, thread and process keyrings belong to a thread's
	// credentials, so every keyctl call must come from the same thread.
	runtime.LockOSThread()
	var req oracleRequest
	reply := oracleReply{UID: os.Geteuid(), GID: os.Getegid()}
	reply.Groups, _ = unix.Getgroups()
	err := json.NewDecoder(in).Decode(&req)
	if err == nil {
		err = serveOracle(req, &reply)
	}
	if err != nil {
		reply.Err = err.Error()
	}
	if err := json.NewEncoder(out).Encode(reply); err != nil {
		return 1
	}
	return 0
}

func serveOracle(req oracleRequest, reply *oracleReply) error {
	var err error
	switch req.Mode {
	case modeInherit:
	case modeOwnSession:
		if _, err := joinAnonymousSession(); err != nil {
			return fmt.Errorf("join a new session keyring: %w", err)
		}
	case modeUIDRingSetup:
		if reply.Serial, err = unix.KeyctlGetKeyringID(unix.KEY_SPEC_USER_KEYRING, true); err != nil {
			return fmt.Errorf("get user keyring: %w", err)
		}
		if reply.Describe, err = unix.KeyctlString(unix.KEYCTL_DESCRIBE, reply.Serial); err != nil {
			return fmt.Errorf("describe user keyring: %w", err)
		}
		if err := unix.KeyctlSetperm(reply.Serial, uint32(req.Mask)); err != nil {
			return fmt.Errorf("setperm user keyring: %w", err)
		}
		return nil
	case modeUIDRingCleanup:
		// Look both keyrings up first: once one is invalidated, the
		// special ids fail with ENOKEY.
		var serials []int
		for _, special := range []int{unix.KEY_SPEC_USER_KEYRING, unix.KEY_SPEC_USER_SESSION_KEYRING} {
			id, err := unix.KeyctlGetKeyringID(special, false)
			if err != nil {
				return fmt.Errorf("get keyring %d: %w", special, err)
			}
			serials = append(serials, id)
		}
		for _, id := range serials {
			if _, err := unix.KeyctlInt(unix.KEYCTL_INVALIDATE, id, 0, 0, 0); err != nil {
				return fmt.Errorf("invalidate keyring %d: %w", id, err)
			}
		}
		return nil
	default:
		return fmt.Errorf("unknown mode %q", req.Mode)
	}
	if reply.Session, err = unix.KeyctlGetKeyringID(unix.KEY_SPEC_SESSION_KEYRING, false); err != nil {
		return fmt.Errorf("get session keyring: %w", err)
	}
	for _, q := range req.Queries {
		i := slices.IndexFunc(oracleOps, func(o oracleOp) bool { return o.need == q.Need })
		if i < 0 {
			return fmt.Errorf("no operation for %v", q.Need)
		}
		reply.Errnos = append(reply.Errnos, errnoOf(oracleOps[i].op(q.Serial)))
	}
	return nil
}

// joinAnonymousSession gives the calling thread a new, unnamed session
// keyring ("_ses"). It passes a NULL name: x/sys's
// KeyctlJoinSessionKeyring("") passes an empty string, which asks for a
// named keyring and which the kernel rejects with EINVAL.
func joinAnonymousSession() (int, error) {
	return unix.KeyctlInt(unix.KEYCTL_JOIN_SESSION_KEYRING, 0, 0, 0, 0)
}

func errnoOf(err error) int {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return int(errno)
	}
	if err != nil {
		return -1
	}
	return 0
}

// oracleKey is a test key as the parent made it.
type oracleKey struct {
	serial    int
	subject   perms.Subject
	reachable bool         // from the parent's session keyring, which inherit children keep
	needs     []perms.Perm // the operations to try on it
}

// oracleAnswer is one child's report on the keys.
type oracleAnswer struct {
	child int // index into oracleChildren
	mode  string
	reply oracleReply
	err   error
}

// oracleRun is everything the parent learned, handed from the locked
// thread back to the test goroutine.
type oracleRun struct {
	skip      string
	err       error
	keys      []oracleKey
	answers   []oracleAnswer
	describes map[string]string // what the kernel said of keys it made with default masks
	setperm   map[perms.Mask]error
	cleanup   error
}

func TestKernelOracle(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("kernel oracle: needs root, to chown keys and to run children as other uids")
	}
	bin := copyTestBinary(t)

	done := make(chan oracleRun, 1)
	go func() {
		// Never unlocked: this thread's credentials end up holding the
		// test keys, and the runtime retires a thread whose goroutine
		// exits while locked, so no other goroutine inherits them.
		runtime.LockOSThread()
		done <- runKernelOracle(bin)
	}()
	run := <-done
	if run.skip != "" {
		t.Skip(run.skip)
	}
	if run.err != nil {
		t.Fatal(run.err)
	}

	t.Run("default masks", func(t *testing.T) {
		want := map[string]perms.Mask{
			"add_key user":          perms.DefaultUserKey,
			"add_key logon":         perms.DefaultLogonKey,
			"add_key keyring":       perms.DefaultKeyring,
			"anonymous session":     perms.DefaultSessionKeyring,
			"named session":         perms.DefaultNamedSessionKeyring,
			"thread keyring":        perms.DefaultThreadKeyring,
			"process keyring":       perms.DefaultProcessKeyring,
			"user keyring of a uid": perms.DefaultUserKeyring,
		}
		for name, mask := range want {
			d, err := parseDescribe(run.describes[name])
			if err != nil {
				t.Errorf("%s: %v", name, err)
				continue
			}
			if d.mask != mask {
				t.Errorf("%s: kernel gave mask %v, Default constant is %v", name, d.mask, mask)
			}
		}
		// The kernel shows a keyring without a group as the overflow gid.
		if d, err := parseDescribe(run.describes["user keyring of a uid"]); err == nil && d.gid != perms.OverflowGID {
			t.Errorf("user keyring: kernel shows gid %d, want OverflowGID %d", d.gid, perms.OverflowGID)
		}
	})

	t.Run("setperm validation", func(t *testing.T) {
		for m, kernelErr := range run.setperm {
			ours := m.Validate()
			if !errors.Is(kernelErr, unix.EINVAL) && kernelErr != nil {
				t.Errorf("setperm %v: kernel said %v, want nil or EINVAL", m, kernelErr)
			}
			if (kernelErr == nil) != (ours == nil) {
				t.Errorf("setperm %v: kernel said %v, Validate said %v", m, kernelErr, ours)
			}
		}
	})

	compared, granted := 0, 0
	for _, ans := range run.answers {
		child := oracleChildren[ans.child]
		t.Run(child.name+"/"+ans.mode, func(t *testing.T) {
			if ans.err != nil {
				t.Fatal(ans.err)
			}
			checkChildCred(t, child.cred, ans.reply)
			q := 0
			for _, k := range run.keys {
				for _, need := range k.needs {
					errno := ans.reply.Errnos[q]
					q++
					compared++
					if errno == 0 {
						granted++
					}
					want := kernelShouldGrant(child.cred, k, ans.mode == modeInherit, need)
					switch {
					case errno != 0 && errno != int(unix.EACCES):
						t.Errorf("key %d (%v, gid %d): %v: kernel failed with %v, not a permission answer",
							k.serial, k.subject.Mask, k.subject.GID, need, syscall.Errno(errno))
					case (errno == 0) != want:
						t.Errorf("key %d (%v, gid %d): %v: kernel granted=%t, perms says %t (Granted %v unpossessed)",
							k.serial, k.subject.Mask, k.subject.GID, need, errno == 0, want,
							perms.Granted(child.cred, k.subject, false))
					}
				}
			}
		})
	}
	t.Logf("compared %d kernel answers (%d granted) across %d children", compared, granted, len(run.answers))

	if run.cleanup != nil {
		t.Errorf("cleaning up the user keyring of uid %d: %v", oracleUIDRing, run.cleanup)
	}
}

// kernelShouldGrant is the model the oracle holds the kernel to: Check,
// plus the two rules around it that the key store owns (reference 3.6 and
// 3.7). A key is possessed only if reachable and if the possession search
// may pass it, which needs Search on the key with the possessor byte
// counted; and a possessed key may be read without Read.
func kernelShouldGrant(c perms.Cred, k oracleKey, inherited bool, need perms.Perm) bool {
	possessed := inherited && k.reachable && perms.Check(c, k.subject, true, perms.Search) == nil
	if need == perms.Read && possessed {
		return true
	}
	return perms.Check(c, k.subject, possessed, need) == nil
}

func checkChildCred(t *testing.T, want perms.Cred, got oracleReply) {
	t.Helper()
	groups := make([]int, 0, len(want.Groups))
	for _, g := range want.Groups {
		groups = append(groups, int(g))
	}
	slices.Sort(groups)
	slices.Sort(got.Groups)
	if got.UID != int(want.UID) || got.GID != int(want.GID) || !slices.Equal(got.Groups, groups) {
		t.Fatalf("child ran as uid %d gid %d groups %v, want %d %d %v", got.UID, got.GID, got.Groups, want.UID, want.GID, groups)
	}
}

// runKernelOracle does all the keyctl work; it must run on a locked thread,
// whose session keyring it replaces.
func runKernelOracle(bin string) (run oracleRun) {
	run = oracleRun{describes: map[string]string{}, setperm: map[perms.Mask]error{}}
	session, err := joinAnonymousSession()
	switch {
	case errors.Is(err, unix.ENOSYS), errors.Is(err, unix.EOPNOTSUPP):
		run.skip = fmt.Sprintf("kernel oracle: this kernel has no keyrings (join session keyring: %v)", err)
		return run
	case errors.Is(err, unix.EPERM):
		run.skip = fmt.Sprintf("kernel oracle: keyctl is blocked here, e.g. by seccomp (join session keyring: %v)", err)
		return run
	case err != nil:
		run.err = fmt.Errorf("join session keyring: %w", err)
		return run
	}
	describe := func(name string, id int) {
		d, err := unix.KeyctlString(unix.KEYCTL_DESCRIBE, id)
		if err != nil {
			d = err.Error()
		}
		run.describes[name] = d
	}
	describe("anonymous session", session)

	run.keys, run.err = makeOracleKeys(session, &run)
	if run.err != nil {
		return run
	}
	if id, err := unix.AddKey("logon", fmt.Sprintf("keyctl-go:perms-oracle-%d", os.Getpid()), []byte("x"), session); err == nil {
		describe("add_key logon", id)
	}
	if id, err := unix.AddKey("keyring", fmt.Sprintf("keyctl-go-perms-oracle-ring-%d", os.Getpid()), nil, session); err == nil {
		describe("add_key keyring", id)
	}

	// A key with no group: the user keyring of a made-up uid, which the
	// kernel creates with INVALID_GID. Its owner gives the group byte
	// everything that the overflow-gid child would use if the kernel took
	// the gid it prints (65534) for a real group.
	uidRing := perms.Subject{UID: oracleUIDRing, GID: perms.InvalidGID, Mask: perms.DefaultUserKeyring | 0x00000b00}
	ringCred := perms.Cred{UID: oracleUIDRing, GID: oracleUIDRing}
	setup, err := runOracleChildProcess(bin, ringCred, oracleRequest{Mode: modeUIDRingSetup, Mask: uidRing.Mask})
	// Invalidating both user keyrings at the end drops them from the
	// kernel's register. One trace stays: the kernel does not give back
	// the quota their links in the root-owned register cost (seen on 6.18:
	// 8 bytes of root's 25 MB per run, until reboot).
	defer func() {
		if _, err := runOracleChildProcess(bin, ringCred, oracleRequest{Mode: modeUIDRingCleanup}); err != nil {
			run.cleanup = err
		}
	}()
	if err != nil {
		run.err = err
		return run
	}
	run.describes["user keyring of a uid"] = setup.Describe
	run.keys = append(run.keys, oracleKey{
		serial: setup.Serial, subject: uidRing, reachable: false,
		needs: []perms.Perm{perms.View, perms.Read, perms.Search}, // nothing that changes it
	})

	var queries []oracleQuery
	for _, k := range run.keys {
		for _, need := range k.needs {
			queries = append(queries, oracleQuery{Serial: k.serial, Need: need})
		}
	}
	for i, child := range oracleChildren {
		for _, mode := range []string{modeInherit, modeOwnSession} {
			reply, err := runOracleChildProcess(bin, child.cred, oracleRequest{Mode: mode, Queries: queries})
			if err == nil && len(reply.Errnos) != len(queries) {
				err = fmt.Errorf("child answered %d of %d queries", len(reply.Errnos), len(queries))
			}
			if err == nil && (reply.Session == session) != (mode == modeInherit) {
				err = fmt.Errorf("child in session keyring %d, parent's is %d", reply.Session, session)
			}
			run.answers = append(run.answers, oracleAnswer{child: i, mode: mode, reply: reply, err: err})
		}
	}

	// Keyrings made on first use, after the children so they cannot
	// inherit them (exec drops both anyway).
	if id, err := unix.KeyctlGetKeyringID(unix.KEY_SPEC_THREAD_KEYRING, true); err == nil {
		describe("thread keyring", id)
	}
	if id, err := unix.KeyctlGetKeyringID(unix.KEY_SPEC_PROCESS_KEYRING, true); err == nil {
		describe("process keyring", id)
	}
	// Joining a named session replaces this thread's session, dropping
	// the last reference to the test keys.
	if _, err := unix.KeyctlInt(unix.KEYCTL_CLEAR, session, 0, 0, 0); err != nil {
		run.err = fmt.Errorf("clear session keyring %d: %w", session, err)
	}
	if id, err := unix.KeyctlJoinSessionKeyring(fmt.Sprintf("keyctl-go-perms-oracle-session-%d", os.Getpid())); err == nil {
		describe("named session", id)
	}
	return run
}

// makeOracleKeys adds one user key per mask, plus controls with group
// 65534, into session, hands them to oracleOwner and sets their masks. The
// first key also records its default mask and probes setperm's validation.
func makeOracleKeys(session int, run *oracleRun) ([]oracleKey, error) {
	type spec struct {
		gid  uint32
		mask perms.Mask
	}
	var specs []spec
	for _, m := range oracleMasks() {
		specs = append(specs, spec{oracleGroup, m})
	}
	// A real group 65534 grants its byte, unlike the user keyring's
	// INVALID_GID that the kernel prints the same way.
	specs = append(specs, spec{perms.OverflowGID, 0x00000b00}, spec{perms.OverflowGID, 0x00000003})

	all := []perms.Perm{perms.View, perms.Read, perms.Write, perms.Search, perms.Setattr, perms.Link}
	var keys []oracleKey
	for i, s := range specs {
		desc := fmt.Sprintf("keyctl-go-perms-oracle-%d-%d", os.Getpid(), i)
		id, err := unix.AddKey("user", desc, []byte("x"), session)
		if err != nil {
			return nil, fmt.Errorf("add_key user %q: %w", desc, err)
		}
		if i == 0 {
			d, _ := unix.KeyctlString(unix.KEYCTL_DESCRIBE, id)
			run.describes["add_key user"] = d
			for _, m := range []perms.Mask{perms.AllMask, 0x40000000, 0x00800000, 0x00004000, 0x00000040, 0xffffffff} {
				run.setperm[m] = unix.KeyctlSetperm(id, uint32(m))
			}
			// Put back the possessor's Setattr that chown and setperm need.
			if err := unix.KeyctlSetperm(id, uint32(perms.DefaultUserKey)); err != nil {
				return nil, fmt.Errorf("setperm key %d: %w", id, err)
			}
		}
		if _, err := unix.KeyctlInt(unix.KEYCTL_CHOWN, id, oracleOwner, int(s.gid), 0); err != nil {
			return nil, fmt.Errorf("chown key %d to %d:%d: %w", id, oracleOwner, s.gid, err)
		}
		if err := unix.KeyctlSetperm(id, uint32(s.mask)); err != nil {
			return nil, fmt.Errorf("setperm key %d to %v: %w", id, s.mask, err)
		}
		keys = append(keys, oracleKey{
			serial:    id,
			subject:   perms.Subject{UID: oracleOwner, GID: s.gid, Mask: s.mask},
			reachable: true,
			needs:     all,
		})
	}
	return keys, nil
}

// runOracleChildProcess runs bin as an oracle child with the credentials c.
// It must be called from the locked thread: the child is forked from the
// calling thread and inherits that thread's session keyring.
func runOracleChildProcess(bin string, c perms.Cred, req oracleRequest) (oracleReply, error) {
	var reply oracleReply
	in, err := json.Marshal(req)
	if err != nil {
		return reply, err
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(bin)
	cmd.Dir = filepath.Dir(bin)
	// Under -race a Go program sleeps a second at exit unless told not to.
	cmd.Env = append(os.Environ(), oracleChildEnv+"=1",
		"GORACE="+strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
	cmd.Stdin = bytes.NewReader(in)
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Credential: &syscall.Credential{Uid: c.UID, Gid: c.GID, Groups: slices.Clone(c.Groups)},
	}
	if err := cmd.Run(); err != nil {
		return reply, fmt.Errorf("oracle child %s as %d:%d: %w; stderr: %s", req.Mode, c.UID, c.GID, err, stderr.Bytes())
	}
	if err := json.Unmarshal(stdout.Bytes(), &reply); err != nil {
		return reply, fmt.Errorf("oracle child %s as %d:%d: reply %q: %w", req.Mode, c.UID, c.GID, stdout.Bytes(), err)
	}
	if reply.Err != "" {
		return reply, fmt.Errorf("oracle child %s as %d:%d: %s", req.Mode, c.UID, c.GID, reply.Err)
	}
	return reply, nil
}

// copyTestBinary copies this test binary where the children's made-up uids
// may run it.
func copyTestBinary(t *testing.T) string { return childtest.CopyBinary(t, "perms.test") }

// describedKey is the kernel's describe string, "type;uid;gid;perm;desc".
type describedKey struct {
	typ  string
	uid  uint32
	gid  uint32
	mask perms.Mask
	desc string
}

func parseDescribe(s string) (describedKey, error) {
	f := strings.SplitN(s, ";", 5)
	if len(f) != 5 {
		return describedKey{}, fmt.Errorf("describe %q: want type;uid;gid;perm;desc", s)
	}
	uid, err1 := strconv.ParseUint(f[1], 10, 32)
	gid, err2 := strconv.ParseUint(f[2], 10, 32)
	mask, err3 := strconv.ParseUint(f[3], 16, 32)
	if err := errors.Join(err1, err2, err3); err != nil {
		return describedKey{}, fmt.Errorf("describe %q: %w", s, err)
	}
	return describedKey{typ: f[0], uid: uint32(uid), gid: uint32(gid), mask: perms.Mask(mask), desc: f[4]}, nil
}
