//go:build linux

package kcm_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/ccache"
	"github.com/keyctl-go/keyctl-go/daemon"
	"github.com/keyctl-go/keyctl-go/internal/childtest"
	"github.com/keyctl-go/keyctl-go/kcm"
	"github.com/keyctl-go/keyctl-go/keyring"
	"github.com/keyctl-go/keyctl-go/perms"
)

// hasCollection reports whether uid has a KCM collection (its persistent
// keyring's _krb) in the store: whether anything it sent was stored.
func (e *env) hasCollection(t *testing.T, uid uint32) bool {
	t.Helper()
	p := e.store.Process(perms.Cred{UID: uid, GID: uid})
	defer p.Release(ctx)
	pk, err := p.GetPersistent(ctx, keyring.OwnUID, keyring.ProcessKeyring)
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Search(ctx, pk, "keyring", "_krb", 0)
	switch {
	case errors.Is(err, unix.ENOKEY):
		return false
	case err != nil:
		t.Fatal(err)
	}
	return true
}

// A private server (a per-user daemon's KCM socket) is its user's alone.
// Its socket is 0600, so another uid cannot connect; and if the socket is
// opened to others anyway (a chmod, a careless unit file), the server
// still serves nobody but its own uid and root: uid 1001's kinit and
// klist are hung up on before a byte is read, the refusal is logged, and
// nothing of uid 1001 reaches the store, whose caches the server makes
// uncharged.
func TestPrivateServerServesItsUserOnly(t *testing.T) {
	needRoot(t)
	var log childtest.Log
	e := newEnv(t, kcm.Options{Private: true, Logger: slog.New(slog.NewTextHandler(&log, nil))})
	bin := childBinary(t)
	if fi, err := os.Lstat(e.sock); err != nil || fi.Mode() != os.ModeSocket|0o600 {
		t.Fatalf("private socket: %v, %v; want a socket of mode 0600", fi.Mode(), err)
	}
	e.kinit(nil, "alice") // root is the server's own uid
	ask := childTask{Mode: "exchange", Socket: e.sock, Requests: [][]byte{kcm.AppendRequest(nil, kcm.OpGetDefaultCache, nil)}}
	if rep := runChildTask(t, bin, &uid1001, ask); unix.Errno(rep.ConnectErrno) != unix.EACCES {
		t.Errorf("uid 1001 connecting to the 0600 socket: %+v; want EACCES", rep)
	}

	if err := os.Chmod(e.sock, 0o666); err != nil {
		t.Fatal(err)
	}
	if rep := runChildTask(t, bin, &uid1001, ask); rep.ConnectErrno != 0 || !rep.HungUp || len(rep.Replies) != 0 {
		t.Errorf("uid 1001 at the private server, socket opened to all: %+v; want connected, then hung up on without a reply", rep)
	}
	if r := e.try(&uid1001, "secret123\n", "kinit", "alice"); r.code == 0 {
		t.Errorf("kinit as uid 1001 at a private server succeeded:\n%s%s", r.out, r.err)
	}
	if r := e.try(&uid1001, "", "klist"); r.code == 0 || strings.Contains(r.out, "alice") {
		t.Errorf("klist as uid 1001 at a private server: exit %d\n%s%s", r.code, r.out, r.err)
	}
	if e.hasCollection(t, uid1001.UID) {
		t.Error("uid 1001 has a collection in the private server's store")
	}
	if l := listed(e.run("klist", "-l")); len(l) != 1 || l[0] != "alice@TEST.LOCAL KCM:0" {
		t.Errorf("klist -l as root after uid 1001's tries: %q", l)
	}
	logged := log.String()
	if !strings.Contains(logged, `msg="daemon: connection refused" uid=1001 `) ||
		!strings.Contains(logged, `reason="a per-user daemon serves its own uid and root only"`) ||
		!strings.Contains(logged, "socket="+e.sock) {
		t.Errorf("uid 1001's refusals not logged:\n%s", logged)
	}
}

