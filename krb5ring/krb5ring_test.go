//go:build linux

package krb5ring_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/ccache"
	"github.com/keyctl-go/keyctl-go/keyring"
	"github.com/keyctl-go/keyctl-go/krb5ring"
	"github.com/keyctl-go/keyctl-go/perms"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// goldenDir holds FILE caches made by MIT krb5 1.20.1 (see its README).
const goldenDir = "../ccache/testdata/mit"

// goldenTime is when the golden caches were made: their tickets are valid
// from then for 10 hours.
var goldenTime = time.Date(2026, 11, 22, 4, 9, 39, 0, time.UTC)

// clock is a settable clock shared by the store and the package.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// env is a store in a temp dir, a process of uid 1000 in it, and a clock
// set to when the golden caches were made.
type env struct {
	store *keyring.Store
	p     *keyring.Process
	clock *clock
	opts  krb5ring.Options
}

func newEnv(t *testing.T) *env {
	t.Helper()
	c := &clock{t: goldenTime}
	s, err := keyring.Open(filepath.Join(t.TempDir(), "keys.db"), keyring.Options{Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	p := s.Process(perms.Cred{UID: 1000, GID: 1000})
	t.Cleanup(func() {
		if err := p.Release(context.Background()); err != nil {
			t.Error(err)
		}
		if err := s.Check(); err != nil {
			t.Errorf("store inconsistent after the test: %v", err)
		}
		s.Close()
	})
	return &env{store: s, p: p, clock: c, opts: krb5ring.Options{Now: c.Now}}
}

func (e *env) open(t *testing.T, name string) *krb5ring.Collection {
	t.Helper()
	n, err := krb5ring.ParseName(name)
	if err != nil {
		t.Fatal(err)
	}
	col, err := krb5ring.Open(context.Background(), e.p, n, e.opts)
	if err != nil {
		t.Fatal(err)
	}
	return col
}

func golden(t *testing.T, name string) ([]byte, *ccache.File) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(goldenDir, name))
	if err != nil {
		t.Fatal(err)
	}
	f, err := ccache.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	return b, f
}

func TestParseName(t *testing.T) {
	tests := []struct {
		in   string
		want krb5ring.Name
		str  string
		err  error
	}{
		{in: "KEYRING:persistent:1000", want: krb5ring.Name{Anchor: "persistent", Collection: "1000"}, str: "KEYRING:persistent:1000"},
		{in: "KEYRING:persistent:", want: krb5ring.Name{Anchor: "persistent"}, str: "KEYRING:persistent:"},
		{in: "KEYRING:persistent:0:krb_ccache_Ur0eCOq", want: krb5ring.Name{Anchor: "persistent", Collection: "0", Subsidiary: "krb_ccache_Ur0eCOq"}},
		{in: "KEYRING:session:x:a:b", want: krb5ring.Name{Anchor: "session", Collection: "x", Subsidiary: "a:b"}},
		{in: "KEYRING:user:x", want: krb5ring.Name{Anchor: "user", Collection: "x"}},
		{in: "KEYRING:process:p", want: krb5ring.Name{Anchor: "process", Collection: "p"}},
		{in: "KEYRING:thread:", want: krb5ring.Name{Anchor: "thread"}},
		{in: "KEYRING:legacyx", want: krb5ring.Name{Anchor: "legacy", Collection: "legacyx"}, str: "KEYRING:legacy:legacyx"},
		{in: "FILE:/tmp/krb5cc_0", err: krb5ring.ErrNotKeyring},
		{in: "KEYRING:bogus:x", err: krb5ring.ErrInvalidAnchor},
		{in: "KEYRING:persistent:root", err: krb5ring.ErrInvalidUID},
		{in: "KEYRING:persistent:-1", err: krb5ring.ErrInvalidUID},
		{in: "KEYRING:persistent:4294967296", err: krb5ring.ErrInvalidUID},
		{in: "KEYRING:session:x:", err: krb5ring.ErrEmptySubsidiary},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			n, err := krb5ring.ParseName(tt.in)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("err %v, want %v", err, tt.err)
				}
				return
			}
			if err != nil || n != tt.want {
				t.Fatalf("got %+v, %v; want %+v", n, err, tt.want)
			}
			str := tt.str
			if str == "" {
				str = tt.in
			}
			if n.String() != str {
				t.Errorf("String() = %q, want %q", n.String(), str)
			}
		})
	}
}

