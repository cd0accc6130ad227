//go:build linux

package cli

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/keyctl-go/keyctl-go/ccache"
	"github.com/keyctl-go/keyctl-go/daemon"
	"github.com/keyctl-go/keyctl-go/internal/childtest"
	"github.com/keyctl-go/keyctl-go/internal/kdctest"
	"github.com/keyctl-go/keyctl-go/krb5ring"
)

// krb5Env is what every keyctl-go run of these tests gets: the store, and
// no Kerberos or session settings from the caller's environment.
func krb5Env(db string) map[string]string {
	return map[string]string{envDB: db, "XDG_RUNTIME_DIR": os.Getenv("XDG_RUNTIME_DIR")}
}

// krb5Run runs keyctl-go in-process and fails the test unless it exits 0.
func krb5Run(t *testing.T, db string, args ...string) string {
	t.Helper()
	out, errs, code := keyctlRunEnv(t, krb5Env(db), args...)
	if code != 0 {
		t.Fatalf("keyctl-go %s: exit %d: %s", strings.Join(args, " "), code, errs)
	}
	return out
}

// lineReader is a watcher's output, line by line.
type lineReader struct {
	t     *testing.T
	name  string
	lines chan string
	first string // the line startWatcher waited for
}

// startWatcher runs keyctl-go as a separate process (it must not hold the
// store, the daemon does), and returns once it has printed its first line.
func startWatcher(t *testing.T, db, name string, args ...string) *lineReader {
	t.Helper()
	r, stderr := spawnWatcher(t, db, name, args...)
	select {
	case l, ok := <-r.lines:
		if !ok {
			t.Fatalf("%s ended at once: %s", name, stderr.String())
		}
		r.first = l
	case <-time.After(10 * time.Second):
		t.Fatalf("%s printed nothing in 10 s: %s", name, stderr.String())
	}
	return r
}

// startWatcherRaw runs keyctl-go watch on a keyring and returns once it
// hears a timeout set on it (keyctl watch prints nothing before).
func startWatcherRaw(t *testing.T, db, serial string) *lineReader {
	t.Helper()
	r, stderr := spawnWatcher(t, db, "keyctl watch", "watch", serial)
	deadline := time.Now().Add(10 * time.Second)
	for {
		krb5Run(t, db, "timeout", serial, "36000")
		select {
		case l, ok := <-r.lines:
			if !ok {
				t.Fatalf("keyctl watch ended: %s", stderr.String())
			}
			if l != serial+" attr" {
				t.Fatalf("keyctl watch printed %q, want %q", l, serial+" attr")
			}
			// Drain the other timeouts' lines, if any.
			for {
				select {
				case l := <-r.lines:
					if l != serial+" attr" {
						t.Fatalf("keyctl watch printed %q, want %q", l, serial+" attr")
					}
					continue
				case <-time.After(200 * time.Millisecond):
				}
				return r
			}
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("keyctl watch heard nothing: %s", stderr.String())
		}
	}
}

func spawnWatcher(t *testing.T, db, name string, args ...string) (*lineReader, *childtest.Log) {
	t.Helper()
	cmd := exec.Command(keyctlGo, append([]string{"--db", db}, args...)...)
	cmd.Env = append(os.Environ(), "KEYCTL_GO_SOCKET=", "KEYCTL_GO_SESSION=", "KRB5CCNAME=")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := &childtest.Log{} // read by the test while the child may still write
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	r := &lineReader{t: t, name: name, lines: make(chan string, 64)}
	go func() {
		s := bufio.NewScanner(out)
		for s.Scan() {
			r.lines <- s.Text()
		}
		close(r.lines)
	}()
	return r, stderr
}

// expect reads exactly want, in order.
func (r *lineReader) expect(step string, want ...string) {
	r.t.Helper()
	for i, w := range want {
		select {
		case got, ok := <-r.lines:
			if !ok {
				r.t.Fatalf("%s, %s: ended before line %d %q", step, r.name, i+1, w)
			}
			if !matchLine(w, got) {
				r.t.Fatalf("%s, %s: line %d is %q, want %q", step, r.name, i+1, got, w)
			}
		case <-time.After(10 * time.Second):
			r.t.Fatalf("%s, %s: nothing in 10 s, want %q", step, r.name, w)
		}
	}
}

