//go:build linux

package keyring_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/keyring"
	"github.com/keyctl-go/keyctl-go/perms"
)

// The kernel oracle runs the same keyctl operations against the machine's
// kernel keyrings and against a Store, and fails wherever the two answer
// differently: success or errno, the serials returned (mapped between the
// two numberings as keys appear), payloads, describe strings, and keyring
// contents. Each side starts in a fresh anonymous session keyring of its
// own, so @s means the same on both.
//
// The kernel side runs in this process on a locked OS thread (the caller's
// own credentials), or in a child process re-executed from this test binary
// with other credentials (oracle_kernel_test.go). The table cases are in
// oracle_table_test.go, the seeded random sequences in
// oracle_random_test.go.
//
// Where the store differs from the kernel on purpose (keyring/doc.go, "Where
// this differs from the kernel, on purpose" and "Caveats"), the oracle
// accounts for it at one place each, citing the doc:
//   - keyring order: contents are compared as sets (compareRead);
//   - synchronous collection: after every change that may free keys, the
//     oracle waits until the kernel's asynchronous gc has caught up with
//     what the store already did (settle);
//   - named sessions persist in the store: every name is used once;
//   - thread and process keyrings are not charged to quota: quota cases stay
//     in the session keyring.
// Discrepancies that are not on purpose are listed in knownDiscrepancies.

// oracleOp is one operation as one side executes it: operands are that
// side's serials or special ids. It travels to child processes as JSON.
type oracleOp struct {
	Op          string  `json:"op"`
	Type        string  `json:"type,omitempty"`
	Desc        string  `json:"desc,omitempty"`
	Payload     []byte  `json:"payload,omitempty"`
	Key         int32   `json:"key,omitempty"`  // the key acted on
	Ring        int32   `json:"ring,omitempty"` // add's, link's, unlink's keyring; search's start; move's source; clear's target
	Dest        int32   `json:"dest,omitempty"` // search's and request_key's destination; move's target
	Flags       int     `json:"flags,omitempty"`
	Perm        uint32  `json:"perm,omitempty"`
	UID         int64   `json:"uid,omitempty"` // chown: -1 leaves it
	GID         int64   `json:"gid,omitempty"`
	Seconds     uint32  `json:"seconds,omitempty"`     // set_timeout
	Create      bool    `json:"create,omitempty"`      // get_keyring_id
	RType       *string `json:"rtype,omitempty"`       // restrict: nil passes NULL
	Restriction *string `json:"restriction,omitempty"` // restrict: nil passes NULL
	Name        *string `json:"name,omitempty"`        // join: nil is an anonymous session

	// settle and cleanup: the kernel's serials of every key the oracle
	// knows, and whether the store has destroyed each. settle's Key is
	// the probe keyring.
	Keys []int32 `json:"keys,omitempty"`
	Dead []bool  `json:"dead,omitempty"`
	// settle: the uid whose key count /proc/key-users must show, once the
	// kernel's gc is done, as the number of known keys alive; 0 for none
	// (root's count includes keys the rest of the machine holds).
	Owner uint32 `json:"owner,omitempty"`
}

// oracleResult is one side's answer.
type oracleResult struct {
	Errno  int    `json:"errno,omitempty"`  // 0 for success
	Serial int32  `json:"serial,omitempty"` // add, search, request, getid, join
	Data   []byte `json:"data,omitempty"`   // read
	Text   string `json:"text,omitempty"`   // describe; settle: why it did not settle
	Err    string `json:"err,omitempty"`    // the executor failed, not the operation
}

func (r oracleResult) String() string {
	if r.Err != "" {
		return "executor failure: " + r.Err
	}
	if r.Errno != 0 {
		return fmt.Sprintf("%v (%s)", syscall.Errno(r.Errno), oracleErrnoName(r.Errno))
	}
	var parts []string
	if r.Serial != 0 {
		parts = append(parts, fmt.Sprintf("serial %d", r.Serial))
	}
	if r.Data != nil {
		parts = append(parts, fmt.Sprintf("data %q", oracleTruncate(string(r.Data), 40)))
	}
	if r.Text != "" {
		parts = append(parts, fmt.Sprintf("%q", r.Text))
	}
	if len(parts) == 0 {
		return "ok"
	}
	return "ok: " + strings.Join(parts, ", ")
}

