//go:build linux

package krb5ring_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/keyctl-go/keyctl-go/ccache"
	"github.com/keyctl-go/keyctl-go/internal/kdctest"
	"github.com/keyctl-go/keyctl-go/keyring"
	"github.com/keyctl-go/keyctl-go/krb5ring"
	"github.com/keyctl-go/keyctl-go/perms"
)

// kernelDump is a shell function printing a keyring tree as
// "K <depth> <type>;<uid>;<gid>;<perm>;<desc>" lines, each key followed by
// "P <payload hex>" unless it is a keyring.
const kernelDump = `dump() {
	for id in $(keyctl rlist "$1"); do
		d=$(keyctl rdescribe "$id")
		echo "K $2 $d"
		case "$d" in
		keyring\;*) dump "$id" "$2+" ;;
		*) echo "P $(keyctl pipe "$id" | od -An -v -tx1 | tr -d ' \n')" ;;
		esac
	done
}
`

// treeKey is a key of a dumped tree: its place (the descriptions of the
// keyrings above it), what rdescribe says, and its payload.
type treeKey struct {
	path, desc string
	payload    string
}

// uniqueRE matches the random part of a unique cache name.
var uniqueRE = regexp.MustCompile(`krb_ccache_[0-9A-Za-z]{7}`)

// masked replaces unique cache names, in text and in hex payloads, so two
// trees made with different random names compare.
func masked(s string) string {
	s = uniqueRE.ReplaceAllString(s, "krb_ccache_XXXXXXX")
	if b, err := hex.DecodeString(s); err == nil && len(s) > 0 {
		return hex.EncodeToString(uniqueRE.ReplaceAll(b, []byte("krb_ccache_XXXXXXX")))
	}
	return s
}

// parseDump reads kernelDump's output into keys, sorted: the kernel lists
// a keyring in hash order, the store in insertion order.
func parseDump(t *testing.T, out string) []treeKey {
	t.Helper()
	var keys []treeKey
	var stack []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		switch {
		case strings.HasPrefix(line, "K "):
			f := strings.SplitN(line[2:], " ", 2)
			if len(f) != 2 {
				t.Fatalf("dump line %q", line)
			}
			depth := strings.Count(f[0], "+")
			desc := f[1]
			stack = append(stack[:depth], lastField(desc))
			keys = append(keys, treeKey{path: strings.Join(stack[:depth], "/"), desc: masked(desc)})
		case strings.HasPrefix(line, "P "):
			keys[len(keys)-1].payload = masked(strings.TrimSpace(line[2:]))
		default:
			t.Fatalf("dump line %q", line)
		}
	}
	for i := range keys {
		keys[i].path = masked(keys[i].path)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].path != keys[j].path {
			return keys[i].path < keys[j].path
		}
		return keys[i].desc < keys[j].desc
	})
	return keys
}

func lastField(rdesc string) string {
	parts := strings.SplitN(rdesc, ";", 5)
	return parts[len(parts)-1]
}

