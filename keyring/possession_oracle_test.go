//go:build linux

package keyring_test

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/keyring"
	"github.com/keyctl-go/keyctl-go/perms"
)

// The kernel as the oracle for the ways into another keyring's
// possession: two users, each a process of its own uid on the machine's
// kernel and a Process on a store. The kernel hands a session on by
// inheritance and by join by name, so where the store takes a serial
// (AdoptSession), the kernel's answer is whether joining the keyring's
// name lands in that keyring.
func TestOracleKernelPossessionPaths(t *testing.T) {
	bin := oracleChildBinary(t)
	// Uids and names of their own: the kernel's user keyrings and named
	// keyrings are the whole machine's, shared with other tests.
	a := perms.Cred{UID: 47311, GID: 47311}
	b := perms.Cred{UID: 47312, GID: 47312}
	var sfx [6]byte
	rand.Read(sfx[:])
	name := func(s string) string { return "kg-possession-" + hex.EncodeToString(sfx[:]) + "-" + s }

	ka, kb := startOracleChild(t, bin, a), startOracleChild(t, bin, b)
	defer func() {
		for _, k := range []*oracleChild{ka, kb} {
			if err := k.close(); err != nil {
				t.Error(err)
			}
		}
	}()
	kdo := func(k *oracleChild, op oracleOp) oracleResult {
		t.Helper()
		r := k.do(op)
		if r.Err != "" {
			t.Fatalf("kernel as %d: %s: %s", k.cred.UID, op.Op, r.Err)
		}
		return r
	}
	str := func(s string) *string { return &s }
	for _, k := range []*oracleChild{ka, kb} {
		if r := k.do(oracleOp{Op: "join"}); r.Errno != 0 || r.Err != "" {
			skipOracleNoKeyrings(t, r.Errno)
			t.Fatalf("kernel as %d: join: %v", k.cred.UID, r)
		}
	}
	e := newEnv(t, keyring.Options{})
	pa, pb := e.store.Process(a), e.store.Process(b)
	defer pa.Release(ctx)
	defer pb.Release(ctx)
	must[keyring.Serial](t)(pa.JoinSession(ctx, ""))
	must[keyring.Serial](t)(pb.JoinSession(ctx, ""))

	agree := func(what string, kernel, store bool) {
		t.Helper()
		if kernel != store {
			t.Errorf("%s: kernel %v, store %v", what, kernel, store)
		}
	}
	errnoOf := func(err error) int {
		var e unix.Errno
		if errors.As(err, &e) {
			return int(e)
		}
		return 0
	}

	// A named session its owner did not open to others: bob's join of
	// the name makes a keyring of his own, in both.
	closed := name("closed")
	kClosed := kdo(ka, oracleOp{Op: "join", Name: str(closed)}).Serial
	sClosed := must[keyring.Serial](t)(pa.JoinSession(ctx, closed))
	agree("bob joining alice's closed named session lands in hers",
		kdo(kb, oracleOp{Op: "join", Name: str(closed)}).Serial == kClosed,
		must[keyring.Serial](t)(pb.JoinSession(ctx, closed)) == sClosed)
	// Asked while alice's process still has it as its session: once she
	// joins another, the kernel's gc may collect it (ENOKEY) at any moment.
	_, err := pb.Describe(ctx, sClosed)
	if k, s := kdo(kb, oracleOp{Op: "describe", Key: kClosed}).Errno, errnoOf(err); k != s || k != int(unix.EACCES) {
		t.Errorf("bob describing alice's named session: kernel %v, store %v; want EACCES", unix.Errno(k), unix.Errno(s))
	}
	// Opened to others' Search: bob's join lands in hers, in both.
	open := name("open")
	kOpen := kdo(ka, oracleOp{Op: "join", Name: str(open)}).Serial
	kdo(ka, oracleOp{Op: "setperm", Key: int32(keyring.SessionKeyring), Perm: 0x3f130008})
	sOpen := must[keyring.Serial](t)(pa.JoinSession(ctx, open))
	must[struct{}](t)(struct{}{}, pa.SetPerm(ctx, keyring.SessionKeyring, 0x3f130008))
	agree("bob joining alice's open named session lands in hers",
		kdo(kb, oracleOp{Op: "join", Name: str(open)}).Serial == kOpen,
		must[keyring.Serial](t)(pb.JoinSession(ctx, open)) == sOpen)

	// Keyrings alice made: one that grants her Search, one with the
	// default mask. The kernel's join by name lands in the first for her
	// alone; the store adopts it for her alone.
	for _, ring := range []struct {
		what string
		perm uint32
	}{{"searchable", 0x3f0b0000}, {"private", 0x3f010000}} {
		desc := name(ring.what)
		kr := kdo(ka, oracleOp{Op: "add", Type: "keyring", Desc: desc, Ring: int32(keyring.SessionKeyring)}).Serial
		kdo(ka, oracleOp{Op: "setperm", Key: kr, Perm: ring.perm})
		sr := must[keyring.Serial](t)(pa.Add(ctx, "keyring", desc, nil, keyring.SessionKeyring))
		must[struct{}](t)(struct{}{}, pa.SetPerm(ctx, sr, perms.Mask(ring.perm)))
		agree("bob taking alice's "+ring.what+" keyring as his session",
			kdo(kb, oracleOp{Op: "join", Name: str(desc)}).Serial == kr,
			pb.AdoptSession(ctx, sr) == nil)
		agree("alice taking her "+ring.what+" keyring as her session",
			kdo(ka, oracleOp{Op: "join", Name: str(desc)}).Serial == kr,
			pa.AdoptSession(ctx, sr) == nil)
	}

	// Her user keyring, by its name: it grants her Search, and the
	// kernel's join finds it under its name; bob's makes a new keyring.
	kUser := kdo(ka, oracleOp{Op: "getid", Key: int32(keyring.UserKeyring), Create: true}).Serial
	sUser := must[keyring.Serial](t)(pa.KeyringID(ctx, keyring.UserKeyring))
	userName := "_uid." + strconv.Itoa(int(a.UID))
	agree("alice taking her @u as her session",
		kdo(ka, oracleOp{Op: "join", Name: str(userName)}).Serial == kUser,
		pa.AdoptSession(ctx, sUser) == nil)
	agree("bob taking alice's @u as his session",
		kdo(kb, oracleOp{Op: "join", Name: str(userName)}).Serial == kUser,
		pb.AdoptSession(ctx, sUser) == nil)

	// Another uid's persistent keyring needs CAP_SETUID; linking alice's
	// @u needs a Link bob does not have; describing it, View.
	_, err = pb.GetPersistent(ctx, a.UID, keyring.SessionKeyring)
	if k, s := kdo(kb, oracleOp{Op: "persistent", UID: int64(a.UID), Ring: int32(keyring.SessionKeyring)}).Errno, errnoOf(err); k != s || k != int(unix.EPERM) {
		t.Errorf("bob getting alice's persistent keyring: kernel %v, store %v; want EPERM", unix.Errno(k), unix.Errno(s))
	}
	if k, s := kdo(kb, oracleOp{Op: "link", Key: kUser, Ring: int32(keyring.SessionKeyring)}).Errno, errnoOf(pb.Link(ctx, sUser, keyring.SessionKeyring)); k != s || k != int(unix.EACCES) {
		t.Errorf("bob linking alice's @u: kernel %v, store %v; want EACCES", unix.Errno(k), unix.Errno(s))
	}
}
