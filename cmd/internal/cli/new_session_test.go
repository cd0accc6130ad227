//go:build linux

package cli

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/keyctl-go/keyctl-go/daemon"
)

// newSessionEnv is the environment of a test of new_session: a store
// and a runtime directory of the test's own, keyctl-go in PATH, and no
// session handed down.
func newSessionEnv(t *testing.T) (env []string, db, runtimeDir string) {
	t.Helper()
	db = filepath.Join(t.TempDir(), "keys.db")
	// Short: a socket's path must fit in 108 bytes.
	runtimeDir, err := os.MkdirTemp("", "kg-run-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(runtimeDir) })
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "KEYCTL_GO_") && !strings.HasPrefix(kv, "XDG_RUNTIME_DIR=") && !strings.HasPrefix(kv, "PATH=") {
			env = append(env, kv)
		}
	}
	env = append(env, envDB+"="+db, "XDG_RUNTIME_DIR="+runtimeDir,
		"PATH="+filepath.Dir(keyctlGo)+":"+os.Getenv("PATH"))
	return env, db, runtimeDir
}

// startStoreDaemon starts the store's per-user daemon where the rule
// looks (step 2), so that the commands go through it.
func startStoreDaemon(t *testing.T, env []string, db, runtimeDir string) {
	t.Helper()
	socket, err := daemon.UserSocket(runtimeDir, db)
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd := exec.Command(keyctlGo, "daemon")
	cmd.Env, cmd.Stderr = env, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() })
	waitListening(t, socket, &stderr)
}

// bashLines runs a bash script, which must succeed, with args $1...,
// and returns its output's lines by their first word.
func bashLines(t *testing.T, env []string, script string, args ...string) map[string][]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", append([]string{"-c", script, "bash"}, args...)...)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("bash: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	lines := map[string][]string{}
	for l := range strings.Lines(stdout.String()) {
		if f := strings.Fields(l); len(f) > 0 {
			lines[f[0]] = f[1:]
		}
	}
	return lines
}

// The script of TestNewSessionGivesTheParentItsSession: each line says
// what a command saw, by its first word.
const newSessionScript = `
start=$(keyctl-go id @s)
echo start $start
# Forked before new_session: it keeps the session it was forked with,
# however late it looks.
( while [ ! -s "$1/named" ]; do sleep 0.05; done; echo forked-before $(keyctl-go id @s) ) &
sleep 0.1 # later clock ticks than the child's
keyctl-go new_session >"$1/anon" || exit 1
echo anon $(cat "$1/anon") $(keyctl-go id @s) $(keyctl-go rdescribe @s)
keyctl-go new_session lizard >"$1/named" || exit 1
echo named $(cat "$1/named") $(keyctl-go id @s) $(keyctl-go rdescribe @s)
echo anon-after $(keyctl-go describe $(cat "$1/anon") 2>&1)
echo by-hand $(KEYCTL_GO_SESSION=$start keyctl-go id @s)
echo nested $(keyctl-go session - sh -c 'echo $KEYCTL_GO_SESSION $(keyctl-go id @s)' 2>/dev/null)
echo nested-new $(keyctl-go session - bash -c 'keyctl-go new_session >/dev/null; echo $KEYCTL_GO_SESSION $(keyctl-go id @s) $(keyctl-go rdescribe @s)' 2>/dev/null)
wait
# The shell given the session, become keyctl-go, has it too.
echo -n "exec "; exec keyctl-go rdescribe @s
`

// new_session gives its parent the session, as KEYCTL_SESSION_TO_PARENT
// does: the parent's commands started afterwards have it as @s, anonymous
// or named; a child the parent forked before keeps the session it had; a
// session handed down nearer (`keyctl-go session`) or set by hand wins;
// the session the parent had from new_session before is let go; and once
// the parent is gone, the next new_session lets its session go. Embedded,
// and through the store's daemon.
func TestNewSessionGivesTheParentItsSession(t *testing.T) {
	for _, mode := range []string{"embedded", "daemon"} {
		t.Run(mode, func(t *testing.T) {
			env, db, runtimeDir := newSessionEnv(t)
			if mode == "daemon" {
				startStoreDaemon(t, env, db, runtimeDir)
			}
			out := t.TempDir()
			got := bashLines(t, env, newSessionScript, out)
			start := first(got["start"])
			if a := got["anon"]; len(a) != 3 || a[0] != a[1] || a[0] == start || !strings.HasSuffix(a[2], ";_ses") {
				t.Errorf("after new_session: printed, @s, rdescribe @s = %q; want a new anonymous session as @s (was %s)", a, start)
			}
			n := got["named"]
			if len(n) != 3 || n[0] != n[1] || n[0] == first(got["anon"]) || !strings.HasSuffix(n[2], ";lizard") {
				t.Errorf("after new_session lizard: printed, @s, rdescribe @s = %q; want lizard as @s", n)
			}
			if a := strings.Join(got["anon-after"], " "); !strings.HasSuffix(a, "Required key not available") {
				t.Errorf("the anonymous session the parent had before lizard: describe says %q; want it collected", a)
			}
			if f := got["forked-before"]; first(f) != start {
				t.Errorf("a child forked before new_session has @s %q; want the one it was forked with, %s", f, start)
			}
			if e := first(got["exec"]); !strings.HasSuffix(e, ";lizard") {
				t.Errorf("the shell exec'd into keyctl-go: rdescribe @s %q; want lizard", e)
			}
			if h := got["by-hand"]; first(h) != start {
				t.Errorf("KEYCTL_GO_SESSION=%s set by hand: @s %q; want it", start, h)
			}
			if s := got["nested"]; len(s) != 2 || s[0] != s[1] || s[0] == first(n) {
				t.Errorf("under keyctl-go session: KEYCTL_GO_SESSION and @s %q; want the session handed down", s)
			}
			if s := got["nested-new"]; len(s) != 3 || s[0] == s[1] || s[1] == first(n) || !strings.HasSuffix(s[2], ";_ses") {
				t.Errorf("new_session under keyctl-go session: KEYCTL_GO_SESSION, @s, rdescribe %q; want a new session as @s", s)
			}

			// The shells are gone: the next new_session lets their
			// sessions go, and lizard, held by nothing else, is collected.
			parents := filepath.Join(daemon.UserDir(runtimeDir), "parents")
			if entries, _ := os.ReadDir(parents); len(entries) != 2 {
				t.Errorf("%d records before the sweep, want the two shells'", len(entries))
			}
			bashLines(t, env, `keyctl-go new_session >/dev/null; true`)
			if entries, _ := os.ReadDir(parents); len(entries) != 1 {
				t.Errorf("%d records after the sweep, want the last shell's", len(entries))
			}
			cmd := exec.Command(keyctlGo, "describe", first(n))
			cmd.Env = env
			if b, err := cmd.CombinedOutput(); err == nil || !strings.HasSuffix(string(b), "Required key not available\n") {
				t.Errorf("lizard after its shell is gone and swept: %q, %v; want it collected", b, err)
			}
		})
	}
}

func first(f []string) string {
	if len(f) == 0 {
		return ""
	}
	return f[0]
}
