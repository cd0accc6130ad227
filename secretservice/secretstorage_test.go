//go:build linux

package secretservice_test

import (
	"context"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// python3 with secretstorage, the library python-keyring and many
// Python programs use on Linux, against the provider: DH and plain
// sessions, items, attributes, labels, content types, locking, deletion,
// and the signals each change brings.
func TestSecretStorage(t *testing.T) {
	python := pythonWith(t, "secretstorage", "python3-secretstorage")
	for _, mode := range []string{"dh", "plain"} {
		t.Run(mode, func(t *testing.T) {
			e := newEnv(t)
			out, errs, code := e.run(t, "", python, "testdata/secretstorage_client.py", mode)
			if code != 0 {
				t.Fatalf("exit %d\n%s\n%s", code, out, errs)
			}
			want := []string{
				"ItemCreated one", "ItemCreated two",
				"ItemChanged one", "ItemChanged one", "ItemChanged one", "ItemChanged one",
				"ItemDeleted two", "ItemDeleted one", "ok",
			}
			if got := strings.Split(strings.TrimSpace(out), "\n"); !slices.Equal(got, want) {
				t.Errorf("signals:\n%q\nwant\n%q", got, want)
			}
			if items, _ := e.st.List(context.Background(), "login"); len(items) != 0 {
				t.Errorf("the store still holds %d items", len(items))
			}
		})
	}
}

// pythonWith finds a python3 that imports module: the system's, where
// Debian installs python3-secretstorage and python3-keyring, before
// whatever else is first on $PATH.
func pythonWith(t testing.TB, module, pkg string) string {
	t.Helper()
	for _, py := range []string{"/usr/bin/python3", "python3"} {
		path, err := exec.LookPath(py)
		if err != nil {
			continue
		}
		if exec.Command(path, "-c", "import "+module).Run() == nil {
			return path
		}
	}
	t.Skipf("no python3 with %s (Debian: %s)", module, pkg)
	return ""
}