// The oracle: MIT kinit, kvno and a second kinit into KEYRING:session:x
// in the kernel (a private session keyring), and the same credentials
// imported here into a private session of the store, give the same tree:
// keyring and key names, types, owners, permissions and payloads, with
// only the random part of the second cache's name and the keys' order
// allowed to differ.
func TestLayoutMatchesMITInTheKernel(t *testing.T) {
	if _, err := exec.LookPath("keyctl"); err != nil {
		t.Skip("keyctl not found (install keyutils)")
	}
	if err := exec.Command("keyctl", "session", "-", "true").Run(); err != nil {
		t.Skipf("no kernel keyrings here (keyctl session: %v)", err)
	}
	k := kdctest.Start(t)
	script := kernelDump + fmt.Sprintf(`set -e
export KRB5CCNAME=KEYRING:session:x
echo %s | kinit alice >/dev/null
kvno %s >/dev/null
echo %s | kinit bob >/dev/null
echo "K  $(keyctl rdescribe @s)"
dump @s "+"
`, kdctest.Password["alice"], kdctest.Service, kdctest.Password["bob"])
	cmd := k.Command("keyctl", "session", "-", "sh", "-c", script)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("MIT in the kernel: %v\n%s", err, stderr.String())
	}
	// keyctl session may say which keyring it joined, first.
	dump := string(out)
	if i := strings.Index(dump, "\nK "); !strings.HasPrefix(dump, "K ") && i >= 0 {
		dump = dump[i+1:]
	}
	kernel := parseDump(t, dump)

	// The same caches, rebuilt as FILE caches from the kernel's payloads.
	files := kernelFiles(t, kernel)
	s, err := keyring.Open(t.TempDir()+"/keys.db", keyring.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// The caller's own ids, which MIT's keys in the kernel carry.
	p := s.Process(perms.Cred{UID: uint32(os.Getuid()), GID: uint32(os.Getgid())})
	ctx := context.Background()
	defer p.Release(ctx)
	if _, err := p.JoinSession(ctx, ""); err != nil {
		t.Fatal(err)
	}
	name, _ := krb5ring.ParseName("KEYRING:session:x")
	col, err := krb5ring.Open(ctx, p, name, krb5ring.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if _, err := col.Import(ctx, f); err != nil {
			t.Fatal(err)
		}
	}
	ours := parseDump(t, storeDump(t, p, keyring.SessionKeyring, ""))
	if len(ours) != len(kernel) {
		t.Errorf("%d keys here, %d in the kernel", len(ours), len(kernel))
	}
	for i := 0; i < len(ours) && i < len(kernel); i++ {
		if ours[i] != kernel[i] {
			t.Errorf("key %d differs:\n here   %+v\n kernel %+v", i, ours[i], kernel[i])
		}
	}
}

// kernelFiles rebuilds each cache of the dumped tree as a version 4 FILE
// cache: the time offset, the principal and the credential payloads, alice
// first (the order kinit made them in).
func kernelFiles(t *testing.T, keys []treeKey) []*ccache.File {
	t.Helper()
	type cache struct{ offset, princ, creds string }
	caches := map[string]*cache{}
	for _, k := range keys {
		if !strings.HasPrefix(k.path, "_ses/_krb_x/") {
			continue
		}
		c := caches[k.path]
		if c == nil {
			c = &cache{}
			caches[k.path] = c
		}
		switch lastField(k.desc) {
		case "__krb5_princ__":
			c.princ = k.payload
		case "__krb5_time_offsets__":
			c.offset = k.payload
		default:
			c.creds += k.payload
		}
	}
	var files []*ccache.File
	for _, path := range []string{"_ses/_krb_x/x", "_ses/_krb_x/krb_ccache_XXXXXXX"} {
		c := caches[path]
		if c == nil {
			t.Fatalf("the kernel tree has no cache %s", path)
		}
		b, err := hex.DecodeString("0504000c00010008" + c.offset + c.princ + c.creds)
		if err != nil {
			t.Fatal(err)
		}
		f, err := ccache.Parse(b)
		if err != nil {
			t.Fatalf("cache %s: %v", path, err)
		}
		files = append(files, f)
	}
	return files
}

// storeDump prints the store's tree below ring as kernelDump prints the
// kernel's, starting with ring itself.
func storeDump(t *testing.T, p *keyring.Process, ring keyring.Serial, depth string) string {
	t.Helper()
	ctx := context.Background()
	var b strings.Builder
	var walk func(id keyring.Serial, depth string)
	walk = func(id keyring.Serial, depth string) {
		ids, err := p.Keys(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		for _, child := range ids {
			d, err := p.Describe(ctx, child)
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&b, "K %s %s;%d;%d;%08x;%s\n", depth, d.Type, d.UID, d.GID, uint32(d.Perm), d.Description)
			if d.Type == "keyring" {
				walk(child, depth+"+")
				continue
			}
			payload, err := p.Read(ctx, child)
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&b, "P %x\n", payload)
		}
	}
	d, err := p.Describe(ctx, ring)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(&b, "K %s %s;%d;%d;%08x;%s\n", depth, d.Type, d.UID, d.GID, uint32(d.Perm), d.Description)
	walk(ring, depth+"+")
	return b.String()
}
