//go:build linux

package cli

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/keyctl-go/keyctl-go/requestkey"
)

// writeConf writes a request-key.conf, and executable scripts beside it,
// in a fresh directory any user may read.
func writeConf(t *testing.T, conf string, scripts map[string]string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "keyctl-go-conf-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range scripts {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"+body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	conf = strings.ReplaceAll(conf, "$DIR", dir)
	if err := os.WriteFile(filepath.Join(dir, "request-key.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// With a store of its own, request2 serves it to the helper while the
// helper runs: the helper's keyctl, a keyctl-go, finds the key it must
// build, its authority (@a, holding the callout information) and its
// session (_req.<key>), and instantiates the key into the requester's
// session.
func TestCalloutWithAStoreOfItsOwn(t *testing.T) {
	dir := writeConf(t, "create user debug:* * $DIR/helper.sh %k %c %S\n", map[string]string{
		"helper.sh": `out=$(keyctl rdescribe @a; keyctl print @a; keyctl rdescribe @s)` + "\n" +
			`keyctl instantiate "$1" "$(echo $out)" "$3"` + "\n",
	})
	db := filepath.Join(t.TempDir(), "keys.db")
	env := []string{envDB + "=" + db, envRequestKeyConf + "=" + dir}
	cmd := exec.Command(keyctlGo, "session", "-", "sh", "-c", `k=$(keyctl-go request2 user debug:x spoon) && keyctl-go print "$k" && keyctl-go rlist @s && echo "$k"`)
	cmd.Env = append(os.Environ(), env...)
	cmd.Env = append(cmd.Env, "PATH="+filepath.Dir(keyctlGo)+":"+os.Getenv("PATH"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 4 {
		t.Fatalf("output:\n%s", out)
	}
	key := lines[3]
	n, err := strconv.Atoi(key)
	if err != nil {
		t.Fatal(err)
	}
	ids := fmt.Sprintf("%d;%d", os.Getuid(), os.Getgid())
	want := fmt.Sprintf(".request_key_auth;%s;1b010000;%x spoon keyring;%s;3f030000;_req.%s", ids, n, ids, key)
	if lines[1] != want {
		t.Errorf("the helper saw %q\nwant %q", lines[1], want)
	}
	if lines[2] != key {
		t.Errorf("the session holds %q, want the key alone", lines[2])
	}
}

// Under a system daemon, alice's helper holds the authority for her key.
// Bob, given the very token (as if it leaked), cannot take it on: he
// cannot instantiate, reject, or read the authority. Nor can another
// process of alice's without the token. Then alice's helper builds the
// key, and alice gets what it wrote.
func TestCalloutAuthorityRefusedToOthers(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the system daemon runs as root, its clients as other uids")
	}
	const alice, bob = 1000, 1001
	socket := startSystemCLI(t, 0o755).socket
	bin := publicCopy(t)

	// The helper tells where it is and what it holds, in a file bob may
	// read, then waits to be told to go on.
	shared, err := os.MkdirTemp("", "keyctl-go-shared-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(shared) })
	os.Chmod(shared, 0o777)
	conf := writeConf(t, "create user steal:* * $DIR/helper.sh %k %S\n", map[string]string{
		"helper.sh": `echo "$KEYCTL_GO_AUTHORITY $1" >` + shared + `/held.tmp && mv ` + shared + `/held.tmp ` + shared + `/held` + "\n" +
			`while [ ! -e ` + shared + `/go ]; do sleep 0.05; done` + "\n" +
			`keyctl instantiate "$1" genuine "$2"` + "\n",
	})
	req := exec.Command(bin, "request2", "user", "steal:x", "info", "@u")
	// TMPDIR: the helper's private PATH directory is made there, and
	// this machine's /tmp may not let alice in.
	req.Env = []string{envSocket + "=" + socket, envRequestKeyConf + "=" + conf, "HOME=/nonexistent", "PATH=/usr/bin:/bin", "TMPDIR=" + shared}
	req.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: alice, Gid: alice, Groups: []uint32{}}}
	var reqOut, reqErr bytes.Buffer
	req.Stdout, req.Stderr = &reqOut, &reqErr
	if err := req.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { req.Process.Kill(); req.Wait() })
	var held []string
	deadline := time.Now().Add(20 * time.Second)
	for {
		b, err := os.ReadFile(filepath.Join(shared, "held"))
		if err == nil {
			held = strings.Fields(string(b))
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the helper never ran: %s", reqErr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(held) != 2 {
		t.Fatalf("the helper held %q", held)
	}
	authority, key := held[0], held[1]
	if k, _, err := requestkey.ParseAuthority(authority); err != nil || strconv.Itoa(int(k)) != key {
		t.Fatalf("authority %q for key %s: %v", authority, key, err)
	}

	as := func(uid uint32, auth string, args ...string) (string, string, int) {
		t.Helper()
		return runAsUser(t, bin, uid, []string{envSocket + "=" + socket, requestkey.EnvAuthority + "=" + auth}, args...)
	}
	forged := key + ":" + strings.Repeat("0", 64)
	for _, tc := range []struct {
		who  string
		uid  uint32
		auth string
		args []string
		want string
	}{
		{"bob instantiating with alice's token", bob, authority, []string{"instantiate", key, "forged", "0"}, "keyctl_instantiate: Operation not permitted\n"},
		{"bob rejecting with alice's token", bob, authority, []string{"reject", key, "30", "rejected", "0"}, "keyctl_negate: Operation not permitted\n"},
		{"bob reading the authority", bob, authority, []string{"print", "@a"}, "keyctl_read_alloc: Required key not available\n"},
		{"alice without the token", alice, forged, []string{"instantiate", key, "forged", "0"}, "keyctl_instantiate: Operation not permitted\n"},
		{"alice without the token, @a", alice, forged, []string{"print", "@a"}, "keyctl_read_alloc: Required key not available\n"},
	} {
		if out, errs, code := as(tc.uid, tc.auth, tc.args...); code != 1 || out != "" || errs != tc.want {
			t.Errorf("%s: exit %d, %q, %q; want exit 1, %q", tc.who, code, out, errs, tc.want)
		}
	}

	// The helper goes on: alice gets her key, as the helper made it.
	if err := os.WriteFile(filepath.Join(shared, "go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := req.Wait(); err != nil {
		t.Fatalf("alice's request2: %v: %s", err, reqErr.String())
	}
	if got := strings.TrimSpace(reqOut.String()); got != key {
		t.Fatalf("request2 printed %q, want %s", got, key)
	}
	if out, errs, code := as(alice, "", "print", key); code != 0 || out != "genuine\n" {
		t.Errorf("alice's key: exit %d, %q, %q", code, out, errs)
	}
	// Spent, the authority is nobody's: not even the helper's token works.
	if _, errs, code := as(alice, authority, "instantiate", key, "late", "0"); code != 1 || errs != "keyctl_instantiate: Operation not permitted\n" {
		t.Errorf("the spent authority: exit %d, %q", code, errs)
	}
}