// matchLine compares a line with a wanted one in which "*" stands for the
// random part of a unique cache name.
func matchLine(want, got string) bool {
	re := regexp.QuoteMeta(want)
	re = strings.ReplaceAll(re, `krb_ccache_\*`, `krb_ccache_[0-9A-Za-z]{7}`)
	return regexp.MustCompile("^" + re + "$").MatchString(got)
}

// klistOf is klist -e -f -C on a FILE cache, with the file's name taken
// out of the "Ticket cache:" line.
func klistOf(t *testing.T, k *kdctest.KDC, path string) string {
	t.Helper()
	out := k.Run(t, "klist", "-e", "-f", "-C", "-c", "FILE:"+path)
	return strings.Replace(out, "FILE:"+path, "FILE:<cache>", 1)
}

// The whole round with MIT's tools: kinit and kvno make a FILE cache,
// keyctl-go imports it and exports it byte for byte (klist agrees); a
// renewal imported again, a second principal, a switch and a destroy are
// each heard by watchers of the collection and of the cache.
func TestKrb5WithMIT(t *testing.T) {
	k := kdctest.Start(t)
	dir := t.TempDir()
	db := filepath.Join(dir, "keys.db")
	startDaemon(t, db, storeSocketOf(t, db))
	const col = "KEYRING:session:e2e"
	cache := col + ":e2e"

	alice := filepath.Join(dir, "alice.cc")
	k.Kinit(t, alice, "alice", "-f", "-r", "2d")
	k.Run(t, "kvno", "-c", "FILE:"+alice, kdctest.Service)

	colWatch := startWatcher(t, db, "collection watcher", "krb5", "watch", col)
	cacheWatch := startWatcher(t, db, "cache watcher", "krb5", "watch", cache)

	if out := krb5Run(t, db, "krb5", "import", alice, col); out != cache+"\n" {
		t.Errorf("import printed %q, want %q", out, cache+"\n")
	}
	fast := `krb5_ccache_conf_data/fast_avail/krbtgt\/TEST.LOCAL\@TEST.LOCAL@X-CACHECONF:`
	tgt := "krbtgt/TEST.LOCAL@TEST.LOCAL"
	host := "host/svc.test.local@TEST.LOCAL"
	for _, w := range []*lineReader{colWatch, cacheWatch} {
		w.expect("import", "created "+cache, "stored "+cache+" "+fast, "stored "+cache+" "+tgt, "stored "+cache+" "+host)
	}

	exported := filepath.Join(dir, "alice.out")
	krb5Run(t, db, "krb5", "export", cache, exported)
	orig, _ := os.ReadFile(alice)
	got, _ := os.ReadFile(exported)
	if !bytes.Equal(orig, got) {
		t.Errorf("the export (%d bytes) differs from kinit's cache (%d bytes)", len(got), len(orig))
	}
	if a, b := klistOf(t, k, alice), klistOf(t, k, exported); a != b {
		t.Errorf("klist -e -f -C differs:\n--- kinit's cache\n%s--- the export\n%s", a, b)
	}

	// A raw keyctl watch of the cache keyring: a renewal swaps the keyring,
	// so its watcher hears the old one go.
	serial, colSerial := cacheKeyring(t, db, cache)
	rawWatch := startWatcherRaw(t, db, serial)
	rawColWatch := startWatcherRaw(t, db, colSerial)

	k.Run(t, "kinit", "-R", "-c", "FILE:"+alice)
	krb5Run(t, db, "krb5", "import", alice, col)
	for _, w := range []*lineReader{colWatch, cacheWatch} {
		// kinit -R keeps only the renewed TGT: no fast_avail entry, no
		// service ticket.
		w.expect("renewal", "replaced "+cache, "removed "+cache+" "+fast, "removed "+cache+" "+host)
	}
	rawWatch.expect("renewal", serial+" gc")
	// The collection keyring hears the new cache keyring linked in, in the
	// old one's place: one record, in one commit.
	renewed, _ := cacheKeyring(t, db, cache)
	rawColWatch.expect("renewal", colSerial+" link "+renewed)
	krb5Run(t, db, "krb5", "export", col, exported)
	orig, _ = os.ReadFile(alice)
	if got, _ := os.ReadFile(exported); !bytes.Equal(orig, got) {
		t.Errorf("after the renewal, the export (%d bytes) differs from kinit's cache (%d bytes)", len(got), len(orig))
	}

	bob := filepath.Join(dir, "bob.cc")
	k.Kinit(t, bob, "bob")
	krb5Run(t, db, "krb5", "import", bob, col)
	pa := `krb5_ccache_conf_data/pa_type/krbtgt\/TEST.LOCAL\@TEST.LOCAL@X-CACHECONF:`
	other := col + ":krb_ccache_*"
	colWatch.expect("kinit bob", "created "+other, "stored "+other+" "+fast, "stored "+other+" "+pa,
		"stored "+other+" "+tgt, "primary "+other)

	list := krb5Run(t, db, "krb5", "list", col)
	wantList := regexp.MustCompile(`^Principal name                 Cache name
--------------                 ----------
bob@TEST.LOCAL                 KEYRING:session:e2e:krb_ccache_[0-9A-Za-z]{7}
alice@TEST.LOCAL               KEYRING:session:e2e:e2e
$`)
	if !wantList.MatchString(list) {
		t.Errorf("krb5 list printed\n%s", list)
	}

	if out := krb5Run(t, db, "krb5", "list", cache); !strings.HasSuffix(out, "----------\n"+fmt.Sprintf("%-30s %s\n", "alice@TEST.LOCAL", cache)) {
		t.Errorf("krb5 list of one cache printed\n%s", out)
	}

	krb5Run(t, db, "krb5", "switch", cache)
	colWatch.expect("switch", "primary "+cache)
	cacheWatch.expect("switch", "primary "+cache)

	krb5Run(t, db, "krb5", "destroy", col)
	colWatch.expect("kdestroy", "cleared "+cache, "destroyed "+cache)
	cacheWatch.expect("kdestroy", "cleared "+cache, "destroyed "+cache)
	if _, errs, code := keyctlRunEnv(t, krb5Env(db), "krb5", "export", col, exported); code != 1 || !strings.Contains(errs, "no credentials cache found") {
		t.Errorf("export of the destroyed primary: exit %d, %q", code, errs)
	}
}