// oracleErrnoName is the errno's C name, for messages that say which errno the
// kernel should have given.
func oracleErrnoName(e int) string {
	if e == 0 {
		return "0"
	}
	if n := unix.ErrnoName(syscall.Errno(e)); n != "" {
		return n
	}
	return fmt.Sprint(e)
}

func oracleTruncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return fmt.Sprintf("%s...(%d bytes)", s[:n], len(s))
}

func oracleErrno(err error) int {
	var errno syscall.Errno
	switch {
	case err == nil:
		return 0
	case errors.As(err, &errno):
		return int(errno)
	default:
		return -1
	}
}

// oracleCtx is the context of every store call: the oracle never cancels.
var oracleCtx = context.Background()

// oracleRef is one key as both sides number it. Special ids are the same
// on both.
type oracleRef struct{ k, s int32 }

func oracleSpecial(id keyring.Serial) oracleRef { return oracleRef{int32(id), int32(id)} }

// oracleBogus is an id that is never a key: the kernel's serials start at 3.
var oracleBogus = oracleRef{1, 1}

// oracleStep is an operation on keys named by oracleRefs: what both sides
// are asked to do.
type oracleStep struct {
	op                       string
	typ, desc                string
	payload                  []byte
	key, ring, dest          oracleRef
	flags                    int
	perm                     uint32
	uid, gid                 int64
	seconds                  uint32
	create                   bool
	rtype, restriction, name *string
}

func (st oracleStep) side(kernel bool) oracleOp {
	serial := func(r oracleRef) int32 {
		if kernel {
			return r.k
		}
		return r.s
	}
	return oracleOp{
		Op: st.op, Type: st.typ, Desc: st.desc, Payload: st.payload,
		Key: serial(st.key), Ring: serial(st.ring), Dest: serial(st.dest),
		Flags: st.flags, Perm: st.perm, UID: st.uid, GID: st.gid, Seconds: st.seconds, Create: st.create,
		RType: st.rtype, Restriction: st.restriction, Name: st.name,
	}
}

// String names the operation the way keyctl(1) would spell it, with
// kernel/store serials.
func (st oracleStep) String() string {
	ref := oracleRef.String
	str := func(s *string) string {
		if s == nil {
			return "NULL"
		}
		return fmt.Sprintf("%q", *s)
	}
	payload := fmt.Sprintf("%q", oracleTruncate(string(st.payload), 16))
	switch st.op {
	case "add":
		return fmt.Sprintf("add %s %q %s into %s", st.typ, oracleTruncate(st.desc, 32), payload, ref(st.ring))
	case "update":
		return fmt.Sprintf("update %s %s", ref(st.key), payload)
	case "read", "describe", "revoke", "invalidate":
		return fmt.Sprintf("%s %s", st.op, ref(st.key))
	case "getid":
		return fmt.Sprintf("get_keyring_id %s", ref(st.key))
	case "search":
		return fmt.Sprintf("search %s %s %q dest %s", ref(st.ring), st.typ, oracleTruncate(st.desc, 32), ref(st.dest))
	case "request":
		return fmt.Sprintf("request_key %s %q dest %s", st.typ, st.desc, ref(st.dest))
	case "link", "unlink":
		return fmt.Sprintf("%s %s %s", st.op, ref(st.key), ref(st.ring))
	case "move":
		return fmt.Sprintf("move %s from %s to %s flags %d", ref(st.key), ref(st.ring), ref(st.dest), st.flags)
	case "clear":
		return fmt.Sprintf("clear %s", ref(st.ring))
	case "timeout":
		return fmt.Sprintf("set_timeout %s %d", ref(st.key), st.seconds)
	case "setperm":
		return fmt.Sprintf("setperm %s %#08x", ref(st.key), st.perm)
	case "chown":
		return fmt.Sprintf("chown %s %d %d", ref(st.key), st.uid, st.gid)
	case "restrict":
		return fmt.Sprintf("restrict %s %s %s", ref(st.ring), str(st.rtype), str(st.restriction))
	case "join":
		return fmt.Sprintf("join %s", str(st.name))
	}
	return st.op
}

