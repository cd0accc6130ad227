//go:build linux

package cli

import (
	"bytes"
	"context"
	"crypto/sha256"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// keyctlRunPass runs keyctl-go in-process with a store and extra
// environment, stdin not a terminal.
func keyctlRunPass(t *testing.T, env map[string]string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	a := newApp(strings.NewReader(""), &out, &errb, func(k string) string { return env[k] })
	code = run(context.Background(), a, args)
	return out.String(), errb.String(), code
}

func fileHash(t *testing.T, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

// A store made with --passphrase has no key file, opens with the
// passphrase from a file or a descriptor, and otherwise fails with a
// message that says what to do, exit 1, without prompting (stdin is no
// terminal here) and without changing the store.
func TestPassphraseStore(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "keys.db")
	good, bad := filepath.Join(dir, "good"), filepath.Join(dir, "bad")
	os.WriteFile(good, []byte("correct horse\n"), 0o600)
	os.WriteFile(bad, []byte("wrong horse\n"), 0o600)

	_, errs, code := keyctlRunPass(t, map[string]string{}, "--db", db, "--passphrase", "add", "user", "k", "v", "@u")
	if code != 1 || errs != "keyctl-go: the new store "+db+" needs a passphrase; set KEYCTL_GO_PASSPHRASE_FILE or KEYCTL_GO_PASSPHRASE_FD, or run keyctl-go from a terminal to be asked for it\n" {
		t.Errorf("--passphrase with no source: exit %d, %q", code, errs)
	}
	if _, err := os.Stat(db); err == nil {
		t.Error("a store was made without its passphrase")
	}

	withGood := map[string]string{envPassphraseFile: good}
	id, errs, code := keyctlRunPass(t, withGood, "--db", db, "--passphrase", "add", "user", "k", "secret value", "@u")
	if code != 0 {
		t.Fatalf("creating with a passphrase file: exit %d, %s", code, errs)
	}
	if _, err := os.Stat(db + ".key"); err == nil {
		t.Error("a passphrase store got a key file")
	}
	id = strings.TrimSpace(id)
	before := fileHash(t, db)

	for _, tc := range []struct {
		name string
		env  map[string]string
		want string
	}{
		{"none", map[string]string{}, "keyctl-go: the store " + db + " is protected by a passphrase; set KEYCTL_GO_PASSPHRASE_FILE or KEYCTL_GO_PASSPHRASE_FD, or run keyctl-go from a terminal to be asked for it\n"},
		{"wrong", map[string]string{envPassphraseFile: bad}, "keyctl-go: wrong passphrase for the store " + db + "\n"},
		{"missing file", map[string]string{envPassphraseFile: filepath.Join(dir, "nope")}, "keyctl-go: KEYCTL_GO_PASSPHRASE_FILE: open " + filepath.Join(dir, "nope") + ": no such file or directory\n"},
		{"bad fd", map[string]string{envPassphraseFD: "x"}, "keyctl-go: KEYCTL_GO_PASSPHRASE_FD=\"x\" is not a file descriptor\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errs, code := keyctlRunPass(t, tc.env, "--db", db, "update", id, "changed")
			if code != 1 || out != "" || errs != tc.want {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit 1, %q", code, out, errs, tc.want)
			}
		})
	}
	if fileHash(t, db) != before {
		t.Error("failed opens changed the store")
	}

	// The right passphrase from a descriptor: the update never happened.
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	w.WriteString("correct horse\n")
	w.Close()
	// keyctl-go closes the descriptor once read: give it its own.
	fd, err := syscall.Dup(int(r.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	out, errs, code := keyctlRunPass(t, map[string]string{envPassphraseFD: strconv.Itoa(fd)}, "--db", db, "print", id)
	if code != 0 || out != "secret value\n" {
		t.Errorf("with the passphrase on a descriptor: exit %d, %q %q", code, out, errs)
	}
}

// A daemon started for a passphrase store, which has no terminal, is
// handed the passphrase through a pipe: here session's children, which
// cannot be handed it, go through that daemon.
func TestPassphraseStoreDaemon(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "keys.db")
	pass := filepath.Join(dir, "pass")
	os.WriteFile(pass, []byte("hunter2"), 0o600)
	t.Cleanup(func() { stopDaemonOf(t, db) })
	create := exec.Command(keyctlGo, "--db", db, "--passphrase", "add", "user", "k", "v", "@u")
	create.Env = append(os.Environ(), envPassphraseFile+"="+pass, "KEYCTL_GO_SOCKET=")
	if out, err := create.CombinedOutput(); err != nil {
		t.Fatalf("create: %v %s", err, out)
	}
	f, err := os.Open(pass)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// The children have no passphrase source of their own: only the
	// descriptor, which they do not inherit.
	cmd := exec.Command(keyctlGo, "--db", db, "session", "-", "sh", "-c",
		keyctlGo+` add user in-session v @s >/dev/null && `+keyctlGo+` print %user:in-session`)
	cmd.Env = append(os.Environ(), envPassphraseFD+"=3", "KEYCTL_GO_SOCKET=", "KEYCTL_GO_DB=")
	cmd.ExtraFiles = []*os.File{f}
	out, err := cmd.Output()
	if err != nil || string(out) != "v\n" {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Errorf("session in a passphrase store: %q, %v %s", out, err, stderr)
	}
}

// runOnTerminal runs keyctl-go with a new pseudo-terminal as its
// controlling terminal and stdin, stdout and stderr, types input once the
// output so far contains prompt, and returns everything the terminal
// showed and the exit status.
func runOnTerminal(t *testing.T, env []string, prompt, input string, args ...string) (string, int) {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals: %v", err)
	}
	defer master.Close()
	if err := unix.IoctlSetPointerInt(int(master.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(master.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	slave, err := os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(keyctlGo, args...)
	cmd.Env = env
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	slave.Close()
	// A prompt that never comes would leave the child waiting for input.
	stop := time.AfterFunc(20*time.Second, func() { cmd.Process.Kill() })
	defer stop.Stop()
	var shown bytes.Buffer
	buf := make([]byte, 1024)
	typed := false
	for {
		k, err := master.Read(buf)
		shown.Write(buf[:k])
		if !typed && strings.Contains(shown.String(), prompt) {
			master.WriteString(input)
			typed = true
		}
		if err != nil {
			break // EIO once the child has gone and the terminal hung up
		}
	}
	return shown.String(), exitStatus(cmd.Wait())
}

// With stdin a terminal and no other source, keyctl-go asks on the
// terminal, with echo off, once.
func TestPassphrasePrompt(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "keys.db")
	env := append(os.Environ(), "KEYCTL_GO_SOCKET=", envPassphraseFile+"=", envPassphraseFD+"=")
	shown, code := runOnTerminal(t, env, "New passphrase for "+db+": ", "typed secret\n",
		"--db", db, "--passphrase", "add", "user", "k", "from the terminal", "@u")
	if code != 0 || strings.Contains(shown, "typed secret") {
		t.Fatalf("creating at the prompt: exit %d, the terminal showed %q", code, shown)
	}
	shown, code = runOnTerminal(t, env, "Passphrase for "+db+": ", "typed secret\n", "--db", db, "print", "%user:k")
	if code != 0 || strings.Contains(shown, "typed secret") || !strings.HasSuffix(shown, "from the terminal\r\n") ||
		strings.Count(shown, "Passphrase for") != 1 {
		t.Errorf("opening at the prompt: exit %d, the terminal showed %q", code, shown)
	}
	shown, code = runOnTerminal(t, env, "Passphrase for "+db+": ", "typed wrongly\n", "--db", db, "print", "%user:k")
	if code != 1 || !strings.HasSuffix(shown, "keyctl-go: wrong passphrase for the store "+db+"\r\n") {
		t.Errorf("a wrong passphrase at the prompt: exit %d, the terminal showed %q", code, shown)
	}
}

// Ctrl-C at the prompt ends keyctl-go, with echo back on, rather than
// leave it waiting for a line: main catches SIGINT, so the prompt must.
func TestPassphrasePromptInterrupted(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "keys.db")
	env := append(os.Environ(), "KEYCTL_GO_SOCKET=", envPassphraseFile+"=", envPassphraseFD+"=")
	shown, code := runOnTerminal(t, env, "New passphrase for "+db+": ", "\x03",
		"--db", db, "--passphrase", "add", "user", "k", "v", "@u")
	if code != 130 || !strings.HasSuffix(shown, "keyctl-go: interrupted\r\n") {
		t.Errorf("Ctrl-C at the prompt: exit %d, the terminal showed %q", code, shown)
	}
	if _, err := os.Stat(db); err == nil {
		t.Error("an interrupted prompt made a store")
	}
}