// cacheKeyring is the serial of a cache's keyring and of its collection's,
// asked of the daemon.
func cacheKeyring(t *testing.T, db, cache string) (ring, collection string) {
	t.Helper()
	ctx := context.Background()
	c, err := daemon.Dial(ctx, storeSocketOf(t, db))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	name, err := krb5ring.ParseName(cache)
	if err != nil {
		t.Fatal(err)
	}
	col, err := krb5ring.Open(ctx, c, name, krb5ring.Options{})
	if err != nil {
		t.Fatal(err)
	}
	id, err := col.Cache(name.Subsidiary).Keyring(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return strconv.Itoa(int(id)), strconv.Itoa(int(col.Keyring()))
}

// Misuse and bad names fail with a message naming the problem; an empty
// collection lists as klist -l lists it: the header, and exit 1.
func TestKrb5Errors(t *testing.T) {
	db := filepath.Join(t.TempDir(), "keys.db")
	tests := []struct {
		args   []string
		code   int
		stderr string
	}{
		{[]string{"krb5"}, 2, krb5Usage + "\n"},
		{[]string{"krb5", "frobnicate"}, 2, krb5Usage + "\n"},
		{[]string{"krb5", "export", "KEYRING:session:x"}, 2, krb5Usage + "\n"},
		{[]string{"krb5", "import", "/nonexistent/cc", "KEYRING:session:x"}, 1, "keyctl-go krb5 import: ccache: open /nonexistent/cc: no such file or directory\n"},
		{[]string{"krb5", "list", "FILE:/tmp/cc"}, 1, "keyctl-go krb5 list: krb5ring: not a KEYRING cache name: \"FILE:/tmp/cc\"\n"},
		{[]string{"krb5", "list", "KEYRING:bogus:x"}, 1, "keyctl-go krb5 list: krb5ring: unknown KEYRING anchor \"bogus\" in \"KEYRING:bogus:x\"\n"},
		{[]string{"krb5", "switch", "KEYRING:session:x"}, 1, "keyctl-go krb5 switch: KEYRING:session:x names a collection, not a cache in it\n"},
		{[]string{"krb5", "switch", "KEYRING:session:x:nothere"}, 1, "keyctl-go krb5 switch: krb5ring: KEYRING:session:x:nothere: no credentials cache found\n"},
		{[]string{"krb5", "export", "KEYRING:session:x", filepath.Join(t.TempDir(), "out")}, 1, "keyctl-go krb5 export: krb5ring: KEYRING:session:x:x: no credentials cache found\n"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			_, errs, code := keyctlRunEnv(t, krb5Env(db), tt.args...)
			if code != tt.code || errs != tt.stderr {
				t.Errorf("exit %d, stderr %q; want %d, %q", code, errs, tt.code, tt.stderr)
			}
		})
	}
	out, _, code := keyctlRunEnv(t, krb5Env(db), "krb5", "list", "KEYRING:session:empty")
	if code != 1 || out != "Principal name                 Cache name\n--------------                 ----------\n" {
		t.Errorf("list of an empty collection: exit %d, %q", code, out)
	}
}