// changes reports whether st changes anything when it succeeds.
func (st oracleStep) changes() bool {
	switch st.op {
	case "read", "describe", "getid":
		return false
	case "search", "request":
		return st.dest != (oracleRef{})
	}
	return true
}

// mayFree reports whether st may free keys, so that the oracle waits
// for the kernel's gc after it. Reads never free anything.
func (st oracleStep) mayFree() bool {
	switch st.op {
	case "read", "describe", "getid", "setperm", "timeout", "chown", "restrict", "update":
		return false
	case "search", "request":
		return st.dest != (oracleRef{})
	}
	return true
}

// oracleClock is the store's clock: it moves only when the oracle says,
// by as much as it slept for the kernel.
type oracleClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *oracleClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *oracleClock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// oracleStore is the store side: a fresh Store in t.TempDir().
type oracleStore struct {
	store *keyring.Store
	clock *oracleClock
}

func openOracleStore(t testing.TB) *oracleStore {
	t.Helper()
	s := &oracleStore{clock: &oracleClock{now: time.Unix(1_800_000_000, 0)}}
	var err error
	s.store, err = keyring.Open(filepath.Join(t.TempDir(), "keys.db"), keyring.Options{Now: s.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.store.Check(); err != nil {
			t.Errorf("store inconsistent after the oracle's operations: %v", err)
		}
		s.store.Close()
	})
	return s
}

// exec runs op on the store as p.
func oracleStoreExec(p *keyring.Process, op oracleOp) oracleResult {
	var r oracleResult
	var err error
	var id keyring.Serial
	key, ring, dest := keyring.Serial(op.Key), keyring.Serial(op.Ring), keyring.Serial(op.Dest)
	str := func(s *string) string {
		if s == nil {
			return ""
		}
		return *s
	}
	switch op.Op {
	case "join":
		id, err = p.JoinSession(oracleCtx, str(op.Name))
	case "add":
		id, err = p.Add(oracleCtx, op.Type, op.Desc, op.Payload, ring)
	case "update":
		err = p.Update(oracleCtx, key, op.Payload)
	case "read":
		r.Data, err = p.Read(oracleCtx, key)
	case "describe":
		var d keyring.Description
		if d, err = p.Describe(oracleCtx, key); err == nil {
			r.Text = d.String()
		}
	case "search":
		id, err = p.Search(oracleCtx, ring, op.Type, op.Desc, dest)
	case "request":
		id, err = p.RequestKey(oracleCtx, op.Type, op.Desc, dest)
	case "link":
		err = p.Link(oracleCtx, key, ring)
	case "unlink":
		err = p.Unlink(oracleCtx, key, ring)
	case "move":
		err = p.Move(oracleCtx, key, ring, dest, uint(op.Flags))
	case "clear":
		err = p.Clear(oracleCtx, ring)
	case "revoke":
		err = p.Revoke(oracleCtx, key)
	case "invalidate":
		err = p.Invalidate(oracleCtx, key)
	case "timeout":
		err = p.SetTimeout(oracleCtx, key, time.Duration(op.Seconds)*time.Second)
	case "setperm":
		err = p.SetPerm(oracleCtx, key, perms.Mask(op.Perm))
	case "chown":
		// -1 converts to Unchanged, the kernel's (uid_t)-1.
		err = p.Chown(oracleCtx, key, uint32(op.UID), uint32(op.GID))
	case "restrict":
		err = p.Restrict(oracleCtx, ring, str(op.RType), str(op.Restriction))
	case "getid":
		id, err = p.KeyringID(oracleCtx, key)
	default:
		return oracleResult{Err: fmt.Sprintf("store: unknown operation %q", op.Op)}
	}
	r.Serial = int32(id)
	if r.Errno = oracleErrno(err); r.Errno == -1 {
		r.Err = fmt.Sprintf("store: %s: error without an errno: %v", op.Op, err)
	}
	if r.Errno != 0 {
		r.Data, r.Serial, r.Text = nil, 0, ""
	}
	return r
}

// oracleActor is one caller: a kernel side and the store Process that
// stands for it.
type oracleActor struct {
	kernel  oracleKernel
	proc    *keyring.Process
	cred    perms.Cred
	session oracleRef // what @s is
}

// oracleKey is a key the oracle has seen returned by both sides.
type oracleKey struct {
	ref       oracleRef
	typ, desc string
	ring      bool
	dead      bool // both sides agree it is gone
	keep      bool // a session or user keyring: the random runs never revoke, invalidate or change it
}

