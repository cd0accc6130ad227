//go:build linux

package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/keyctl-go/keyctl-go/daemon"
	"github.com/keyctl-go/keyctl-go/internal/childtest"
)

// userEnv is a user's own world with nothing of the test's: a home and a
// runtime directory of their own, and no KEYCTL_GO_* variable.
func userEnv(t *testing.T, uid int) []string {
	t.Helper()
	dir, err := os.MkdirTemp("", "keyctl-go-user-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	for _, d := range []string{dir, filepath.Join(dir, "run")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(d, uid, uid); err != nil {
			t.Fatal(err)
		}
	}
	return []string{"HOME=" + dir, "XDG_RUNTIME_DIR=" + filepath.Join(dir, "run"), "PATH=/usr/bin:/bin"}
}

// runUser runs bin as uid with env and args, and returns its stdout,
// stderr and exit code.
func runUser(t *testing.T, bin string, uid int, env []string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(uid), Groups: []uint32{}}}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return out.String(), errb.String(), ee.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	return out.String(), errb.String(), 0
}

// moveAside moves what is at path out of the way until the test ends,
// and puts it back then, removing whatever the test left there.
func moveAside(t *testing.T, path string) {
	t.Helper()
	aside := fmt.Sprintf("%s.aside-%d", path, os.Getpid())
	if err := os.Rename(path, aside); err == nil {
		t.Cleanup(func() {
			os.RemoveAll(path)
			if err := os.Rename(aside, path); err != nil {
				t.Errorf("restoring %s: %v", path, err)
			}
		})
	} else if errors.Is(err, os.ErrNotExist) {
		t.Cleanup(func() { os.RemoveAll(path) })
	} else {
		t.Fatal(err)
	}
}

// A system daemon at its default socket, /run/keyctl-go/socket, is where
// every user's commands go, with no variable set: one key space for the
// machine, as the kernel's. Two users' keys are in it, each theirs: bob is
// refused alice's key by its serial (EACCES), which he could not even name
// in a store of his own (ENOKEY), and neither user's home gets a store.
// The same holds with the daemon run as a dedicated service user that
// owns /run/keyctl-go, as a packager's unit would run it. `daemon status`
// goes there too.
func TestSystemDaemonServesEveryUserWithoutVariables(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the system daemon runs at /run/keyctl-go, its clients as other uids")
	}
	unlock, err := holdSystemSocket(true)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	for _, c := range []struct {
		name string
		uid  int
	}{{"as root", 0}, {"as a service user", 990}} {
		t.Run(c.name, func(t *testing.T) { systemDaemonServesEveryUser(t, c.uid) })
	}
}