// Without a name, the collection is $KRB5CCNAME if it is a KEYRING name,
// else the caller's persistent one; destroy -A empties it.
func TestKrb5DefaultCollection(t *testing.T) {
	k := kdctest.Start(t)
	dir := t.TempDir()
	db := filepath.Join(dir, "keys.db")
	cc := filepath.Join(dir, "cc")
	k.Kinit(t, cc, "alice")
	uid := strconv.Itoa(os.Getuid())
	if out := krb5Run(t, db, "krb5", "import", "FILE:"+cc); out != "KEYRING:persistent:"+uid+":"+uid+"\n" {
		t.Errorf("import into the default collection printed %q", out)
	}
	want := fmt.Sprintf("%-30s %s\n", "alice@TEST.LOCAL", "KEYRING:persistent:"+uid+":"+uid)
	if out := krb5Run(t, db, "krb5", "list"); !strings.HasSuffix(out, want) {
		t.Errorf("list printed\n%s\nwant it to end with\n%s", out, want)
	}
	env := krb5Env(db)
	env["KRB5CCNAME"] = "KEYRING:user:mine"
	if out, errs, code := keyctlRunEnv(t, env, "krb5", "import", cc); code != 0 || out != "KEYRING:user:mine:mine\n" {
		t.Errorf("import with KRB5CCNAME set: exit %d, %q %q", code, out, errs)
	}
	krb5Run(t, db, "krb5", "destroy", "-A")
	if out, _, code := keyctlRunEnv(t, krb5Env(db), "krb5", "list"); code != 1 || strings.Contains(out, "alice") {
		t.Errorf("list after destroy -A: exit %d\n%s", code, out)
	}
}

// expired is klist's rule: with a local TGT, the TGT decides; without
// one, any current ticket that is not a configuration entry.
func TestKrb5Expired(t *testing.T) {
	f, err := ccache.ReadFile("../../../ccache/testdata/mit/v4-kvno.cc")
	if err != nil {
		t.Fatal(err)
	}
	issued := time.Unix(int64(f.Credentials[1].AuthTime), 0)
	if expired(f, issued.Add(time.Hour)) {
		t.Error("expired an hour after kinit")
	}
	if !expired(f, issued.Add(11*time.Hour)) {
		t.Error("not expired 11 hours after kinit (tickets last 10)")
	}
	// Without the TGT, the service ticket decides.
	noTGT := *f
	noTGT.Credentials = []ccache.Credential{f.Credentials[0], f.Credentials[2]}
	if expired(&noTGT, issued.Add(time.Hour)) {
		t.Error("a current service ticket alone counts as expired")
	}
	// Configuration entries never count.
	onlyConf := *f
	onlyConf.Credentials = f.Credentials[:1]
	if !expired(&onlyConf, issued) {
		t.Error("a cache of configuration entries alone is not expired")
	}
}