// oracle drives actors in step on both sides and compares every answer.
type oracle struct {
	t      testing.TB
	store  *oracleStore
	actors []*oracleActor
	keys   []*oracleKey
	byK    map[int32]*oracleKey
	byS    map[int32]*oracleKey
	// countOwner, if not 0, is the uid whose /proc/key-users key count
	// settle checks: the oracle then knows every key that uid holds.
	countOwner uint32
	// prober is a kernel thread of this process's own, in a session of
	// its own with one empty keyring, probe, through which settle asks
	// the kernel whether keys still exist (see oracleKernelUnsettled).
	prober *oracleThread
	probe  int32
	// diverged says a known discrepancy has left the two sides different:
	// from then on, only the steps' own answers mean anything.
	diverged bool
	// leaky says a key was invalidated while linked, which in the kernel
	// leaves its keyrings charged for the links (see knownDiscrepancies).
	leaky bool
	// where says where a mismatch happened, for reproduction.
	where func() string
}

// newOracle starts an oracle comparing the kernel with store; it skips the
// test where the kernel has no keyrings.
func newOracle(t testing.TB, store *oracleStore) *oracle {
	t.Helper()
	o := &oracle{t: t, store: store, byK: map[int32]*oracleKey{}, byS: map[int32]*oracleKey{},
		where: func() string { return "" }, prober: startOracleThread()}
	t.Cleanup(func() { o.prober.close() })
	r := o.prober.do(oracleOp{Op: "join"})
	if r.Errno != 0 {
		skipOracleNoKeyrings(t, r.Errno)
	}
	if r.Err == "" && r.Errno == 0 {
		r = o.prober.do(oracleOp{Op: "add", Type: "keyring", Desc: "keyctl-go-oracle-probe", Ring: int32(keyring.SessionKeyring)})
	}
	if r.Err != "" || r.Errno != 0 {
		t.Fatalf("kernel: making the oracle's probe keyring: %v", r)
	}
	o.probe = r.Serial
	return o
}

// addActor adds a caller: kernel side k, and a store Process with cred.
// Both join a fresh anonymous session keyring first, so that @s means the
// same on both; it skips the test where the kernel has no keyrings.
func (o *oracle) addActor(k oracleKernel, cred perms.Cred) *oracleActor {
	o.t.Helper()
	a := &oracleActor{kernel: k, proc: o.store.store.Process(cred), cred: cred}
	o.actors = append(o.actors, a)
	join := oracleStep{op: "join"}
	kr := k.do(join.side(true))
	if kr.Errno != 0 {
		skipOracleNoKeyrings(o.t, kr.Errno)
	}
	if kr.Err != "" || kr.Errno != 0 {
		o.t.Fatalf("kernel as uid %d: join an anonymous session keyring: %v", cred.UID, kr)
	}
	sr := oracleStoreExec(a.proc, join.side(false))
	if m := o.compare(a, join, kr, sr); m != nil {
		o.t.Fatalf("as uid %d: %v", cred.UID, m)
	}
	o.byK[kr.Serial].keep = true
	a.session = oracleRef{kr.Serial, sr.Serial}
	return a
}

// oracleMismatch is one disagreement between the kernel and the store.
type oracleMismatch struct {
	step           oracleStep
	kernel, store  oracleResult
	detail, actor  string
	stateNotResult bool  // settle or graph, not the step's own answer
	key            int32 // settle: the key (kernel serial) the sides disagree on
}

func (m oracleMismatch) String() string {
	return fmt.Sprintf("%s%s: %s\n\tkernel: %s\n\tstore:  %s", m.actor, m.step, m.detail, m.kernel, m.store)
}