// keyView is a key as keyctl show would list it: type, description, perm.
type keyView struct {
	typ, desc string
	perm      perms.Mask
}

func listKeys(t *testing.T, p *keyring.Process, ring keyring.Serial) []keyView {
	t.Helper()
	ctx := context.Background()
	ids, err := p.Keys(ctx, ring)
	if err != nil {
		t.Fatal(err)
	}
	var out []keyView
	for _, id := range ids {
		d, err := p.Describe(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, keyView{d.Type, d.Description, d.Perm})
	}
	return out
}

// mitPerm is what add_key gives every key MIT makes (§1.4 of the
// reference): possessor all but write-less bits, user view.
const mitPerm perms.Mask = 0x3f010000

// The tree MIT builds for KEYRING:session:x after kinit alice and kvno,
// key for key: descriptions, types, order, permissions and payloads.
func TestLayoutIsMITs(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	_, f := golden(t, "v4-kvno.cc")
	col := e.open(t, "KEYRING:session:x")
	if _, err := col.Import(ctx, f); err != nil {
		t.Fatal(err)
	}
	us, err := e.p.KeyringID(ctx, keyring.UserSessionKeyring)
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, k := range listKeys(t, e.p, us) {
		if k.typ == "keyring" && k.desc == "_krb_x" && k.perm == mitPerm {
			found = true
		}
	}
	if !found {
		t.Fatalf("no keyring _krb_x with perm %08x in the session anchor: %v", uint32(mitPerm), listKeys(t, e.p, us))
	}
	want := []keyView{{"user", "krb_ccache:primary", mitPerm}, {"keyring", "x", mitPerm}}
	if got := listKeys(t, e.p, col.Keyring()); !equalViews(got, want) {
		t.Errorf("collection holds %v, want %v", got, want)
	}
	primary, err := e.p.Read(ctx, col.PrimaryKey())
	if err != nil || hex.EncodeToString(primary) != "000000010000000178" {
		t.Errorf("primary payload %x, %v; want 00000001 00000001 78", primary, err)
	}
	cache, err := col.Cache("x").Keyring(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want = []keyView{
		{"user", "__krb5_princ__", mitPerm},
		{"user", "__krb5_time_offsets__", mitPerm},
		{"user", `krb5_ccache_conf_data/fast_avail/krbtgt\/TEST.LOCAL\@TEST.LOCAL@X-CACHECONF:`, mitPerm},
		{"user", "krbtgt/TEST.LOCAL@TEST.LOCAL", mitPerm},
		{"user", "host/svc.test.local@TEST.LOCAL", mitPerm},
	}
	if got := listKeys(t, e.p, cache); !equalViews(got, want) {
		t.Errorf("cache holds\n%v\nwant\n%v", got, want)
	}
	ids, _ := e.p.Keys(ctx, cache)
	princ, _ := e.p.Read(ctx, ids[0])
	if hex.EncodeToString(princ) != "0000000100000001"+"0000000a"+hex.EncodeToString([]byte("TEST.LOCAL"))+"00000005"+hex.EncodeToString([]byte("alice")) {
		t.Errorf("__krb5_princ__ holds %x", princ)
	}
	if off, _ := e.p.Read(ctx, ids[1]); !bytes.Equal(off, make([]byte, 8)) {
		t.Errorf("__krb5_time_offsets__ holds %x, want 8 zero bytes", off)
	}
	// Each credential key holds the FILE record byte for byte (sizes from
	// the reference: the conf entry 172 bytes, the TGT 577).
	for i, size := range map[int]int{2: 172, 3: 577} {
		if b, _ := e.p.Read(ctx, ids[i]); len(b) != size {
			t.Errorf("key %d holds %d bytes, want %d", i, len(b), size)
		}
	}
}

func equalViews(a, b []keyView) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Every version 4 golden cache comes back byte for byte; versions 1 to 3
// come back as the same records in version 4.
func TestImportExportByteExact(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(goldenDir, "*.cc"))
	if len(files) == 0 {
		t.Fatal("no golden caches")
	}
	for _, path := range files {
		name := filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			ctx := context.Background()
			orig, f := golden(t, name)
			want := orig
			if f.Version != ccache.Version4 {
				f4 := *f
				f4.Version, f4.Header = ccache.Version4, nil
				var err error
				if want, err = f4.Marshal(); err != nil {
					t.Fatal(err)
				}
			}
			col := e.open(t, "KEYRING:persistent:1000")
			k := col.Cache("1000")
			if err := k.Replace(ctx, f); err != nil {
				t.Fatal(err)
			}
			out, err := k.Export(ctx)
			if err != nil {
				t.Fatal(err)
			}
			got, err := out.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("export differs from the import:\n got %x\nwant %x", got, want)
			}
			var removed, config int
			for _, c := range out.Credentials {
				if c.IsRemoved() {
					removed++
				}
				if c.IsConfig() {
					config++
				}
			}
			if name == "v4-removed.cc" && removed != 2 {
				t.Errorf("%d removal markers survived, want 2", removed)
			}
			if name == "v4-preauth.cc" && config != 2 {
				t.Errorf("%d config entries survived, want 2 (fast_avail, pa_type)", config)
			}
		})
	}
}