func systemDaemonServesEveryUser(t *testing.T, daemonUID int) {
	const alice, bob = 1000, 1001
	runDir := filepath.Dir(daemon.SystemSocket)
	moveAside(t, runDir)
	base, err := os.MkdirTemp("", "keyctl-go-system-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	os.Chmod(base, 0o755)
	storeDir := filepath.Join(base, "lib")
	for _, d := range []string{storeDir, runDir} {
		// What the service manager makes for a service user
		// (StateDirectory=, RuntimeDirectory=): theirs.
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(d, daemonUID, daemonUID); err != nil {
			t.Fatal(err)
		}
	}
	os.Chmod(storeDir, 0o700)
	bin := publicCopy(t)
	stderr := &childtest.Log{}
	cmd := exec.Command(bin, "--db", filepath.Join(storeDir, "keys.db"), "daemon", "--system")
	cmd.Stderr = stderr
	cmd.Env = []string{"PATH=/usr/bin:/bin"}
	if daemonUID != 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(daemonUID), Gid: uint32(daemonUID), Groups: []uint32{}}}
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waited := make(chan struct{})
	go func() { cmd.Wait(); close(waited) }()
	// Stopped before the directory is put back (cleanups run last first).
	t.Cleanup(func() { cmd.Process.Signal(syscall.SIGTERM); <-waited })

	// Root's client trusts the service user too, at the system socket.
	for deadline := time.Now().Add(10 * time.Second); ; {
		c, err := daemon.Dial(context.Background(), daemon.SystemSocket)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the system daemon never answered: %v; its log: %s", err, stderr)
		}
		time.Sleep(10 * time.Millisecond)
	}
	aliceEnv, bobEnv := userEnv(t, alice), userEnv(t, bob)
	out, errs, code := runUser(t, bin, alice, aliceEnv, "add", "user", "note", "alice's", "@u")
	if code != 0 {
		t.Fatalf("alice's add: %d %s", code, errs)
	}
	aliceKey := strings.TrimSpace(out)
	if out, errs, code := runUser(t, bin, bob, bobEnv, "add", "user", "note", "bob's", "@u"); code != 0 {
		t.Fatalf("bob's add: %d %s %s", code, out, errs)
	}
	if out, _, _ := runUser(t, bin, alice, aliceEnv, "print", "%user:note"); out != "alice's\n" {
		t.Errorf("alice's note: %q", out)
	}
	if out, _, _ := runUser(t, bin, bob, bobEnv, "print", "%user:note"); out != "bob's\n" {
		t.Errorf("bob's note: %q", out)
	}
	if _, errs, code := runUser(t, bin, bob, bobEnv, "print", aliceKey); code != 1 || !strings.Contains(errs, "Permission denied") {
		t.Errorf("bob reading alice's key %s: exit %d, %q; want Permission denied, as in one key space", aliceKey, code, errs)
	}
	// daemon status with no option asks the daemon the rule leads to, as
	// every command does: the system daemon, which tells bob his own row.
	want := "socket:  " + daemon.SystemSocket + "\nstore:   " + filepath.Join(storeDir, "keys.db") + "\nmode:    system\n"
	if out, errs, code := runUser(t, bin, bob, bobEnv, "daemon", "status"); code != 0 || !strings.HasPrefix(out, want) ||
		!strings.HasSuffix(squeeze(out), "\nuid connections watches\n1001 1 0\n") {
		t.Errorf("bob's daemon status: exit %d, %q\n%s\nwant it to begin %q and end with his own row", code, errs, out, want)
	}
	for _, env := range [][]string{aliceEnv, bobEnv} {
		home := strings.TrimPrefix(env[0], "HOME=")
		if _, err := os.Stat(filepath.Join(home, ".local")); err == nil {
			t.Errorf("a store was made in %s: the user's commands did not go to the system daemon", home)
		}
	}
}

// 250 named sessions in a row, each a `keyctl-go session NAME true` of a
// non-root user as a real process, all succeed, and the user can add a
// key afterwards: each session is freed when its program exits, as the
// kernel frees a session keyring whose last process leaves. (They used
// to stay for good, and the 197th failed with EDQUOT.)
func TestTwoHundredFiftyNamedSessions(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root, to run the sessions as a non-root uid")
	}
	const carol = 1002
	bin := publicCopy(t)
	env := userEnv(t, carol)
	home := strings.TrimPrefix(env[0], "HOME=")
	// A store of her own, named: the system daemon test may be serving
	// /run/keyctl-go meanwhile.
	env = append(env, envDB+"="+filepath.Join(home, "keys.db"), "KEYCTL="+bin)
	script := `for i in $(seq 250); do "$KEYCTL" session name$i true 2>"$HOME/err" || { echo "session $i:"; cat "$HOME/err"; exit 1; }; done
"$KEYCTL" add user after v @u`
	out, errs, code := runUser(t, "/bin/sh", carol, env, "-c", script)
	if code != 0 {
		t.Fatalf("250 named sessions: exit %d\n%s%s", code, out, errs)
	}
	if strings.TrimSpace(out) == "" {
		t.Error("no serial from the add after the sessions")
	}
}