// do runs st as actor a on both sides and compares the answers. It
// returns the two results and the mismatch, if any; a known discrepancy
// is counted and not returned.
func (o *oracle) do(a *oracleActor, st oracleStep) (oracleResult, oracleResult, *oracleMismatch) {
	o.t.Helper()
	k := a.kernel.do(st.side(true))
	s := oracleStoreExec(a.proc, st.side(false))
	if k.Err != "" || s.Err != "" {
		o.t.Fatalf("%s%v: kernel %v; store %v", o.where(), st, k, s)
	}
	m := o.compare(a, st, k, s)
	if m == nil && st.op == "join" && k.Serial != 0 {
		a.session = oracleRef{k.Serial, s.Serial}
	}
	if st.op == "invalidate" && k.Errno == 0 {
		o.leaky = true
	}
	if m == nil && k.Errno == 0 && st.mayFree() {
		if m = o.settle(); m != nil {
			m.step, m.kernel, m.store = st, k, s
		}
	}
	if m != nil {
		if a != o.actors[0] {
			m.actor = fmt.Sprintf("as uid %d: ", a.cred.UID)
		}
		if d := o.matchKnown(a, *m); d != nil {
			oracleKnownMet.Store(oracleKnownKey{oracleTestName(o.t), d.name}, true)
			if st.changes() && (k.Errno == 0 || s.Errno == 0) {
				o.diverged = true
			}
			return k, s, nil
		}
	}
	return k, s, m
}

// compare checks one step's answers.
func (o *oracle) compare(a *oracleActor, st oracleStep, k, s oracleResult) *oracleMismatch {
	diff := func(format string, args ...any) *oracleMismatch {
		return &oracleMismatch{step: st, kernel: k, store: s, detail: fmt.Sprintf(format, args...)}
	}
	if o.searchOrder(a, st, k, s) {
		return nil
	}
	if k.Errno != s.Errno {
		return diff("different errno")
	}
	if k.Errno != 0 {
		return nil
	}
	switch st.op {
	case "add", "search", "request", "getid", "join":
		return o.bind(st, k, s)
	case "describe":
		if k.Text != s.Text {
			return diff("different description")
		}
	case "read":
		if detail := o.compareRead(st.key, k.Data, s.Data); detail != "" {
			return diff("%s", detail)
		}
	}
	return nil
}

// searchOrder reports whether a search's answers differ only by the order
// it visits keyrings in, which differs on purpose (doc.go: "Searches
// descend into child keyrings in description order", the kernel's go in
// its hash order). When several keys match, the first valid one wins, and
// when none is valid, the error of the last unusable one (revoked, expired,
// not searchable) is returned; so with several matches each side may pick
// another key, or give another of those errors. A search with a
// destination links what it found, and the random runs leave the
// destination out when several keys match (oracleGen.next), so that the two
// sides do not diverge.
func (o *oracle) searchOrder(a *oracleActor, st oracleStep, k, s oracleResult) bool {
	if st.op != "search" && st.op != "request" || st.dest != (oracleRef{}) {
		return false
	}
	if o.matches(st.typ, st.desc) < 2 {
		return false
	}
	if k.Errno == 0 && s.Errno == 0 {
		ek, es := o.byK[k.Serial], o.byS[s.Serial]
		if start := o.searchStart(a, st); start != nil && (ek == start || es == start) {
			return false // the start keyring matches before all others, in order or not
		}
		return ek != nil && es != nil && ek != es &&
			ek.typ == st.typ && ek.desc == st.desc && es.typ == st.typ && es.desc == st.desc
	}
	unusable := func(e int) bool {
		return e == int(unix.EKEYREVOKED) || e == int(unix.EKEYEXPIRED) || e == int(unix.EACCES)
	}
	return unusable(k.Errno) && unusable(s.Errno)
}

// searchStart is the keyring a search by a starts from, if the oracle
// knows it.
func (o *oracle) searchStart(a *oracleActor, st oracleStep) *oracleKey {
	if st.op == "request" {
		return o.entry(a, oracleSpecial(keyring.SessionKeyring))
	}
	return o.entry(a, st.ring)
}

// matches counts the keys alive with type typ and description desc.
func (o *oracle) matches(typ, desc string) int {
	n := 0
	for _, e := range o.keys {
		if !e.dead && e.typ == typ && e.desc == desc {
			n++
		}
	}
	return n
}

