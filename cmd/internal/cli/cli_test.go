//go:build linux

package cli

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// keyctlRun runs keyctl-go in-process with the given store and stdin.
func keyctlRun(t *testing.T, db, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	env := map[string]string{envDB: db}
	a := newApp(strings.NewReader(stdin), &out, &errb, func(k string) string { return env[k] })
	code = run(context.Background(), a, args)
	return out.String(), errb.String(), code
}

// goldenUsage is keyctl's Format listing, from the usage golden file.
func goldenUsage(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(goldenDir, "usage.txt"))
	if err != nil {
		t.Fatal(err)
	}
	recs := parseRecords(string(data))
	var b strings.Builder
	for _, l := range recs[0].body {
		if s, ok := strings.CutPrefix(l, "2> "); ok {
			b.WriteString(s + "\n")
		} else if l == "2>" {
			b.WriteString("\n")
		}
	}
	return b.String()
}

func TestUsage(t *testing.T) {
	want := goldenUsage(t)
	db := filepath.Join(t.TempDir(), "keys.db")
	tests := [][]string{
		{},
		{"add", "user", "a"},
		{"describe"},
		{"show", "-x", "-x", "@s"},
		{"rdescribe", "@s", ""},
		{"purge", "-", "user"}, // keyctl 1.6.3 reads the '\0' after '-' as an unknown flag
		{"--db", db},
	}
	for _, args := range tests {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			out, errs, code := keyctlRun(t, db, "", args...)
			if code != 2 || out != "" || errs != want {
				t.Errorf("exit %d, stdout %q, stderr:\n%s\nwant exit 2 and the Format listing", code, out, errs)
			}
		})
	}
	if _, err := os.Stat(db); err == nil {
		t.Error("a usage error created the store")
	}
}

func TestCommandErrors(t *testing.T) {
	db := filepath.Join(t.TempDir(), "keys.db")
	tests := []struct {
		args   []string
		stderr string
		code   int
	}{
		{[]string{"lis"}, "Unknown command\n", 2},
		{[]string{"LIST", "@s"}, "Unknown command\n", 2},
		{[]string{"describe", "abc"}, "Unparsable key: 'abc'\n", 2},
		{[]string{"describe", "@x"}, "Unknown special key: '@x'\n", 2},
		{[]string{"describe", "%user"}, "Incorrect key-by-name spec\n", 2},
		{[]string{"describe", "%user:nothere"}, "Can't find 'user:nothere'\n", 1},
		{[]string{"describe", "@g"}, "keyctl_describe_alloc: Invalid argument\n", 1},
		{[]string{"timeout", "@s", "0x10"}, "Unparsable timeout: '0x10'\n", 2},
		{[]string{"add", "-x", "user", "a", "6", "@s"}, "Short hex doublet\n", 1},
		{[]string{"add", "nosuchtype", "a", "b", "@s"}, "add_key: No such device\n", 1},
		{[]string{"dh_compute", "1", "2", "3"}, "keyctl_dh_compute: Operation not supported\n", 1},
		{[]string{"pkey_query", "1", "pass"}, "keyctl_pkey_query: Operation not supported\n", 1},
		// Checked against keyctl 1.6.3 run by hand, with no authority assumed.
		{[]string{"negate", "@u", "30", "@u"}, "keyctl_negate: Operation not permitted\n", 1},
		{[]string{"negate", "@u", "x", "@u"}, "Unparsable timeout: 'x'\n", 2},
		{[]string{"reject", "@u", "30", "1", "@u"}, "keyctl_negate: Operation not permitted\n", 1},
		{[]string{"reject", "@u", "30", "x", "@u"}, "Unparsable error: 'x'\n", 2},
		{[]string{"instantiate", "@u", "data", "@u"}, "keyctl_instantiate: Operation not permitted\n", 1},
		{[]string{"pinstantiate", "@u", "@u"}, "keyctl_instantiate: Operation not permitted\n", 1},
		{[]string{"request2", "user", "nothere", "info"}, "request_key: Required key not available\n", 1},
		{[]string{"security", "12345"}, "keyctl_getsecurity: Required key not available\n", 1},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			_, errs, code := keyctlRun(t, db, "", tt.args...)
			if code != tt.code || errs != tt.stderr {
				t.Errorf("exit %d, stderr %q; want %d, %q", code, errs, tt.code, tt.stderr)
			}
		})
	}
}