// Import picks the cache as kinit does: the first principal gets the
// collection's default cache, a second a new unique one that becomes
// primary, and the first again its own cache back, made primary again.
func TestImportChoosesCacheLikeKinit(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	_, alice := golden(t, "v4-kinit.cc")
	_, bob := golden(t, "v4-preauth.cc")
	col := e.open(t, "KEYRING:user:x")
	k1, err := col.Import(ctx, alice)
	if err != nil {
		t.Fatal(err)
	}
	if k1.Name().String() != "KEYRING:user:x:x" {
		t.Errorf("alice went into %s, want KEYRING:user:x:x", k1.Name())
	}
	primarySerial := col.PrimaryKey()
	k2, err := col.Import(ctx, bob)
	if err != nil {
		t.Fatal(err)
	}
	sub := k2.Name().Subsidiary
	if len(sub) != len("krb_ccache_")+7 || sub[:11] != "krb_ccache_" {
		t.Errorf("bob went into %q, want krb_ccache_ and 7 characters", sub)
	}
	if p, _ := col.Primary(ctx); p != sub {
		t.Errorf("primary is %q after bob's import, want %q", p, sub)
	}
	if col.PrimaryKey() != primarySerial {
		t.Errorf("the primary key changed serial from %d to %d; MIT updates it in place", primarySerial, col.PrimaryKey())
	}
	k3, err := col.Import(ctx, alice)
	if err != nil {
		t.Fatal(err)
	}
	if k3.Name() != k1.Name() {
		t.Errorf("alice's second import went into %s, want %s", k3.Name(), k1.Name())
	}
	caches, err := col.Caches(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, k := range caches {
		names = append(names, k.Name().Subsidiary)
	}
	if len(names) != 2 || names[0] != "x" || names[1] != sub {
		t.Errorf("caches %v, want [x %s] (primary first)", names, sub)
	}
	// The user anchor's collection is linked into the process keyring
	// too: that is what gives possession.
	var linked bool
	for _, k := range listKeys(t, e.p, keyring.ProcessKeyring) {
		linked = linked || k.desc == "_krb_x"
	}
	if !linked {
		t.Error("_krb_x is not linked into the process keyring")
	}
}

// Switch rewrites krb_ccache:primary in place; Destroy leaves the
// collection and the pointer; RemoveCred drops one key.
func TestSwitchDestroyRemove(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	_, f := golden(t, "v4-kvno.cc")
	col := e.open(t, "KEYRING:session:s")
	k := col.Cache("s")
	if err := k.Replace(ctx, f); err != nil {
		t.Fatal(err)
	}
	before := col.PrimaryKey()
	if err := col.Switch(ctx, "other"); err != nil {
		t.Fatal(err)
	}
	if p, _ := col.Primary(ctx); p != "other" || col.PrimaryKey() != before {
		t.Errorf("primary %q serial %d, want other, %d", p, col.PrimaryKey(), before)
	}
	host := f.Credentials[2].Server
	if err := k.RemoveCred(ctx, host); err != nil {
		t.Fatal(err)
	}
	if err := k.RemoveCred(ctx, host); !errors.Is(err, krb5ring.ErrCredNotFound) {
		t.Errorf("removing it again: %v, want ErrCredNotFound", err)
	}
	creds, err := k.Credentials(ctx)
	if err != nil || len(creds) != 2 {
		t.Fatalf("%d credentials after removing one of 3, %v", len(creds), err)
	}
	if err := k.Destroy(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := k.Principal(ctx); !errors.Is(err, krb5ring.ErrNotFound) {
		t.Errorf("principal of a destroyed cache: %v, want ErrNotFound", err)
	}
	if got := listKeys(t, e.p, col.Keyring()); len(got) != 1 || got[0].desc != "krb_ccache:primary" {
		t.Errorf("collection holds %v after destroy, want just the primary pointer", got)
	}
}

// Initialize and Store one by one, as MIT does, give the same cache as
// Replace; Initialize clears the keyring in place.
func TestInitializeAndStore(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	orig, f := golden(t, "v4-kvno.cc")
	col := e.open(t, "KEYRING:session:i")
	k := col.Cache("i")
	if err := k.Initialize(ctx, f.DefaultPrincipal, &krb5ring.TimeOffset{}); err != nil {
		t.Fatal(err)
	}
	id, _ := k.Keyring(ctx)
	if err := k.Store(ctx, &f.Credentials[0]); err != nil {
		t.Fatal(err)
	}
	if err := k.Initialize(ctx, f.DefaultPrincipal, &krb5ring.TimeOffset{}); err != nil {
		t.Fatal(err)
	}
	if again, _ := k.Keyring(ctx); again != id {
		t.Errorf("Initialize made keyring %d, want %d cleared in place", again, id)
	}
	for i := range f.Credentials {
		if err := k.Store(ctx, &f.Credentials[i]); err != nil {
			t.Fatal(err)
		}
	}
	out, err := k.Export(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := out.Marshal(); !bytes.Equal(got, orig) {
		t.Errorf("stored one by one, the export differs from MIT's file")
	}
}

// The keys expire with their tickets: the cache keyring at the latest
// endtime (10 h after the golden caches were made), the store's clock
// says so.
func TestTimeouts(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	_, f := golden(t, "v4-kinit.cc")
	col := e.open(t, "KEYRING:session:t")
	k := col.Cache("t")
	if err := k.Replace(ctx, f); err != nil {
		t.Fatal(err)
	}
	e.clock.Add(10*time.Hour - time.Second)
	if _, err := k.Export(ctx); err != nil {
		t.Fatalf("a second before the tickets end: %v", err)
	}
	e.clock.Add(2 * time.Second)
	if _, err := k.Export(ctx); !errors.Is(err, krb5ring.ErrNotFound) {
		t.Errorf("after the tickets ended: %v, want the cache gone (ErrNotFound)", err)
	}
	// An already expired cache gets 1 s, as MIT gives it.
	e.opts.Now = func() time.Time { return goldenTime.Add(11 * time.Hour) }
	col = e.open(t, "KEYRING:session:old")
	k = col.Cache("old")
	if err := k.Replace(ctx, f); err != nil {
		t.Fatal(err)
	}
	if _, err := k.Export(ctx); err != nil {
		t.Fatalf("just imported: %v", err)
	}
	e.clock.Add(2 * time.Second)
	if _, err := k.Export(ctx); !errors.Is(err, krb5ring.ErrNotFound) {
		t.Errorf("2 s after importing expired tickets: %v, want ErrNotFound", err)
	}
}

// The legacy cache is linked into the session anchor too, and has no time
// offset key.
func TestLegacy(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	_, f := golden(t, "v4-kinit.cc")
	col := e.open(t, "KEYRING:legacyx")
	k, err := col.Import(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	if k.Name().String() != "KEYRING:legacy:legacyx:legacyx" {
		t.Errorf("cache name %s", k.Name())
	}
	us, _ := e.p.KeyringID(ctx, keyring.UserSessionKeyring)
	var descs []string
	for _, kv := range listKeys(t, e.p, us) {
		if kv.desc != "_uid.1000" { // the user keyring, which @us always holds
			descs = append(descs, kv.desc)
		}
	}
	if len(descs) != 2 || descs[0] != "_krb_legacyx" || descs[1] != "legacyx" {
		t.Errorf("session anchor holds %v, want [_krb_legacyx legacyx]", descs)
	}
	id, _ := k.Keyring(ctx)
	for _, kv := range listKeys(t, e.p, id) {
		if kv.desc == "__krb5_time_offsets__" {
			t.Error("the legacy cache has a time offset key")
		}
	}
	if err := k.Destroy(ctx); err != nil {
		t.Fatal(err)
	}
	if got := listKeys(t, e.p, us); len(got) != 2 || got[1].desc != "_krb_legacyx" {
		t.Errorf("session anchor holds %v after destroy, want _uid.1000 and _krb_legacyx", got)
	}
}

// While one writer replaces a cache over and over, a reader that looks it
// up by name always finds it whole.
func TestReplaceIsNeverSeenEmpty(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	_, f := golden(t, "v4-kvno.cc")
	col := e.open(t, "KEYRING:session:r")
	k := col.Cache("r")
	if err := k.Replace(ctx, f); err != nil {
		t.Fatal(err)
	}
	reader := e.store.Process(perms.Cred{UID: 1000, GID: 1000})
	defer reader.Release(ctx)
	rcol, err := krb5ring.Open(ctx, reader, col.Name(), e.opts)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	errs := make(chan error, 1)
	go func() {
		defer close(errs)
		rk := rcol.Cache("r")
		for {
			select {
			case <-done:
				return
			default:
			}
			out, err := rk.Export(ctx)
			if err == nil && len(out.Credentials) != 3 {
				err = errors.New("a cache with " + string(rune('0'+len(out.Credentials))) + " credentials")
			}
			if err != nil && !errors.Is(err, unix.ENOKEY) {
				errs <- err
				return
			}
		}
	}()
	for range 20 {
		if err := k.Replace(ctx, f); err != nil {
			t.Fatal(err)
		}
	}
	close(done)
	if err := <-errs; err != nil {
		t.Errorf("a reader saw: %v", err)
	}
}

// A credential that does not fit a user key goes into a big_key; storing
// it again small puts it back in a user key, never leaving two.
func TestBigCredentialIsABigKey(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	_, f := golden(t, "v4-kinit.cc")
	col := e.open(t, "KEYRING:session:big")
	k := col.Cache("big")
	if err := k.Replace(ctx, f); err != nil {
		t.Fatal(err)
	}
	big := f.Credentials[1]
	big.Ticket = bytes.Repeat([]byte{0x61}, keyring.MaxUserPayload)
	if err := k.Store(ctx, &big); err != nil {
		t.Fatal(err)
	}
	id, _ := k.Keyring(ctx)
	types := func() map[string]string {
		m := map[string]string{}
		for _, kv := range listKeys(t, e.p, id) {
			if _, dup := m[kv.desc]; dup {
				t.Errorf("two keys for %q", kv.desc)
			}
			m[kv.desc] = kv.typ
		}
		return m
	}
	if typ := types()[big.Server.String()]; typ != "big_key" {
		t.Errorf("a %d-byte ticket went into a %s key, want big_key", len(big.Ticket), typ)
	}
	out, err := k.Export(ctx)
	if err != nil || len(out.Credentials) != 2 || !bytes.Equal(out.Credentials[1].Ticket, big.Ticket) {
		t.Fatalf("export after storing the big ticket: %v", err)
	}
	if err := k.Store(ctx, &f.Credentials[1]); err != nil {
		t.Fatal(err)
	}
	if typ := types()[big.Server.String()]; typ != "user" {
		t.Errorf("stored small again, the ticket is in a %s key, want user", typ)
	}
}

// Each anchor puts the collection where MIT puts it, with the process
// keyring link MIT adds for possession under user and persistent.
func TestAnchors(t *testing.T) {
	tests := []struct {
		name    string
		anchor  keyring.Serial // 0: the persistent keyring
		ring    string         // the collection keyring's description
		primary string
		inP     bool // also linked into the process keyring
	}{
		{"KEYRING:persistent:1000", 0, "_krb", "1000", true},
		{"KEYRING:persistent:", 0, "_krb", "tkt", true},
		{"KEYRING:user:a", keyring.UserKeyring, "_krb_a", "a", true},
		{"KEYRING:session:a", keyring.UserSessionKeyring, "_krb_a", "a", false},
		{"KEYRING:process:a", keyring.ProcessKeyring, "_krb_a", "a", true},
		{"KEYRING:thread:a", keyring.ThreadKeyring, "_krb_a", "a", false},
		{"KEYRING:session:", keyring.UserSessionKeyring, "_krb_", "tkt", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			ctx := context.Background()
			_, f := golden(t, "v4-kinit.cc")
			col := e.open(t, tt.name)
			k, err := col.Import(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			if k.Name().Subsidiary != tt.primary {
				t.Errorf("the first cache is %q, want %q", k.Name().Subsidiary, tt.primary)
			}
			anchor := tt.anchor
			if anchor == 0 {
				if anchor, err = e.p.GetPersistent(ctx, keyring.OwnUID, keyring.ProcessKeyring); err != nil {
					t.Fatal(err)
				}
			}
			has := func(ring keyring.Serial, desc string) bool {
				for _, kv := range listKeys(t, e.p, ring) {
					if kv.desc == desc && kv.typ == "keyring" {
						return true
					}
				}
				return false
			}
			if !has(anchor, tt.ring) {
				t.Errorf("%s is not in its anchor %v: %v", tt.ring, anchor, listKeys(t, e.p, anchor))
			}
			if tt.anchor == 0 && !has(keyring.ProcessKeyring, "_persistent.1000") {
				t.Error("the persistent keyring is not linked into the process keyring")
			}
			if got := has(keyring.ProcessKeyring, tt.ring); tt.anchor != keyring.ProcessKeyring && got != tt.inP {
				t.Errorf("%s linked into the process keyring: %v, want %v", tt.ring, got, tt.inP)
			}
		})
	}
}

// A process collection lives as long as the process: another one does not
// find it.
func TestProcessAnchorDiesWithTheProcess(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	_, f := golden(t, "v4-kinit.cc")
	if _, err := e.open(t, "KEYRING:process:p").Import(ctx, f); err != nil {
		t.Fatal(err)
	}
	other := e.store.Process(perms.Cred{UID: 1000, GID: 1000})
	defer other.Release(ctx)
	name, _ := krb5ring.ParseName("KEYRING:process:p")
	col, err := krb5ring.Open(ctx, other, name, e.opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := col.Cache("p").Principal(ctx); !errors.Is(err, krb5ring.ErrNotFound) {
		t.Errorf("another process found the cache: %v", err)
	}
}