// bind records the serials a step returned as one key, or checks that
// they are already the same key.
func (o *oracle) bind(st oracleStep, k, s oracleResult) *oracleMismatch {
	diff := func(format string, args ...any) *oracleMismatch {
		return &oracleMismatch{step: st, kernel: k, store: s, detail: fmt.Sprintf(format, args...)}
	}
	if k.Serial == 0 || s.Serial == 0 {
		// join returns 0 when the session asked for is the current one.
		if k.Serial != s.Serial {
			return diff("one side returned no serial")
		}
		return nil
	}
	ek, es := o.byK[k.Serial], o.byS[s.Serial]
	switch {
	case ek == nil && es == nil:
		typ, desc := st.typ, st.desc
		switch st.op {
		case "join":
			typ, desc = "keyring", "_ses"
			if st.name != nil {
				desc = *st.name
			}
		case "getid":
			typ, desc = "keyring", st.key.String()
		}
		e := &oracleKey{ref: oracleRef{k.Serial, s.Serial}, typ: typ, desc: desc, ring: typ == "keyring",
			keep: st.op == "join" || st.op == "getid" && st.key.k < 0}
		o.keys = append(o.keys, e)
		o.byK[k.Serial], o.byS[s.Serial] = e, e
	case ek != es:
		name := func(e *oracleKey) string {
			if e == nil {
				return "a key not seen before"
			}
			return fmt.Sprintf("%s %q (%d/%d)", e.typ, e.desc, e.ref.k, e.ref.s)
		}
		return diff("kernel returned %s, store %s", name(ek), name(es))
	case ek.dead:
		return diff("returned a key that both sides had destroyed")
	}
	return nil
}

// String is "kernel/store" serial, or the special id's keyutils name.
func (r oracleRef) String() string {
	if r.k <= 0 {
		return keyring.Serial(r.k).String()
	}
	return fmt.Sprintf("%d/%d", r.k, r.s)
}

// isRing reports whether r names a keyring: special ids all do.
func (o *oracle) isRing(r oracleRef) bool {
	if r.k < 0 {
		return true
	}
	e := o.byK[r.k]
	return e != nil && e.ring
}

// compareRead compares two payloads read from the key r. A keyring's are
// serials, which must name the same keys on both sides; the order differs
// on purpose (doc.go: "A keyring lists its keys in insertion order ... The
// kernel's order is its hash order"), so they are compared as sets.
func (o *oracle) compareRead(r oracleRef, kdata, sdata []byte) string {
	if !o.isRing(r) {
		if !bytes.Equal(kdata, sdata) {
			return "different payload"
		}
		return ""
	}
	if len(kdata)%4 != 0 || len(sdata)%4 != 0 {
		return "a keyring's payload is not a list of serials"
	}
	var kset, sset []string
	for b := kdata; len(b) >= 4; b = b[4:] {
		id := int32(binary.LittleEndian.Uint32(b))
		if e := o.byK[id]; e != nil {
			kset = append(kset, e.ref.String())
		} else {
			kset = append(kset, fmt.Sprintf("%d/?", id))
		}
	}
	for b := sdata; len(b) >= 4; b = b[4:] {
		id := int32(binary.LittleEndian.Uint32(b))
		if e := o.byS[id]; e != nil {
			sset = append(sset, e.ref.String())
		} else {
			sset = append(sset, fmt.Sprintf("?/%d", id))
		}
	}
	slices.Sort(kset)
	slices.Sort(sset)
	if !slices.Equal(kset, sset) {
		return fmt.Sprintf("different keyring contents (as sets): kernel %v, store %v", kset, sset)
	}
	return ""
}

// settle waits until the kernel's gc has caught up with the store's. The
// store collects synchronously, "a key nothing holds any more is destroyed
// in the transaction that let go of it, so its quota is back as soon as
// that change returns" (doc.go, "Where this differs from the kernel, on
// purpose"); the kernel drops the last reference at once but destroys the
// key, releases what a dead keyring held, removes the links to invalidated
// keys and gives back quota later, in its gc work item. Rather than compare
// against a kernel that is half way there, settle polls it until every key
// the store has destroyed is destroyed in the kernel too, no key the store
// keeps is gone in the kernel, and (for a uid whose keys the oracle all
// knows) /proc/key-users counts exactly the keys alive. If that never
// happens, the two sides disagree on which keys exist, and that is reported
// as a mismatch.
func (o *oracle) settle() *oracleMismatch {
	op := oracleOp{Op: "settle", Key: o.probe, Owner: o.countOwner}
	var live []*oracleKey
	for _, e := range o.keys {
		if e.dead {
			continue
		}
		r := oracleStoreExec(o.actors[0].proc, oracleOp{Op: "describe", Key: e.ref.s})
		gone := r.Errno == int(unix.ENOKEY)
		op.Keys = append(op.Keys, e.ref.k)
		op.Dead = append(op.Dead, gone)
		live = append(live, e)
	}
	r := o.prober.do(op)
	if r.Err != "" {
		o.t.Fatalf("%ssettle: %v", o.where(), r)
	}
	if r.Errno != 0 {
		return &oracleMismatch{detail: "after the step and the kernel's gc, the sides disagree on which keys exist: " + r.Text +
			" (the kernel lets go of a key up to oracleRCUDelay after its last link went, so the" +
			" step that caused this may be one of the few before)", stateNotResult: true, key: r.Serial}
	}
	for i, e := range live {
		if op.Dead[i] {
			e.dead = true
		}
	}
	return nil
}

