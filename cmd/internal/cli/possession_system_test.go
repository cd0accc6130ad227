//go:build linux

package cli

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The two users of the possession tests.
const (
	aliceUID = 1000
	bobUID   = 1001
)

// systemDaemon starts `keyctl-go daemon --system` on fresh paths and
// returns its socket and a directory every user may write in.
func systemDaemon(t *testing.T) (socket, shared string) {
	t.Helper()
	d := startSystemCLI(t, 0o777|os.ModeSticky)
	socket, shared = d.socket, filepath.Join(d.root, "shared")
	if err := os.Mkdir(shared, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(shared, 0o777|os.ModeSticky); err != nil {
		t.Fatal(err)
	}
	return socket, shared
}

// user runs keyctl-go commands as one uid against the system daemon.
type user struct {
	t          *testing.T
	bin        string
	socket     string
	uid        uint32
	runtimeDir string // $XDG_RUNTIME_DIR, the user's own
}

// newUser is uid running bin against the daemon at socket, with a
// runtime directory of its own, as a login gives one.
func newUser(t *testing.T, bin, socket string, uid uint32) user {
	t.Helper()
	run, err := os.MkdirTemp("", "keyctl-go-run-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(run) })
	if err := os.Chown(run, int(uid), int(uid)); err != nil {
		t.Fatal(err)
	}
	return user{t, bin, socket, uid, run}
}

// command is the keyctl-go binary as the user, with extra environment.
func (u user) command(env []string, args ...string) *exec.Cmd {
	return u.program(env, u.bin, args...)
}

// program is any program as the user, with keyctl-go in its PATH.
func (u user) program(env []string, prog string, args ...string) *exec.Cmd {
	cmd := exec.Command(prog, args...)
	cmd.Env = append([]string{envSocket + "=" + u.socket, "HOME=/nonexistent",
		"PATH=" + filepath.Dir(u.bin) + ":/usr/bin:/bin", "XDG_RUNTIME_DIR=" + u.runtimeDir}, env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: u.uid, Gid: u.uid, Groups: []uint32{}}}
	return cmd
}

// mustBash runs a bash script as the user, which has to work, and
// returns its output's first line: for commands that act on their
// parent, which must be the user's (new_session).
func (u user) mustBash(script string) string {
	u.t.Helper()
	out, err := u.program(nil, "bash", "-c", script).Output()
	if err != nil {
		u.t.Fatalf("uid %d: %s: %v", u.uid, script, err)
	}
	return strings.TrimSpace(strings.SplitN(string(out), "\n", 2)[0])
}

// runIn runs keyctl-go in session (0: none) and returns its stdout,
// stderr and exit code.
func (u user) runIn(session string, args ...string) (string, string, int) {
	u.t.Helper()
	var env []string
	if session != "" {
		env = append(env, envSession+"="+session)
	}
	cmd := u.command(env, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		u.t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

// must runs a command that has to work and returns its output's first
// line.
func (u user) must(session string, args ...string) string {
	u.t.Helper()
	out, errs, code := u.runIn(session, args...)
	if code != 0 {
		u.t.Fatalf("uid %d: keyctl-go %s: exit %d, %s", u.uid, strings.Join(args, " "), code, errs)
	}
	return strings.TrimSpace(strings.SplitN(out, "\n", 2)[0])
}

// waitFile waits for a file a child writes, and returns its contents.
func waitFile(t *testing.T, path string) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if b, err := os.ReadFile(path); err == nil && bytes.HasSuffix(b, []byte("\n")) {
			return strings.TrimSpace(string(b))
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never written", path)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Issue 12, finding 1: $KEYCTL_GO_SESSION naming another user's keyring
// made it the session, and its keys possessed. Bob now gets none of
// alice's keyrings as a session, and reads or updates none of her keys
// through them; alice gets back what the kernel would have let her have.
func TestSessionFromAnotherUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the system daemon runs as root, its clients as other uids")
	}
	socket, shared := systemDaemon(t)
	bin := publicCopy(t)
	alice := newUser(t, bin, socket, aliceUID)
	bob := newUser(t, bin, socket, bobUID)

	type held struct{ ring, key, secret string }
	rings := map[string]held{}
	keep := func(what, ring, key, secret string) { rings[what] = held{ring, key, secret} }

	// Her keyrings, each with a secret of hers in it.
	userRing := alice.must("", "id", "@u")
	keep("@u", userRing, alice.must("", "add", "user", "u", "alice's @u secret", "@u"), "alice's @u secret")
	us := alice.must("", "id", "@us")
	keep("@us", us, alice.must("", "add", "user", "us", "alice's @us secret", "@us"), "alice's @us secret")
	pers := alice.must("", "get_persistent", "@u")
	keep("persistent", pers, alice.must("", "add", "user", "p", "alice's persistent secret", pers), "alice's persistent secret")
	made := alice.must("", "newring", "made", "@u")
	keep("made in @u", made, alice.must("", "add", "user", "m", "alice's made secret", made), "alice's made secret")
	// Pinned while the record of the shell it was given to lasts.
	named := alice.mustBash("keyctl-go new_session work; true")
	keep("named session", named, alice.must(named, "add", "user", "n", "alice's named secret", "@s"), "alice's named secret")

	// Her Kerberos collection, the default one: KEYRING:persistent:1000.
	cc := filepath.Join(shared, "alice.cc")
	src, err := os.ReadFile("../../../ccache/testdata/mit/v4-kinit.cc")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cc, src, 0o644); err != nil {
		t.Fatal(err)
	}
	collection := "KEYRING:persistent:" + strconv.Itoa(aliceUID)
	alice.must("", "krb5", "import", "FILE:"+cc)
	krb := alice.must("", "search", pers, "keyring", "_krb")
	cache := alice.must("", "search", krb, "keyring", strconv.Itoa(aliceUID))
	keep("Kerberos collection", krb, alice.must("", "search", cache, "user", "__krb5_princ__"), "")

	// Her anonymous session, pinned by `keyctl-go session` while its
	// program runs, which waits for the test to close its stdin.
	session := alice.command(nil, "session", "-", "sh", "-c",
		`keyctl-go add user anon "alice's anonymous secret" @s >"$0/anonkey" && echo "$KEYCTL_GO_SESSION" >"$0/anon" && read x`, shared)
	stdin, err := session.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var sessionErr bytes.Buffer
	session.Stderr = &sessionErr
	if err := session.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		io.WriteString(stdin, "done\n")
		stdin.Close()
		if err := session.Wait(); err != nil {
			t.Errorf("alice's session: %v: %s", err, sessionErr.String())
		}
	}()
	anon := waitFile(t, filepath.Join(shared, "anon"))
	keep("anonymous session", anon, waitFile(t, filepath.Join(shared, "anonkey")), "alice's anonymous secret")

	// Without a session, bob cannot read her key: the baseline.
	if out, _, code := bob.runIn("", "print", rings["@u"].key); code == 0 {
		t.Fatalf("bob printed alice's key without any session: %q", out)
	}
	for what, h := range rings {
		for _, args := range [][]string{{"print", h.key}, {"update", h.key, "bob was here"}, {"id", "@s"}} {
			out, errs, code := bob.runIn(h.ring, args...)
			if code == 0 || !strings.Contains(errs, "ermission denied") {
				t.Errorf("bob with %s=%s (alice's %s): keyctl-go %s: exit %d, %q, %q; want Permission denied",
					envSession, h.ring, what, strings.Join(args, " "), code, out, errs)
			}
		}
		if h.secret != "" {
			// Through her user keyrings, which reach all but her sessions.
			ses := ""
			if strings.HasSuffix(what, "session") {
				ses = h.ring
			}
			if got := alice.must(ses, "print", h.key); got != h.secret {
				t.Errorf("alice's key in her %s: %q after bob's tries, want %q", what, got, h.secret)
			}
		}
	}
	// Her collection by name is hers alone: bob's is his own.
	if out, errs, code := bob.runIn("", "krb5", "list", collection); code == 0 || strings.Contains(out, "@") {
		t.Errorf("bob listing %s: exit %d, %q, %q", collection, code, out, errs)
	}
	if out, _, code := bob.runIn("", "krb5", "export", collection, filepath.Join(shared, "stolen.cc")); code == 0 {
		t.Errorf("bob exported alice's collection: %q", out)
	}

	// Alice gets back what the kernel would have let her have: her
	// sessions handed down, and @u and @us, which her join by name would
	// find; not keyrings that do not grant her Search.
	for what, want := range map[string]bool{
		"anonymous session": true, "named session": true, "@us": true, "@u": true,
		"persistent": false, "made in @u": false, "Kerberos collection": false,
	} {
		h := rings[what]
		out, errs, code := alice.runIn(h.ring, "id", "@s")
		if got := code == 0 && strings.TrimSpace(out) == h.ring; got != want {
			t.Errorf("alice with %s=%s (her %s): exit %d, %q, %q; want adopted %v", envSession, h.ring, what, code, out, errs, want)
		}
		if want && h.secret != "" {
			if got := alice.must(h.ring, "print", h.key); got != h.secret {
				t.Errorf("alice in her %s printed %q, want %q", what, got, h.secret)
			}
		}
	}
	if out, errs, code := alice.runIn("", "krb5", "list", collection); code != 0 || !strings.Contains(out, collection) {
		t.Errorf("alice listing her collection: exit %d, %q, %q", code, out, errs)
	}
}
