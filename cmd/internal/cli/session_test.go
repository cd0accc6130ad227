//go:build linux

package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// session hands a new session keyring to a tree of processes: @s below it
// is that keyring, keyctl's "Joined session keyring" line goes to stderr,
// the program's exit status comes back, and once it has exited the
// anonymous session and its keys are collected.
func TestSessionRunsAProgramInANewSession(t *testing.T) {
	db := filepath.Join(t.TempDir(), "keys.db")
	env := append(os.Environ(), "KEYCTL_GO_DB="+db, "KEYCTL_GO_SESSION=")
	script := keyctlGo + ` add user x hello @s >/dev/null && ` + keyctlGo + ` print %user:x && ` +
		keyctlGo + ` rdescribe @s && ` + keyctlGo + ` request user x > "$1"; exit 7`
	idFile := filepath.Join(t.TempDir(), "id")
	cmd := exec.Command(keyctlGo, "session", "-", "sh", "-c", script, "sh", idFile)
	cmd.Env = env
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if exit, ok := err.(*exec.ExitError); !ok || exit.ExitCode() != 7 {
		t.Fatalf("session exited with %v, want the program's 7; stderr:\n%s", err, stderr.String())
	}
	if !regexp.MustCompile(`^Joined session keyring: [0-9]+\n$`).MatchString(stderr.String()) {
		t.Errorf("stderr %q, want keyctl's Joined line", stderr.String())
	}
	if !regexp.MustCompile(`^hello\nkeyring;[0-9]+;[0-9]+;3f030000;_ses\n$`).MatchString(stdout.String()) {
		t.Errorf("inside the session: %q, want the key and an anonymous _ses as @s", stdout.String())
	}

	// Afterwards the session is gone, and the key with it.
	id, _ := os.ReadFile(idFile)
	out, err := exec.Command(keyctlGo, "--db", db, "print", strings.TrimSpace(string(id))).CombinedOutput()
	if err == nil || string(out) != "keyctl_read_alloc: Required key not available\n" {
		t.Errorf("after the session: print gave %q, %v; want the key collected", out, err)
	}

	out, err = exec.Command(keyctlGo, "--db", db, "session", "-", "/nonexistent/prog").CombinedOutput()
	if exit, ok := err.(*exec.ExitError); !ok || exit.ExitCode() != 1 || !strings.HasSuffix(string(out), "/nonexistent/prog: No such file or directory\n") {
		t.Errorf("session with a missing program: %q, %v", out, err)
	}
}