// quiesce waits out the kernel's RCU grace period, after which it has let
// go of every key that lost its last link, then settles: a key the store
// keeps and the kernel freed shows only once the kernel has let go of it.
func (o *oracle) quiesce() *oracleMismatch {
	time.Sleep(oracleRCUDelay)
	return o.settle()
}

// oracleRCUDelay is a generous RCU grace period: the kernel drops the
// reference a keyring link held 10-20 ms after the link goes (measured on
// 6.18 with 2 CPUs).
const oracleRCUDelay = 50 * time.Millisecond

// forget drops dead keys from the list the random runs pick from, keeping
// the last few to try operations on.
func (o *oracle) forget(keep int) {
	var dead int
	for i := len(o.keys) - 1; i >= 0; i-- {
		if e := o.keys[i]; e.dead {
			if dead++; dead > keep {
				o.keys = slices.Delete(o.keys, i, i+1)
			}
		}
	}
}

// compareGraph compares the whole graph the actor can see: for each live
// keyring, whether it can be read and the describe strings of its members,
// as a set, on each side: what a user listing the keyrings would see,
// without the serial mapping.
func (o *oracle) compareGraph(a *oracleActor) *oracleMismatch {
	members := func(exec func(oracleOp) oracleResult, ring int32) (int, []string) {
		r := exec(oracleOp{Op: "read", Key: ring})
		if r.Errno != 0 {
			return r.Errno, nil
		}
		var out []string
		for b := r.Data; len(b) >= 4; b = b[4:] {
			d := exec(oracleOp{Op: "describe", Key: int32(binary.LittleEndian.Uint32(b))})
			if d.Errno != 0 {
				out = append(out, "describe: "+oracleErrnoName(d.Errno))
			} else {
				out = append(out, d.Text)
			}
		}
		slices.Sort(out)
		return 0, out
	}
	rings := []oracleRef{oracleSpecial(keyring.SessionKeyring)}
	for _, e := range o.keys {
		if e.ring && !e.dead {
			rings = append(rings, e.ref)
		}
	}
	for _, ring := range rings {
		kerr, kset := members(a.kernel.do, ring.k)
		serr, sset := members(func(op oracleOp) oracleResult { return oracleStoreExec(a.proc, op) }, ring.s)
		if kerr != serr || !slices.Equal(kset, sset) {
			return &oracleMismatch{step: oracleStep{op: "read", key: ring},
				kernel: oracleResult{Errno: kerr, Text: strings.Join(kset, " | ")},
				store:  oracleResult{Errno: serr, Text: strings.Join(sset, " | ")},
				detail: "the keyring's members differ (describe strings, as sets)", stateNotResult: true}
		}
	}
	return nil
}