// TestDashData checks that arguments starting with '-' after the options
// are data, as in keyctl.
func TestDashData(t *testing.T) {
	db := filepath.Join(t.TempDir(), "keys.db")
	if _, errs, code := keyctlRun(t, db, "", "add", "user", "-x", "-data", "@s"); code != 0 {
		t.Fatalf("add: exit %d: %s", code, errs)
	}
	out, errs, code := keyctlRun(t, db, "", "print", "%user:-x")
	if code != 0 || out != "-data\n" {
		t.Fatalf("print: exit %d, %q %q", code, out, errs)
	}
	// "-xx" is not the -x flag but a type name, as keyctl takes it.
	if _, errs, _ := keyctlRun(t, db, "", "add", "-xx", "a", "61", "@s"); errs != "add_key: No such device\n" {
		t.Errorf("add -xx: %q", errs)
	}
}

// TestPersistence runs the built binary: a key added by one process is
// read by the next, and the store is where --db, KEYCTL_GO_DB or the XDG
// data directory says.
func TestPersistence(t *testing.T) {
	home := t.TempDir()
	keyctl := func(env []string, stdin string, args ...string) string {
		t.Helper()
		cmd := exec.Command(keyctlGo, args...)
		cmd.Env = append([]string{"HOME=" + home, "PATH=" + os.Getenv("PATH")}, env...)
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("keyctl-go %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	id := strings.TrimSpace(keyctl(nil, "persisted", "padd", "user", "p", "@u"))
	if got := keyctl(nil, "", "print", id); got != "persisted\n" {
		t.Errorf("print in the next process = %q", got)
	}
	if _, err := os.Stat(filepath.Join(home, ".local", "share", "keyctl-go", "keys.db")); err != nil {
		t.Errorf("default store: %v", err)
	}
	xdg := t.TempDir()
	keyctl([]string{"XDG_DATA_HOME=" + xdg}, "", "add", "user", "x", "y", "@u")
	if _, err := os.Stat(filepath.Join(xdg, "keyctl-go", "keys.db")); err != nil {
		t.Errorf("XDG store: %v", err)
	}
	db := filepath.Join(t.TempDir(), "other.db")
	keyctl([]string{"KEYCTL_GO_DB=" + filepath.Join(t.TempDir(), "env.db")}, "", "--db", db, "add", "user", "x", "y", "@u")
	if _, err := os.Stat(db); err != nil {
		t.Errorf("--db store: %v", err)
	}
}

// security prints the key's (empty) security label, and request2 finds an
// existing key as request does.
func TestSecurityAndRequest2(t *testing.T) {
	db := filepath.Join(t.TempDir(), "keys.db")
	out, errs, code := keyctlRun(t, db, "", "add", "user", "k", "v", "@u")
	if code != 0 {
		t.Fatalf("add: %q, exit %d", errs, code)
	}
	id := strings.TrimSpace(out)
	if out, errs, code := keyctlRun(t, db, "", "security", id); code != 0 || out != "\n" {
		t.Errorf("security: %q %q exit %d, want an empty line", out, errs, code)
	}
	if out, errs, code := keyctlRun(t, db, "", "request2", "user", "k", "info"); code != 0 || strings.TrimSpace(out) != id {
		t.Errorf("request2: %q %q exit %d, want %s", out, errs, code, id)
	}
	if out, errs, code := keyctlRun(t, db, "info", "prequest2", "user", "k"); code != 0 || strings.TrimSpace(out) != id {
		t.Errorf("prequest2: %q %q exit %d, want %s", out, errs, code, id)
	}
}

// Installed as keyctl (a symlink), keyctl-go behaves the same: scripts
// written for keyctl run unchanged.
func TestWorksUnderTheNameKeyctl(t *testing.T) {
	dir := t.TempDir()
	keyctl := filepath.Join(dir, "keyctl")
	if err := os.Symlink(keyctlGo, keyctl); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(t.TempDir(), "keys.db")
	script := `id=$(keyctl add user k hello @u) && keyctl print "$id" && keyctl describe %user:k | awk '{print $2}' && keyctl lis; echo "exit $?"`
	cmd := exec.Command("sh", "-c", script)
	cmd.Env = append(os.Environ(), "PATH="+dir+":"+os.Getenv("PATH"), "KEYCTL_GO_DB="+db)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if want := "hello\nalswrv-----v------------\nUnknown command\nexit 2\n"; string(out) != want {
		t.Errorf("through a keyctl symlink:\n%s\nwant:\n%s", out, want)
	}
}