// One uid holding all the connections it can get does not lock others
// out. The server, a process of its own with 320 descriptors (64 for
// ordinary uids' connections after the reserve), holds uid 1001 to its
// 16; meanwhile uid 1000's klist lists its cache within a second. Without
// the limit per uid, uid 1001 takes the whole budget and uid 1000 is
// refused; without the budget as well, the server runs out of
// descriptors and uid 1000's klist waits for uid 1001 to let go.
func TestFloodingUIDIsCapped(t *testing.T) {
	needRoot(t)
	const limit = 16
	e := newEnv(t, kcm.Options{})
	e.kinit(&uid1000, "bob")
	bin := childBinary(t)
	e.stop()
	srv := startChild(t, bin, nil, childTask{Mode: "serve", Socket: e.sock, Store: e.db,
		Serve: serveOptions{MaxConnsPerUID: limit, NoFile: 320}})
	srv.report()

	flood := startChild(t, bin, &uid1001, childTask{Mode: "hold", Holds: []hold{{Socket: e.sock, N: 400}}})
	if rep := flood.report(); len(rep.Held) != 1 || rep.Held[0] != limit {
		t.Errorf("uid 1001 holds %v connections, want its limit, %d", rep.Held, limit)
	}
	for range 3 {
		start := time.Now()
		r := e.tryWithin(&uid1000, 10*time.Second, "klist")
		if took := time.Since(start); r.code != 0 || !strings.Contains(r.out, "bob@TEST.LOCAL") || took > time.Second {
			t.Errorf("klist as uid 1000 while uid 1001 floods: exit %d in %v\n%s%s", r.code, took, r.out, r.err)
		}
	}
	if logged, ok := srv.stderr.WaitFor(5*time.Second, `msg="daemon: connection refused" uid=1001 `, `reason="connection limit per uid reached"`); !ok {
		t.Errorf("uid 1001's refusals not logged:\n%s", logged)
	}
	// Let go, uid 1001 may connect again.
	flood.stop()
	deadline := time.Now().Add(10 * time.Second)
	for {
		rep := runChildTask(t, bin, &uid1001, childTask{Mode: "hold", Holds: []hold{{Socket: e.sock, N: limit}}})
		if rep.Held[0] == limit {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("uid 1001 holds %v of %d connections 10 s after letting go of its others", rep.Held, limit)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := srv.stop(); err != nil {
		t.Errorf("the server: %v\n%s", err, srv.stderr)
	}
	e.start()
}

// The KCM server and the keyctl daemon of one process share one gate
// (kcm.Options.Gate, as keyctl-go daemon does): a uid's connections to
// both count together against one limit, while another uid keeps its own.
func TestGateSharedWithTheDaemon(t *testing.T) {
	needRoot(t)
	const limit = 4
	dir := sharedDir(t)
	store, err := keyring.Open(filepath.Join(t.TempDir(), "keys.db"), keyring.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	dsock, ksock := filepath.Join(dir, "daemon.sock"), filepath.Join(dir, "kcm.sock")
	dsrv, err := daemon.Listen(dsock, store, daemon.Options{MaxConnsPerUID: limit})
	if err != nil {
		t.Fatal(err)
	}
	go dsrv.Serve()
	defer dsrv.Close()
	ln, err := kcm.Listen(ksock, false)
	if err != nil {
		t.Fatal(err)
	}
	ksrv := kcm.NewServer(store, kcm.Options{Gate: dsrv.Gate()})
	served := make(chan error, 1)
	go func() { served <- ksrv.Serve(ln) }()
	defer func() {
		ksrv.Close()
		<-served
	}()

	bin := childBinary(t)
	both := startChild(t, bin, &uid1001, childTask{Mode: "hold", Holds: []hold{{Socket: dsock, Daemon: true, N: 3}, {Socket: ksock, N: limit}}})
	if rep := both.report(); len(rep.Held) != 2 || rep.Held[0] != 3 || rep.Held[1] != limit-3 {
		t.Errorf("uid 1001 holds %v connections to the daemon and KCM, want [3 %d]: one limit for both", rep.Held, limit-3)
	}
	other := runChildTask(t, bin, &uid1000, childTask{Mode: "hold", Holds: []hold{{Socket: ksock, N: limit}}})
	if len(other.Held) != 1 || other.Held[0] != limit {
		t.Errorf("uid 1000 holds %v KCM connections while uid 1001 is at its limit, want %d", other.Held, limit)
	}
}

// sharedDir is a fresh directory every uid may enter, as the system's
// sockets' is.
func sharedDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "kcm-trust-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// A connection that sends no whole request within FirstRequestTimeout is
// cut, and logged: uid 1001 opening connections to hold them, silent or
// half a request in, holds each for that long, not for IdleTimeout. A
// connection that sent a request may then idle past it.
func TestFirstRequestTimeout(t *testing.T) {
	needRoot(t)
	const timeout = 300 * time.Millisecond
	var log childtest.Log
	e := newEnv(t, kcm.Options{FirstRequestTimeout: timeout, Logger: slog.New(slog.NewTextHandler(&log, nil))})
	bin := childBinary(t)
	for _, half := range []bool{false, true} {
		rep := runChildTask(t, bin, &uid1001, childTask{Mode: "silent", Socket: e.sock, N: 4, Half: half})
		if rep.Cut != 4 || time.Duration(rep.Longest) > 10*timeout {
			t.Errorf("uid 1001's connections sending half a request %v: %d of 4 cut, the last after %v; want all within %v",
				half, rep.Cut, time.Duration(rep.Longest), 10*timeout)
		}
	}
	if !strings.Contains(log.String(), `msg="daemon: connection cut: no request in time" uid=1001 `) {
		t.Errorf("the cut connections not logged:\n%s", log.String())
	}

	c := e.dial()
	if code, _ := c.call(kcm.OpGetDefaultCache, nil); code != kcm.CodeOK {
		t.Fatalf("GET_DEFAULT_CACHE: %v", code)
	}
	time.Sleep(3 * timeout)
	if code, _ := c.call(kcm.OpGetDefaultCache, nil); code != kcm.CodeOK {
		t.Fatalf("GET_DEFAULT_CACHE after idling past the first-request timeout: %v", code)
	}
}

// What the server answers uid 1001 tells nothing of another uid's caches:
// neither their names nor how many there are. Asked about uid 1000's
// caches by name and by UUID, with malformed requests, and about its own
// collection, uid 1001 (a real process) gets the same bytes, code for
// code, before uid 1000 has any cache and once it has two; and no reply
// carries a principal of uid 1000's.
func TestRepliesTellNothingOfOtherUIDs(t *testing.T) {
	needRoot(t)
	e := newEnv(t, kcm.Options{})
	bin := childBinary(t)
	e.kinit(nil, "alice") // root's, for a credential to send
	cred := credBytes(t, &e.aliceCreds(t).Credentials[0])
	princ := princBytes(t, ccache.Principal{NameType: 1, Realm: "TEST.LOCAL", Components: []string{"mallory"}})
	server := princBytes(t, ccache.Principal{NameType: 2, Realm: "TEST.LOCAL", Components: []string{"krbtgt", "TEST.LOCAL"}})
	mcred := cat(u32(0x03), princ, server, make([]byte, 16), []byte{0}, u32(0))

	// battery is what uid 1001 asks, given the UUIDs of two caches (uid
	// 1000's, once it has them).
	battery := func(caches [2]uuid.UUID) [][]byte {
		reqs := [][]byte{
			kcm.AppendRequest(nil, kcm.OpGetDefaultCache, nil),
			kcm.AppendRequest(nil, kcm.OpGetCacheUUIDList, nil),
			kcm.AppendRequest(nil, kcm.OpGetCacheByUUID, caches[0][:]),
			kcm.AppendRequest(nil, kcm.OpGetCacheByUUID, caches[1][:]),
			kcm.AppendRequest(nil, kcm.OpGetCacheUUIDList, []byte("trailing")),
			kcm.AppendRequest(nil, kcm.Op(999), nil),
			{0, 0, 0, 4, 1, 0, 0, byte(kcm.OpGetDefaultCache)}, // protocol 1.0
			{0, 0, 0, 2, 2, 0}, // shorter than a header
			kcm.AppendRequest(nil, kcm.OpGetPrincipal, []byte("1000")), // no NUL
		}
		for _, n := range []string{"1000", "1000:4242", "1000:31337", "1001", "krb_ccache_x"} {
			reqs = append(reqs,
				kcm.AppendRequest(nil, kcm.OpGetPrincipal, name(n)),
				kcm.AppendRequest(nil, kcm.OpGetCredUUIDList, name(n)),
				kcm.AppendRequest(nil, kcm.OpGetCredList, name(n)),
				kcm.AppendRequest(nil, kcm.OpGetCredByUUID, cat(name(n), caches[0][:])),
				kcm.AppendRequest(nil, kcm.OpGetKDCOffset, name(n)),
				kcm.AppendRequest(nil, kcm.OpRetrieve, cat(name(n), u32(0), mcred)),
			)
			if strings.HasPrefix(n, "1000") { // writes, refused: uid 1001's own state stays as it is
				reqs = append(reqs,
					kcm.AppendRequest(nil, kcm.OpInitialize, cat(name(n), princ)),
					kcm.AppendRequest(nil, kcm.OpStore, cat(name(n), cred)),
					kcm.AppendRequest(nil, kcm.OpRemoveCred, cat(name(n), u32(0), mcred)),
					kcm.AppendRequest(nil, kcm.OpSetKDCOffset, cat(name(n), u32(7))),
					kcm.AppendRequest(nil, kcm.OpSetDefaultCache, name(n)),
					kcm.AppendRequest(nil, kcm.OpReplace, cat(name(n), u32(0), princ, u32(0))),
					kcm.AppendRequest(nil, kcm.OpDestroy, name(n)),
				)
			}
		}
		return reqs
	}
	ask := func(reqs [][]byte) [][]byte {
		t.Helper()
		rep := runChildTask(t, bin, &uid1001, childTask{Mode: "exchange", Socket: e.sock, Requests: reqs})
		if rep.HungUp || len(rep.Replies) != len(reqs) {
			t.Fatalf("uid 1001: %d replies to %d requests, hung up %v", len(rep.Replies), len(reqs), rep.HungUp)
		}
		return rep.Replies
	}
	// Before uid 1000 has a cache: UUIDs nobody's.
	before := ask(battery([2]uuid.UUID{uuid.New(), uuid.New()}))

	e.kinit(&uid1000, "bob")
	e.kinit(&uid1000, "alice", "-c", "KCM:1000:4242")
	list := runChildTask(t, bin, &uid1000, childTask{Mode: "exchange", Socket: e.sock,
		Requests: [][]byte{kcm.AppendRequest(nil, kcm.OpGetCacheUUIDList, nil)}})
	if len(list.Replies) != 1 || len(list.Replies[0]) != 12+2*16 {
		t.Fatalf("uid 1000's GET_CACHE_UUID_LIST: %+v", list)
	}
	var theirs [2]uuid.UUID
	copy(theirs[0][:], list.Replies[0][12:])
	copy(theirs[1][:], list.Replies[0][28:])
	after := ask(battery(theirs))

	reqs := battery(theirs)
	for i := range reqs {
		if !bytes.Equal(before[i], after[i]) {
			t.Errorf("%s: uid 1001 was answered %x before uid 1000 had caches, %x after", describe(reqs[i]), before[i], after[i])
		}
		for _, secret := range []string{"bob", "alice", "4242"} {
			if bytes.Contains(after[i], []byte(secret)) {
				t.Errorf("%s: the reply %x to uid 1001 says %q", describe(reqs[i]), after[i], secret)
			}
		}
	}
	if l := listed(e.runAs(&uid1000, "klist", "-l")); len(l) != 2 {
		t.Errorf("uid 1000's caches after uid 1001's requests: %q", l)
	}
}

// describe names a request for a failure message: its operation and the
// cache name it starts with, if any.
func describe(req []byte) string {
	if len(req) < 8 {
		return fmt.Sprintf("request %x", req)
	}
	op := kcm.Op(binary.BigEndian.Uint16(req[6:]))
	if i := bytes.IndexByte(req[8:], 0); i >= 0 {
		return fmt.Sprintf("%v %q", op, req[8:8+i])
	}
	return fmt.Sprintf("%v %x", op, req[8:])
}