// dump describes every key the oracle knows on both sides, as actor a sees
// them, with the members of keyrings, for a mismatch's report.
func (o *oracle) dump(a *oracleActor) string {
	var b strings.Builder
	show := func(exec func(oracleOp) oracleResult, id int32, ring bool) string {
		d := exec(oracleOp{Op: "describe", Key: id})
		out := d.Text
		if d.Errno != 0 {
			out = oracleErrnoName(d.Errno)
		}
		if ring {
			r := exec(oracleOp{Op: "read", Key: id})
			if r.Errno != 0 {
				out += " [read: " + oracleErrnoName(r.Errno) + "]"
			} else {
				var members []string
				for b := r.Data; len(b) >= 4; b = b[4:] {
					members = append(members, fmt.Sprint(int32(binary.LittleEndian.Uint32(b))))
				}
				out += " [" + strings.Join(members, " ") + "]"
			}
		}
		return out
	}
	for _, e := range o.keys {
		fmt.Fprintf(&b, "\t%v %s %q dead=%t\n\t\tkernel: %s\n\t\tstore:  %s\n", e.ref, e.typ, e.desc, e.dead,
			show(a.kernel.do, e.ref.k, e.ring),
			show(func(op oracleOp) oracleResult { return oracleStoreExec(a.proc, op) }, e.ref.s, e.ring))
	}
	return b.String()
}

// cleanup invalidates, in the kernel, every key the oracle saw that is
// still alive, newest first so that keys go before the keyrings holding
// them: root's kernel quota is the machine's, and other uids' quotas must
// be free for the next run.
func (o *oracle) cleanup() {
	op := oracleOp{Op: "cleanup"}
	for _, e := range slices.Backward(o.keys) {
		if !e.dead {
			op.Keys = append(op.Keys, e.ref.k)
		}
	}
	for _, a := range o.actors {
		a.kernel.do(op)
	}
}

// knownDiscrepancy is a difference from the kernel that is not documented
// as deliberate: reported, and skipped here by exactly its match, until the
// store is fixed and the entry removed.
type knownDiscrepancy struct {
	name   string
	what   string
	kernel string // the kernel's answer
	store  string // the store's answer
	repro  string // a minimal reproduction
	// matches recognises the discrepancy in a mismatch met by actor a,
	// given what the oracle knows.
	matches func(o *oracle, a *oracleActor, m oracleMismatch) bool
}

// oracleKnownMet records which known discrepancies each top-level test met.
var oracleKnownMet sync.Map

type oracleKnownKey struct{ test, name string }

func oracleTestName(t testing.TB) string {
	name, _, _ := strings.Cut(t.Name(), "/")
	return name
}

func (o *oracle) matchKnown(a *oracleActor, m oracleMismatch) *knownDiscrepancy {
	for i := range knownDiscrepancies {
		if d := &knownDiscrepancies[i]; d.matches(o, a, m) {
			return d
		}
	}
	return nil
}

// entry returns the key r names for actor a: @s is its session.
func (o *oracle) entry(a *oracleActor, r oracleRef) *oracleKey {
	if r == oracleSpecial(keyring.SessionKeyring) {
		r = a.session
	}
	return o.byK[r.k]
}

// knownDiscrepancies are the differences from the kernel this oracle has to
// step around. Twelve more that it found were fixed (commit 20ad25a, and
// the depth-limited walk and lazy user keyrings after it); their table
// cases stay, as regression tests. The one left is deliberate, and listed
// in doc.go.
var knownDiscrepancies = []knownDiscrepancy{
	{
		name: "the kernel keeps charging for links its gc removed",
		what: "when the kernel's gc removes the links to an invalidated key, keyring_gc does not " +
			"lower the keyrings' datalen, so each keyring's owner stays charged 4 bytes per link " +
			"removed until the keyring is cleared or destroyed (measured as uid 40391: session " +
			"5 bytes, add k 12, invalidate k 9); the store gives the 4 bytes back, so near the " +
			"byte quota it allows what the kernel refuses. This is the kernel's leak, and doc.go " +
			"lists not copying it among the deliberate differences",
		kernel: "EDQUOT, up to 4 bytes per link to an invalidated key earlier",
		store:  "success",
		repro: `p := store.Process(perms.Cred{UID: 40391, GID: 40391}); p.JoinSession(ctx, "")
k, _ := p.Add(ctx, "user", "k", []byte("v"), keyring.SessionKeyring)
p.Invalidate(ctx, k)
p.Add(ctx, "user", "b", make([]byte, 19989), keyring.SessionKeyring)  // succeeds: 5+4+2+19989 = 20000
// as uid 40391: the same calls; add_key of b is EDQUOT, /proc/key-users shows 9/20000 before it`,
		matches: func(o *oracle, a *oracleActor, m oracleMismatch) bool {
			return o.leaky && m.kernel.Errno == int(unix.EDQUOT) && m.store.Errno == 0
		},
	},
}
