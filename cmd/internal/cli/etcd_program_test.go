//go:build linux

package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// keyctl-go itself must not link etcd's client: its package initialisers
// cost every command about two milliseconds of start-up
// (BenchmarkCLIPrint), which is why --etcd is keyctl-go-etcd's.
func TestKeyctlGoLinksNoEtcdClient(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "../../../cmd/keyctl-go").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if strings.HasPrefix(pkg, "go.etcd.io/etcd/") || strings.HasPrefix(pkg, "google.golang.org/grpc") {
			t.Errorf("keyctl-go links %s; only %s may", pkg, EtcdProgram)
		}
	}
}

// Without keyctl-go-etcd beside it or in PATH, keyctl-go given --etcd
// says what is missing and how to get it, exit 1, and touches no store.
func TestEtcdOptionsWithoutEtcdProgram(t *testing.T) {
	dir := t.TempDir()
	alone := filepath.Join(dir, "keyctl-go")
	data, err := os.ReadFile(keyctlGo)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(alone, data, 0o755); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(dir, "keys.db")
	for _, c := range []struct {
		args []string
		env  string
	}{
		{[]string{"--etcd", "127.0.0.1:1", "--db", db, "daemon"}, ""},
		{[]string{"--db", db, "add", "user", "a", "b", "@u"}, envEtcd + "=127.0.0.1:1"},
	} {
		cmd := exec.Command(alone, c.args...)
		cmd.Env = []string{"PATH=" + dir, "HOME=" + dir, "XDG_RUNTIME_DIR=" + dir}
		if c.env != "" {
			cmd.Env = append(cmd.Env, c.env)
		}
		out, err := cmd.CombinedOutput()
		ee, ok := err.(*exec.ExitError)
		if !ok || ee.ExitCode() != 1 {
			t.Errorf("keyctl-go %q: %v, want exit 1\n%s", c.args, err, out)
		}
		if !strings.Contains(string(out), "need "+EtcdProgram) {
			t.Errorf("keyctl-go %q says %q, which does not name %s", c.args, out, EtcdProgram)
		}
		if _, err := os.Stat(db); err == nil {
			t.Fatalf("keyctl-go %q made a store file %s", c.args, db)
		}
	}
}
